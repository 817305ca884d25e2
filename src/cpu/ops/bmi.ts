import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { def } from './registry';

/**
 * VEX-encoded BMI1/BMI2 general-purpose instructions: ANDN BEXTR BLSI BLSMSK BLSR BZHI (BMI1 and
 * BZHI), MULX PDEP PEXT RORX SARX SHLX SHRX (BMI2). 32-bit operands, 64-bit with VEX.W in 64-bit
 * mode (i.size). Operands as decoded: i.reg = ModRM.reg, i.rm / memory = ModRM.r/m, i.imm2 =
 * VEX.vvvv; BLSI/BLSMSK/BLSR write VEX.vvvv (ModRM.reg is their opcode extension).
 *
 * Flags (SDM; the undefined ones as this machine's CPU leaves them, see test/diff/README.md):
 * - ANDN: SF ZF from the result, CF = OF = 0.
 * - BEXTR: ZF from the result, CF = OF = 0; undefined: AF = 1, SF = 0, PF = parity of the result.
 * - BLSI: SF ZF from the result, CF = (source != 0), OF = 0.
 * - BLSMSK: SF from the result, CF = (source = 0), ZF = OF = 0.
 * - BLSR: SF ZF from the result, CF = (source = 0), OF = 0.
 * - BZHI: SF ZF from the result, CF = (index > operand bits - 1), OF = 0.
 * - undefined AF and PF of ANDN, BLS* and BZHI: AF = 0, PF = parity of the result's low byte.
 * - MULX PDEP PEXT RORX SARX SHLX SHRX: no flag changes.
 * VEX instructions are #UD in real-address and virtual-8086 mode.
 */

/** High half of the last 64-bit result. */
let rHi = 0;
/** High half of the r/m source read by srcE. */
let eHi = 0;

/** The r/m source: low 32 bits returned, high half (size 8) in eHi. */
function srcE(c: Cpu, i: Instr): number {
  if (!c.protectedMode || c.v86) c.raise(K.EXC_UD, -1, 'VEX instruction in real or virtual-8086 mode');
  if (!i.isMem) {
    eHi = i.size === 8 ? c.rh[i.rm] : 0;
    return c.r[i.rm];
  }
  if (i.size === 8) {
    const lo = c.rd64(i.seg, c.ea(i));
    eHi = c.hi;
    return lo;
  }
  eHi = 0;
  return c.rd32(i.seg, c.ea(i));
}

/** Writes a 32- or 64-bit result to register r (32-bit results zero-extend). */
function put(c: Cpu, size: number, r: number, lo: number, hi: number): void {
  c.r[r] = lo;
  c.rh[r] = size === 8 ? hi : 0;
}

/** SF, ZF and (undefined, as this CPU does) PF of a result of `size` bytes; AF stays 0. */
function szp(size: number, lo: number, hi: number): number {
  const top = size === 8 ? hi : lo;
  return ((size === 8 ? lo | hi : lo) === 0 ? F.ZF : 0) | (top < 0 ? F.SF : 0) | F.PARITY[lo & 0xFF];
}

/** Low n bits set (n 0..32). */
function lowMask(n: number): number {
  return n >= 32 ? -1 : (1 << n) - 1;
}

/** Keeps the low n (0..63) bits of (lo, hi): returns lo, leaves hi in rHi. */
function keepLow64(lo: number, hi: number, n: number): number {
  if (n >= 32) { rHi = hi & lowMask(n - 32); return lo; }
  rHi = 0;
  return lo & lowMask(n);
}

/** Logical right shift of (lo, hi) by n (0..63): returns lo, leaves hi in rHi. */
function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) { rHi = hi; return lo; }
  if (n < 32) { rHi = hi >>> n | 0; return (lo >>> n) | (hi << (32 - n)); }
  rHi = 0;
  return hi >>> (n - 32) | 0;
}

function sar64(lo: number, hi: number, n: number): number {
  if (n === 0) { rHi = hi; return lo; }
  if (n < 32) { rHi = hi >> n; return (lo >>> n) | (hi << (32 - n)); }
  rHi = hi >> 31;
  return hi >> (n - 32);
}

function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) { rHi = hi; return lo; }
  if (n < 32) { rHi = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  rHi = lo << (n - 32);
  return 0;
}

function ror64(lo: number, hi: number, n: number): number {
  if (n >= 32) { const t = lo; lo = hi; hi = t; n -= 32; }
  if (n === 0) { rHi = hi; return lo; }
  rHi = (hi >>> n) | (lo << (32 - n));
  return (lo >>> n) | (hi << (32 - n));
}

// ---- BMI1 ----

/** ANDN r, vvvv, r/m: r = ~vvvv & r/m. */
function andn(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi, v = i.imm2;
  const rlo = ~c.r[v] & lo, rhi = i.size === 8 ? ~c.rh[v] & hi : 0;
  put(c, i.size, i.reg, rlo, rhi);
  c.setArith(szp(i.size, rlo, rhi));
}

/** BEXTR r, r/m, vvvv: start = vvvv[7:0], length = vvvv[15:8]. */
function bextr(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  const ctl = c.r[i.imm2];
  const start = ctl & 0xFF, len = (ctl >> 8) & 0xFF;
  const bits = i.size << 3;
  let rlo = 0, rhi = 0;
  if (start < bits) {
    if (i.size === 8) {
      rlo = shr64(lo, hi, start);
      rhi = rHi;
      if (len < 64) { rlo = keepLow64(rlo, rhi, len); rhi = rHi; }
    } else {
      rlo = lo >>> start;
      if (len < 32) rlo &= lowMask(len);
      rlo |= 0;
    }
  }
  put(c, i.size, i.reg, rlo, rhi);
  c.setArith(((rlo | rhi) === 0 ? F.ZF : 0) | F.AF | F.PARITY[rlo & 0xFF]);
}

/** BLSI vvvv, r/m: isolate the lowest set bit. */
function blsi(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  const nlo = -lo | 0, nhi = lo === 0 ? -hi | 0 : ~hi;
  const rlo = lo & nlo, rhi = i.size === 8 ? hi & nhi : 0;
  put(c, i.size, i.imm2, rlo, rhi);
  c.setArith(szp(i.size, rlo, rhi) | ((lo | hi) !== 0 ? F.CF : 0));
}

/** BLSMSK vvvv, r/m: mask up to and including the lowest set bit. */
function blsmsk(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  const mlo = (lo - 1) | 0, mhi = lo === 0 ? (hi - 1) | 0 : hi;
  const rlo = lo ^ mlo, rhi = i.size === 8 ? hi ^ mhi : 0;
  put(c, i.size, i.imm2, rlo, rhi);
  const top = i.size === 8 ? rhi : rlo;
  c.setArith((top < 0 ? F.SF : 0) | ((lo | hi) === 0 ? F.CF : 0) | F.PARITY[rlo & 0xFF]);
}

/** BLSR vvvv, r/m: clear the lowest set bit. */
function blsr(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  const mlo = (lo - 1) | 0, mhi = lo === 0 ? (hi - 1) | 0 : hi;
  const rlo = lo & mlo, rhi = i.size === 8 ? hi & mhi : 0;
  put(c, i.size, i.imm2, rlo, rhi);
  c.setArith(szp(i.size, rlo, rhi) | ((lo | hi) === 0 ? F.CF : 0));
}

// ---- BMI2 ----

/** BZHI r, r/m, vvvv: clear the bits from index vvvv[7:0] up. */
function bzhi(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  const n = c.r[i.imm2] & 0xFF;
  const bits = i.size << 3;
  let rlo = lo, rhi = hi, cf = 0;
  if (n < bits) {
    if (i.size === 8) { rlo = keepLow64(lo, hi, n); rhi = rHi; } else rlo = lo & lowMask(n);
  } else cf = F.CF;
  put(c, i.size, i.reg, rlo, rhi);
  c.setArith(szp(i.size, rlo, rhi) | cf);
}

/** Scratch limbs for the 64 x 64 -> 128-bit product (16-bit limbs, no allocation per use). */
const limbA = new Float64Array(4);
const limbB = new Float64Array(4);
const limbP = new Float64Array(8);
let mulW1 = 0, mulW2 = 0, mulW3 = 0;

/** Unsigned (alo, ahi) * (blo, bhi): returns bits 0-31; bits 32-63, 64-95, 96-127 in mulW1..3. */
function mul64(alo: number, ahi: number, blo: number, bhi: number): number {
  limbA[0] = alo & 0xFFFF; limbA[1] = alo >>> 16; limbA[2] = ahi & 0xFFFF; limbA[3] = ahi >>> 16;
  limbB[0] = blo & 0xFFFF; limbB[1] = blo >>> 16; limbB[2] = bhi & 0xFFFF; limbB[3] = bhi >>> 16;
  limbP.fill(0);
  for (let x = 0; x < 4; x++) {
    const a = limbA[x];
    if (a === 0) continue;
    for (let y = 0; y < 4; y++) limbP[x + y] += a * limbB[y];
  }
  // propagate carries (each limb sum < 2^35, exact in a double)
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    const t = limbP[k] + carry;
    const low = t % 65536;
    limbP[k] = low;
    carry = (t - low) / 65536;
  }
  mulW1 = (limbP[2] + limbP[3] * 65536) | 0;
  mulW2 = (limbP[4] + limbP[5] * 65536) | 0;
  mulW3 = (limbP[6] + limbP[7] * 65536) | 0;
  return (limbP[0] + limbP[1] * 65536) | 0;
}

/** MULX r(high), vvvv(low), r/m: unsigned rDX * r/m; no flags. vvvv is written first. */
function mulx(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  if (i.size === 8) {
    const p0 = mul64(c.r[2], c.rh[2], lo, hi);
    const p1 = mulW1, p2 = mulW2, p3 = mulW3;
    put(c, 8, i.imm2, p0, p1);
    put(c, 8, i.reg, p2, p3);
  } else {
    const p0 = mul64(c.r[2], 0, lo, 0);
    const p1 = mulW1;
    put(c, 4, i.imm2, p0, 0);
    put(c, 4, i.reg, p1, 0);
  }
}

/** PDEP r, vvvv, r/m: deposit the low bits of vvvv at the positions of the mask r/m. */
function pdep(c: Cpu, i: Instr): void {
  const mlo = srcE(c, i), mhi = eHi;
  const slo = c.r[i.imm2], shi = i.size === 8 ? c.rh[i.imm2] : 0;
  let k = 0, rlo = 0, rhi = 0;
  for (let m = mlo; m !== 0; m &= m - 1, k++) {
    if (((k < 32 ? slo >>> k : shi >>> (k - 32)) & 1) !== 0) rlo |= m & -m;
  }
  for (let m = mhi; m !== 0; m &= m - 1, k++) {
    if (((k < 32 ? slo >>> k : shi >>> (k - 32)) & 1) !== 0) rhi |= m & -m;
  }
  put(c, i.size, i.reg, rlo, rhi);
}

/** PEXT r, vvvv, r/m: gather the bits of vvvv at the positions of the mask r/m into the low bits. */
function pext(c: Cpu, i: Instr): void {
  const mlo = srcE(c, i), mhi = eHi;
  const slo = c.r[i.imm2], shi = i.size === 8 ? c.rh[i.imm2] : 0;
  let k = 0, rlo = 0, rhi = 0;
  for (let m = mlo; m !== 0; m &= m - 1, k++) {
    if ((slo & m & -m) !== 0) { if (k < 32) rlo |= 1 << k; else rhi |= 1 << (k - 32); }
  }
  for (let m = mhi; m !== 0; m &= m - 1, k++) {
    if ((shi & m & -m) !== 0) { if (k < 32) rlo |= 1 << k; else rhi |= 1 << (k - 32); }
  }
  put(c, i.size, i.reg, rlo, rhi);
}

/** RORX r, r/m, imm8: rotate right without touching the flags. */
function rorx(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  if (i.size === 8) {
    const rlo = ror64(lo, hi, i.imm & 63);
    put(c, 8, i.reg, rlo, rHi);
    return;
  }
  const n = i.imm & 31;
  put(c, 4, i.reg, n === 0 ? lo : (lo >>> n) | (lo << (32 - n)), 0);
}

/** SARX/SHLX/SHRX r, r/m, vvvv: shift count from vvvv (masked), no flags. */
function sarx(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  if (i.size === 8) { const r = sar64(lo, hi, c.r[i.imm2] & 63); put(c, 8, i.reg, r, rHi); return; }
  put(c, 4, i.reg, lo >> (c.r[i.imm2] & 31), 0);
}

function shlx(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  if (i.size === 8) { const r = shl64(lo, hi, c.r[i.imm2] & 63); put(c, 8, i.reg, r, rHi); return; }
  put(c, 4, i.reg, lo << (c.r[i.imm2] & 31), 0);
}

function shrx(c: Cpu, i: Instr): void {
  const lo = srcE(c, i), hi = eHi;
  if (i.size === 8) { const r = shr64(lo, hi, c.r[i.imm2] & 63); put(c, 8, i.reg, r, rHi); return; }
  put(c, 4, i.reg, (lo >>> (c.r[i.imm2] & 31)) | 0, 0);
}

def('andn', andn);
def('bextr', bextr);
def('blsi', blsi);
def('blsmsk', blsmsk);
def('blsr', blsr);
def('bzhi', bzhi);
def('mulx', mulx);
def('pdep', pdep);
def('pext', pext);
def('rorx', rorx);
def('sarx', sarx);
def('shlx', shlx);
def('shrx', shrx);
