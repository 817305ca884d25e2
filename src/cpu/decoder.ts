import { Block, Instr } from './block';
import type { Cpu } from './cpu';
import { FAULT } from './cpu';
import * as K from './constants';
import { h, ud } from './ops/registry';
import './ops';
import { kindOf } from './fastpath';

/**
 * The x86 instruction decoder: prefixes, REX, VEX (for the BMI integer instructions), ModRM, SIB,
 * displacement and immediates, in 16-, 32- and 64-bit code. It produces `Instr` records with the
 * handler chosen for the exact form, so execution never re-examines encoding details.
 */

/** Instructions after which a block must end (control flow, mode or interrupt-state changes). */
let endsBlock = false;

/** Fetch state for one instruction. */
let fc: Cpu;
let fLin = 0;
let fPos = 0;
let fBits = 32;

function byte(): number {
  if (fPos >= 15) fc.raise(K.EXC_GP, 0, 'instruction longer than 15 bytes');
  const b = fc.fetchByte(fc.mode64 ? fLin + fPos : (fLin + fPos) >>> 0);
  fPos++;
  return b;
}

function imm8s(): number {
  return (byte() << 24) >> 24;
}

function imm16(): number {
  const lo = byte();
  return lo | (byte() << 8);
}

function imm32(): number {
  const a = byte(), b = byte(), c = byte(), d = byte();
  return a | (b << 8) | (c << 16) | (d << 24);
}

/** Immediate of operand size (Iz): 16 or 32 bits, sign-extended for 64-bit operands. */
function immZ(size: number): number {
  if (size === 1) return byte();
  if (size === 2) return imm16();
  return imm32();
}

function wrapIp(v: number, size: number): number {
  if (fBits === 64) return v;
  return size === 2 ? v & 0xFFFF : v >>> 0;
}

/**
 * Decodes one block starting at `lin` (RIP = c.rip) into `b`, at most `max` instructions, never
 * crossing a 4 KiB page (an instruction that itself straddles a page ends the block after it).
 */
export function decodeBlock(c: Cpu, b: Block, lin: number, max: number): void {
  fc = c;
  fBits = c.bits;
  let rip = c.rip;
  let cur = lin;
  const startPage = lin - (lin & 0xFFF);
  const limit = c.mode64 ? Infinity : c.segLimit[K.SEG_CS];
  for (let n = 0; n < max; n++) {
    const ins = new Instr(ud);
    fLin = cur;
    fPos = 0;
    endsBlock = false;
    try {
      decodeOne(c, ins, rip);
    } catch (e) {
      if (e !== FAULT || n === 0) throw e;
      break; // the fault belongs to this instruction: raise it when execution gets there
    }
    if (!c.mode64 && !c.v86 && rip + fPos - 1 > limit && c.protectedMode) {
      if (n === 0) c.raise(K.EXC_GP, 0, `instruction at 0x${rip.toString(16)} beyond the CS limit`);
      break;
    }
    if (ins.lock && !lockable(ins)) ins.fn = lockUd;
    ins.rip = rip;
    ins.len = fPos;
    ins.kind = kindOf(ins);
    ins.next = wrapIp(rip + fPos, fBits === 16 ? 2 : 4);
    if (ins.target === -1) ins.target = 0;
    b.instrs.push(ins);
    const end = c.mode64 ? cur + fPos : (cur + fPos) >>> 0;
    rip = ins.next;
    const crossed = end - (end & 0xFFF) !== startPage && (end & 0xFFF) !== 0;
    if (b.hostOff >= 0) b.hostEnd = b.hostOff + (end - lin);
    cur = end;
    if (endsBlock || crossed) {
      if (crossed) b.hostEnd = -1; // depends on two pages: never cache it
      break;
    }
    if ((end & 0xFFF) === 0) break;
    if (c.isBreakAddress(end)) break;
  }
  b.nextRip = rip;
}

/** Decodes one instruction at the fetch position into `ins`. */
function decodeOne(c: Cpu, ins: Instr, rip: number): void {
  const bits = fBits;
  let opsize = bits === 16 ? 2 : 4;
  let asize = bits === 16 ? 2 : bits === 32 ? 4 : 8;
  let seg = -1;
  let rep = 0;
  let rex = 0;
  let op66 = false;
  let b: number;
  for (;;) {
    b = byte();
    switch (b) {
      case 0x66: op66 = true; rex = 0; continue;
      case 0x67: asize = bits === 32 ? 2 : 4; if (bits === 16) asize = 4; rex = 0; continue;
      case 0x26: seg = K.SEG_ES; rex = 0; continue;
      case 0x2E: seg = K.SEG_CS; rex = 0; continue;
      case 0x36: seg = K.SEG_SS; rex = 0; continue;
      case 0x3E: seg = K.SEG_DS; rex = 0; continue;
      case 0x64: seg = K.SEG_FS; rex = 0; continue;
      case 0x65: seg = K.SEG_GS; rex = 0; continue;
      case 0xF0: ins.lock = true; rex = 0; continue;
      case 0xF2: case 0xF3: rep = b; rex = 0; continue;
    }
    if (bits === 64 && (b & 0xF0) === 0x40) {
      rex = b;
      continue;
    }
    break;
  }
  if (bits === 64 && seg >= 0 && seg < K.SEG_FS) seg = -1; // ES/CS/SS/DS overrides are ignored
  if (op66) opsize = bits === 16 ? 4 : 2;
  const rexW = (rex & 8) !== 0;
  if (rexW) opsize = 8;
  ins.size = opsize;
  ins.asize = asize;
  ins.rep = rep;
  ins.rex = rex;
  ins.segOverride = seg;
  ins.seg = seg >= 0 ? seg : K.SEG_DS;
  ins.target = -1;
  ins.op = b;

  // ---- ModRM helpers, closed over the prefix state ----
  const modrm = (): number => {
    const m = byte();
    ins.modrm = m;
    const mod = m >> 6;
    ins.reg = ((m >> 3) & 7) | (rex & 4 ? 8 : 0);
    if (mod === 3) {
      ins.isMem = false;
      ins.rm = (m & 7) | (rex & 1 ? 8 : 0);
      return m;
    }
    ins.isMem = true;
    decodeMem(ins, m, rex, asize, seg, bits);
    return m;
  };
  /** 8-bit register numbering: without REX, 4-7 are AH, CH, DH, BH (stored as 16-19). */
  const fix8 = (): void => {
    if (rex === 0) {
      if (ins.reg >= 4 && ins.reg < 8) ins.reg += 12;
      if (!ins.isMem && ins.rm >= 4 && ins.rm < 8) ins.rm += 12;
    }
  };
  const stackSize = (): number => (bits === 64 ? (op66 ? 2 : 8) : opsize);
  const inval64 = (): boolean => bits === 64;
  const end = (): void => { endsBlock = true; };

  if (b !== 0x0F) {
    decodePrimary(c, ins, b, { modrm, fix8, stackSize, inval64, end, rex, op66, rep, bits, rip, opsize, asize, seg });
    return;
  }
  b = byte();
  ins.op = 0x100 | b;
  decodeSecondary(c, ins, b, { modrm, fix8, stackSize, inval64, end, rex, op66, rep, bits, rip, opsize, asize, seg });
}

interface Ctx {
  modrm: () => number;
  fix8: () => void;
  stackSize: () => number;
  inval64: () => boolean;
  end: () => void;
  rex: number;
  op66: boolean;
  rep: number;
  bits: number;
  rip: number;
  opsize: number;
  asize: number;
  seg: number;
}

/** Memory operand: base, index, scale, displacement and default segment. */
function decodeMem(ins: Instr, m: number, rex: number, asize: number, seg: number, bits: number): void {
  const mod = m >> 6;
  const rm = m & 7;
  ins.base = -1;
  ins.index = -1;
  ins.scale = 0;
  ins.disp = 0;
  let defSeg = K.SEG_DS;
  if (asize === 2) {
    switch (rm) {
      case 0: ins.base = 3; ins.index = 6; break;
      case 1: ins.base = 3; ins.index = 7; break;
      case 2: ins.base = 5; ins.index = 6; defSeg = K.SEG_SS; break;
      case 3: ins.base = 5; ins.index = 7; defSeg = K.SEG_SS; break;
      case 4: ins.base = 6; break;
      case 5: ins.base = 7; break;
      case 6: if (mod !== 0) { ins.base = 5; defSeg = K.SEG_SS; } break;
      case 7: ins.base = 3; break;
    }
    if (mod === 0 && rm === 6) ins.disp = imm16();
    else if (mod === 1) ins.disp = imm8s();
    else if (mod === 2) ins.disp = (imm16() << 16) >> 16;
    ins.seg = seg >= 0 ? seg : defSeg;
    return;
  }
  if (rm === 4) {
    const sib = byte();
    const base = (sib & 7) | (rex & 1 ? 8 : 0);
    const index = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
    ins.scale = sib >> 6;
    if (index !== 4) ins.index = index;
    if ((sib & 7) === 5 && mod === 0) {
      ins.disp = imm32();
    } else {
      ins.base = base;
      if ((base & 7) === 4 || (base & 7) === 5) defSeg = (base === 4 || base === 5) ? K.SEG_SS : defSeg;
    }
  } else if (rm === 5 && mod === 0) {
    ins.disp = imm32();
    if (bits === 64) ins.base = -2; // RIP-relative: resolved once the length is known
  } else {
    ins.base = rm | (rex & 1 ? 8 : 0);
    if (ins.base === 4 || ins.base === 5) defSeg = K.SEG_SS;
  }
  if (mod === 1) ins.disp = imm8s();
  else if (mod === 2) ins.disp = imm32();
  ins.seg = seg >= 0 ? seg : defSeg;
  if (bits === 64 && ins.seg < K.SEG_FS) ins.seg = defSeg === K.SEG_SS ? K.SEG_SS : K.SEG_DS;
}

/**
 * After immediates are read the length is known: RIP-relative displacements become absolute
 * (next RIP + disp), wrapped to 32 bits with an address-size override.
 */
function finishRipRel(ins: Instr, rip: number): void {
  if (ins.base !== -2) return;
  ins.base = -1;
  const next = rip + fPos;
  ins.disp = ins.asize === 4 ? (next + ins.disp) >>> 0 : next + ins.disp;
  // ea() adds disp as-is for asize 8; for asize 4 it wraps, which is what EIP-relative means
  if (ins.asize === 4) ins.disp = ins.disp | 0;
}

function relTarget(ins: Instr, rip: number, rel: number, size: number): void {
  const next = rip + fPos;
  if (fBits === 64) ins.target = next + rel;
  else ins.target = size === 2 ? (next + rel) & 0xFFFF : (next + rel) >>> 0;
}

function decodePrimary(c: Cpu, ins: Instr, b: number, x: Ctx): void {
  const { modrm, fix8, stackSize, inval64, end, bits, rip } = x;
  let size = ins.size;
  if (b < 0x40 && (b & 7) < 6) {
    // the eight classic ALU operations in their six forms
    ins.cc = b >> 3;
    switch (b & 7) {
      case 0: ins.size = 1; modrm(); fix8(); ins.fn = h('alu_EG'); break;
      case 1: modrm(); ins.fn = !ins.isMem && size === 4 ? h('alu32rr_' + ins.cc) : h('alu_EG'); break;
      case 2: ins.size = 1; modrm(); fix8(); ins.fn = h('alu_GE'); break;
      case 3: modrm(); ins.fn = h('alu_GE'); if (!ins.isMem) swapToEG(ins); break;
      case 4: ins.size = 1; ins.imm = byte(); ins.fn = h('alu_AI'); break;
      case 5: ins.imm = immZ(size); ins.fn = h('alu_AI'); break;
    }
    finishRipRel(ins, rip);
    return;
  }
  switch (b) {
    case 0x06: case 0x0E: case 0x16: case 0x1E:
      if (inval64()) return;
      ins.cc = b >> 3; ins.size = stackSize(); ins.fn = h('push_S'); return;
    case 0x07: case 0x17: case 0x1F:
      if (inval64()) return;
      ins.cc = b >> 3; ins.size = stackSize(); ins.fn = h('pop_S'); end(); return;
    case 0x27: if (!inval64()) ins.fn = h('daa'); return;
    case 0x2F: if (!inval64()) ins.fn = h('das'); return;
    case 0x37: if (!inval64()) ins.fn = h('aaa'); return;
    case 0x3F: if (!inval64()) ins.fn = h('aas'); return;
  }
  if (b >= 0x40 && b <= 0x4F) {
    // INC/DEC r (only outside 64-bit mode, where these bytes are REX)
    ins.rm = b & 7;
    ins.isMem = false;
    ins.fn = size === 4 ? h(b < 0x48 ? 'inc32r' : 'dec32r') : h(b < 0x48 ? 'inc_E' : 'dec_E');
    return;
  }
  if (b >= 0x50 && b <= 0x57) { ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0); ins.size = stackSize(); ins.fn = h('push_R'); return; }
  if (b >= 0x58 && b <= 0x5F) { ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0); ins.size = stackSize(); ins.fn = h('pop_R'); return; }
  if (b >= 0x70 && b <= 0x7F) {
    ins.cc = b & 0xF;
    const rel = imm8s();
    relTarget(ins, rip, rel, bits === 64 ? 8 : size);
    ins.fn = jccHandler(ins.cc); end(); return;
  }
  if (b >= 0x91 && b <= 0x97) { ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0); ins.fn = h('xchg_AR'); return; }
  if (b >= 0xB0 && b <= 0xB7) {
    ins.size = 1; ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0);
    if (x.rex === 0 && ins.reg >= 4) ins.reg += 12;
    ins.imm = byte(); ins.fn = h('mov_RI'); return;
  }
  if (b >= 0xB8 && b <= 0xBF) {
    ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0);
    if (size === 8) { ins.imm = imm32(); ins.imm2 = imm32(); } else ins.imm = immZ(size);
    ins.fn = h('mov_RI'); return;
  }
  if (b >= 0xD8 && b <= 0xDF) { modrm(); finishRipRel(ins, rip); ins.fn = h('fpu_esc'); return; }
  switch (b) {
    case 0x60: if (!inval64()) ins.fn = h('pusha'); return;
    case 0x61: if (!inval64()) ins.fn = h('popa'); return;
    case 0x62: if (inval64()) return; modrm(); if (!ins.isMem) return; ins.fn = h('bound'); return;
    case 0x63:
      if (bits === 64) { modrm(); finishRipRel(ins, rip); ins.fn = h('movsxd'); return; }
      ins.size = 2; modrm(); ins.fn = h('arpl'); return;
    case 0x68: ins.size = stackSize(); ins.imm = immZ(ins.size === 8 ? 4 : ins.size); ins.fn = h('push_I'); return;
    case 0x6A: ins.size = stackSize(); ins.imm = imm8s(); ins.fn = h('push_I'); return;
    case 0x69: modrm(); ins.imm = immZ(size === 8 ? 4 : size); finishRipRel(ins, rip); ins.fn = h('imul_GEI'); return;
    case 0x6B: modrm(); ins.imm = imm8s(); finishRipRel(ins, rip); ins.fn = h('imul_GEI'); return;
    case 0x6C: ins.size = 1; ins.fn = h('ins'); end(); return;
    case 0x6D: if (size === 8) ins.size = 4; ins.fn = h('ins'); end(); return;
    case 0x6E: ins.size = 1; ins.fn = h('outs'); end(); return;
    case 0x6F: if (size === 8) ins.size = 4; ins.fn = h('outs'); end(); return;
    case 0x80: case 0x82:
      if (b === 0x82 && inval64()) return;
      ins.size = 1; modrm(); fix8(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = byte(); finishRipRel(ins, rip); ins.fn = h('alu_EI'); return;
    case 0x81: modrm(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = immZ(size === 8 ? 4 : size); finishRipRel(ins, rip);
      ins.fn = !ins.isMem && size === 4 ? h('alu32ri_' + ins.cc) : h('alu_EI'); return;
    case 0x83: modrm(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = imm8s(); finishRipRel(ins, rip);
      if (size === 2) ins.imm &= 0xFFFF;
      ins.fn = !ins.isMem && size === 4 ? h('alu32ri_' + ins.cc) : h('alu_EI'); return;
    case 0x84: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('test_EG'); return;
    case 0x85: modrm(); finishRipRel(ins, rip); ins.fn = h('test_EG'); return;
    case 0x86: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('xchg_EG'); return;
    case 0x87: modrm(); finishRipRel(ins, rip); ins.fn = h('xchg_EG'); return;
    case 0x88: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('mov_EG'); return;
    case 0x89: modrm(); finishRipRel(ins, rip); ins.fn = !ins.isMem && size === 4 ? h('mov32rr') : h('mov_EG'); return;
    case 0x8A: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('mov_GE'); return;
    case 0x8B: modrm(); finishRipRel(ins, rip); ins.fn = h('mov_GE'); if (!ins.isMem) swapToEG(ins); return;
    case 0x8C: modrm(); finishRipRel(ins, rip); ins.cc = (ins.modrm >> 3) & 7; if (ins.cc > 5) return;
      if (ins.isMem) ins.size = 2; ins.fn = h('mov_ES'); return;
    case 0x8D: modrm(); finishRipRel(ins, rip); if (!ins.isMem) return; ins.fn = h('lea'); return;
    case 0x8E: modrm(); finishRipRel(ins, rip); ins.cc = (ins.modrm >> 3) & 7;
      if (ins.cc === K.SEG_CS || ins.cc > 5) return;
      ins.size = 2; ins.fn = h('mov_SE'); if (ins.cc === K.SEG_SS) end(); return;
    case 0x8F: ins.size = stackSize(); modrm(); finishRipRel(ins, rip); if ((ins.modrm >> 3) & 7) return; ins.fn = h('pop_E'); return;
    case 0x90:
      if (x.rex & 1) { ins.reg = 8; ins.fn = h('xchg_AR'); return; }
      ins.fn = x.rep === 0xF3 ? h('pause') : h('nop'); return;
    case 0x98: ins.fn = h('cbw'); return;
    case 0x99: ins.fn = h('cwd'); return;
    case 0x9A: if (inval64()) return; ins.imm = size === 2 ? imm16() : imm32() >>> 0; ins.imm2 = imm16(); ins.fn = h('call_far'); end(); return;
    case 0x9B: ins.fn = h('fwait'); return;
    case 0x9C: ins.size = stackSize(); ins.fn = h('pushf'); return;
    case 0x9D: ins.size = stackSize(); ins.fn = h('popf'); end(); return;
    case 0x9E: ins.fn = h('sahf'); return;
    case 0x9F: ins.fn = h('lahf'); return;
    case 0xA0: case 0xA1: case 0xA2: case 0xA3: {
      if (!(b & 1)) ins.size = 1;
      ins.isMem = true; ins.base = -1; ins.index = -1;
      if (x.asize === 8) { const lo = imm32() >>> 0; const hi = imm32(); ins.disp = hi * 0x100000000 + lo; }
      else ins.disp = x.asize === 4 ? imm32() >>> 0 : imm16();
      ins.fn = h(b < 0xA2 ? 'mov_AO' : 'mov_OA'); return;
    }
    case 0xA4: ins.size = 1; ins.fn = h('movs'); if (x.rep) end(); return;
    case 0xA5: ins.fn = h('movs'); if (x.rep) end(); return;
    case 0xA6: ins.size = 1; ins.fn = h('cmps'); if (x.rep) end(); return;
    case 0xA7: ins.fn = h('cmps'); if (x.rep) end(); return;
    case 0xA8: ins.size = 1; ins.imm = byte(); ins.fn = h('test_AI'); return;
    case 0xA9: ins.imm = immZ(size === 8 ? 4 : size); ins.fn = h('test_AI'); return;
    case 0xAA: ins.size = 1; ins.fn = h('stos'); if (x.rep) end(); return;
    case 0xAB: ins.fn = h('stos'); if (x.rep) end(); return;
    case 0xAC: ins.size = 1; ins.fn = h('lods'); if (x.rep) end(); return;
    case 0xAD: ins.fn = h('lods'); if (x.rep) end(); return;
    case 0xAE: ins.size = 1; ins.fn = h('scas'); if (x.rep) end(); return;
    case 0xAF: ins.fn = h('scas'); if (x.rep) end(); return;
    case 0xC0: ins.size = 1; modrm(); fix8(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = byte(); finishRipRel(ins, rip); ins.fn = h('shift_EI'); return;
    case 0xC1: modrm(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = byte(); finishRipRel(ins, rip); ins.fn = h('shift_EI'); return;
    case 0xC2: ins.size = bits === 64 ? 8 : size; ins.imm = imm16(); ins.fn = h('ret_near'); end(); return;
    case 0xC3: ins.size = bits === 64 ? 8 : size; ins.imm = 0; ins.fn = h('ret_near'); end(); return;
    case 0xC4: case 0xC5: {
      if (bits === 64 || peekModIs3()) { decodeVex(c, ins, b, x); return; }
      modrm(); finishRipRel(ins, rip); if (!ins.isMem) return;
      ins.cc = b === 0xC4 ? K.SEG_ES : K.SEG_DS; ins.fn = h('load_far_ptr'); if (ins.cc === K.SEG_SS) end(); return;
    }
    case 0xC6: ins.size = 1; modrm(); fix8(); if ((ins.modrm >> 3) & 7) return; ins.imm = byte(); finishRipRel(ins, rip); ins.fn = h('mov_EI'); return;
    case 0xC7: modrm(); if ((ins.modrm >> 3) & 7) return; ins.imm = immZ(size === 8 ? 4 : size); finishRipRel(ins, rip); ins.fn = h('mov_EI'); return;
    case 0xC8: ins.size = stackSize(); ins.imm = imm16(); ins.imm2 = byte(); ins.fn = h('enter'); return;
    case 0xC9: ins.size = stackSize(); ins.fn = h('leave'); return;
    case 0xCA: ins.imm = imm16(); ins.fn = h('retf'); end(); return;
    case 0xCB: ins.imm = 0; ins.fn = h('retf'); end(); return;
    case 0xCC: ins.fn = h('int3'); end(); return;
    case 0xCD: ins.imm = byte(); ins.fn = h('int_n'); end(); return;
    case 0xCE: if (!inval64()) { ins.fn = h('into'); end(); } return;
    case 0xCF: ins.fn = h('iret'); end(); return;
    case 0xD0: ins.size = 1; modrm(); fix8(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = 1; finishRipRel(ins, rip); ins.fn = h('shift_EI'); return;
    case 0xD1: modrm(); ins.cc = (ins.modrm >> 3) & 7; ins.imm = 1; finishRipRel(ins, rip); ins.fn = h('shift_EI'); return;
    case 0xD2: ins.size = 1; modrm(); fix8(); ins.cc = (ins.modrm >> 3) & 7; finishRipRel(ins, rip); ins.fn = h('shift_ECL'); return;
    case 0xD3: modrm(); ins.cc = (ins.modrm >> 3) & 7; finishRipRel(ins, rip); ins.fn = h('shift_ECL'); return;
    case 0xD4: if (!inval64()) { ins.imm = byte(); ins.fn = h('aam'); } return;
    case 0xD5: if (!inval64()) { ins.imm = byte(); ins.fn = h('aad'); } return;
    case 0xD6: if (!inval64()) ins.fn = h('salc'); return;
    case 0xD7: ins.fn = h('xlat'); return;
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: {
      ins.cc = b & 3;
      const rel = imm8s();
      relTarget(ins, rip, rel, bits === 64 ? 8 : size);
      ins.fn = h(b === 0xE3 ? 'jcxz' : 'loop'); end(); return;
    }
    case 0xE4: ins.size = 1; ins.imm = byte(); ins.fn = h('in_I'); end(); return;
    case 0xE5: if (size === 8) ins.size = 4; ins.imm = byte(); ins.fn = h('in_I'); end(); return;
    case 0xE6: ins.size = 1; ins.imm = byte(); ins.fn = h('out_I'); end(); return;
    case 0xE7: if (size === 8) ins.size = 4; ins.imm = byte(); ins.fn = h('out_I'); end(); return;
    case 0xE8: case 0xE9: {
      // near branches in 64-bit mode are always 64-bit on Intel (0x66 is ignored)
      const sz = bits === 64 ? 8 : size;
      ins.size = sz;
      const rel = sz === 2 ? (imm16() << 16) >> 16 : imm32();
      relTarget(ins, rip, rel, sz);
      ins.fn = h(b === 0xE8 ? 'call_rel' : 'jmp_rel'); end(); return;
    }
    case 0xEA: if (inval64()) return; ins.imm = size === 2 ? imm16() : imm32() >>> 0; ins.imm2 = imm16(); ins.fn = h('jmp_far'); end(); return;
    case 0xEB: { ins.size = bits === 64 ? 8 : size; const rel = imm8s(); relTarget(ins, rip, rel, ins.size); ins.fn = h('jmp_rel'); end(); return; }
    case 0xEC: ins.size = 1; ins.fn = h('in_DX'); end(); return;
    case 0xED: if (size === 8) ins.size = 4; ins.fn = h('in_DX'); end(); return;
    case 0xEE: ins.size = 1; ins.fn = h('out_DX'); end(); return;
    case 0xEF: if (size === 8) ins.size = 4; ins.fn = h('out_DX'); end(); return;
    case 0xF1: ins.fn = h('int1'); end(); return;
    case 0xF4: ins.fn = h('hlt'); end(); return;
    case 0xF5: ins.fn = h('cmc'); return;
    case 0xF6: case 0xF7: {
      if (b === 0xF6) ins.size = 1;
      modrm(); if (b === 0xF6) fix8();
      const sub = (ins.modrm >> 3) & 7;
      if (sub < 2) ins.imm = immZ(ins.size === 8 ? 4 : ins.size);
      finishRipRel(ins, rip);
      ins.fn = h(['test_EI', 'test_EI', 'not_E', 'neg_E', 'mul_E', 'imul_E', 'div_E', 'idiv_E'][sub]);
      return;
    }
    case 0xF8: ins.fn = h('clc'); return;
    case 0xF9: ins.fn = h('stc'); return;
    case 0xFA: ins.fn = h('cli'); return;
    case 0xFB: ins.fn = h('sti'); end(); return;
    case 0xFC: ins.fn = h('cld'); return;
    case 0xFD: ins.fn = h('std'); return;
    case 0xFE: {
      ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip);
      const sub = (ins.modrm >> 3) & 7;
      if (sub < 2) ins.fn = h(sub === 0 ? 'inc_E' : 'dec_E');
      return;
    }
    case 0xFF: {
      modrm(); finishRipRel(ins, rip);
      const sub = (ins.modrm >> 3) & 7;
      switch (sub) {
        case 0: ins.fn = h('inc_E'); return;
        case 1: ins.fn = h('dec_E'); return;
        case 2: ins.size = bits === 64 ? 8 : ins.size; ins.fn = h('call_E'); end(); return;
        case 3: if (!ins.isMem) return; ins.fn = h('call_farM'); end(); return;
        case 4: ins.size = bits === 64 ? 8 : ins.size; ins.fn = h('jmp_E'); end(); return;
        case 5: if (!ins.isMem) return; ins.fn = h('jmp_farM'); end(); return;
        case 6: ins.size = stackSize(); ins.fn = h('push_E'); return;
      }
      return;
    }
  }
  // anything else in the one-byte map is #UD (ins.fn stays `ud`)
  void size;
  end();
}

/**
 * `op reg, reg` encoded G,E (03, 0B, ..., 8B) is the same operation as the E,G encoding with the
 * operands swapped: normalise so one handler (and one inline fast path) serves both.
 */
function swapToEG(ins: Instr): void {
  const g = ins.reg;
  ins.reg = ins.rm;
  ins.rm = g;
  if (ins.op === 0x8B) ins.fn = ins.size === 4 ? h('mov32rr') : h('mov_EG');
  else ins.fn = ins.size === 4 ? h('alu32rr_' + ins.cc) : h('alu_EG');
}

/** LOCK is allowed only on read-modify-write instructions with a memory destination (SDM 8.1.2.2). */
function lockable(ins: Instr): boolean {
  if (!ins.isMem) return false;
  const f = ins.fn;
  if (f === h('alu_EG') || f === h('alu_EI')) return ins.cc !== 7;
  if (f === h('bt_EG') || f === h('bt_EI')) return ins.cc !== 0;
  for (const name of ['inc_E', 'dec_E', 'not_E', 'neg_E', 'xchg_EG', 'cmpxchg', 'cmpxchg8b', 'xadd']) if (f === h(name)) return true;
  return false;
}

function lockUd(c: Cpu): void {
  c.raise(K.EXC_UD, -1, 'LOCK prefix on an instruction that cannot be locked');
}

/** Conditional jumps with a specialised handler for the conditions loops use most. */
function jccHandler(cc: number) {
  return cc === 4 || cc === 5 ? h('jcc_' + cc) : h('jcc');
}

/** True when the byte after C4/C5 has ModRM.mod = 3 (VEX rather than LES/LDS outside 64-bit). */
function peekModIs3(): boolean {
  const save = fPos;
  const m = byte();
  fPos = save;
  return (m & 0xC0) === 0xC0;
}

/**
 * VEX-encoded general-purpose instructions (BMI1, BMI2). `imm2` carries VEX.vvvv; `cc` the
 * implied prefix (0 none, 1 66, 2 F3, 3 F2).
 */
function decodeVex(c: Cpu, ins: Instr, b: number, x: Ctx): void {
  let rxb: number, map: number, w: number, vvvv: number, l: number, pp: number;
  if (b === 0xC5) {
    const v = byte();
    rxb = (v & 0x80 ? 0 : 4);
    map = 1; w = 0;
    vvvv = (~v >> 3) & 0xF; l = (v >> 2) & 1; pp = v & 3;
  } else {
    const v1 = byte(), v2 = byte();
    rxb = ((v1 & 0x80 ? 0 : 4) | (v1 & 0x40 ? 0 : 2) | (v1 & 0x20 ? 0 : 1));
    map = v1 & 0x1F; w = (v2 >> 7) & 1;
    vvvv = (~v2 >> 3) & 0xF; l = (v2 >> 2) & 1; pp = v2 & 3;
  }
  if (x.bits !== 64) { rxb &= 0; vvvv &= 7; }
  const op = byte();
  ins.op = 0x400 | (map << 8) | op;
  const rexLike = 0x40 | rxb | (w ? 8 : 0);
  const m = byte();
  ins.modrm = m;
  ins.reg = ((m >> 3) & 7) | (rexLike & 4 ? 8 : 0);
  if ((m >> 6) === 3) { ins.isMem = false; ins.rm = (m & 7) | (rexLike & 1 ? 8 : 0); }
  else { ins.isMem = true; decodeMem(ins, m, rexLike, x.asize, x.seg, x.bits); }
  ins.size = w && x.bits === 64 ? 8 : 4;
  ins.imm2 = vvvv;
  ins.cc = pp;
  finishRipRel(ins, x.rip);
  if (l !== 0) return; // all BMI forms are VEX.L0
  const name = vexName(map, op, pp, (m >> 3) & 7);
  if (name === '') return;
  if (name === 'rorx') { ins.imm = byte(); finishRipRelLate(ins); }
  ins.fn = h(name);
  void c;
}

/** RORX carries an imm8 after the ModRM; RIP-relative targets must account for it. */
function finishRipRelLate(ins: Instr): void {
  if (ins.isMem && ins.base === -1 && ins.index === -1 && fBits === 64) ins.disp += 1;
}

function vexName(map: number, op: number, pp: number, regField: number): string {
  if (map === 2) {
    switch (op) {
      case 0xF2: return pp === 0 ? 'andn' : '';
      case 0xF3: return pp === 0 ? ['', 'blsr', 'blsmsk', 'blsi', '', '', '', ''][regField] : '';
      case 0xF5: return pp === 0 ? 'bzhi' : pp === 2 ? 'pext' : pp === 3 ? 'pdep' : '';
      case 0xF6: return pp === 3 ? 'mulx' : '';
      case 0xF7: return pp === 0 ? 'bextr' : pp === 1 ? 'shlx' : pp === 2 ? 'sarx' : 'shrx';
    }
  }
  if (map === 3 && op === 0xF0 && pp === 3) return 'rorx';
  return '';
}

function decodeSecondary(c: Cpu, ins: Instr, b: number, x: Ctx): void {
  const { modrm, fix8, stackSize, end, bits, rip, rep, op66 } = x;
  const size = ins.size;
  if (b >= 0x40 && b <= 0x4F) { ins.cc = b & 0xF; modrm(); finishRipRel(ins, rip); ins.fn = h('cmovcc'); return; }
  if (b >= 0x80 && b <= 0x8F) {
    ins.cc = b & 0xF;
    const sz = bits === 64 ? 8 : size;
    ins.size = sz;
    const rel = sz === 2 ? (imm16() << 16) >> 16 : imm32();
    relTarget(ins, rip, rel, sz);
    ins.fn = jccHandler(ins.cc); end(); return;
  }
  if (b >= 0x90 && b <= 0x9F) { ins.cc = b & 0xF; ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('setcc'); return; }
  if (b >= 0xC8 && b <= 0xCF) { ins.reg = (b & 7) | (x.rex & 1 ? 8 : 0); ins.fn = h('bswap'); return; }
  if (b >= 0x18 && b <= 0x1F) { modrm(); finishRipRel(ins, rip); ins.fn = h('nop'); return; }
  switch (b) {
    case 0x00: {
      modrm(); finishRipRel(ins, rip);
      const sub = (ins.modrm >> 3) & 7;
      const names = ['sldt', 'str', 'lldt', 'ltr', 'verr', 'verw', '', ''];
      if (names[sub]) { ins.fn = h(names[sub]); if (sub === 2 || sub === 3) end(); }
      return;
    }
    case 0x01: {
      const m = modrm();
      const sub = (m >> 3) & 7;
      if ((m >> 6) === 3) {
        const names: Record<number, string> = {
          0xC1: 'vmcall', 0xC2: 'vmlaunch', 0xC3: 'vmresume', 0xC4: 'vmxoff', 0xC8: 'monitor', 0xC9: 'mwait',
          0xCA: 'clac', 0xCB: 'stac', 0xD0: 'xgetbv', 0xD1: 'xsetbv', 0xD4: 'vmfunc', 0xF8: 'swapgs', 0xF9: 'rdtscp',
        };
        if (sub === 4) { ins.fn = h('smsw'); return; }
        if (sub === 6) { ins.fn = h('lmsw'); end(); return; }
        const n = names[m];
        // XGETBV/XSETBV are NP: a 66, F2 or F3 prefix makes them #UD
        if ((m === 0xD0 || m === 0xD1) && (op66 || rep)) { end(); return; }
        if (n) { ins.fn = h(n); end(); }
        return;
      }
      finishRipRel(ins, rip);
      ins.fn = h(['sgdt', 'sidt', 'lgdt', 'lidt', 'smsw', '', 'lmsw', 'invlpg'][sub] || 'ud');
      if (sub === 2 || sub === 3 || sub >= 6) end();
      return;
    }
    case 0x02: modrm(); finishRipRel(ins, rip); ins.fn = h('lar'); return;
    case 0x03: modrm(); finishRipRel(ins, rip); ins.fn = h('lsl'); return;
    case 0x05: ins.fn = h('syscall'); end(); return;
    case 0x06: ins.fn = h('clts'); end(); return;
    case 0x07: ins.fn = h('sysret'); end(); return;
    case 0x08: ins.fn = h('invd'); end(); return;
    case 0x09: ins.fn = h('wbinvd'); end(); return;
    case 0x0B: ins.fn = h('ud2'); end(); return;
    case 0x0D: modrm(); finishRipRel(ins, rip); if (ins.isMem) ins.fn = h('nop'); return;
    case 0x20: case 0x21: case 0x22: case 0x23: {
      // MOV to/from CRn/DRn: the mod field is ignored, operands are always registers
      const m = byte();
      ins.modrm = m;
      ins.reg = ((m >> 3) & 7) | (x.rex & 4 ? 8 : 0);
      ins.rm = (m & 7) | (x.rex & 1 ? 8 : 0);
      ins.isMem = false;
      ins.size = bits === 64 ? 8 : 4;
      ins.fn = h(['mov_RC', 'mov_RD', 'mov_CR', 'mov_DR'][b - 0x20]);
      if (b >= 0x22) end();
      return;
    }
    case 0x30: ins.fn = h('wrmsr'); end(); return;
    case 0x31: ins.fn = h('rdtsc'); return;
    case 0x32: ins.fn = h('rdmsr'); return;
    case 0x33: ins.fn = h('rdpmc'); return;
    case 0x34: ins.fn = h('sysenter'); end(); return;
    case 0x35: ins.fn = h('sysexit'); end(); return;
    case 0x38: {
      const b3 = byte();
      ins.op = 0x200 | b3;
      if ((b3 === 0xF0 || b3 === 0xF1) && rep !== 0xF2) {
        modrm(); finishRipRel(ins, rip);
        if (!ins.isMem) return;
        ins.fn = h(b3 === 0xF0 ? 'movbe_GM' : 'movbe_MG'); return;
      }
      if (op66 && (b3 === 0x80 || b3 === 0x81 || b3 === 0x82)) {
        modrm(); finishRipRel(ins, rip);
        if (!ins.isMem) return;
        ins.fn = h(['invept', 'invvpid', 'invpcid'][b3 - 0x80]); end(); return;
      }
      return;
    }
    case 0x78: case 0x79:
      if (op66 || rep) return;
      ins.size = bits === 64 ? 8 : 4;
      modrm(); finishRipRel(ins, rip); ins.fn = h(b === 0x78 ? 'vmread' : 'vmwrite'); end(); return;
    case 0xA0: ins.cc = K.SEG_FS; ins.size = stackSize(); ins.fn = h('push_S'); return;
    case 0xA1: ins.cc = K.SEG_FS; ins.size = stackSize(); ins.fn = h('pop_S'); return;
    case 0xA8: ins.cc = K.SEG_GS; ins.size = stackSize(); ins.fn = h('push_S'); return;
    case 0xA9: ins.cc = K.SEG_GS; ins.size = stackSize(); ins.fn = h('pop_S'); return;
    case 0xA2: ins.fn = h('cpuid'); end(); return;
    case 0xA3: case 0xAB: case 0xB3: case 0xBB:
      modrm(); finishRipRel(ins, rip); ins.cc = (b >> 3) & 3; ins.fn = h('bt_EG'); return;
    case 0xA4: case 0xAC: modrm(); ins.imm = byte(); finishRipRel(ins, rip); ins.fn = h(b === 0xA4 ? 'shld_I' : 'shrd_I'); return;
    case 0xA5: case 0xAD: modrm(); finishRipRel(ins, rip); ins.fn = h(b === 0xA5 ? 'shld_CL' : 'shrd_CL'); return;
    case 0xAA: ins.fn = h('rsm'); end(); return;
    case 0xAE: {
      const m = modrm();
      const sub = (m >> 3) & 7;
      if ((m >> 6) === 3) {
        if (rep === 0xF3 && sub < 4 && bits === 64) { ins.cc = sub; ins.fn = h('fsgsbase'); return; }
        // LFENCE/MFENCE/SFENCE belong to SSE/SSE2, which CPUID does not report: #UD like the rest
        return;
      }
      finishRipRel(ins, rip);
      if (sub === 7 && rep === 0 && !op66) { ins.size = 1; ins.fn = h('clflush'); }
      // XSAVE / XRSTOR (NP 0F AE /4, /5; REX.W gives the 64 forms); XSAVEOPT (/6) is not reported
      if ((sub === 4 || sub === 5) && rep === 0 && !op66) ins.fn = h(sub === 4 ? 'xsave' : 'xrstor');
      return;
    }
    case 0xAF: modrm(); finishRipRel(ins, rip); ins.fn = h('imul_GE'); return;
    case 0xB0: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('cmpxchg'); return;
    case 0xB1: modrm(); finishRipRel(ins, rip); ins.fn = h('cmpxchg'); return;
    case 0xB2: case 0xB4: case 0xB5:
      modrm(); finishRipRel(ins, rip); if (!ins.isMem) return;
      ins.cc = b === 0xB2 ? K.SEG_SS : b === 0xB4 ? K.SEG_FS : K.SEG_GS;
      ins.fn = h('load_far_ptr'); if (b === 0xB2) end(); return;
    case 0xB6: case 0xB7: case 0xBE: case 0xBF: {
      modrm();
      if (!(b & 1)) fix8ForSource(ins, x.rex);
      finishRipRel(ins, rip);
      ins.fn = h(b === 0xB6 ? 'movzx_b' : b === 0xB7 ? 'movzx_w' : b === 0xBE ? 'movsx_b' : 'movsx_w');
      return;
    }
    case 0xB8: if (rep !== 0xF3) return; modrm(); finishRipRel(ins, rip); ins.fn = h('popcnt'); return;
    case 0xB9: modrm(); finishRipRel(ins, rip); ins.fn = h('ud1'); end(); return;
    case 0xBA: {
      modrm(); ins.imm = byte(); finishRipRel(ins, rip);
      const sub = (ins.modrm >> 3) & 7;
      if (sub < 4) return;
      ins.cc = sub - 4; ins.fn = h('bt_EI'); return;
    }
    case 0xBC: modrm(); finishRipRel(ins, rip); ins.fn = h(rep === 0xF3 ? 'tzcnt' : 'bsf'); return;
    case 0xBD: modrm(); finishRipRel(ins, rip); ins.fn = h(rep === 0xF3 ? 'lzcnt' : 'bsr'); return;
    case 0xC0: ins.size = 1; modrm(); fix8(); finishRipRel(ins, rip); ins.fn = h('xadd'); return;
    case 0xC1: modrm(); finishRipRel(ins, rip); ins.fn = h('xadd'); return;
    case 0xC7: {
      const m = modrm(); finishRipRel(ins, rip);
      const sub = (m >> 3) & 7;
      if ((m >> 6) === 3) return; // RDRAND/RDSEED are not reported by CPUID
      if (sub === 1) { ins.fn = h('cmpxchg8b'); return; }
      if (sub === 6) { ins.fn = h(rep === 0xF3 ? 'vmxon' : op66 ? 'vmclear' : 'vmptrld'); end(); return; }
      if (sub === 7 && !op66 && !rep) { ins.fn = h('vmptrst'); end(); return; }
      return;
    }
    case 0xFF: modrm(); finishRipRel(ins, rip); ins.fn = h('ud0'); end(); return;
  }
  // SSE, x87-adjacent and reserved two-byte opcodes: #UD on this CPU model
  void fix8; void c;
  end();
}

/** MOVZX/MOVSX with a byte source: the source uses 8-bit register numbering, the dest does not. */
function fix8ForSource(ins: Instr, rex: number): void {
  if (rex === 0 && !ins.isMem && ins.rm >= 4 && ins.rm < 8) ins.rm += 12;
}
