import { strict as assert } from 'assert';
import * as F from '../../src/cpu/flags';
import * as K from '../../src/cpu/constants';
import { DATA_BASE, runSnippet, SnippetOutput, SnippetRunner } from '../support/snippet';

/**
 * Hand-written cases for shifts/rotates, SHLD/SHRD, MUL/IMUL/DIV/IDIV and the BCD adjustments that
 * the native differential vectors do not cover: 16-bit code, faults in memory forms (state left
 * untouched), 64-bit edge values, the SAL /6 alias, lazy flags surviving a zero count.
 */

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint) => BigInt.asUintN(64, v);
const ARITH = F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF;

function run(bits: 16 | 32 | 64, code: string, regs: bigint[], rflags = 0, mem?: Uint8Array): SnippetOutput {
  return runSnippet({ bits, code: hex(code), regs: regs.map(u64), rflags, mem, maxInstructions: 1 });
}

/** Asserts a fault left the registers and arithmetic flags as they were. */
function assertUntouched(r: SnippetOutput, regs: bigint[], rflags: number): void {
  for (let k = 0; k < regs.length; k++) if (k !== 4) assert.equal(r.regs[k], u64(regs[k]), `register ${k} changed`);
  assert.equal(r.rflags & ARITH, rflags & ARITH, 'flags changed');
}

function words(...w: [number, number][]): Uint8Array {
  const m = new Uint8Array(0x40);
  for (const [off, v] of w) { m[off] = v & 0xFF; m[off + 1] = (v >> 8) & 0xFF; }
  return m;
}

describe('shifts, multiply, divide and BCD: hand-written cases', () => {
  describe('16-bit real mode', () => {
    it('SHL AX, CL keeps the upper half of EAX and sets CF/OF', () => {
      const r = run(16, 'd3 e0', [0x12348001n, 1n]);
      assert.equal(r.regs[0], 0x12340002n);
      assert.equal(r.rflags & (F.CF | F.OF | F.ZF | F.SF), F.CF | F.OF);
    });

    it('RCL AX, 3 rotates through CF (17-bit rotate)', () => {
      const r = run(16, 'c1 d0 03', [0x8001n], F.CF);
      assert.equal(r.regs[0], 0x000En);
      assert.equal(r.rflags & F.CF, 0);
    });

    it('SAL AX, 1 with the /6 encoding is SHL', () => {
      const a = run(16, 'd1 f0', [0xC001n]);
      const b = run(16, 'd1 e0', [0xC001n]);
      assert.equal(a.regs[0], 0x8002n);
      assert.equal(a.regs[0], b.regs[0]);
      assert.equal(a.rflags & ARITH, b.rflags & ARITH);
    });

    it('MUL BX writes DX:AX and keeps the upper halves of EAX/EDX', () => {
      const r = run(16, 'f7 e3', [0xAAAAFFFFn, 0n, 0x55550000n, 0xFFFFn]);
      assert.equal(r.regs[0], 0xAAAA0001n);
      assert.equal(r.regs[2], 0x5555FFFEn);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
    });

    it('MUL byte [mem] writes AX', () => {
      const m = new Uint8Array(0x40);
      m[0x30] = 0x20;
      const r = run(16, 'f6 26 30 00', [0x1234FF10n], 0, m);
      assert.equal(r.regs[0], 0x12340200n);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
    });

    it('DIV BX and IDIV BX divide DX:AX', () => {
      let r = run(16, 'f7 f3', [0n, 0n, 1n, 3n]);
      assert.equal(r.regs[0], 0x5555n);
      assert.equal(r.regs[2], 1n);
      r = run(16, 'f7 fb', [0xFFF9n, 0n, 0xFFFFn, 2n]); // -7 / 2
      assert.equal(r.regs[0], 0xFFFDn);
      assert.equal(r.regs[2], 0xFFFFn);
    });

    it('IDIV BX with -32768 / -1 raises #DE and changes nothing', () => {
      const regs = [0x8000n, 0n, 0xFFFFn, 0xFFFFn];
      const r = run(16, 'f7 fb', regs, F.CF | F.ZF);
      assert.equal(r.exception, K.EXC_DE);
      assertUntouched(r, regs, F.CF | F.ZF);
    });

    it('DIV word [mem] by zero raises #DE and changes nothing', () => {
      const regs = [0x1234n, 0n, 0x5678n];
      const r = run(16, 'f7 36 20 00', regs, F.OF | F.SF, words([0x20, 0]));
      assert.equal(r.exception, K.EXC_DE);
      assertUntouched(r, regs, F.OF | F.SF);
    });

    it('IMUL AX, BX, imm (6B and 69) truncates and reports overflow', () => {
      let r = run(16, '6b c3 fd', [0n, 0n, 0n, 1000n]);
      assert.equal(r.regs[0], 0xF448n); // -3000
      assert.equal(r.rflags & (F.CF | F.OF), 0);
      r = run(16, '69 c3 2c 01', [0n, 0n, 0n, 200n]);
      assert.equal(r.regs[0], 0xEA60n); // 60000 does not fit a signed word
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
    });

    it('SHLD AX, BX, 4 and SHRD word [mem], DX, CL', () => {
      let r = run(16, '0f a4 d8 04', [0x1234n, 0n, 0n, 0xABCDn]);
      assert.equal(r.regs[0], 0x234An);
      assert.equal(r.rflags & F.CF, F.CF);
      r = run(16, '0f ad 16 10 00', [0n, 8n, 0xABCDn], 0, words([0x10, 0x1234]));
      assert.equal(r.mem[0x10] | (r.mem[0x11] << 8), 0xCD12);
      assert.equal(r.rflags & F.CF, 0);
    });

    it('ROR byte [BX+SI], CL', () => {
      const m = new Uint8Array(0x40);
      m[5] = 0x81;
      const r = run(16, 'd2 08', [0n, 1n, 0n, 4n, 0n, 0n, 1n], 0, m);
      assert.equal(r.mem[5], 0xC0);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF);
    });

    it('SHL word [0xFFFF] beyond the segment limit raises #GP and writes nothing', () => {
      const m = new Uint8Array(0x10001);
      m[0xFFFF] = 0x5A;
      const r = run(16, 'd1 26 ff ff', [0n], F.ZF, m);
      assert.equal(r.exception, K.EXC_GP);
      assert.equal(r.mem[0xFFFF], 0x5A);
      assert.equal(r.rflags & ARITH, F.ZF);
    });

    it('AAM 10 / AAD 10 / AAM 0', () => {
      let r = run(16, 'd4 0a', [0x4Fn]);
      assert.equal(r.regs[0], 0x0709n);
      assert.equal(r.rflags & (F.ZF | F.SF | F.PF | F.CF), F.PF);
      r = run(16, 'd5 0a', [0x0709n]);
      assert.equal(r.regs[0], 0x004Fn);
      r = run(16, 'd4 00', [0x4Fn], F.CF);
      assert.equal(r.exception, K.EXC_DE);
      assertUntouched(r, [0x4Fn], F.CF);
    });

    it('DAA / DAS / AAA / AAS', () => {
      let r = run(16, '27', [0x7Dn]); // 0x38 + 0x45 = 0x7D -> 83
      assert.equal(r.regs[0], 0x83n);
      assert.equal(r.rflags & (F.CF | F.AF), F.AF);
      r = run(16, '2f', [0x4Bn], F.AF); // 0x83 - 0x38 = 0x4B (half borrow) -> 45
      assert.equal(r.regs[0], 0x45n);
      assert.equal(r.rflags & (F.CF | F.AF), F.AF);
      r = run(16, '37', [0x000En]); // 8 + 6 unpacked -> 1:4
      assert.equal(r.regs[0], 0x0104n);
      assert.equal(r.rflags & (F.CF | F.AF), F.CF | F.AF);
      r = run(16, '3f', [0x05FDn], F.AF); // 2 - 5 unpacked, AH = 5 -> 4:7
      assert.equal(r.regs[0], 0x0407n);
      assert.equal(r.rflags & (F.CF | F.AF), F.CF | F.AF);
    });
  });

  describe('32-bit mode', () => {
    it('DIV dword [mem] by zero raises #DE and changes nothing', () => {
      const regs = [0x11111111n, 0x22222222n, 0x33333333n];
      const r = run(32, 'f7 35 00 00 02 00', regs, F.PF | F.AF, new Uint8Array(16));
      assert.equal(r.exception, K.EXC_DE);
      assertUntouched(r, regs, F.PF | F.AF);
    });

    it('masks shift counts to 5 bits', () => {
      const r = run(32, 'c1 e0 21', [3n]); // shl eax, 33
      assert.equal(r.regs[0], 6n);
    });

    it('a zero count keeps lazily computed flags of the previous instruction', () => {
      // add al, bl ; shl ecx, cl (cl = 0)
      const r = runSnippet({ bits: 32, code: hex('00 d8 d3 e1'), regs: [0xFFn, 0x100n, 0n, 1n], maxInstructions: 2 });
      assert.equal(r.regs[1], 0x100n);
      assert.equal(r.rflags & ARITH, F.CF | F.ZF | F.AF | F.PF);
    });

    it('SAL /6 (D1, C1, D3) matches SHL /4 in result and flags', () => {
      const pairs: [string, string][] = [['d1 f0', 'd1 e0'], ['c1 f0 05', 'c1 e0 05'], ['d3 f0', 'd3 e0']];
      for (const [sal, shl] of pairs) {
        for (const v of [0n, 1n, 0x40000000n, 0x80000001n, 0xFFFFFFFFn, 0x12345678n]) {
          for (const cl of [0n, 1n, 7n, 31n, 32n]) {
            const a = run(32, sal, [v, cl], F.OF | F.CF);
            const b = run(32, shl, [v, cl], F.OF | F.CF);
            assert.equal(a.regs[0], b.regs[0], `${sal} ${v}`);
            assert.equal(a.rflags & ARITH, b.rflags & ARITH, `${sal} ${v} flags`);
          }
        }
      }
    });

    it('IDIV EBX: quotient overflow at the edges raises #DE', () => {
      for (const [eax, edx, ebx] of [[0n, 0x80000000n, 0xFFFFFFFFn], [0n, 0x80000000n, 1n], [0x80000000n, 0xFFFFFFFFn, 0xFFFFFFFFn], [0x80000000n, 0n, 1n]]) {
        const regs = [eax, 0n, edx, ebx];
        const r = run(32, 'f7 fb', regs);
        assert.equal(r.exception, K.EXC_DE, `${eax}:${edx}/${ebx}`);
        assertUntouched(r, regs, 0);
      }
      const r = run(32, 'f7 fb', [0x80000000n, 0n, 0xFFFFFFFFn, 1n]); // -2^31 / 1 fits
      assert.equal(r.exception, undefined);
      assert.equal(r.regs[0], 0x80000000n);
      assert.equal(r.regs[2], 0n);
    });

    it('IMUL EAX, EBX, imm32 reports overflow', () => {
      const r = run(32, '69 c3 78 56 34 12', [0n, 0n, 0n, 0x10n]);
      assert.equal(r.regs[0], 0x23456780n);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
    });

    it('RCL/RCR AL by 9 leave AL and CF unchanged', () => {
      for (const code of ['c0 d0 09', 'c0 d8 09']) {
        const r = run(32, code, [0x40n], F.CF);
        assert.equal(r.regs[0], 0x40n);
        assert.equal(r.rflags & F.CF, F.CF);
      }
    });
  });

  describe('64-bit mode', () => {
    const MIN = 1n << 63n;

    it('IDIV RBX edge values', () => {
      // -2^63 / -1 and 2^63 / 1: the quotient does not fit
      for (const regs of [[MIN, 0n, M64, M64], [MIN, 0n, 0n, 1n]]) {
        const r = run(64, '48 f7 fb', regs, F.SF);
        assert.equal(r.exception, K.EXC_DE);
        assertUntouched(r, regs, F.SF);
      }
      // -2^64 / 2 = -2^63 fits exactly
      let r = run(64, '48 f7 fb', [0n, 0n, M64, 2n]);
      assert.equal(r.exception, undefined);
      assert.equal(r.regs[0], MIN);
      assert.equal(r.regs[2], 0n);
      r = run(64, '48 f7 fb', [-7n, 0n, -1n, 2n]);
      assert.equal(r.regs[0], u64(-3n));
      assert.equal(r.regs[2], M64);
      // DIV/IDIV flags on this CPU: CF OF kept, SF ZF PF cleared, AF set
      r = run(64, '48 f7 fb', [100n, 0n, 0n, 7n], F.CF | F.OF | F.ZF | F.SF | F.PF);
      assert.equal(r.regs[0], 14n);
      assert.equal(r.regs[2], 2n);
      assert.equal(r.rflags & ARITH, F.CF | F.OF | F.AF);
    });

    it('DIV RBX: a 128-bit dividend, overflow and zero', () => {
      let r = run(64, '48 f7 f3', [0n, 0n, 4n, 5n]);
      assert.equal(r.regs[0], 0xCCCCCCCCCCCCCCCCn);
      assert.equal(r.regs[2], 4n);
      for (const regs of [[0n, 0n, 5n, 5n], [1n, 0n, 0n, 0n]]) {
        r = run(64, '48 f7 f3', regs);
        assert.equal(r.exception, K.EXC_DE);
        assertUntouched(r, regs, 0);
      }
      // dividends around 2^53 (the exact double range) in both directions
      for (const n of [(1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, M64]) {
        for (const d of [3n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 3n, M64]) {
          r = run(64, '48 f7 f3', [n, 0n, 0n, d]);
          assert.equal(r.regs[0], n / d, `${n} / ${d}`);
          assert.equal(r.regs[2], n % d, `${n} % ${d}`);
        }
      }
    });

    it('MUL / IMUL with extreme operands', () => {
      let r = run(64, '48 f7 e3', [M64, 0n, 0n, M64]); // mul rbx
      assert.equal(r.regs[0], 1n);
      assert.equal(r.regs[2], M64 - 1n);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
      r = run(64, '48 f7 eb', [M64, 0n, 5n, M64]); // imul rbx: -1 * -1
      assert.equal(r.regs[0], 1n);
      assert.equal(r.regs[2], 0n);
      assert.equal(r.rflags & (F.CF | F.OF), 0);
      r = run(64, '48 f7 eb', [1n << 62n, 0n, 0n, 2n]); // 2^63 does not fit signed
      assert.equal(r.regs[0], MIN);
      assert.equal(r.regs[2], 0n);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
      r = run(64, '48 0f af c3', [MIN, 0n, 0n, M64]); // imul rax, rbx: MIN * -1
      assert.equal(r.regs[0], MIN);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
      r = run(64, '48 0f af c3', [u64(-3n), 0n, 0n, 5n], F.ZF | F.SF);
      assert.equal(r.regs[0], u64(-15n));
      // MUL/IMUL keep SF ZF AF PF on this CPU
      assert.equal(r.rflags & ARITH, F.ZF | F.SF);
    });

    it('IMUL RCX, qword [mem], -2 at the signed boundary', () => {
      const m = new Uint8Array(16);
      m[7] = 0x40; // 2^62 * -2 = -2^63 fits
      let r = run(64, '48 6b 08 fe', [BigInt(DATA_BASE)], 0, m);
      assert.equal(r.regs[1], MIN);
      assert.equal(r.rflags & (F.CF | F.OF), 0);
      m[0] = 1; // (2^62 + 1) * -2 does not
      r = run(64, '48 6b 08 fe', [BigInt(DATA_BASE)], 0, m);
      assert.equal(r.regs[1], 0x7FFFFFFFFFFFFFFEn);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
    });

    it('a 32-bit shift by zero still zero-extends its register', () => {
      const regs = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0xDEADBEEF12345678n];
      const r = run(64, '41 d3 e1', regs, F.ZF | F.CF);
      assert.equal(r.regs[9], 0x12345678n);
      assert.equal(r.rflags & ARITH, F.ZF | F.CF);
    });

    it('masks 64-bit shift counts to 6 bits; SHRD RAX, RBX, CL', () => {
      let r = run(64, '48 c1 e0 41', [1n]); // shl rax, 65
      assert.equal(r.regs[0], 2n);
      r = run(64, '48 0f ad d8', [1n, 1n, 0n, 3n]); // shrd rax, rbx, 1
      assert.equal(r.regs[0], MIN);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF | F.OF);
      r = run(64, '48 0f ad d8', [2n, 2n, 0n, 3n]); // shrd rax, rbx, 2
      assert.equal(r.regs[0], MIN | 1n << 62n);
      assert.equal(r.rflags & (F.CF | F.OF), F.CF);
    });

    describe('memory forms on a read-only page (CR0.WP = 1)', () => {
      // a private runner: the 2 MiB page at 0x200000 becomes read-only
      const runner = new SnippetRunner(64);
      const mem = runner.bus.backing;
      const dv = new DataView(mem.buffer);
      dv.setUint32(0x100000 + 0x2000 + 8, 0x200000 + 0x81, true);
      runner.cpu.cr0 |= K.CR0_WP;
      runner.cpu.flushTlb(true);

      function rmw(code: string, rax: bigint, rbx = 0n, rflags = F.PF) {
        runner.run({ bits: 64, code: hex(code), regs: [rax, 0n, 0n, rbx], rflags, maxInstructions: 1 });
        return runner;
      }

      it('SHL qword straddling into the read-only page faults without a half write', () => {
        mem.set([1, 2, 3, 4, 5, 6, 7, 8], 0x1FFFFC);
        const r = rmw('48 d1 20', 0x1FFFFCn);
        assert.equal(r.exception, K.EXC_PF);
        assert.equal(r.errorCode! & 3, 3); // present, write
        assert.deepEqual([...mem.subarray(0x1FFFFC, 0x200004)], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert.equal(r.cpu.getFlags() & ARITH, F.PF);
      });

      it('SHLD dword on the read-only page faults and leaves flags and memory', () => {
        mem.set([0x11, 0x22, 0x33, 0x44], 0x200010);
        const r = rmw('0f a4 18 04', 0x200010n, 0xFFFFFFFFn, F.SF | F.OF);
        assert.equal(r.exception, K.EXC_PF);
        assert.deepEqual([...mem.subarray(0x200010, 0x200014)], [0x11, 0x22, 0x33, 0x44]);
        assert.equal(r.cpu.getFlags() & ARITH, F.SF | F.OF);
      });

      it('RCL qword on a writable page works', () => {
        mem.set([0x01, 0, 0, 0, 0, 0, 0, 0x80], 0x1FF000);
        const r = rmw('48 c1 10 07', 0x1FF000n, 0n, F.CF); // rcl qword [rax], 7 with CF = 1
        assert.equal(r.exception, undefined);
        // 0x8000000000000001 rcl 7 with CF=1: (v << 7) | (1 << 6) | (v >> 58)
        const v = 0x8000000000000001n;
        const want = ((v << 7n) | (1n << 6n) | (v >> 58n)) & M64;
        const got = new DataView(mem.buffer).getBigUint64(0x1FF000, true);
        assert.equal(got, want);
        assert.equal(r.cpu.getFlags() & F.CF, 0); // bit 57 of v
      });
    });
  });
});
