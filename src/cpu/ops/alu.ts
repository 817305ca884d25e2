import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as F from '../flags';
import { def } from './registry';
import { mask, readE, rdLin, rmwLin, wrLin } from './operands';

/**
 * The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP), INC, DEC, NEG, NOT and TEST.
 * 8/16/32-bit forms record lazy flags; 64-bit forms compute flags at once (see alu64).
 */

const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

/** Applies ALU operation `op` to a and b of `size` bytes (1, 2, 4) and records the flags. */
export function aluOp(c: Cpu, op: number, a: number, b: number, size: number): number {
  let r: number;
  switch (op) {
    case ADD: r = mask(a + b, size); c.setLazy(F.LZ_ADD, a, b, r, size); return r;
    case OR: r = mask(a | b, size); c.setLazy(F.LZ_LOGIC, 0, 0, r, size); return r;
    case ADC: {
      const cin = c.getCF();
      r = mask(a + b + cin, size);
      c.setLazy(F.LZ_ADC, a, b, r, size);
      c.lzC = cin;
      return r;
    }
    case SBB: {
      const cin = c.getCF();
      r = mask(a - b - cin, size);
      c.setLazy(F.LZ_SBB, a, b, r, size);
      c.lzC = cin;
      return r;
    }
    case AND: r = mask(a & b, size); c.setLazy(F.LZ_LOGIC, 0, 0, r, size); return r;
    case XOR: r = mask(a ^ b, size); c.setLazy(F.LZ_LOGIC, 0, 0, r, size); return r;
    default: r = mask(a - b, size); c.setLazy(F.LZ_SUB, a, b, r, size); return r;
  }
}

/** Result of the last alu64 call: the high half (the low half is returned). */
let hi64 = 0;

/** 64-bit ALU operation on (alo, ahi) and (blo, bhi); flags recorded lazily (size 8). */
export function alu64(c: Cpu, op: number, alo: number, ahi: number, blo: number, bhi: number): number {
  let rlo: number, rhi: number;
  switch (op) {
    case ADD: case ADC: {
      const cin = op === ADC ? c.getCF() : 0;
      const lo = (alo >>> 0) + (blo >>> 0) + cin;
      rlo = lo | 0;
      rhi = (ahi + bhi + (lo > 0xFFFFFFFF ? 1 : 0)) | 0;
      c.setLazy64(op === ADC ? F.LZ_ADC : F.LZ_ADD, alo, ahi, blo, bhi, rlo, rhi);
      c.lzC = cin;
      break;
    }
    case SUB: case SBB: case CMP: {
      const bin = op === SBB ? c.getCF() : 0;
      const lo = (alo >>> 0) - (blo >>> 0) - bin;
      rlo = lo | 0;
      rhi = (ahi - bhi - (lo < 0 ? 1 : 0)) | 0;
      c.setLazy64(op === SBB ? F.LZ_SBB : F.LZ_SUB, alo, ahi, blo, bhi, rlo, rhi);
      c.lzC = bin;
      break;
    }
    case OR: rlo = alo | blo; rhi = ahi | bhi; c.setLazy64(F.LZ_LOGIC, 0, 0, 0, 0, rlo, rhi); break;
    case AND: rlo = alo & blo; rhi = ahi & bhi; c.setLazy64(F.LZ_LOGIC, 0, 0, 0, 0, rlo, rhi); break;
    default: rlo = alo ^ blo; rhi = ahi ^ bhi; c.setLazy64(F.LZ_LOGIC, 0, 0, 0, 0, rlo, rhi); break;
  }
  hi64 = rhi;
  return rlo;
}

/** ZF, SF and PF of a 64-bit result. */
export function flags64(lo: number, hi: number): number {
  return ((lo | hi) === 0 ? F.ZF : 0) | (hi < 0 ? F.SF : 0) | F.PARITY[lo & 0xFF];
}

function aluEG(c: Cpu, i: Instr): void {
  const size = i.size;
  const op = i.cc;
  if (size === 8) {
    const blo = c.r[i.reg], bhi = c.rh[i.reg];
    if (!i.isMem) {
      const r = alu64(c, op, c.r[i.rm], c.rh[i.rm], blo, bhi);
      if (op !== CMP) { c.r[i.rm] = r; c.rh[i.rm] = hi64; }
      return;
    }
    if (op === CMP) {
      const alo = c.rd64(i.seg, c.ea(i));
      alu64(c, op, alo, c.hi, blo, bhi);
      return;
    }
    const lin = rmwLin(c, i, 8);
    const alo = c.rdLin32(lin), ahi = c.rdLin32(c.linAdd(lin, 4));
    const r = alu64(c, op, alo, ahi, blo, bhi);
    c.wrLin32(lin, r);
    c.wrLin32(c.linAdd(lin, 4), hi64);
    return;
  }
  const b = c.getReg(size, i.reg);
  if (!i.isMem) {
    const r = aluOp(c, op, c.getReg(size, i.rm), b, size);
    if (op !== CMP) c.setReg(size, i.rm, r);
    return;
  }
  if (op === CMP) {
    aluOp(c, op, c.rd(size, i.seg, c.ea(i)), b, size);
    return;
  }
  const lin = rmwLin(c, i, size);
  const r = aluOp(c, op, rdLin(c, size, lin), b, size);
  wrLin(c, size, lin, r);
}

function aluGE(c: Cpu, i: Instr): void {
  const size = i.size;
  const op = i.cc;
  if (size === 8) {
    let blo: number, bhi: number;
    if (i.isMem) { blo = c.rd64(i.seg, c.ea(i)); bhi = c.hi; } else { blo = c.r[i.rm]; bhi = c.rh[i.rm]; }
    const r = alu64(c, op, c.r[i.reg], c.rh[i.reg], blo, bhi);
    if (op !== CMP) { c.r[i.reg] = r; c.rh[i.reg] = hi64; }
    return;
  }
  const b = readE(c, i);
  const r = aluOp(c, op, c.getReg(size, i.reg), b, size);
  if (op !== CMP) c.setReg(size, i.reg, r);
}

function aluAI(c: Cpu, i: Instr): void {
  const size = i.size;
  const op = i.cc;
  if (size === 8) {
    const r = alu64(c, op, c.r[0], c.rh[0], i.imm, i.imm >> 31);
    if (op !== CMP) { c.r[0] = r; c.rh[0] = hi64; }
    return;
  }
  const r = aluOp(c, op, c.getReg(size, 0), mask(i.imm, size), size);
  if (op !== CMP) c.setReg(size, 0, r);
}

function aluEI(c: Cpu, i: Instr): void {
  const size = i.size;
  const op = i.cc;
  if (size === 8) {
    const blo = i.imm, bhi = i.imm >> 31;
    if (!i.isMem) {
      const r = alu64(c, op, c.r[i.rm], c.rh[i.rm], blo, bhi);
      if (op !== CMP) { c.r[i.rm] = r; c.rh[i.rm] = hi64; }
      return;
    }
    if (op === CMP) {
      const alo = c.rd64(i.seg, c.ea(i));
      alu64(c, op, alo, c.hi, blo, bhi);
      return;
    }
    const lin = rmwLin(c, i, 8);
    const r = alu64(c, op, c.rdLin32(lin), c.rdLin32(c.linAdd(lin, 4)), blo, bhi);
    c.wrLin32(lin, r);
    c.wrLin32(c.linAdd(lin, 4), hi64);
    return;
  }
  const b = mask(i.imm, size);
  if (!i.isMem) {
    const r = aluOp(c, op, c.getReg(size, i.rm), b, size);
    if (op !== CMP) c.setReg(size, i.rm, r);
    return;
  }
  if (op === CMP) {
    aluOp(c, op, c.rd(size, i.seg, c.ea(i)), b, size);
    return;
  }
  const lin = rmwLin(c, i, size);
  wrLin(c, size, lin, aluOp(c, op, rdLin(c, size, lin), b, size));
}

// ---- 32-bit register-register and register-immediate fast paths (the hot loop of most code) ----

function lazy32(c: Cpu, op: number, a: number, b: number, r: number): void {
  c.lzOp = (op << 4) | 4;
  c.lzA = a;
  c.lzB = b;
  c.lzR = r;
}

/** Logic results need only the result: CF, OF and AF are 0 by definition. */
function logic32(c: Cpu, r: number): void {
  c.lzOp = (F.LZ_LOGIC << 4) | 4;
  c.lzR = r;
}

const rr: ((c: Cpu, i: Instr) => void)[] = [
  (c, i) => { const a = c.r[i.rm], b = c.r[i.reg], r = (a + b) | 0; c.r[i.rm] = r; c.rh[i.rm] = 0; lazy32(c, F.LZ_ADD, a, b, r); },
  (c, i) => { const r = c.r[i.rm] | c.r[i.reg]; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const r = aluOp(c, ADC, c.r[i.rm], c.r[i.reg], 4); c.r[i.rm] = r; c.rh[i.rm] = 0; },
  (c, i) => { const r = aluOp(c, SBB, c.r[i.rm], c.r[i.reg], 4); c.r[i.rm] = r; c.rh[i.rm] = 0; },
  (c, i) => { const r = c.r[i.rm] & c.r[i.reg]; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const a = c.r[i.rm], b = c.r[i.reg], r = (a - b) | 0; c.r[i.rm] = r; c.rh[i.rm] = 0; lazy32(c, F.LZ_SUB, a, b, r); },
  (c, i) => { const r = c.r[i.rm] ^ c.r[i.reg]; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const a = c.r[i.rm], b = c.r[i.reg]; lazy32(c, F.LZ_SUB, a, b, (a - b) | 0); },
];

const ri: ((c: Cpu, i: Instr) => void)[] = [
  (c, i) => { const a = c.r[i.rm], b = i.imm, r = (a + b) | 0; c.r[i.rm] = r; c.rh[i.rm] = 0; lazy32(c, F.LZ_ADD, a, b, r); },
  (c, i) => { const r = c.r[i.rm] | i.imm; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const r = aluOp(c, ADC, c.r[i.rm], i.imm, 4); c.r[i.rm] = r; c.rh[i.rm] = 0; },
  (c, i) => { const r = aluOp(c, SBB, c.r[i.rm], i.imm, 4); c.r[i.rm] = r; c.rh[i.rm] = 0; },
  (c, i) => { const r = c.r[i.rm] & i.imm; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const a = c.r[i.rm], b = i.imm, r = (a - b) | 0; c.r[i.rm] = r; c.rh[i.rm] = 0; lazy32(c, F.LZ_SUB, a, b, r); },
  (c, i) => { const r = c.r[i.rm] ^ i.imm; c.r[i.rm] = r; c.rh[i.rm] = 0; logic32(c, r); },
  (c, i) => { const a = c.r[i.rm], b = i.imm; lazy32(c, F.LZ_SUB, a, b, (a - b) | 0); },
];

for (let k = 0; k < 8; k++) {
  def('alu32rr_' + k, rr[k]);
  def('alu32ri_' + k, ri[k]);
}

/** INC/DEC keep CF (SDM: "The CF flag is not affected"). */
function incDec(c: Cpu, i: Instr, delta: number): void {
  const size = i.size;
  const op = delta > 0 ? F.LZ_ADD : F.LZ_SUB;
  if (size === 8) {
    const cf = c.getCF();
    let lo: number, hi: number, lin = 0;
    if (i.isMem) { lin = rmwLin(c, i, 8); lo = c.rdLin32(lin); hi = c.rdLin32(c.linAdd(lin, 4)); } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    const r = alu64(c, delta > 0 ? ADD : SUB, lo, hi, 1, 0);
    c.flags = (c.flags & ~F.CF) | cf;
    c.lzOp = ((delta > 0 ? F.LZ_INC : F.LZ_DEC) << 4) | 8;
    if (i.isMem) { c.wrLin32(lin, r); c.wrLin32(c.linAdd(lin, 4), hi64); } else { c.r[i.rm] = r; c.rh[i.rm] = hi64; }
    return;
  }
  if (!i.isMem) {
    const a = c.getReg(size, i.rm);
    const r = mask(a + delta, size);
    c.setLazyKeepCF(op, a, 1, r, size);
    c.setReg(size, i.rm, r);
    return;
  }
  const lin = rmwLin(c, i, size);
  const a = rdLin(c, size, lin);
  const r = mask(a + delta, size);
  wrLin(c, size, lin, r);
  c.setLazyKeepCF(op, a, 1, r, size);
}

function inc32r(c: Cpu, i: Instr): void {
  const a = c.r[i.rm];
  const r = (a + 1) | 0;
  c.r[i.rm] = r;
  c.rh[i.rm] = 0;
  c.setLazyKeepCF(F.LZ_ADD, a, 1, r, 4);
}

function dec32r(c: Cpu, i: Instr): void {
  const a = c.r[i.rm];
  const r = (a - 1) | 0;
  c.r[i.rm] = r;
  c.rh[i.rm] = 0;
  c.setLazyKeepCF(F.LZ_SUB, a, 1, r, 4);
}

function notE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    if (!i.isMem) { c.r[i.rm] = ~c.r[i.rm]; c.rh[i.rm] = ~c.rh[i.rm]; return; }
    const lin = rmwLin(c, i, 8);
    const lo = c.rdLin32(lin), hi = c.rdLin32(c.linAdd(lin, 4));
    c.wrLin32(lin, ~lo);
    c.wrLin32(c.linAdd(lin, 4), ~hi);
    return;
  }
  if (!i.isMem) { c.setReg(size, i.rm, mask(~c.getReg(size, i.rm), size)); return; }
  const lin = rmwLin(c, i, size);
  wrLin(c, size, lin, mask(~rdLin(c, size, lin), size));
}

/** NEG: CF = (source != 0), other flags as 0 - source. */
function negE(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    let lo: number, hi: number, lin = 0;
    if (i.isMem) { lin = rmwLin(c, i, 8); lo = c.rdLin32(lin); hi = c.rdLin32(c.linAdd(lin, 4)); } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    const r = alu64(c, SUB, 0, 0, lo, hi);
    if (i.isMem) { c.wrLin32(lin, r); c.wrLin32(c.linAdd(lin, 4), hi64); } else { c.r[i.rm] = r; c.rh[i.rm] = hi64; }
    return;
  }
  if (!i.isMem) {
    c.setReg(size, i.rm, aluOp(c, SUB, 0, c.getReg(size, i.rm), size));
    return;
  }
  const lin = rmwLin(c, i, size);
  wrLin(c, size, lin, aluOp(c, SUB, 0, rdLin(c, size, lin), size));
}

function testEG(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    let lo: number, hi: number;
    if (i.isMem) { lo = c.rd64(i.seg, c.ea(i)); hi = c.hi; } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    alu64(c, AND, lo, hi, c.r[i.reg], c.rh[i.reg]);
    return;
  }
  aluOp(c, AND, readE(c, i), c.getReg(i.size, i.reg), i.size);
}

function testEI(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    let lo: number, hi: number;
    if (i.isMem) { lo = c.rd64(i.seg, c.ea(i)); hi = c.hi; } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    alu64(c, AND, lo, hi, i.imm, i.imm >> 31);
    return;
  }
  aluOp(c, AND, readE(c, i), mask(i.imm, i.size), i.size);
}

function testAI(c: Cpu, i: Instr): void {
  if (i.size === 8) { alu64(c, AND, c.r[0], c.rh[0], i.imm, i.imm >> 31); return; }
  aluOp(c, AND, c.getReg(i.size, 0), mask(i.imm, i.size), i.size);
}

def('alu_EG', aluEG);
def('alu_GE', aluGE);
def('alu_AI', aluAI);
def('alu_EI', aluEI);
def('inc_E', (c, i) => incDec(c, i, 1));
def('dec_E', (c, i) => incDec(c, i, -1));
def('inc32r', inc32r);
def('dec32r', dec32r);
def('not_E', notE);
def('neg_E', negE);
def('test_EG', testEG);
def('test_EI', testEI);
def('test_AI', testAI);

// ---- flag instructions ----
def('cmc', (c) => { const f = c.getFlags(); c.setArith(f ^ F.CF); });
def('clc', (c) => { c.setArith(c.getFlags() & ~F.CF); });
def('stc', (c) => { c.setArith(c.getFlags() | F.CF); });
def('cld', (c) => { c.flags &= ~F.DF; });
def('std', (c) => { c.flags |= F.DF; });
/** SAHF: SF ZF AF PF CF from AH. */
def('sahf', (c) => { const ah = (c.r[0] >> 8) & 0xFF; c.setArith((c.getFlags() & ~0xD5) | (ah & 0xD5)); });
/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
def('lahf', (c) => { const f = (c.getFlags() & 0xD5) | 2; c.r[0] = (c.r[0] & ~0xFF00) | (f << 8); });
