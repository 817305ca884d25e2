import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { loadSegment } from '../segmentation';
import { alu64, aluOp } from './alu';
import { def } from './registry';
import { mask, readE, readE64, rdLin, rmwLin, sext, writeE, writeE64, wrLin } from './operands';

/** Data movement: MOV forms, LEA, XCHG, CMOV, SETcc, stack operations, conversions, CMPXCHG, XADD. */

const TWO32 = 0x100000000;

/** Writes a destination register for an operand size, zero-extending 32-bit results. */
function setG(c: Cpu, i: Instr, lo: number, hi: number): void {
  if (i.size === 8) { c.r[i.reg] = lo; c.rh[i.reg] = hi; } else c.setReg(i.size, i.reg, lo);
}

function movEG(c: Cpu, i: Instr): void {
  if (i.size === 8) { writeE64(c, i, c.r[i.reg], c.rh[i.reg]); return; }
  writeE(c, i, c.getReg(i.size, i.reg));
}

function mov32rr(c: Cpu, i: Instr): void {
  c.r[i.rm] = c.r[i.reg];
  c.rh[i.rm] = 0;
}

function movGE(c: Cpu, i: Instr): void {
  if (i.size === 8) { const lo = readE64(c, i); c.r[i.reg] = lo; c.rh[i.reg] = c.hi; return; }
  c.setReg(i.size, i.reg, readE(c, i));
}

function movEI(c: Cpu, i: Instr): void {
  if (i.size === 8) { writeE64(c, i, i.imm, i.imm >> 31); return; }
  writeE(c, i, mask(i.imm, i.size));
}

function movRI(c: Cpu, i: Instr): void {
  if (i.size === 8) { c.r[i.reg] = i.imm; c.rh[i.reg] = i.imm2; return; }
  c.setReg(i.size, i.reg, mask(i.imm, i.size));
}

/** MOV AL/AX/EAX/RAX, moffs. */
function movAO(c: Cpu, i: Instr): void {
  const off = i.asize === 8 ? i.disp : i.asize === 4 ? i.disp >>> 0 : i.disp & 0xFFFF;
  if (i.size === 8) { const lo = c.rd64(i.seg, off); c.r[0] = lo; c.rh[0] = c.hi; return; }
  c.setReg(i.size, 0, c.rd(i.size, i.seg, off));
}

function movOA(c: Cpu, i: Instr): void {
  const off = i.asize === 8 ? i.disp : i.asize === 4 ? i.disp >>> 0 : i.disp & 0xFFFF;
  if (i.size === 8) { c.wr64(i.seg, off, c.r[0], c.rh[0]); return; }
  c.wr(i.size, i.seg, off, c.getReg(i.size, 0));
}

function lea(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  if (i.size === 8) { c.r[i.reg] = ea | 0; c.rh[i.reg] = Math.floor(ea / TWO32) | 0; return; }
  c.setReg(i.size, i.reg, mask(ea, i.size));
}

function movzxB(c: Cpu, i: Instr): void {
  const v = i.isMem ? c.rd8(i.seg, c.ea(i)) : c.getReg(1, i.rm);
  setG(c, i, v, 0);
}

function movzxW(c: Cpu, i: Instr): void {
  const v = i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm);
  setG(c, i, v, 0);
}

function movsxB(c: Cpu, i: Instr): void {
  const v = sext(i.isMem ? c.rd8(i.seg, c.ea(i)) : c.getReg(1, i.rm), 1);
  setG(c, i, i.size === 2 ? v & 0xFFFF : v, v >> 31);
}

function movsxW(c: Cpu, i: Instr): void {
  const v = sext(i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm), 2);
  setG(c, i, i.size === 2 ? v & 0xFFFF : v, v >> 31);
}

/** MOVSXD: with REX.W sign-extends 32→64; without it behaves as a 32-bit (or 16-bit) MOV. */
function movsxd(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    const v = i.isMem ? c.rd32(i.seg, c.ea(i)) : c.r[i.rm];
    c.r[i.reg] = v;
    c.rh[i.reg] = v >> 31;
    return;
  }
  c.setReg(i.size, i.reg, readE(c, i));
}

function xchgEG(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    if (!i.isMem) {
      const lo = c.r[i.rm], hi = c.rh[i.rm];
      c.r[i.rm] = c.r[i.reg]; c.rh[i.rm] = c.rh[i.reg];
      c.r[i.reg] = lo; c.rh[i.reg] = hi;
      return;
    }
    const lin = rmwLin(c, i, 8);
    const lo = c.rdLin32(lin), hi = c.rdLin32(c.linAdd(lin, 4));
    c.wrLin32(lin, c.r[i.reg]);
    c.wrLin32(c.linAdd(lin, 4), c.rh[i.reg]);
    c.r[i.reg] = lo; c.rh[i.reg] = hi;
    return;
  }
  if (!i.isMem) {
    const a = c.getReg(size, i.rm);
    c.setReg(size, i.rm, c.getReg(size, i.reg));
    c.setReg(size, i.reg, a);
    return;
  }
  const lin = rmwLin(c, i, size);
  const a = rdLin(c, size, lin);
  wrLin(c, size, lin, c.getReg(size, i.reg));
  c.setReg(size, i.reg, a);
}

/** XCHG rAX, r (0x91-0x97; 0x90 with REX.B is XCHG rAX, r8). */
function xchgAR(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    const lo = c.r[0], hi = c.rh[0];
    c.r[0] = c.r[i.reg]; c.rh[0] = c.rh[i.reg];
    c.r[i.reg] = lo; c.rh[i.reg] = hi;
    return;
  }
  const a = c.getReg(size, 0);
  c.setReg(size, 0, c.getReg(size, i.reg));
  c.setReg(size, i.reg, a);
}

/** CMOVcc: the source is read (and may fault) even when the condition is false; 32-bit dest is zero-extended either way. */
function cmovcc(c: Cpu, i: Instr): void {
  if (i.size === 8) {
    const lo = readE64(c, i), hi = c.hi;
    if (c.cond(i.cc)) { c.r[i.reg] = lo; c.rh[i.reg] = hi; }
    return;
  }
  const v = readE(c, i);
  if (c.cond(i.cc)) c.setReg(i.size, i.reg, v);
  else if (i.size === 4) c.rh[i.reg] = 0;
}

function setcc(c: Cpu, i: Instr): void {
  writeE(c, i, c.cond(i.cc) ? 1 : 0);
}

// ---- stack ----

function pushR(c: Cpu, i: Instr): void {
  if (i.size === 8) c.push(8, c.r[i.reg], c.rh[i.reg]);
  else c.push(i.size, c.getReg(i.size, i.reg));
}

function popR(c: Cpu, i: Instr): void {
  const v = c.pop(i.size);
  if (i.size === 8) { c.r[i.reg] = v; c.rh[i.reg] = c.hi; }
  else c.setReg(i.size, i.reg, v);
}

function pushI(c: Cpu, i: Instr): void {
  if (i.size === 8) c.push(8, i.imm, i.imm >> 31);
  else c.push(i.size, mask(i.imm, i.size));
}

function pushE(c: Cpu, i: Instr): void {
  if (i.size === 8) { const lo = readE64(c, i); c.push(8, lo, c.hi); return; }
  c.push(i.size, readE(c, i));
}

/** POP r/m: the address is computed with RSP already incremented (SDM POP). */
function popE(c: Cpu, i: Instr): void {
  const saveLo = c.r[4], saveHi = c.rh[4];
  const v = c.pop(i.size);
  const hi = c.hi;
  try {
    if (i.size === 8) writeE64(c, i, v, hi);
    else writeE(c, i, v);
  } catch (e) {
    c.r[4] = saveLo; c.rh[4] = saveHi;
    throw e;
  }
}

function pushS(c: Cpu, i: Instr): void {
  // a 32-bit push of a segment register writes only 16 bits on current Intel CPUs
  const sel = c.segSel[i.cc];
  if (i.size === 2) { c.push(2, sel); return; }
  const ss = c.stackSize();
  const sp = ss === 8 ? c.rsp64 - i.size : ss === 4 ? ((c.r[4] >>> 0) - i.size) >>> 0 : (c.r[4] - i.size) & 0xFFFF;
  c.wr16(K.SEG_SS, sp, sel);
  c.setAddrReg(4, ss, sp);
}

function popS(c: Cpu, i: Instr): void {
  const sel = c.peek(i.size, 0) & 0xFFFF;
  loadSegment(c, i.cc, sel);
  c.pop(i.size);
  if (i.cc === K.SEG_SS) { c.shadow = true; c.movSsShadow = true; }
}

function movES(c: Cpu, i: Instr): void {
  const sel = c.segSel[i.cc];
  if (i.isMem) c.wr16(i.seg, c.ea(i), sel);
  else if (i.size === 8) { c.r[i.rm] = sel; c.rh[i.rm] = 0; }
  else c.setReg(i.size === 2 ? 2 : 4, i.rm, sel);
}

function movSE(c: Cpu, i: Instr): void {
  const sel = i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm);
  loadSegment(c, i.cc, sel);
  if (i.cc === K.SEG_SS) { c.shadow = true; c.movSsShadow = true; }
}

function pushf(c: Cpu, i: Instr): void {
  if (c.v86 && ((c.flags >> 12) & 3) < 3) c.raise(K.EXC_GP, 0, 'PUSHF in virtual-8086 mode with IOPL < 3');
  // VM and RF are never pushed (SDM PUSHF)
  const f = c.getFlags() & ~(F.VM | F.RF);
  if (i.size === 8) c.push(8, f, 0);
  else c.push(i.size, i.size === 2 ? f & 0xFFFF : f);
}

/** POPF: which bits change depends on CPL and IOPL (SDM POPF table). */
function popf(c: Cpu, i: Instr): void {
  const iopl = (c.flags >> 12) & 3;
  if (c.v86 && iopl < 3) c.raise(K.EXC_GP, 0, 'POPF in virtual-8086 mode with IOPL < 3');
  const v = c.pop(i.size);
  let m = F.ARITH | F.TF | F.DF | F.NT;
  if (i.size !== 2) m |= F.AC | F.ID;
  if (!c.protectedMode || c.cpl === 0) m |= F.IOPL | F.IF;
  else if (c.cpl <= iopl) m |= F.IF;
  if (c.v86) m = (m | F.IF) & ~F.IOPL;
  c.setFlags(v, i.size === 2 ? m & 0xFFFF : m);
}

function pusha(c: Cpu, i: Instr): void {
  const size = i.size;
  const sp = c.getReg(size, 4);
  // check the whole frame first: a fault must leave SP unchanged
  const ss = c.stackSize();
  const base = ss === 4 ? c.r[4] >>> 0 : c.r[4] & 0xFFFF;
  c.linW(K.SEG_SS, ss === 4 ? (base - 8 * size) >>> 0 : (base - 8 * size) & 0xFFFF, 8 * size);
  for (let r = 0; r < 8; r++) c.push(size, r === 4 ? sp : c.getReg(size, r));
}

function popa(c: Cpu, i: Instr): void {
  const size = i.size;
  const vals: number[] = [];
  for (let r = 0; r < 8; r++) vals.push(c.peek(size, (7 - r) * size));
  for (let r = 0; r < 8; r++) if (r !== 4) c.setReg(size, r, vals[r]);
  const ss = c.stackSize();
  if (ss === 4) { c.r[4] = ((c.r[4] >>> 0) + 8 * size) | 0; } else c.r[4] = (c.r[4] & ~0xFFFF) | ((c.r[4] + 8 * size) & 0xFFFF);
}

/** ENTER imm16, imm8 (SDM ENTER, including nesting levels). */
function enter(c: Cpu, i: Instr): void {
  const size = i.size;
  const level = i.imm2 & 31;
  const ss = c.stackSize();
  const rd = (r: number) => (ss === 8 ? c.reg64(r) : ss === 4 ? c.r[r] >>> 0 : c.r[r] & 0xFFFF);
  const saveSp = [c.r[4], c.rh[4]], saveBp = [c.r[5], c.rh[5]];
  try {
    if (size === 8) c.push(8, c.r[5], c.rh[5]); else c.push(size, c.getReg(size, 5));
    const frameTemp = rd(4);
    if (level > 0) {
      let bp = rd(5);
      for (let k = 1; k < level; k++) {
        bp = ss === 8 ? bp - size : ss === 4 ? (bp - size) >>> 0 : (bp - size) & 0xFFFF;
        if (size === 8) { const lo = c.rd64(K.SEG_SS, bp); c.push(8, lo, c.hi); } else c.push(size, c.rd(size, K.SEG_SS, bp));
      }
      if (size === 8) c.push(8, frameTemp | 0, Math.floor(frameTemp / TWO32)); else c.push(size, frameTemp);
    }
    const newSp = ss === 8 ? rd(4) - i.imm : ss === 4 ? (rd(4) - i.imm) >>> 0 : (rd(4) - i.imm) & 0xFFFF;
    // the final stack pointer must be writable (SDM: #SS if it is not)
    if (i.imm > 0) c.linW(K.SEG_SS, ss === 8 ? newSp : newSp, 1);
    c.setAddrReg(5, size === 2 ? 2 : ss, frameTemp);
    c.setAddrReg(4, ss, newSp);
  } catch (e) {
    c.r[4] = saveSp[0]; c.rh[4] = saveSp[1]; c.r[5] = saveBp[0]; c.rh[5] = saveBp[1];
    throw e;
  }
}

function leave(c: Cpu, i: Instr): void {
  const ss = c.stackSize();
  const saveLo = c.r[4], saveHi = c.rh[4];
  if (ss === 8) { c.r[4] = c.r[5]; c.rh[4] = c.rh[5]; } else if (ss === 4) { c.r[4] = c.r[5]; c.rh[4] = 0; } else c.r[4] = (c.r[4] & ~0xFFFF) | (c.r[5] & 0xFFFF);
  try {
    const v = c.pop(i.size);
    if (i.size === 8) { c.r[5] = v; c.rh[5] = c.hi; } else c.setReg(i.size, 5, v);
  } catch (e) {
    c.r[4] = saveLo; c.rh[4] = saveHi;
    throw e;
  }
}

// ---- conversions ----

function cbw(c: Cpu, i: Instr): void {
  if (i.size === 2) c.setReg(2, 0, sext(c.r[0] & 0xFF, 1) & 0xFFFF);
  else if (i.size === 4) c.setReg(4, 0, sext(c.r[0] & 0xFFFF, 2));
  else { c.rh[0] = c.r[0] >> 31; }
}

function cwd(c: Cpu, i: Instr): void {
  if (i.size === 2) c.setReg(2, 2, (c.r[0] << 16) >> 31 & 0xFFFF);
  else if (i.size === 4) c.setReg(4, 2, c.r[0] >> 31);
  else { const s = c.rh[0] >> 31; c.r[2] = s; c.rh[2] = s; }
}

function bswap(c: Cpu, i: Instr): void {
  const sw = (v: number) => ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >>> 8) & 0xFF00) | (v >>> 24);
  if (i.size === 8) {
    const lo = c.r[i.reg], hi = c.rh[i.reg];
    c.r[i.reg] = sw(hi); c.rh[i.reg] = sw(lo);
  } else if (i.size === 4) {
    c.r[i.reg] = sw(c.r[i.reg]); c.rh[i.reg] = 0;
  } else {
    // BSWAP with a 16-bit operand is undefined; this CPU (like Intel parts) clears the low word
    c.r[i.reg] &= ~0xFFFF;
  }
}

function movbeGM(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  if (i.size === 8) {
    const lo = c.rd64(i.seg, ea), hi = c.hi;
    c.r[i.reg] = swap32(hi); c.rh[i.reg] = swap32(lo);
  } else if (i.size === 4) c.setReg(4, i.reg, swap32(c.rd32(i.seg, ea)));
  else { const v = c.rd16(i.seg, ea); c.setReg(2, i.reg, ((v & 0xFF) << 8) | (v >> 8)); }
}

function movbeMG(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  if (i.size === 8) c.wr64(i.seg, ea, swap32(c.rh[i.reg]), swap32(c.r[i.reg]));
  else if (i.size === 4) c.wr32(i.seg, ea, swap32(c.r[i.reg]));
  else { const v = c.r[i.reg] & 0xFFFF; c.wr16(i.seg, ea, ((v & 0xFF) << 8) | (v >> 8)); }
}

function swap32(v: number): number {
  return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >>> 8) & 0xFF00) | (v >>> 24);
}

function xlat(c: Cpu, i: Instr): void {
  const base = c.addrReg(3, i.asize);
  const off = i.asize === 8 ? base + (c.r[0] & 0xFF) : i.asize === 4 ? (base + (c.r[0] & 0xFF)) >>> 0 : (base + (c.r[0] & 0xFF)) & 0xFFFF;
  c.setReg(1, 0, c.rd8(i.seg, off));
}

/** SALC (undocumented D6): AL = CF ? 0xFF : 0, as Intel processors execute it. */
function salc(c: Cpu): void {
  c.setReg(1, 0, c.getCF() ? 0xFF : 0);
}

/** CMPXCHG: compares accumulator with the destination; the destination is always written (locked RMW). */
function cmpxchg(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    let lo: number, hi: number, lin = 0;
    if (i.isMem) { lin = rmwLin(c, i, 8); lo = c.rdLin32(lin); hi = c.rdLin32(c.linAdd(lin, 4)); } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    alu64(c, 7, c.r[0], c.rh[0], lo, hi);
    if (c.getZF()) {
      if (i.isMem) { c.wrLin32(lin, c.r[i.reg]); c.wrLin32(c.linAdd(lin, 4), c.rh[i.reg]); } else { c.r[i.rm] = c.r[i.reg]; c.rh[i.rm] = c.rh[i.reg]; }
    } else {
      if (i.isMem) { c.wrLin32(lin, lo); c.wrLin32(c.linAdd(lin, 4), hi); }
      c.r[0] = lo; c.rh[0] = hi;
    }
    return;
  }
  if (!i.isMem) {
    const d = c.getReg(size, i.rm);
    aluOp(c, 7, c.getReg(size, 0), d, size);
    if (c.getZF()) c.setReg(size, i.rm, c.getReg(size, i.reg));
    else c.setReg(size, 0, d);
    return;
  }
  const lin = rmwLin(c, i, size);
  const d = rdLin(c, size, lin);
  aluOp(c, 7, c.getReg(size, 0), d, size);
  if (c.getZF()) wrLin(c, size, lin, c.getReg(size, i.reg));
  else { wrLin(c, size, lin, d); c.setReg(size, 0, d); }
}

/** CMPXCHG8B / CMPXCHG16B (REX.W, 16-byte aligned operand or #GP). */
function cmpxchg8b(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  if (i.size === 8) {
    if (ea % 16 !== 0) c.raise(K.EXC_GP, 0, 'CMPXCHG16B operand not 16-byte aligned');
    const lin = c.linW(i.seg, ea, 16);
    c.probeW(c.linAdd(lin, 15));
    const w = [0, 1, 2, 3].map((k) => c.rdLin32(c.linAdd(lin, 4 * k)));
    const eq = w[0] === c.r[0] && w[1] === c.rh[0] && w[2] === c.r[2] && w[3] === c.rh[2];
    if (eq) {
      const n = [c.r[3], c.rh[3], c.r[1], c.rh[1]];
      for (let k = 0; k < 4; k++) c.wrLin32(c.linAdd(lin, 4 * k), n[k]);
    } else {
      for (let k = 0; k < 4; k++) c.wrLin32(c.linAdd(lin, 4 * k), w[k]);
      c.r[0] = w[0]; c.rh[0] = w[1]; c.r[2] = w[2]; c.rh[2] = w[3];
    }
    c.setArith((c.getFlags() & ~F.ZF) | (eq ? F.ZF : 0));
    return;
  }
  const lin = c.linW(i.seg, ea, 8);
  c.probeW(c.linAdd(lin, 4));
  const lo = c.rdLin32(lin), hi = c.rdLin32(c.linAdd(lin, 4));
  const eq = lo === c.r[0] && hi === c.r[2];
  if (eq) { c.wrLin32(lin, c.r[3]); c.wrLin32(c.linAdd(lin, 4), c.r[1]); }
  else { c.wrLin32(lin, lo); c.wrLin32(c.linAdd(lin, 4), hi); c.setReg(4, 0, lo); c.setReg(4, 2, hi); }
  c.setArith((c.getFlags() & ~F.ZF) | (eq ? F.ZF : 0));
}

/** XADD: TEMP = src + dest; src = dest; dest = TEMP. */
function xadd(c: Cpu, i: Instr): void {
  const size = i.size;
  if (size === 8) {
    let lo: number, hi: number, lin = 0;
    if (i.isMem) { lin = rmwLin(c, i, 8); lo = c.rdLin32(lin); hi = c.rdLin32(c.linAdd(lin, 4)); } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
    const slo = c.r[i.reg], shi = c.rh[i.reg];
    const r = alu64(c, 0, lo, hi, slo, shi);
    const rhi = hiOf(lo, hi, slo, shi);
    c.r[i.reg] = lo; c.rh[i.reg] = hi;
    if (i.isMem) { c.wrLin32(lin, r); c.wrLin32(c.linAdd(lin, 4), rhi); } else { c.r[i.rm] = r; c.rh[i.rm] = rhi; }
    return;
  }
  if (!i.isMem) {
    const d = c.getReg(size, i.rm), s = c.getReg(size, i.reg);
    const r = aluOp(c, 0, d, s, size);
    c.setReg(size, i.reg, d);
    c.setReg(size, i.rm, r);
    return;
  }
  const lin = rmwLin(c, i, size);
  const d = rdLin(c, size, lin);
  const r = aluOp(c, 0, d, c.getReg(size, i.reg), size);
  wrLin(c, size, lin, r);
  c.setReg(size, i.reg, d);
}

/** High half of a 64-bit sum. */
function hiOf(alo: number, ahi: number, blo: number, bhi: number): number {
  const carry = (alo >>> 0) + (blo >>> 0) > 0xFFFFFFFF ? 1 : 0;
  return (ahi + bhi + carry) | 0;
}

/** LES/LDS/LSS/LFS/LGS: offset then selector from memory. */
function loadFarPtr(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  const osz = i.size === 8 ? 8 : i.size;
  let offLo: number, offHi = 0;
  if (osz === 8) { offLo = c.rd64(i.seg, ea); offHi = c.hi; } else offLo = c.rd(osz, i.seg, ea);
  const selOff = i.asize === 8 ? ea + osz : i.asize === 4 ? (ea + osz) >>> 0 : (ea + osz) & 0xFFFF;
  const sel = c.rd16(i.seg, selOff);
  loadSegment(c, i.cc, sel);
  if (osz === 8) { c.r[i.reg] = offLo; c.rh[i.reg] = offHi; } else c.setReg(osz, i.reg, offLo);
  if (i.cc === K.SEG_SS) { c.shadow = true; c.movSsShadow = true; }
}

def('mov_EG', movEG);
def('mov32rr', mov32rr);
def('mov_GE', movGE);
def('mov_EI', movEI);
def('mov_RI', movRI);
def('mov_AO', movAO);
def('mov_OA', movOA);
def('lea', lea);
def('movzx_b', movzxB);
def('movzx_w', movzxW);
def('movsx_b', movsxB);
def('movsx_w', movsxW);
def('movsxd', movsxd);
def('xchg_EG', xchgEG);
def('xchg_AR', xchgAR);
def('cmovcc', cmovcc);
def('setcc', setcc);
def('push_R', pushR);
def('pop_R', popR);
def('push_I', pushI);
def('push_E', pushE);
def('pop_E', popE);
def('push_S', pushS);
def('pop_S', popS);
def('mov_ES', movES);
def('mov_SE', movSE);
def('pushf', pushf);
def('popf', popf);
def('pusha', pusha);
def('popa', popa);
def('enter', enter);
def('leave', leave);
def('cbw', cbw);
def('cwd', cwd);
def('bswap', bswap);
def('movbe_GM', movbeGM);
def('movbe_MG', movbeMG);
def('xlat', xlat);
def('salc', salc);
def('cmpxchg', cmpxchg);
def('cmpxchg8b', cmpxchg8b);
def('xadd', xadd);
def('load_far_ptr', loadFarPtr);
def('nop', () => {});
def('pause', () => {});
