import { strict as assert } from 'assert';
import { fastPathControl } from '../../src/cpu/fastpath';
import { SnippetRunner } from '../support/snippet';

/**
 * The run loop executes the hottest instruction forms inline (src/cpu/fastpath.ts); their handlers
 * remain for single-stepping. Random programs of exactly those forms, mixed with forms that are not
 * inlined, must leave identical registers and flags either way.
 */

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

function program(bits: 32 | 64, seed: number, count: number): Uint8Array {
  const rnd = prng(seed);
  const out: number[] = [];
  for (let n = 0; n < count; n++) {
    const size = [2, 4, 8][rnd() % (bits === 64 ? 3 : 2)];
    const pre: number[] = [];
    const regs = bits === 64 ? 16 : 8;
    const reg = rnd() % regs, rm = rnd() % regs;
    if (reg === 4 || rm === 4) continue; // keep RSP sane
    let rex = size === 8 ? 0x48 : 0;
    if (reg >= 8) rex |= 0x44;
    if (rm >= 8) rex |= 0x41;
    if (size === 2) pre.push(0x66);
    if (rex) pre.push(rex);
    const modrm = 0xC0 | ((reg & 7) << 3) | (rm & 7);
    const op = rnd() % 8;
    switch (rnd() % 10) {
      case 0: out.push(...pre, (op << 3) | 1, modrm); break;                 // op E, G
      case 1: out.push(...pre, (op << 3) | 3, modrm); break;                 // op G, E
      case 2: out.push(...pre, 0x83, 0xC0 | (op << 3) | (rm & 7), rnd() & 0xFF); break;
      case 3: {
        const imm = rnd();
        out.push(...pre, 0x81, 0xC0 | (op << 3) | (rm & 7), ...(size === 2 ? [imm & 0xFF, (imm >> 8) & 0xFF] : [imm & 0xFF, (imm >> 8) & 0xFF, (imm >> 16) & 0xFF, imm >>> 24]));
        break;
      }
      case 4: out.push(...pre, 0xFF, 0xC0 | ((rnd() & 1) << 3) | (rm & 7)); break; // inc/dec
      case 5: out.push(...pre, rnd() & 1 ? 0x89 : 0x8B, modrm); break;
      case 6: out.push(...(rex & 5 ? [0x40 | (rex & 5)] : []), rnd() & 1 ? 0x88 : 0x8A, modrm); break; // 8-bit mov
      case 7: out.push([0x72, 0x73, 0x74, 0x75][rnd() % 4], 0); break;       // jcc +0
      case 8: {
        // push/pop r (16-bit with 0x66, else the mode's stack width; never RSP)
        if (size === 2) out.push(0x66);
        if (rm >= 8) out.push(0x41);
        out.push((rnd() & 1 ? 0x50 : 0x58) | (rm & 7));
        break;
      }
      default: out.push(...pre, 0x0F, 0xAF, modrm); break;                   // imul: not inlined
    }
  }
  return Uint8Array.from(out);
}

const runners = new Map<string, SnippetRunner>();

function run(bits: 32 | 64, code: Uint8Array, regs: bigint[], fast: boolean) {
  fastPathControl.enabled = fast;
  try {
    const key = `${bits}${fast}`;
    let r = runners.get(key);
    if (!r) runners.set(key, (r = new SnippetRunner(bits)));
    r.run({ bits, code, regs, rflags: 0x2 });
    const out: bigint[] = [];
    for (let k = 0; k < 16; k++) out.push(r.reg(k));
    return { regs: out, flags: r.cpu.getFlags(), exception: r.exception };
  } finally {
    fastPathControl.enabled = true;
  }
}

describe('inline fast path matches the handlers', () => {
  for (const bits of [32, 64] as const) {
    it(`random ${bits}-bit programs give identical state (200 programs x 300 instructions)`, () => {
      const rnd = prng(bits * 7919);
      for (let p = 0; p < 200; p++) {
        const code = program(bits, rnd(), 300);
        const regs = Array.from({ length: 16 }, (_, k) => (k === 4 ? 0x30000n : (BigInt(rnd()) << 32n) | BigInt(rnd())));
        if (bits === 32) for (let k = 0; k < 16; k++) if (k !== 4) regs[k] &= 0xFFFFFFFFn;
        const a = run(bits, code, regs, true);
        const b = run(bits, code, regs, false);
        assert.equal(a.exception, undefined);
        assert.deepEqual(a.regs, b.regs, `program ${p}: registers differ`);
        assert.equal(a.flags, b.flags, `program ${p}: flags differ`);
      }
    });
  }
});
