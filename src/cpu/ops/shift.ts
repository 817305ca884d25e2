import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as F from '../flags';
import { flags64 } from './alu';
import { def } from './registry';
import { rdLin, rmwLin, sext, wrLin } from './operands';

/**
 * Shifts and rotates (C0/C1/D0-D3: ROL ROR RCL RCR SHL SHR SAL SAR) and the double shifts
 * SHLD/SHRD (0F A4/A5/AC/AD), all operand sizes, register and memory forms.
 *
 * Count: masked to 5 bits (6 with 64-bit operands). A masked count of 0 changes no flag and no
 * memory, but a 32-bit register destination is still written (upper half zeroed in 64-bit mode,
 * as this CPU does). Flags are computed exactly (setArith); the undefined ones follow this machine's
 * CPU (test/diff/README.md): SHL/SHR/SAR and SHLD/SHRD set AF = 1; OF of multi-bit shifts and
 * rotates uses the count-1 formula on the final result; RCL/RCR with 8/16-bit operands rotate
 * by count mod 9 / mod 17; 16-bit SHLD/SHRD with count 17..31 rotate the source through.
 *
 * The core functions compute the result and leave the new arithmetic flags in `nf` (and for 64-bit
 * results the high half in `rHi`), so memory forms can write the result before the flags change.
 */

const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAR = 7; // 6 (SAL) = SHL

/** New arithmetic flags of the last core operation. */
let nf = 0;
/** High half of the last 64-bit result. */
let rHi = 0;
/** High half returned by the 64-bit shift helpers. */
let tHi = 0;

/** ZF, SF and PF of an operand-sized result (1, 2: unsigned; 4: int32). */
function szp(r: number, size: number): number {
  const sign = size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x80000000 | 0;
  return (r === 0 ? F.ZF : 0) | (r & sign ? F.SF : 0) | F.PARITY[r & 0xFF];
}

/**
 * Shift/rotate `op` of v (size 1, 2, 4) by n (already masked, 1..31). Returns the result, sets nf.
 */
function shiftCore(c: Cpu, op: number, v: number, n: number, size: number): number {
  const bits = size << 3;
  const msb = bits - 1;
  const m = size === 4 ? -1 : (1 << bits) - 1;
  let r: number, cf: number;
  switch (op) {
    case ROL: {
      const k = n & msb;
      r = k === 0 ? v : ((v << k) | (v >>> (bits - k))) & m;
      cf = r & 1;
      nf = (c.getFlags() & ~(F.CF | F.OF)) | cf | ((((r >>> msb) & 1) ^ cf) ? F.OF : 0);
      return r;
    }
    case ROR: {
      const k = n & msb;
      r = k === 0 ? v : ((v >>> k) | (v << (bits - k))) & m;
      cf = (r >>> msb) & 1;
      nf = (c.getFlags() & ~(F.CF | F.OF)) | cf | ((((r >>> (msb - 1)) & 1) ^ cf) ? F.OF : 0);
      return r;
    }
    case RCL: {
      const f = c.getFlags();
      const cin = f & F.CF;
      const k = size === 1 ? n % 9 : size === 2 ? n % 17 : n;
      if (k === 0) { r = v; cf = cin; } else {
        r = ((v << k) | (cin << (k - 1)) | (k === 1 ? 0 : v >>> (bits + 1 - k))) & m;
        cf = (v >>> (bits - k)) & 1;
      }
      nf = (f & ~(F.CF | F.OF)) | cf | ((((r >>> msb) & 1) ^ cf) ? F.OF : 0);
      return r;
    }
    case RCR: {
      const f = c.getFlags();
      const cin = f & F.CF;
      const k = size === 1 ? n % 9 : size === 2 ? n % 17 : n;
      if (k === 0) { r = v; cf = cin; } else {
        r = ((v >>> k) | (cin << (bits - k)) | (k === 1 ? 0 : v << (bits + 1 - k))) & m;
        cf = (v >>> (k - 1)) & 1;
      }
      nf = (f & ~(F.CF | F.OF)) | cf | (((r >>> msb) ^ (r >>> (msb - 1))) & 1 ? F.OF : 0);
      return r;
    }
    case SHR:
      r = (v >>> n) & m;
      cf = (v >>> (n - 1)) & 1; // 0 once n - 1 >= bits (8/16-bit values are unsigned)
      nf = szp(r, size) | cf | F.AF | (n === 1 && (v >>> msb) & 1 ? F.OF : 0);
      return r;
    case SAR: {
      const s = sext(v, size);
      r = (s >> n) & m;
      cf = (s >> (n - 1)) & 1;
      nf = szp(r, size) | cf | F.AF;
      return r;
    }
    default: // SHL, SAL
      r = (v << n) & m;
      cf = n <= bits ? (v >>> (bits - n)) & 1 : 0;
      nf = szp(r, size) | cf | F.AF | ((((r >>> msb) & 1) ^ cf) ? F.OF : 0);
      return r;
  }
}

// ---- 64-bit helpers on (lo, hi) pairs; the high half of the result goes to tHi ----

/** Logical left shift by n (0..64). */
function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) { tHi = hi; return lo; }
  if (n < 32) { tHi = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  tHi = n < 64 ? lo << (n - 32) : 0;
  return 0;
}

/** Logical right shift by n (0..64). */
function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) { tHi = hi; return lo; }
  if (n < 32) { tHi = (hi >>> n) | 0; return (lo >>> n) | (hi << (32 - n)); }
  tHi = 0;
  return n < 64 ? (hi >>> (n - 32)) | 0 : 0;
}

/** Bit k (0..63) of (lo, hi). */
function bit64(lo: number, hi: number, k: number): number {
  return (k < 32 ? lo >>> k : hi >>> (k - 32)) & 1;
}

/** 64-bit shift/rotate by n (1..63). Returns the low half; rHi, nf set. */
function shift64(c: Cpu, op: number, lo: number, hi: number, n: number): number {
  let rl: number, rh: number, cf: number;
  switch (op) {
    case ROL: case ROR: {
      const k = op === ROL ? n : 64 - n;
      rl = shl64(lo, hi, k); rh = tHi;
      rl |= shr64(lo, hi, 64 - k); rh |= tHi;
      let of: number;
      if (op === ROL) { cf = rl & 1; of = (rh >>> 31) ^ cf; } else { cf = rh >>> 31; of = cf ^ ((rh >>> 30) & 1); }
      nf = (c.getFlags() & ~(F.CF | F.OF)) | cf | (of ? F.OF : 0);
      break;
    }
    case RCL: {
      const f = c.getFlags();
      const cin = f & F.CF;
      rl = shl64(lo, hi, n); rh = tHi;
      rl |= shr64(lo, hi, 65 - n); rh |= tHi;
      if (cin) { if (n <= 32) rl |= 1 << (n - 1); else rh |= 1 << (n - 33); }
      cf = bit64(lo, hi, 64 - n);
      nf = (f & ~(F.CF | F.OF)) | cf | (((rh >>> 31) ^ cf) ? F.OF : 0);
      break;
    }
    case RCR: {
      const f = c.getFlags();
      const cin = f & F.CF;
      rl = shr64(lo, hi, n); rh = tHi;
      rl |= shl64(lo, hi, 65 - n); rh |= tHi;
      if (cin) { const b = 64 - n; if (b < 32) rl |= 1 << b; else rh |= 1 << (b - 32); }
      cf = bit64(lo, hi, n - 1);
      nf = (f & ~(F.CF | F.OF)) | cf | (((rh >>> 31) ^ (rh >>> 30)) & 1 ? F.OF : 0);
      break;
    }
    case SHR:
      rl = shr64(lo, hi, n); rh = tHi;
      cf = bit64(lo, hi, n - 1);
      nf = flags64(rl, rh) | cf | F.AF | (n === 1 && hi < 0 ? F.OF : 0);
      break;
    case SAR:
      if (n < 32) { rl = (lo >>> n) | (hi << (32 - n)); rh = hi >> n; } else { rl = hi >> (n - 32); rh = hi >> 31; }
      cf = bit64(lo, hi, n - 1);
      nf = flags64(rl, rh) | cf | F.AF;
      break;
    default:
      rl = shl64(lo, hi, n); rh = tHi;
      cf = bit64(lo, hi, 64 - n);
      nf = flags64(rl, rh) | cf | F.AF | (((rh >>> 31) ^ cf) ? F.OF : 0);
      break;
  }
  rHi = rh;
  return rl;
}

/** Group-2 shift of the r/m operand by `count` (unmasked). */
function shiftE(c: Cpu, i: Instr, count: number): void {
  const size = i.size;
  const op = i.cc;
  if (size === 8) {
    const n = count & 63;
    if (!i.isMem) {
      if (n === 0) return;
      const r = shift64(c, op, c.r[i.rm], c.rh[i.rm], n);
      c.r[i.rm] = r;
      c.rh[i.rm] = rHi;
      c.setArith(nf);
      return;
    }
    const lin = rmwLin(c, i, 8);
    const hiLin = c.linAdd(lin, 4);
    const lo = c.rdLin32(lin), hi = c.rdLin32(hiLin);
    if (n === 0) return;
    const r = shift64(c, op, lo, hi, n);
    const h = rHi;
    c.wrLin32(lin, r);
    c.wrLin32(hiLin, h);
    c.setArith(nf);
    return;
  }
  const n = count & 31;
  if (!i.isMem) {
    if (n === 0) {
      if (size === 4) c.rh[i.rm] = 0;
      return;
    }
    c.setReg(size, i.rm, shiftCore(c, op, c.getReg(size, i.rm), n, size));
    c.setArith(nf);
    return;
  }
  const lin = rmwLin(c, i, size);
  const v = rdLin(c, size, lin);
  if (n === 0) return;
  wrLin(c, size, lin, shiftCore(c, op, v, n, size));
  c.setArith(nf);
}

// ---- SHLD / SHRD ----

/** SHLD/SHRD of d by n (1..31) with fill bits from s, size 2 or 4. Returns the result, sets nf. */
function dshift(left: boolean, d: number, s: number, n: number, size: number): number {
  let r: number, cf: number, of: number;
  if (size === 4) {
    if (left) {
      r = (d << n) | (s >>> (32 - n));
      cf = (d >>> (32 - n)) & 1;
      of = (r >>> 31) ^ cf;
    } else {
      r = (d >>> n) | (s << (32 - n));
      cf = (d >>> (n - 1)) & 1;
      of = ((r >>> 31) ^ (r >>> 30)) & 1;
    }
  } else if (n <= 16) {
    if (left) {
      r = ((d << n) | (s >>> (16 - n))) & 0xFFFF;
      cf = (d >>> (16 - n)) & 1;
      of = n === 16 ? cf : (r >>> 15) ^ cf;
    } else {
      r = ((d >>> n) | (s << (16 - n))) & 0xFFFF;
      cf = (d >>> (n - 1)) & 1;
      of = ((r >>> 15) ^ (r >>> 14)) & 1;
    }
  } else {
    // count 17..31 (undefined): this CPU rotates the source through (src:src) by count - 16
    const ss = (s << 16) | s;
    cf = 0;
    if (left) {
      r = (ss >>> (32 - n)) & 0xFFFF;
      of = 0;
    } else {
      r = (ss >>> (n - 16)) & 0xFFFF;
      of = ((r >>> 15) ^ (r >>> 14)) & 1;
    }
  }
  nf = szp(r, size) | cf | F.AF | (of ? F.OF : 0);
  return r;
}

/** 64-bit SHLD/SHRD by n (1..63). Returns the low half; rHi and nf set. */
function dshift64(left: boolean, dl: number, dh: number, sl: number, sh: number, n: number): number {
  let rl: number, rh: number, cf: number, of: number;
  if (left) {
    rl = shl64(dl, dh, n); rh = tHi;
    rl |= shr64(sl, sh, 64 - n); rh |= tHi;
    cf = bit64(dl, dh, 64 - n);
    of = (rh >>> 31) ^ cf;
  } else {
    rl = shr64(dl, dh, n); rh = tHi;
    rl |= shl64(sl, sh, 64 - n); rh |= tHi;
    cf = bit64(dl, dh, n - 1);
    of = ((rh >>> 31) ^ (rh >>> 30)) & 1;
  }
  nf = flags64(rl, rh) | cf | F.AF | (of ? F.OF : 0);
  rHi = rh;
  return rl;
}

function shiftDouble(c: Cpu, i: Instr, left: boolean, count: number): void {
  const size = i.size;
  if (size === 8) {
    const n = count & 63;
    const sl = c.r[i.reg], sh = c.rh[i.reg];
    if (!i.isMem) {
      if (n === 0) return;
      const r = dshift64(left, c.r[i.rm], c.rh[i.rm], sl, sh, n);
      c.r[i.rm] = r;
      c.rh[i.rm] = rHi;
      c.setArith(nf);
      return;
    }
    const lin = rmwLin(c, i, 8);
    const hiLin = c.linAdd(lin, 4);
    const lo = c.rdLin32(lin), hi = c.rdLin32(hiLin);
    if (n === 0) return;
    const r = dshift64(left, lo, hi, sl, sh, n);
    const h = rHi;
    c.wrLin32(lin, r);
    c.wrLin32(hiLin, h);
    c.setArith(nf);
    return;
  }
  const n = count & 31;
  const s = c.getReg(size, i.reg);
  if (!i.isMem) {
    if (n === 0) {
      if (size === 4) c.rh[i.rm] = 0;
      return;
    }
    c.setReg(size, i.rm, dshift(left, c.getReg(size, i.rm), s, n, size));
    c.setArith(nf);
    return;
  }
  const lin = rmwLin(c, i, size);
  const v = rdLin(c, size, lin);
  if (n === 0) return;
  wrLin(c, size, lin, dshift(left, v, s, n, size));
  c.setArith(nf);
}

def('shift_EI', (c, i) => shiftE(c, i, i.imm));
def('shift_ECL', (c, i) => shiftE(c, i, c.r[1]));
def('shld_I', (c, i) => shiftDouble(c, i, true, i.imm));
def('shld_CL', (c, i) => shiftDouble(c, i, true, c.r[1]));
def('shrd_I', (c, i) => shiftDouble(c, i, false, i.imm));
def('shrd_CL', (c, i) => shiftDouble(c, i, false, c.r[1]));
