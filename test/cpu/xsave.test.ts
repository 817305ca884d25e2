import { strict as assert } from 'assert';
import type { Cpu } from '../../src/cpu/cpu';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { X87_INIT } from '../../src/cpu/xstate';
import { CODE_BASE, makeCpu } from '../support/snippet';

/**
 * The XSAVE feature set with its one state component, x87 (src/cpu/ops/xsave.ts, xstate.ts): CPUID,
 * CR4.OSXSAVE, XGETBV/XSETBV and XSAVE/XRSTOR with every fault the SDM gives them, the x87 image
 * round trip and the XSAVE header rules. Code is machine bytes; registers are set from the host.
 */

const XGETBV = [0x0F, 0x01, 0xD0];
const XSETBV = [0x0F, 0x01, 0xD1];
const CPUID = [0x0F, 0xA2];
/** xsave [rdi] / xrstor [rdi] (and the 32-bit [edi] forms: the same bytes). */
const XSAVE = [0x0F, 0xAE, 0x27];
const XRSTOR = [0x0F, 0xAE, 0x2F];
const REXW = 0x48;
const AREA = 0x20000;
const AREA_B = 0x21000;
const RAX = 0, RCX = 1, RDX = 2, RDI = 7;

interface Run { exc: number | undefined; err: number | undefined }

class Rig {
  readonly cpu: Cpu;
  exc: number | undefined;
  err: number | undefined;
  private lastLen = 0;
  /** At CPL 3 the snippet ends in JMP $ (HLT would be #GP), run for a few instructions. */
  user = false;

  constructor(bits: 32 | 64 = 64, osxsave = true) {
    this.cpu = makeCpu(bits).cpu;
    if (osxsave) this.cpu.cr4 |= K.CR4_OSXSAVE;
    this.cpu.onException = (vec, err) => { this.exc = vec; this.err = err; return true; };
  }

  /** Runs `code` (then HLT) at CODE_BASE with the given registers (low 32 bits; high halves cleared unless given). */
  run(code: number[], regs: Record<number, number> = {}, hi: Record<number, number> = {}, rip = CODE_BASE): Run {
    const c = this.cpu;
    const full = [...code, ...(this.user ? [0xEB, 0xFE] : [0xF4])];
    const n = Math.max(full.length, this.lastLen);
    for (let k = 0; k < n; k++) c.physWrite(CODE_BASE + k, 1, k < full.length ? full[k] : 0);
    this.lastLen = full.length;
    for (const [r, v] of Object.entries(regs)) { c.r[+r] = v | 0; c.rh[+r] = 0; }
    for (const [r, v] of Object.entries(hi)) c.rh[+r] = v | 0;
    c.rip = rip;
    c.halted = false;
    this.exc = this.err = undefined;
    c.run(c.icount + (this.user ? 20 : 1000));
    return { exc: this.exc, err: this.err };
  }

  fill(addr: number, n: number, v: number | ((k: number) => number)): void {
    for (let k = 0; k < n; k++) this.cpu.physWrite(addr + k, 1, typeof v === 'number' ? v : v(k));
  }

  bytes(addr: number, n: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < n; k++) out.push(this.cpu.physRead(addr + k, 1));
    return out;
  }

  w32(addr: number, v: number): void { this.cpu.physWrite(addr, 4, v | 0); }
}

const ok: Run = { exc: undefined, err: undefined };
const gp: Run = { exc: K.EXC_GP, err: 0 };
const ud: Run = { exc: K.EXC_UD, err: -1 };
const nm: Run = { exc: K.EXC_NM, err: -1 };

/** An area whose x87 bytes are a recognisable pattern, XSTATE_BV = `bv`, the rest of the header 0. */
function patternArea(r: Rig, addr: number, bv = 1): void {
  r.fill(addr, 576, 0);
  r.fill(addr, 24, (k) => 0x10 + k);
  r.fill(addr + 32, 128, (k) => 0x80 + k);
  r.fill(addr + 24, 8, 0x5A); // MXCSR / MXCSR_MASK: SSE state, never loaded
  r.w32(addr + 512, bv);
}

describe('XSAVE feature set (x87 component only)', () => {
  describe('CPUID and CR4.OSXSAVE', () => {
    it('CPUID.1:ECX reports XSAVE, and OSXSAVE as CR4.OSXSAVE is now', () => {
      const r = new Rig(64, false);
      assert.deepEqual(r.run([...CPUID], { [RAX]: 1 }), ok);
      assert.ok(r.cpu.r[RCX] & (1 << 26), 'XSAVE');
      assert.equal(r.cpu.r[RCX] & (1 << 27), 0, 'OSXSAVE with CR4.OSXSAVE=0');
      // mov rax, cr4 ; bts rax, 18 ; mov cr4, rax ; mov eax, 1 ; cpuid
      assert.deepEqual(r.run([0x0F, 0x20, 0xE0, 0x48, 0x0F, 0xBA, 0xE8, 18, 0x0F, 0x22, 0xE0, 0xB8, 1, 0, 0, 0, ...CPUID]), ok, 'CR4.OSXSAVE is writable');
      assert.ok(r.cpu.cr4 & K.CR4_OSXSAVE);
      assert.ok(r.cpu.r[RCX] & (1 << 27), 'OSXSAVE with CR4.OSXSAVE=1');
      assert.ok(r.cpu.r[RCX] & (1 << 26));
    });

    it('leaf 0DH: XCR0 can hold x87 only, the area is 576 bytes, no XSAVEOPT/XSAVEC/XGETBV_ECX1/XSAVES', () => {
      const r = new Rig();
      const q = (sub: number) => r.cpu.cpuid.query(0xD, sub, r.cpu).map((v) => v >>> 0);
      assert.deepEqual(q(0), [1, 576, 576, 0]);
      assert.deepEqual(q(1), [0, 0, 0, 0]);
      assert.deepEqual(q(2), [0, 0, 0, 0]);
      assert.deepEqual(q(63), [0, 0, 0, 0]);
      assert.equal(r.cpu.cpuid.query(0, 0, r.cpu)[0], 0xD, 'leaf 0DH is the highest basic leaf');
      // a leaf above the maximum returns leaf 0DH's data (Intel)
      assert.deepEqual(r.cpu.cpuid.query(0x20, 0, r.cpu).map((v) => v >>> 0), [1, 576, 576, 0]);
      assert.deepEqual(r.run([...CPUID], { [RAX]: 0xD, [RCX]: 0 }), ok);
      assert.deepEqual([r.cpu.r[RAX], r.cpu.r[3], r.cpu.r[RCX], r.cpu.r[RDX]], [1, 576, 576, 0]);
    });

    it('reset leaves XCR0 = 1 and the x87 component in its initial configuration', () => {
      const r = new Rig();
      r.cpu.x87 = new Uint8Array(152).fill(7);
      r.cpu.x87InUse = true;
      r.cpu.reset();
      assert.equal(r.cpu.xcr0, 1);
      assert.equal(r.cpu.x87InUse, false);
      assert.deepEqual(Array.from(r.cpu.x87), Array.from(X87_INIT));
      assert.equal(X87_INIT[0] | (X87_INIT[1] << 8), 0x037F, 'FCW');
    });
  });

  describe('XGETBV', () => {
    it('returns XCR0 in EDX:EAX and clears the high halves of RAX and RDX, at any CPL', () => {
      const r = new Rig();
      assert.deepEqual(r.run(XGETBV, { [RCX]: 0, [RAX]: -1, [RDX]: -1 }, { [RAX]: -1, [RDX]: -1 }), ok);
      assert.deepEqual([r.cpu.r[RAX], r.cpu.rh[RAX], r.cpu.r[RDX], r.cpu.rh[RDX]], [1, 0, 0, 0]);
      const u = new Rig(32);
      ring3(u);
      assert.deepEqual(u.run(XGETBV, { [RCX]: 0 }), ok);
      assert.equal(u.cpu.r[RAX], 1);
    });

    it('#UD with CR4.OSXSAVE=0, with LOCK, with 66/F2/F3; #GP(0) for an XCR other than 0 (ECX=1 is not reported)', () => {
      assert.deepEqual(new Rig(64, false).run(XGETBV, { [RCX]: 0 }), ud);
      const r = new Rig();
      assert.deepEqual(r.run([0xF0, ...XGETBV]), ud);
      for (const p of [0x66, 0xF2, 0xF3]) assert.deepEqual(r.run([p, ...XGETBV]), ud, `prefix ${p.toString(16)}`);
      assert.deepEqual(r.run(XGETBV, { [RCX]: 1 }), gp);
      assert.deepEqual(r.run(XGETBV, { [RCX]: 0x80000000 }), gp);
      // only ECX counts: the high half of RCX is ignored
      assert.deepEqual(r.run(XGETBV, { [RCX]: 0 }, { [RCX]: 5 }), ok);
    });
  });

  describe('XSETBV', () => {
    it('writes XCR0 at CPL 0 (also in real mode) when the value enables x87 and nothing unsupported', () => {
      const r = new Rig();
      assert.deepEqual(r.run(XSETBV, { [RCX]: 0, [RAX]: 1, [RDX]: 0 }), ok);
      assert.equal(r.cpu.xcr0, 1);
      const real = makeCpu(16).cpu;
      real.cr4 |= K.CR4_OSXSAVE;
      let exc: number | undefined;
      real.onException = (v) => { exc = v; return true; };
      for (let k = 0; k < 4; k++) real.physWrite(CODE_BASE + k, 1, [...XSETBV, 0xF4][k]);
      real.r[RAX] = 1; real.r[RCX] = 0; real.r[RDX] = 0;
      real.rip = 0;
      real.run(real.icount + 10);
      assert.equal(exc, undefined);
      assert.equal(real.rip, 4, 'past XSETBV and HLT');
    });

    it('#GP(0) for ECX != 0, bit 0 clear, unsupported bits (SSE, AVX, any high bit)', () => {
      const r = new Rig();
      assert.deepEqual(r.run(XSETBV, { [RCX]: 1, [RAX]: 1, [RDX]: 0 }), gp);
      assert.deepEqual(r.run(XSETBV, { [RCX]: 0, [RAX]: 0, [RDX]: 0 }), gp);
      assert.deepEqual(r.run(XSETBV, { [RCX]: 0, [RAX]: 3, [RDX]: 0 }), gp);
      assert.deepEqual(r.run(XSETBV, { [RCX]: 0, [RAX]: 7, [RDX]: 0 }), gp);
      assert.deepEqual(r.run(XSETBV, { [RCX]: 0, [RAX]: 1, [RDX]: 1 }), gp);
      assert.equal(r.cpu.xcr0, 1);
    });

    it('#UD with CR4.OSXSAVE=0 or a prefix; #GP(0) at CPL 3 and in virtual-8086 mode', () => {
      assert.deepEqual(new Rig(64, false).run(XSETBV, { [RAX]: 1 }), ud);
      const r = new Rig();
      for (const p of [0x66, 0xF2, 0xF3, 0xF0]) assert.deepEqual(r.run([p, ...XSETBV], { [RAX]: 1 }), ud, `prefix ${p.toString(16)}`);
      const u = new Rig(32);
      ring3(u);
      assert.deepEqual(u.run(XSETBV, { [RCX]: 0, [RAX]: 1, [RDX]: 0 }), gp);
      // #UD wins over the CPL check
      u.cpu.cr4 &= ~K.CR4_OSXSAVE;
      assert.deepEqual(u.run(XSETBV, { [RCX]: 0, [RAX]: 1, [RDX]: 0 }), ud);
      const v = new Rig(32);
      for (let s = 0; s < 6; s++) v.cpu.loadSegRaw(s, CODE_BASE >>> 4, CODE_BASE, 0xFFFF, K.AR_P | K.AR_S | 3 | (3 << K.AR_DPL_SHIFT) | (s === K.SEG_CS ? 8 : 0));
      v.cpu.setFlags(F.VM | F.FIXED1, -1);
      v.cpu.updateMode();
      assert.ok(v.cpu.v86);
      v.user = true; // ends in JMP $: a HLT would be #GP too
      assert.deepEqual(v.run(XSETBV, { [RCX]: 0, [RAX]: 1, [RDX]: 0 }, {}, 0), gp);
    });
  });

  describe('XSAVE / XRSTOR', () => {
    it('round-trip the x87 image; XSAVE sets XSTATE_BV[0] = XINUSE[0], leaves other header bits, MXCSR and the rest alone', () => {
      const r = new Rig();
      patternArea(r, AREA);
      assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA, [RAX]: -1, [RDX]: -1 }), ok);
      assert.equal(r.cpu.x87InUse, true);
      r.fill(AREA_B, 576, 0xCC);
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA_B, [RAX]: -1, [RDX]: -1 }), ok);
      const b = r.bytes(AREA_B, 576);
      assert.deepEqual(b.slice(0, 24), r.bytes(AREA, 24), 'FCW..FDS');
      assert.deepEqual(b.slice(32, 160), r.bytes(AREA + 32, 128), 'ST0-ST7');
      assert.deepEqual(b.slice(24, 32), new Array(8).fill(0xCC), 'MXCSR and MXCSR_MASK not written');
      assert.deepEqual(b.slice(160, 512), new Array(352).fill(0xCC), 'XMM registers and the rest of the legacy region not written');
      assert.deepEqual(b.slice(512, 520), [0xCD, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC], 'XSTATE_BV: bit 0 set, the others unchanged');
      assert.deepEqual(b.slice(520, 576), new Array(56).fill(0xCC), 'XCOMP_BV and the reserved header bytes not written');
      // the 64-bit forms (REX.W) store the same image
      r.fill(AREA_B, 576, 0);
      assert.deepEqual(r.run([REXW, ...XSAVE], { [RDI]: AREA_B, [RAX]: 1, [RDX]: 0 }), ok);
      assert.deepEqual(r.bytes(AREA_B, 160).filter((_, k) => k < 24 || k >= 32), r.bytes(AREA, 160).filter((_, k) => k < 24 || k >= 32));
    });

    it('XRSTOR with XSTATE_BV[0] = 0 puts x87 in its initial configuration (FCW 037FH), and XSAVE then clears XSTATE_BV[0]', () => {
      const r = new Rig();
      patternArea(r, AREA);
      assert.deepEqual(r.run([REXW, ...XRSTOR], { [RDI]: AREA, [RAX]: 1, [RDX]: 0 }), ok);
      patternArea(r, AREA, 0);
      assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA, [RAX]: 1, [RDX]: 0 }), ok);
      assert.equal(r.cpu.x87InUse, false);
      r.fill(AREA_B, 576, 0xFF);
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA_B, [RAX]: 1, [RDX]: 0 }), ok);
      const b = r.bytes(AREA_B, 576);
      assert.deepEqual(b.slice(0, 2), [0x7F, 0x03], 'FCW');
      assert.ok(b.slice(2, 24).every((x) => x === 0) && b.slice(32, 160).every((x) => x === 0), 'FSW, FTW, FOP, FIP, FDP and ST0-ST7 are 0');
      assert.deepEqual(b.slice(512, 520), [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 'XSTATE_BV[0] = XINUSE[0] = 0');
    });

    it('RFBM = XCR0 AND EDX:EAX: with EAX[0] = 0 neither instruction touches x87 (XSAVE leaves XSTATE_BV as it was)', () => {
      const r = new Rig();
      patternArea(r, AREA);
      assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA, [RAX]: 0, [RDX]: -1 }), ok);
      assert.equal(r.cpu.x87InUse, false);
      assert.equal(r.cpu.x87, X87_INIT);
      r.fill(AREA_B, 576, 0xCC);
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA_B, [RAX]: 0, [RDX]: -1 }), ok);
      assert.deepEqual(r.bytes(AREA_B, 576), new Array(576).fill(0xCC));
    });

    it('XRSTOR header rules (standard form): #GP for XCOMP_BV[63], XSTATE_BV outside XCR0, header bytes 23:8 not 0; bytes 63:24 are not checked', () => {
      const r = new Rig();
      const tryHeader = (off: number, v: number) => {
        patternArea(r, AREA);
        r.w32(AREA + 512 + off, v);
        return r.run(XRSTOR, { [RDI]: AREA, [RAX]: 1, [RDX]: 0 });
      };
      assert.deepEqual(tryHeader(12, 0x80000000), gp, 'XCOMP_BV[63]: compacted form not supported');
      assert.deepEqual(tryHeader(8, 1), gp, 'XCOMP_BV[0]');
      assert.deepEqual(tryHeader(0, 3), gp, 'XSTATE_BV[1] with XCR0[1] = 0');
      assert.deepEqual(tryHeader(4, 1), gp, 'XSTATE_BV[32]');
      assert.deepEqual(tryHeader(16, 0x100), gp, 'header byte 17');
      assert.deepEqual(tryHeader(20, 0x1000000), gp, 'header byte 23');
      assert.equal(r.cpu.x87InUse, false, 'a faulting XRSTOR loads nothing');
      assert.deepEqual(tryHeader(24, 0xFFFFFFFF), ok, 'header byte 24');
      assert.deepEqual(tryHeader(60, 0xFFFFFFFF), ok, 'header byte 63');
      assert.equal(r.cpu.x87InUse, true);
      // RFBM = 0 does not skip the header checks
      patternArea(r, AREA, 2);
      assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA, [RAX]: 0, [RDX]: 0 }), gp);
    });

    it('#UD (CR4.OSXSAVE=0, register operand, LOCK, 66/F2/F3, XSAVEOPT/XSAVEC/XSAVES/XRSTORS), then #NM (CR0.TS), then #GP for misalignment', () => {
      const off = new Rig(64, false);
      assert.deepEqual(off.run(XSAVE, { [RDI]: AREA }), ud);
      assert.deepEqual(off.run(XRSTOR, { [RDI]: AREA }), ud);
      off.cpu.cr0 |= K.CR0_TS;
      assert.deepEqual(off.run(XSAVE, { [RDI]: AREA }), ud, '#UD before #NM');
      const r = new Rig();
      assert.deepEqual(r.run([0x0F, 0xAE, 0xE0]), ud, 'register operand (/4)');
      assert.deepEqual(r.run([0x0F, 0xAE, 0xE8]), ud, 'register operand (/5)');
      for (const p of [0xF0, 0x66, 0xF2, 0xF3]) {
        assert.deepEqual(r.run([p, ...XSAVE], { [RDI]: AREA }), ud, `XSAVE prefix ${p.toString(16)}`);
        assert.deepEqual(r.run([p, ...XRSTOR], { [RDI]: AREA }), ud, `XRSTOR prefix ${p.toString(16)}`);
      }
      assert.deepEqual(r.run([0x0F, 0xAE, 0x37], { [RDI]: AREA, [RAX]: 1 }), ud, 'XSAVEOPT');
      assert.deepEqual(r.run([0x0F, 0xC7, 0x27], { [RDI]: AREA, [RAX]: 1 }), ud, 'XSAVEC');
      assert.deepEqual(r.run([0x0F, 0xC7, 0x2F], { [RDI]: AREA, [RAX]: 1 }), ud, 'XSAVES');
      assert.deepEqual(r.run([0x0F, 0xC7, 0x1F], { [RDI]: AREA, [RAX]: 1 }), ud, 'XRSTORS');
      r.cpu.cr0 |= K.CR0_TS;
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA + 8, [RAX]: 1 }), nm, '#NM before the alignment #GP');
      assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA, [RAX]: 1 }), nm);
      r.cpu.cr0 &= ~K.CR0_TS;
      r.fill(AREA, 576 + 64, 0xCC);
      for (const mis of [8, 32, 0x3F]) {
        assert.deepEqual(r.run(XSAVE, { [RDI]: AREA + mis, [RAX]: 1 }), gp, `XSAVE at +${mis}`);
        assert.deepEqual(r.run(XRSTOR, { [RDI]: AREA + mis, [RAX]: 1 }), gp, `XRSTOR at +${mis}`);
      }
      assert.deepEqual(r.bytes(AREA, 576 + 64), new Array(576 + 64).fill(0xCC), 'nothing written');
    });

    it('alignment is checked on the linear address (after the segment base) and is #GP even with alignment checking at CPL 3', () => {
      const r = new Rig(32);
      // DS base 0x10: an offset that is 64-byte aligned gives a misaligned linear address
      r.cpu.loadSegRaw(K.SEG_DS, 0x10, 0x10, 0xFFFFFFFF, K.AR_P | K.AR_S | 3 | K.AR_G | K.AR_DB);
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA, [RAX]: 1 }), gp);
      assert.deepEqual(r.run(XSAVE, { [RDI]: AREA - 0x10, [RAX]: 1 }), ok);
      const u = new Rig(32);
      ring3(u);
      u.cpu.cr0 |= K.CR0_AM;
      u.cpu.setFlags(F.AC | F.FIXED1, -1);
      const run = (code: number[], rdi: number) => {
        u.run(code, { [RDI]: rdi, [RAX]: 1 }, {}, CODE_BASE);
        return { exc: u.exc, err: u.err };
      };
      assert.deepEqual(run(XSAVE, AREA + 4), gp, 'not #AC');
      assert.deepEqual(run(XSAVE, AREA), ok);
      assert.deepEqual(run(XRSTOR, AREA), ok);
    });

    it('a page fault on any page of the area leaves memory unmodified', () => {
      const r = new Rig();
      // 4-KiB pages for 2-4 MiB with 0x201000 not present: the area at 0x200E00 has its header there
      const PT = 0x103000;
      for (let k = 0; k < 512; k++) r.cpu.physWrite(PT + k * 8, 4, k === 1 ? 0 : 0x200000 + k * 0x1000 + 3);
      r.cpu.physWrite(0x100000 + 0x2000 + 8, 4, PT + 3);
      r.cpu.flushTlb(true);
      const at = 0x200E00;
      r.fill(at, 0x200, 0xCC);
      assert.deepEqual(r.run(XSAVE, { [RDI]: at, [RAX]: 1 }), { exc: K.EXC_PF, err: 2 });
      assert.equal(r.cpu.cr2, 0x201000);
      assert.deepEqual(r.bytes(at, 0x200), new Array(0x200).fill(0xCC), 'the x87 bytes were not written');
      // the x87 part itself straddling the page: 0x200FC0 + 159 is on the missing page
      r.fill(0x200FC0, 0x40, 0xCC);
      assert.deepEqual(r.run(XSAVE, { [RDI]: 0x200FC0, [RAX]: 1 }), { exc: K.EXC_PF, err: 2 });
      assert.deepEqual(r.bytes(0x200FC0, 0x40), new Array(0x40).fill(0xCC));
    });
  });
});

/** Flat 32-bit protected mode at CPL 3 (no paging: the user code and data are reachable). */
function ring3(r: Rig): void {
  const c = r.cpu;
  const flat = K.AR_P | K.AR_S | K.AR_G | K.AR_DB | (3 << K.AR_DPL_SHIFT);
  for (let s = 0; s < 6; s++) c.loadSegRaw(s, s === K.SEG_CS ? 0x1B : 0x23, 0, 0xFFFFFFFF, flat | (s === K.SEG_CS ? 0xB : 3));
  c.updateMode();
  assert.equal(c.cpl, 3);
  r.user = true;
}
