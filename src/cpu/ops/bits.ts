import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as F from '../flags';
import { def } from './registry';
import { rdLin, wrLin } from './operands';

/**
 * Bit instructions: BT/BTS/BTR/BTC (0F A3/AB/B3/BB with a register offset, 0F BA /4-7 with an
 * immediate), BSF, BSR, TZCNT, LZCNT and POPCNT, with 16-, 32- and 64-bit operands.
 *
 * Flags (SDM, and this machine's CPU for the undefined ones, see test/diff/README.md):
 * - BT*: CF = the selected bit; ZF unchanged; OF SF AF PF (undefined) unchanged.
 * - BSF/BSR: ZF = (source = 0); CF OF SF AF (undefined) 0, PF (undefined) = parity of the result
 *   (1 for a zero source). A zero source leaves the destination entirely unchanged (no
 *   zero-extension of a 32-bit destination in 64-bit mode).
 * - TZCNT/LZCNT: CF = (source = 0), ZF = (result = 0); SF AF PF (undefined) 0, OF unchanged.
 * - POPCNT: ZF = (source = 0), all other arithmetic flags 0.
 *
 * A register bit offset with a memory operand is a signed number that may address memory outside
 * the operand (SDM "bit base / bit offset"): the operand accessed is at
 * ea + size * floor(offset / (8 * size)), wrapped to the address size, and the bit is offset mod
 * (8 * size). An immediate offset is taken modulo the operand width.
 */

const BT = 0, BTS = 1, BTR = 2, BTC = 3;
const TWO32 = 0x100000000;

/** Sets CF only; every other flag keeps its (materialised) value. */
function setCF(c: Cpu, cf: number): void {
  c.setArith((c.getFlags() & ~F.CF) | cf);
}

/** Applies BTS/BTR/BTC to v at bit b (0-31); returns the new value (int32). */
function modify(op: number, v: number, b: number): number {
  const m = 1 << b;
  return op === BTS ? v | m : op === BTR ? v & ~m : v ^ m;
}

/** Register destination form: bit offset `off` (already masked to the operand width). */
function btReg(c: Cpu, i: Instr, off: number): void {
  const size = i.size, op = i.cc, rm = i.rm;
  if (size === 8) {
    const hiHalf = off >= 32;
    const b = off & 31;
    const v = hiHalf ? c.rh[rm] : c.r[rm];
    if (op !== BT) {
      const nv = modify(op, v, b);
      if (hiHalf) c.rh[rm] = nv; else c.r[rm] = nv;
    }
    setCF(c, (v >>> b) & 1);
    return;
  }
  const v = c.getReg(size, rm);
  if (op !== BT) c.setReg(size, rm, modify(op, v, off));
  setCF(c, (v >>> off) & 1);
}

/** Memory form: the operand of `size` bytes at offset `addr` of the instruction's segment, bit b. */
function btMem(c: Cpu, i: Instr, addr: number, b: number): void {
  const size = i.size, op = i.cc, seg = i.seg;
  if (op === BT) {
    let v: number;
    if (size === 8) {
      const lo = c.rd64(seg, addr);
      v = b >= 32 ? c.hi : lo;
    } else v = c.rd(size, seg, addr);
    setCF(c, (v >>> (b & 31)) & 1);
    return;
  }
  const lin = c.linW(seg, addr, size);
  if (size === 8) {
    const lin4 = c.linAdd(lin, 4);
    c.probeW(lin4);
    const lo = c.rdLin32(lin), hi = c.rdLin32(lin4);
    // both halves were checked for writing; only the half holding the bit changes
    if (b >= 32) {
      c.wrLin32(lin4, modify(op, hi, b - 32));
      setCF(c, (hi >>> (b - 32)) & 1);
    } else {
      c.wrLin32(lin, modify(op, lo, b));
      setCF(c, (lo >>> b) & 1);
    }
    return;
  }
  const v = rdLin(c, size, lin);
  const nv = modify(op, v, b);
  wrLin(c, size, lin, size === 2 ? nv & 0xFFFF : nv);
  setCF(c, (v >>> b) & 1);
}

/** Adds a byte displacement to an effective address, wrapping at the address size. */
function addrAdd(ea: number, d: number, asize: number): number {
  if (asize === 8) return ea + d;
  if (asize === 4) return (ea + d) >>> 0;
  return (ea + d) & 0xFFFF;
}

/** BT/BTS/BTR/BTC r/m, r. */
function btEG(c: Cpu, i: Instr): void {
  const size = i.size;
  if (!i.isMem) {
    btReg(c, i, c.r[i.reg] & ((size << 3) - 1));
    return;
  }
  const lo = c.r[i.reg];
  let disp: number, b: number;
  if (size === 2) {
    const off = (lo << 16) >> 16;
    disp = (off >> 4) * 2;
    b = off & 15;
  } else if (size === 4) {
    disp = (lo >> 5) * 4;
    b = lo & 31;
  } else {
    // signed 64-bit offset; beyond ±2^53 the sum is inexact but far from canonical, so it faults
    const off = c.rh[i.reg] * TWO32 + (lo >>> 0);
    disp = Math.floor(off / 64) * 8;
    b = lo & 63;
  }
  btMem(c, i, addrAdd(c.ea(i), disp, i.asize), b);
}

/** BT/BTS/BTR/BTC r/m, imm8 (offset modulo the operand width). */
function btEI(c: Cpu, i: Instr): void {
  const b = i.imm & ((i.size << 3) - 1);
  if (!i.isMem) btReg(c, i, b);
  else btMem(c, i, c.ea(i), b);
}

// ---- scans and counts ----

/** Source operand of BSF/BSR/TZCNT/LZCNT/POPCNT: low part returned, high half (size 8) in srcHi. */
let srcHi = 0;

function readSrc(c: Cpu, i: Instr): number {
  const size = i.size;
  if (!i.isMem) {
    if (size === 8) { srcHi = c.rh[i.rm]; return c.r[i.rm]; }
    srcHi = 0;
    return size === 2 ? c.r[i.rm] & 0xFFFF : c.r[i.rm];
  }
  if (size === 8) {
    const lo = c.rd64(i.seg, c.ea(i));
    srcHi = c.hi;
    return lo;
  }
  srcHi = 0;
  return c.rd(size, i.seg, c.ea(i));
}

/** Writes a count/index result (0..64) to the destination register, zero-extending 32/64-bit. */
function writeDst(c: Cpu, i: Instr, v: number): void {
  if (i.size === 2) c.r[i.reg] = (c.r[i.reg] & ~0xFFFF) | v;
  else { c.r[i.reg] = v; c.rh[i.reg] = 0; }
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function bsf(c: Cpu, i: Instr): void {
  const lo = readSrc(c, i), hi = srcHi;
  if ((lo | hi) === 0) { c.setArith(F.ZF | F.PF); return; }
  const r = lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
  writeDst(c, i, r);
  c.setArith(F.PARITY[r]);
}

function bsr(c: Cpu, i: Instr): void {
  const lo = readSrc(c, i), hi = srcHi;
  if ((lo | hi) === 0) { c.setArith(F.ZF | F.PF); return; }
  const r = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
  writeDst(c, i, r);
  c.setArith(F.PARITY[r]);
}

function tzcnt(c: Cpu, i: Instr): void {
  const lo = readSrc(c, i), hi = srcHi;
  const size = i.size;
  let r: number;
  if (lo !== 0) r = ctz32(lo);
  else if (hi !== 0) r = 32 + ctz32(hi);
  else r = size << 3;
  writeDst(c, i, r);
  c.setArith((c.getFlags() & F.OF) | (r === size << 3 ? F.CF : 0) | (r === 0 ? F.ZF : 0));
}

function lzcnt(c: Cpu, i: Instr): void {
  const lo = readSrc(c, i), hi = srcHi;
  const size = i.size;
  let r: number;
  if (size === 2) r = Math.clz32(lo) - 16;
  else if (size === 4) r = Math.clz32(lo);
  else r = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
  writeDst(c, i, r);
  c.setArith((c.getFlags() & F.OF) | (r === size << 3 ? F.CF : 0) | (r === 0 ? F.ZF : 0));
}

function pop32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0F0F0F0F;
  return Math.imul(x, 0x01010101) >>> 24;
}

function popcnt(c: Cpu, i: Instr): void {
  const lo = readSrc(c, i), hi = srcHi;
  const r = pop32(lo) + pop32(hi);
  writeDst(c, i, r);
  c.setArith(r === 0 ? F.ZF : 0);
}

def('bt_EG', btEG);
def('bt_EI', btEI);
def('bsf', bsf);
def('bsr', bsr);
def('tzcnt', tzcnt);
def('lzcnt', lzcnt);
def('popcnt', popcnt);
