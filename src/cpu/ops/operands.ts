import type { Instr } from '../block';
import type { Cpu } from '../cpu';

/**
 * Operand access shared by the instruction groups. Values of 1- and 2-byte operands are unsigned;
 * 4-byte values are int32; 8-byte values travel as (lo, hi) with `c.hi` holding the high half.
 */

/** Reads the r/m operand (size 1, 2 or 4). */
export function readE(c: Cpu, i: Instr): number {
  if (!i.isMem) return c.getReg(i.size, i.rm);
  return c.rd(i.size, i.seg, c.ea(i));
}

export function writeE(c: Cpu, i: Instr, v: number): void {
  if (!i.isMem) c.setReg(i.size, i.rm, v);
  else c.wr(i.size, i.seg, c.ea(i), v);
}

/** Reads a 64-bit r/m operand: returns lo, leaves hi in c.hi. */
export function readE64(c: Cpu, i: Instr): number {
  if (!i.isMem) {
    c.hi = c.rh[i.rm];
    return c.r[i.rm];
  }
  return c.rd64(i.seg, c.ea(i));
}

export function writeE64(c: Cpu, i: Instr, lo: number, hi: number): void {
  if (!i.isMem) {
    c.r[i.rm] = lo;
    c.rh[i.rm] = hi;
  } else c.wr64(i.seg, c.ea(i), lo, hi);
}

/** Linear address of a memory operand checked for a read-modify-write of `size` bytes. */
export function rmwLin(c: Cpu, i: Instr, size: number): number {
  const lin = c.linW(i.seg, c.ea(i), size);
  if (size === 8) c.probeW(c.linAdd(lin, 4));
  return lin;
}

export function rdLin(c: Cpu, size: number, lin: number): number {
  switch (size) {
    case 1: return c.rdLin8(lin);
    case 2: return c.rdLin16(lin);
    default: return c.rdLin32(lin);
  }
}

export function wrLin(c: Cpu, size: number, lin: number, v: number): void {
  switch (size) {
    case 1: c.wrLin8(lin, v); return;
    case 2: c.wrLin16(lin, v); return;
    default: c.wrLin32(lin, v); return;
  }
}

/** Sign-extends an operand-sized value to int32. */
export function sext(v: number, size: number): number {
  if (size === 1) return (v << 24) >> 24;
  if (size === 2) return (v << 16) >> 16;
  return v | 0;
}

/** Masks a value to an operand size (1, 2: unsigned; 4: int32). */
export function mask(v: number, size: number): number {
  if (size === 1) return v & 0xFF;
  if (size === 2) return v & 0xFFFF;
  return v | 0;
}

export function setReg64(c: Cpu, r: number, lo: number, hi: number): void {
  c.r[r] = lo;
  c.rh[r] = hi;
}
