import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import { EXC_DE } from '../constants';
import * as F from '../flags';
import { def } from './registry';
import { readE, readE64, sext } from './operands';

/**
 * MUL, IMUL (one-, two- and three-operand forms), DIV and IDIV, all operand sizes.
 *
 * 8/16/32-bit arithmetic stays in plain numbers: 32x32 products are built from 16-bit halves so they
 * are exact, 64/32 divisions go 16 bits at a time. 64-bit multiplies use four such 32x32 products;
 * only 128/64 divisions whose dividend does not fit 53 bits fall back to BigInt.
 *
 * Flags (SDM, with this CPU's choices for the undefined ones, test/diff/README.md):
 * MUL/IMUL set CF = OF = "the result did not fit" and leave SF ZF AF PF unchanged;
 * DIV/IDIV leave CF and OF unchanged and set SF = ZF = PF = 0, AF = 1.
 * #DE (divide by zero, quotient overflow) is raised before any register changes.
 */

const TWO32 = 4294967296;

// ---- exact multiplication ----

/** Result of mulU32: low and high halves (int32). */
let mLo = 0, mHi = 0;

/** Unsigned 32x32 → 64-bit product of a and b (int32 bit patterns). */
function mulU32(a: number, b: number): void {
  const a0 = a & 0xFFFF, a1 = a >>> 16, b0 = b & 0xFFFF, b1 = b >>> 16;
  const mid = a1 * b0 + a0 * b1; // < 2^33, exact
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^33, exact
  mLo = low | 0;
  mHi = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(low / TWO32)) | 0;
}

/** Signed 32x32 → 64-bit product. */
function mulS32(a: number, b: number): void {
  mulU32(a, b);
  mHi = (mHi - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** 128-bit product words, least significant first (int32). */
let w0 = 0, w1 = 0, w2 = 0, w3 = 0;

/** 64x64 → 128-bit product of (a0, a1) and (b0, b1); signed when `signed`. */
function mul64(a0: number, a1: number, b0: number, b1: number, signed: boolean): void {
  mulU32(a0, b0);
  const l00 = mLo >>> 0, h00 = mHi >>> 0;
  mulU32(a0, b1);
  const l01 = mLo >>> 0, h01 = mHi >>> 0;
  mulU32(a1, b0);
  const l10 = mLo >>> 0, h10 = mHi >>> 0;
  mulU32(a1, b1);
  const l11 = mLo >>> 0, h11 = mHi >>> 0;
  const s1 = h00 + l01 + l10;
  const s2 = h01 + h10 + l11 + Math.floor(s1 / TWO32);
  w0 = l00 | 0;
  w1 = s1 | 0;
  w2 = s2 | 0;
  w3 = (h11 + Math.floor(s2 / TWO32)) | 0;
  if (!signed) return;
  // two's complement: the high 64 bits lose b for a negative a and a for a negative b
  if (a1 < 0) sub64hi(b0, b1);
  if (b1 < 0) sub64hi(a0, a1);
}

/** (w3:w2) -= (x0, x1). */
function sub64hi(x0: number, x1: number): void {
  const lo = (w2 >>> 0) - (x0 >>> 0);
  w2 = lo | 0;
  w3 = (w3 - x1 - (lo < 0 ? 1 : 0)) | 0;
}

/** CF and OF set to `ovf`, SF ZF AF PF kept. */
function mulFlags(c: Cpu, ovf: boolean): void {
  c.setArith((c.getFlags() & ~(F.CF | F.OF)) | (ovf ? F.CF | F.OF : 0));
}

function divFlags(c: Cpu): void {
  c.setArith((c.getFlags() & (F.CF | F.OF)) | F.AF);
}

// ---- one-operand MUL / IMUL ----

function mulE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    const blo = readE64(c, i), bhi = c.hi;
    mul64(c.r[0], c.rh[0], blo, bhi, false);
    c.r[0] = w0; c.rh[0] = w1; c.r[2] = w2; c.rh[2] = w3;
    mulFlags(c, (w2 | w3) !== 0);
    return;
  }
  const b = readE(c, i);
  if (size === 1) {
    const p = (c.r[0] & 0xFF) * b;
    c.r[0] = (c.r[0] & ~0xFFFF) | p;
    mulFlags(c, p > 0xFF);
  } else if (size === 2) {
    const p = (c.r[0] & 0xFFFF) * b;
    c.r[0] = (c.r[0] & ~0xFFFF) | (p & 0xFFFF);
    c.r[2] = (c.r[2] & ~0xFFFF) | (p >>> 16);
    mulFlags(c, p > 0xFFFF);
  } else {
    mulU32(c.r[0], b);
    c.setReg(4, 0, mLo);
    c.setReg(4, 2, mHi);
    mulFlags(c, mHi !== 0);
  }
}

function imulE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    const blo = readE64(c, i), bhi = c.hi;
    mul64(c.r[0], c.rh[0], blo, bhi, true);
    c.r[0] = w0; c.rh[0] = w1; c.r[2] = w2; c.rh[2] = w3;
    const s = w1 >> 31;
    mulFlags(c, w2 !== s || w3 !== s);
    return;
  }
  const b = sext(readE(c, i), size);
  if (size === 1) {
    const p = ((c.r[0] << 24) >> 24) * b;
    c.r[0] = (c.r[0] & ~0xFFFF) | (p & 0xFFFF);
    mulFlags(c, p !== ((p << 24) >> 24));
  } else if (size === 2) {
    const p = ((c.r[0] << 16) >> 16) * b;
    c.r[0] = (c.r[0] & ~0xFFFF) | (p & 0xFFFF);
    c.r[2] = (c.r[2] & ~0xFFFF) | ((p >>> 16) & 0xFFFF);
    mulFlags(c, p !== ((p << 16) >> 16));
  } else {
    mulS32(c.r[0], b);
    c.setReg(4, 0, mLo);
    c.setReg(4, 2, mHi);
    mulFlags(c, mHi !== mLo >> 31);
  }
}

// ---- two- and three-operand IMUL (truncating) ----

/** reg = a * b for sizes 2 and 4 (a, b sign-extended to int32). */
function imulTrunc(c: Cpu, i: Instr, a: number, b: number): void {
  if (i.size === 2) {
    const p = a * b; // |p| <= 2^30: exact
    c.setReg(2, i.reg, p & 0xFFFF);
    mulFlags(c, p !== ((p << 16) >> 16));
    return;
  }
  const r = Math.imul(a, b);
  // a * b is exact below 2^53; beyond that it is certainly not an int32 either
  c.setReg(4, i.reg, r);
  mulFlags(c, a * b !== r);
}

function imul64Trunc(c: Cpu, i: Instr, alo: number, ahi: number, blo: number, bhi: number): void {
  mul64(alo, ahi, blo, bhi, true);
  c.r[i.reg] = w0;
  c.rh[i.reg] = w1;
  const s = w1 >> 31;
  mulFlags(c, w2 !== s || w3 !== s);
}

function imulGE(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    const blo = readE64(c, i), bhi = c.hi;
    imul64Trunc(c, i, c.r[i.reg], c.rh[i.reg], blo, bhi);
    return;
  }
  const b = sext(readE(c, i), i.size);
  imulTrunc(c, i, sext(c.getReg(i.size, i.reg), i.size), b);
}

function imulGEI(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    const alo = readE64(c, i), ahi = c.hi;
    imul64Trunc(c, i, alo, ahi, i.imm, i.imm >> 31);
    return;
  }
  const a = sext(readE(c, i), i.size);
  imulTrunc(c, i, a, sext(i.imm, i.size));
}

// ---- division ----

/** Quotient and remainder of the last divU64 (unsigned numbers below 2^32). */
let dQ = 0, dR = 0;

/** (hi:lo) / d, all unsigned 32-bit (given as int32 bit patterns), requires hi < d. */
function divU64(lo: number, hi: number, d: number): void {
  const du = d >>> 0;
  let t = (hi >>> 0) * 65536 + (lo >>> 16); // < d * 2^16 <= 2^48
  const q1 = Math.floor(t / du);
  let r = t - q1 * du;
  t = r * 65536 + (lo & 0xFFFF);
  const q0 = Math.floor(t / du);
  r = t - q0 * du;
  dQ = q1 * 65536 + q0;
  dR = r;
}

function divE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) { div64(c, i, false); return; }
  const d = readE(c, i);
  if (d === 0) c.raise(EXC_DE, -1, 'DIV by zero');
  if (size === 1) {
    const n = c.r[0] & 0xFFFF;
    const q = Math.floor(n / d);
    if (q > 0xFF) c.raise(EXC_DE, -1, 'DIV quotient overflow');
    c.r[0] = (c.r[0] & ~0xFFFF) | ((n - q * d) << 8) | q;
  } else if (size === 2) {
    const n = (c.r[2] & 0xFFFF) * 65536 + (c.r[0] & 0xFFFF);
    const q = Math.floor(n / d);
    if (q > 0xFFFF) c.raise(EXC_DE, -1, 'DIV quotient overflow');
    c.r[0] = (c.r[0] & ~0xFFFF) | q;
    c.r[2] = (c.r[2] & ~0xFFFF) | (n - q * d);
  } else {
    if ((c.r[2] >>> 0) >= (d >>> 0)) c.raise(EXC_DE, -1, 'DIV quotient overflow');
    divU64(c.r[0], c.r[2], d);
    c.setReg(4, 0, dQ | 0);
    c.setReg(4, 2, dR | 0);
  }
  divFlags(c);
}

function idivE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) { div64(c, i, true); return; }
  const d = sext(readE(c, i), size);
  if (d === 0) c.raise(EXC_DE, -1, 'IDIV by zero');
  if (size === 1) {
    const n = (c.r[0] << 16) >> 16;
    const q = Math.trunc(n / d);
    if (q > 0x7F || q < -0x80) c.raise(EXC_DE, -1, 'IDIV quotient overflow');
    c.r[0] = (c.r[0] & ~0xFFFF) | (((n - q * d) & 0xFF) << 8) | (q & 0xFF);
  } else if (size === 2) {
    const n = ((c.r[2] & 0xFFFF) << 16) | (c.r[0] & 0xFFFF);
    const q = Math.trunc(n / d);
    if (q > 0x7FFF || q < -0x8000) c.raise(EXC_DE, -1, 'IDIV quotient overflow');
    c.r[0] = (c.r[0] & ~0xFFFF) | (q & 0xFFFF);
    c.r[2] = (c.r[2] & ~0xFFFF) | ((n - q * d) & 0xFFFF);
  } else {
    // magnitudes of the 64-bit dividend and the divisor, then an unsigned division
    let lo = c.r[0], hi = c.r[2];
    const nneg = hi < 0;
    if (nneg) { lo = -lo | 0; hi = (~hi + (lo === 0 ? 1 : 0)) | 0; }
    const dneg = d < 0;
    const du = dneg ? -d | 0 : d; // -(-2^31) stays 0x80000000 as a bit pattern
    if ((hi >>> 0) >= (du >>> 0)) c.raise(EXC_DE, -1, 'IDIV quotient overflow');
    divU64(lo, hi, du);
    if (dQ > (nneg !== dneg ? 0x80000000 : 0x7FFFFFFF)) c.raise(EXC_DE, -1, 'IDIV quotient overflow');
    const q = nneg !== dneg ? -dQ : dQ;
    const r = nneg ? -dR : dR;
    c.setReg(4, 0, q | 0);
    c.setReg(4, 2, r | 0);
  }
  divFlags(c);
}

/** 128/64-bit DIV and IDIV of RDX:RAX. */
function div64(c: Cpu, i: Instr, signed: boolean): void {
  const dlo = readE64(c, i), dhi = c.hi;
  if ((dlo | dhi) === 0) c.raise(EXC_DE, -1, signed ? 'IDIV by zero' : 'DIV by zero');
  const alo = c.r[0], ahi = c.rh[0], xlo = c.r[2], xhi = c.rh[2];
  // fast path: dividend (RDX only extends RAX) and divisor fit 53 bits, so doubles are exact
  const ext = signed ? ahi >> 31 : 0;
  const lowest = signed ? -0x200000 : 0;
  if (xlo === ext && xhi === ext && ahi < 0x200000 && ahi >= lowest && dhi < 0x200000 && dhi >= lowest) {
    const n = ahi * TWO32 + (alo >>> 0);
    const dn = dhi * TWO32 + (dlo >>> 0);
    const na = Math.abs(n), da = Math.abs(dn);
    // the rounded quotient is off by at most one; q * da stays exact (it is within 1 of na)
    let q = Math.floor(na / da);
    let r = na - q * da;
    if (r < 0) { q--; r += da; } else if (r >= da) { q++; r -= da; }
    if (n < 0) r = -r;
    if ((n < 0) !== (dn < 0)) q = -q;
    c.r[0] = q | 0; c.rh[0] = Math.floor(q / TWO32) | 0;
    c.r[2] = r | 0; c.rh[2] = Math.floor(r / TWO32) | 0;
    divFlags(c);
    return;
  }
  const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  let n = (u64(xlo, xhi) << 64n) | u64(alo, ahi);
  let d = u64(dlo, dhi);
  if (signed) { n = BigInt.asIntN(128, n); d = BigInt.asIntN(64, d); }
  const q = n / d;
  if (signed ? q > 0x7FFFFFFFFFFFFFFFn || q < -0x8000000000000000n : q > 0xFFFFFFFFFFFFFFFFn) {
    c.raise(EXC_DE, -1, signed ? 'IDIV quotient overflow' : 'DIV quotient overflow');
  }
  const r = n % d;
  c.r[0] = Number(q & 0xFFFFFFFFn) | 0; c.rh[0] = Number((q >> 32n) & 0xFFFFFFFFn) | 0;
  c.r[2] = Number(r & 0xFFFFFFFFn) | 0; c.rh[2] = Number((r >> 32n) & 0xFFFFFFFFn) | 0;
  divFlags(c);
}

def('mul_E', mulE);
def('imul_E', imulE);
def('div_E', divE);
def('idiv_E', idivE);
def('imul_GE', imulGE);
def('imul_GEI', imulGEI);
