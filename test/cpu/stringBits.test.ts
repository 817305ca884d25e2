import { strict as assert } from 'assert';
import { CODE_BASE, DATA_BASE, runSnippet, SnippetRunner } from '../support/snippet';
import * as F from '../../src/cpu/flags';

/**
 * String instructions (REP chunking, fast paths, overlap, faults mid-way, port strings, address-size
 * overrides, self-modifying code) and a few bit/BMI cases the native vectors cannot reach (16-bit
 * addressing, real mode, bit offsets far outside the operand).
 */

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const M64 = (1n << 64n) - 1n;

/** Deterministic bytes (xorshift32). */
function noise(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 0 || 1;
  for (let k = 0; k < n; k++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b[k] = x & 0xFF;
  }
  return b;
}

describe('string instructions', () => {
  it('REP MOVSB forwards and backwards and REP STOSW in 16-bit real mode', () => {
    // mov si,0; mov di,0x100; mov cx,16; cld; rep movsb; mov ax,0xBEEF; mov di,0x200; mov cx,8; rep stosw;
    // std; mov si,0x2F; mov di,0x14F; mov cx,0x20; rep movsb; cld
    const code = hex('be0000 bf0001 b91000 fc f3a4 b8efbe bf0002 b90800 f3ab fd be2f00 bf4f01 b92000 f3a4 fc');
    const mem = new Uint8Array(0x300);
    for (let k = 0; k < 0x30; k++) mem[k] = k + 1;
    const r = runSnippet({ bits: 16, code, mem });
    assert.equal(r.exception, undefined);
    for (let k = 0; k < 16; k++) assert.equal(r.mem[0x100 + k], k + 1, `movsb byte ${k}`);
    for (let k = 0; k < 16; k += 2) assert.deepEqual([r.mem[0x200 + k], r.mem[0x201 + k]], [0xEF, 0xBE], `stosw word ${k / 2}`);
    assert.equal(r.mem[0x210], 0);
    for (let k = 0; k < 0x20; k++) assert.equal(r.mem[0x130 + k], 0x11 + k, `backward movsb byte ${k}`);
    assert.equal(r.regs[1] & 0xFFFFn, 0n); // CX
    assert.equal(r.regs[6] & 0xFFFFn, 0x0Fn); // SI after the backward copy
    assert.equal(r.regs[7] & 0xFFFFn, 0x12Fn); // DI
  });

  it('copies 1 MiB with REP MOVSD across many invocations (32-bit)', () => {
    const r = new SnippetRunner(32);
    const src = noise(1 << 20, 12345);
    r.bus.backing.set(src, 0x200000);
    r.bus.backing.fill(0, 0x400000, 0x500000);
    // mov esi,0x200000; mov edi,0x400000; mov ecx,0x40000; cld; rep movsd
    const code = hex('be00002000 bf00004000 b900000400 fc f3a5');
    const before = r.cpu.icount;
    r.run({ bits: 32, code });
    assert.equal(r.exception, undefined);
    // 4 setup instructions, the REP MOVSD at least 0x40000 / 4096 = 64 times, HLT
    assert.ok(r.cpu.icount - before >= 4 + 64 + 1, `only ${r.cpu.icount - before} instructions retired`);
    assert.equal(r.reg(1), 0n);
    assert.equal(r.reg(6), 0x300000n);
    assert.equal(r.reg(7), 0x500000n);
    assert.ok(Buffer.compare(r.bus.backing.subarray(0x400000, 0x500000), src) === 0, 'copy differs');
  });

  it('leaves a partly done REP with RIP at the instruction and resumes it', () => {
    const r = new SnippetRunner(32);
    r.bus.backing.set(noise(0x40000, 99), 0x200000);
    const code = hex('be00002000 bf00004000 b900000100 fc f3a5'); // ecx = 0x10000 dwords
    r.run({ bits: 32, code, maxInstructions: 4 + 3 });
    assert.equal(r.exception, undefined);
    assert.equal(r.cpu.rip, CODE_BASE + 16, 'RIP stays on the REP MOVSD');
    const done = 0x10000 - Number(r.reg(1));
    assert.ok(done > 0 && done < 0x10000, `done ${done}`);
    assert.equal(r.reg(6), BigInt(0x200000 + 4 * done));
    assert.equal(r.reg(7), BigInt(0x400000 + 4 * done));
    r.cpu.run(r.cpu.icount + 1000);
    assert.equal(r.reg(1), 0n);
    assert.equal(r.cpu.rip, CODE_BASE + 19); // after the HLT
    assert.ok(Buffer.compare(r.bus.backing.subarray(0x400000, 0x440000), r.bus.backing.subarray(0x200000, 0x240000)) === 0);
  });

  it('copies 1 MiB backwards with REP MOVSQ under 64-bit paging', () => {
    const r = new SnippetRunner(64);
    const src = noise(1 << 20, 777);
    r.bus.backing.set(src, 0x200000);
    // mov rsi,0x2FFFF8; mov rdi,0x4FFFF8; mov ecx,0x20000; std; rep movsq; cld
    r.run({ bits: 64, code: hex('48c7c6f8ff2f00 48c7c7f8ff4f00 b900000200 fd f348a5 fc') });
    assert.equal(r.exception, undefined);
    assert.equal(r.reg(1), 0n);
    assert.equal(r.reg(6), 0x1FFFF8n);
    assert.equal(r.reg(7), 0x3FFFF8n);
    assert.ok(Buffer.compare(r.bus.backing.subarray(0x400000, 0x500000), src) === 0, 'copy differs');
  });

  it('replicates a byte with an overlapping forward REP MOVSB (dst = src + 1)', () => {
    const mem = new Uint8Array(0x200);
    mem[0x10] = 0xAB;
    // mov rsi,0x20010; mov rdi,0x20011; mov ecx,100; cld; rep movsb
    const code = new Uint8Array([0x48, 0xc7, 0xc6, ...le32(DATA_BASE + 0x10), 0x48, 0xc7, 0xc7, ...le32(DATA_BASE + 0x11), 0xb9, ...le32(100), 0xfc, 0xf3, 0xa4]);
    const r = runSnippet({ bits: 64, code, mem });
    for (let k = 0; k <= 100; k++) assert.equal(r.mem[0x10 + k], 0xAB, `byte ${k}`);
    assert.equal(r.mem[0x10 + 101], 0);
  });

  it('matches the sequential element order for every overlap, size and direction', () => {
    const ops: [number, number[]][] = [[1, [0xf3, 0xa4]], [2, [0x66, 0xf3, 0xa5]], [4, [0xf3, 0xa5]], [8, [0xf3, 0x48, 0xa5]]];
    const count = 40;
    let seed = 1;
    for (const [e, op] of ops) {
      for (const down of [false, true]) {
        for (const delta of [-13, -8, -5, -3, -1, 1, 2, 3, 5, 7, 8, 12, 64, 400]) {
          // source near the end of a page so that runs split between the fast and the checked path
          const base = 0xF00 + (seed % 7);
          const srcOff = down ? base + (count - 1) * e : base;
          const dstOff = srcOff + delta;
          const mem = noise(0x1400, seed++);
          const want = mem.slice();
          for (let k = 0; k < count; k++) {
            const s = down ? srcOff - k * e : srcOff + k * e;
            const d = down ? dstOff - k * e : dstOff + k * e;
            const tmp = want.slice(s, s + e);
            want.set(tmp, d);
          }
          const code = new Uint8Array([
            0x48, 0xc7, 0xc6, ...le32(DATA_BASE + srcOff), 0x48, 0xc7, 0xc7, ...le32(DATA_BASE + dstOff),
            0xb9, ...le32(count), down ? 0xfd : 0xfc, ...op, 0xfc,
          ]);
          const r = runSnippet({ bits: 64, code, mem });
          assert.equal(r.exception, undefined);
          const step = BigInt(down ? -e * count : e * count);
          assert.equal(r.regs[6], BigInt(DATA_BASE + srcOff) + step);
          assert.equal(r.regs[7], BigInt(DATA_BASE + dstOff) + step);
          for (let k = 0; k < want.length; k++) {
            if (r.mem[k] !== want[k]) assert.fail(`e=${e} down=${down} delta=${delta}: byte 0x${k.toString(16)} = ${r.mem[k]}, want ${want[k]}`);
          }
        }
      }
    }
  });

  it('finds a byte with REPNE SCASB and stops a REPE CMPSB at the first difference', () => {
    const text = new TextEncoder().encode('hello, world\0xyz');
    const mem = new Uint8Array(0x40);
    mem.set(text);
    // strlen: mov rdi,0x20000; xor eax,eax; mov rcx,-1; repne scasb
    let r = runSnippet({ bits: 64, code: hex('48c7c700000200 31c0 48c7c1ffffffff f2ae'), mem });
    assert.equal(r.regs[7], BigInt(DATA_BASE + 13));
    assert.equal(r.regs[1], M64 - 13n); // -1 - 13 iterations
    assert.ok(r.rflags & F.ZF);
    // not found within the count: mov rdi,0x20000; mov al,'z'; mov ecx,12; repne scasb
    r = runSnippet({ bits: 64, code: hex('48c7c700000200 b07a b90c000000 f2ae'), mem });
    assert.equal(r.regs[1], 0n);
    assert.equal(r.regs[7], BigInt(DATA_BASE + 12));
    assert.equal(r.rflags & F.ZF, 0);
    // mov rsi,0x20000; mov rdi,0x20010; mov ecx,10; repe cmpsb  ('hello, wor' vs 'hellO, wor')
    mem.set(new TextEncoder().encode('hellO, wor'), 0x10);
    r = runSnippet({ bits: 64, code: hex('48c7c600000200 48c7c710000200 b90a000000 f3a6'), mem });
    assert.equal(r.regs[1], 5n);
    assert.equal(r.regs[6], BigInt(DATA_BASE + 5));
    assert.equal(r.regs[7], BigInt(DATA_BASE + 0x15));
    assert.equal(r.rflags & (F.ZF | F.CF), 0); // 'o' (0x6f) - 'O' (0x4f): no borrow, not equal
  });

  it('moves port data with REP INSW / REP OUTSB / backwards REP INSD', () => {
    const r = new SnippetRunner(32);
    r.ports.inputs.set(0x1F0, 0x1234);
    r.ports.inputs.set(0x80, 0xCAFEBABE);
    r.ports.writes.length = 0;
    const mem = new Uint8Array(0x40);
    mem.set([0x41, 0x42, 0x43]);
    // mov dx,0x1f0; mov edi,0x20010; mov ecx,4; rep insw; mov dx,0x3f8; mov esi,0x20000; mov ecx,3; rep outsb
    r.run({ bits: 32, code: hex('66baf001 bf10000200 b904000000 66f36d 66baf803 be00000200 b903000000 f36e'), mem });
    assert.equal(r.exception, undefined);
    const got = r.bus.backing.subarray(DATA_BASE, DATA_BASE + 0x40);
    for (let k = 0; k < 4; k++) assert.deepEqual([got[0x10 + 2 * k], got[0x11 + 2 * k]], [0x34, 0x12]);
    assert.equal(got[0x18], 0);
    assert.deepEqual(r.ports.writes, [0x41, 0x42, 0x43].map((value) => ({ port: 0x3F8, size: 1, value })));
    assert.equal(r.reg(7), BigInt(DATA_BASE + 0x18));
    assert.equal(r.reg(6), BigInt(DATA_BASE + 3));
    // std; mov dx,0x80; mov edi,0x2003c; mov ecx,2; rep insd; cld
    r.run({ bits: 32, code: hex('fd 66ba8000 bf3c000200 b902000000 f36d fc'), mem: new Uint8Array(0x40) });
    assert.deepEqual([...got.subarray(0x38, 0x40)], [0xBE, 0xBA, 0xFE, 0xCA, 0xBE, 0xBA, 0xFE, 0xCA]);
    assert.equal(r.reg(7), BigInt(DATA_BASE + 0x34));
  });

  it('uses CX/SI/DI with an address-size override in 32-bit mode', () => {
    const r = new SnippetRunner(32);
    r.bus.backing.set([1, 2, 3, 4, 5], 0x8010);
    r.bus.backing.fill(0, 0x8020, 0x8030);
    const regs = [0n, 0xABCD0004n, 0n, 0n, 0x30000n, 0n, 0x55558010n, 0x66668020n];
    r.run({ bits: 32, code: hex('67f3a4'), regs }); // addr16 rep movsb
    assert.equal(r.exception, undefined);
    assert.deepEqual([...r.bus.backing.subarray(0x8020, 0x8025)], [1, 2, 3, 4, 0]);
    assert.equal(r.reg(1), 0xABCD0000n);
    assert.equal(r.reg(6), 0x55558014n);
    assert.equal(r.reg(7), 0x66668024n);
  });

  it('uses ECX/ESI/EDI (zero-extended) with an address-size override in 64-bit mode', () => {
    const mem = noise(0x200, 5);
    const regs = [0n, 0xFFFFFFFF00000002n, 0n, 0n, 0x30000n, 0n, 0xFFFFFFFF00020000n, 0x1234567800020100n];
    const r = runSnippet({ bits: 64, code: hex('67f348a5'), regs, mem }); // addr32 rep movsq
    assert.equal(r.exception, undefined);
    assert.deepEqual([...r.mem.subarray(0x100, 0x110)], [...mem.subarray(0, 16)]);
    assert.equal(r.regs[1], 0n);
    assert.equal(r.regs[6], 0x20010n);
    assert.equal(r.regs[7], 0x20110n);
    // a zero count does nothing at all: no access, no register write (upper halves stay)
    const regs0 = [0n, 0xFFFFFFFF00000000n, 0n, 0n, 0x30000n, 0n, 0xFFFFFFFF00020000n, 0x1234567800020100n];
    const r0 = runSnippet({ bits: 64, code: hex('67f348a5'), regs: regs0, mem });
    assert.equal(r0.exception, undefined);
    assert.deepEqual([r0.regs[1], r0.regs[6], r0.regs[7]], [regs0[1], regs0[6], regs0[7]]);
  });

  it('wraps SI at 64 KiB with 16-bit addressing but faults past the limit with 0x67 (real mode)', () => {
    const mem = new Uint8Array(0x100);
    // rep movsb with CX=0x20, SI=0xFFF0, DI=0: SI wraps to 0 and continues
    let r = runSnippet({ bits: 16, code: hex('f3a4'), regs: [0n, 0x20n, 0n, 0n, 0xFFF0n, 0n, 0xFFF0n, 0n], mem });
    assert.equal(r.exception, undefined);
    assert.equal(r.regs[6] & 0xFFFFn, 0x10n);
    assert.equal(r.regs[1] & 0xFFFFn, 0n);
    // addr32 rep movsb: ESI reaches 0x10000, beyond the DS limit: #GP after 16 bytes
    r = runSnippet({ bits: 16, code: hex('67f3a4'), regs: [0n, 0x20n, 0n, 0n, 0xFFF0n, 0n, 0xFFF0n, 0n], mem });
    assert.equal(r.exception, 13);
    assert.equal(r.regs[1], 0x10n);
    assert.equal(r.regs[6], 0x10000n);
    assert.equal(r.regs[7], 0x10n);
    assert.equal(r.cpu.rip, 0, 'IP at the faulting instruction');
  });

  it('leaves the registers describing the completed iterations when a page fault interrupts a REP', () => {
    // 64-bit snippets identity-map 1 GiB: rep movsb into the last 3 bytes, then #PF at 0x40000000
    const regs = [0n, 10n, 0n, 0n, 0x30000n, 0n, BigInt(DATA_BASE), 0x3FFFFFFDn];
    const r = runSnippet({ bits: 64, code: hex('f3a4'), regs });
    assert.equal(r.exception, 14);
    assert.equal(r.cpu.cr2, 0x40000000);
    assert.equal(r.regs[1], 7n);
    assert.equal(r.regs[6], BigInt(DATA_BASE + 3));
    assert.equal(r.regs[7], 0x40000000n);
    assert.equal(r.cpu.rip, CODE_BASE);
  });

  it('sees code it overwrites with REP STOSB / REP MOVSB (self-modifying code)', () => {
    // call f; mov edi, f; mov ecx,5; mov al,0x90; rep stosb; mov eax,7; call f; hlt; f: mov eax,1; ret
    let r = runSnippet({ bits: 32, code: hex('e819000000 bf1e000100 b905000000 b090 f3aa b807000000 e801000000 f4 b801000000 c3') });
    assert.equal(r.exception, undefined);
    assert.equal(r.regs[0], 7n);
    // 64-bit: call f; lea rdi,[f]; mov rsi,0x20000; mov ecx,6; rep movsb; mov eax,7; call f; hlt; f: mov eax,1; ret
    const mem = hex('909090909090c3');
    r = runSnippet({ bits: 64, code: hex('e820000000 488d3d19000000 48c7c600000200 b906000000 f3a4 b807000000 e801000000 f4 b801000000 c3'), mem });
    assert.equal(r.exception, undefined);
    assert.equal(r.regs[0], 7n);
  });

  it('REP STOS fills with multi-byte patterns, REP LODS keeps the last element', () => {
    // mov rdi,0x20000; mov rax,0x1122334455667788; mov ecx,0x300; rep stosq  (crosses a page)
    const mem = new Uint8Array(0x2000);
    const code = hex('48c7c700000200 48b88877665544332211 b900030000 f348ab');
    let r = runSnippet({ bits: 64, code, mem });
    for (let k = 0; k < 0x1800; k++) assert.equal(r.mem[k], 0x88 - 0x11 * (k & 7), `byte ${k}`);
    assert.equal(r.mem[0x1800], 0);
    // mov rsi,0x20000; mov ecx,0x2FF; rep lodsd -> the element at 0x20000 + 4*0x2FE
    mem.set([0xDE, 0xAD, 0xBE, 0xEF], 4 * 0x2FE);
    r = runSnippet({ bits: 64, code: hex('48c7c600000200 b9ff020000 f3ad'), regs: [0xFFFFFFFFFFFFFFFFn], mem });
    assert.equal(r.regs[0], 0xEFBEADDEn); // 32-bit load zero-extends RAX
    assert.equal(r.regs[6], BigInt(DATA_BASE + 4 * 0x2FF));
  });
});

describe('bit instructions beyond the native vectors', () => {
  it('BTS with a negative register offset in 16-bit addressing reaches below the operand', () => {
    // bts word [0x10], ax with ax = -1: word at 0x0E, bit 15
    const r = runSnippet({ bits: 16, code: hex('0fab061000'), regs: [0xFFFFn], mem: new Uint8Array(0x20), rflags: F.CF });
    assert.equal(r.mem[0x0F], 0x80);
    assert.equal(r.rflags & F.CF, 0);
  });

  it('BT/BTS with a large register offset address the bit string (32-bit)', () => {
    // bt [ebx], ecx; bts [ebx], ecx with ecx = 100: dword at ebx + 12, bit 4
    const mem = new Uint8Array(0x40);
    mem[0x10 + 12] = 0x10;
    const r = runSnippet({ bits: 32, code: hex('0fa30b 0fab0b'), regs: [0n, 100n, 0n, BigInt(DATA_BASE + 0x10)], mem });
    assert.ok(r.rflags & F.CF);
    assert.equal(r.mem[0x10 + 12], 0x10);
  });

  it('BTC with a negative 64-bit offset', () => {
    // btc qword [rdi], rbx with rbx = -65: qword at rdi - 16, bit 63
    const mem = new Uint8Array(0x40);
    const r = runSnippet({ bits: 64, code: hex('480fbb1f'), regs: [0n, 0n, 0n, M64 - 64n, 0n, 0n, 0n, BigInt(DATA_BASE + 0x20)], mem });
    assert.equal(r.mem[0x10 + 7], 0x80);
    assert.equal(r.rflags & F.CF, 0);
  });

  it('BMI instructions are #UD in real mode', () => {
    const r = runSnippet({ bits: 16, code: hex('c4e270f2c3') }); // andn eax, ecx, ebx
    assert.equal(r.exception, 6);
  });
});
