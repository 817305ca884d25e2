import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import { EVT_ICEBP, EVT_SOFT, EVT_SOFTEXC } from '../interrupts';
import { def } from './registry';
import { readE, readE64 } from './operands';
import { interceptHlt } from '../vmx/intercept';

/** Near control transfers, software interrupts and HLT. */

const CANON = 0x800000000000;
const TWO32 = 0x100000000;

/** Sets RIP to a branch target after the architectural checks (canonical form, CS limit). */
export function jumpTo(c: Cpu, t: number): void {
  if (c.mode64) {
    if (t < -CANON || t >= CANON) c.raise(K.EXC_GP, 0, `branch to non-canonical address 0x${t.toString(16)}`);
  } else if (t > c.segLimit[K.SEG_CS]) {
    c.raise(K.EXC_GP, 0, `branch target 0x${t.toString(16)} beyond the CS limit`);
  }
  c.rip = t;
}

function jcc(c: Cpu, i: Instr): void {
  if (c.cond(i.cc)) jumpTo(c, i.target);
}

/** JZ/JNZ close most loops: test the lazy result directly instead of going through cond(). */
function jz(c: Cpu, i: Instr): void {
  if (c.zeroResult()) jumpTo(c, i.target);
}

function jnz(c: Cpu, i: Instr): void {
  if (!c.zeroResult()) jumpTo(c, i.target);
}

function jmpRel(c: Cpu, i: Instr): void {
  jumpTo(c, i.target);
}

function callRel(c: Cpu, i: Instr): void {
  const t = i.target;
  // the target is checked before the return address is pushed
  if (c.mode64 ? t < -CANON || t >= CANON : t > c.segLimit[K.SEG_CS]) jumpTo(c, t);
  pushIp(c, i.size, i.next);
  c.rip = t;
}

function pushIp(c: Cpu, size: number, ip: number): void {
  if (size === 8) c.push(8, ip | 0, Math.floor(ip / TWO32) | 0);
  else c.push(size, size === 2 ? ip & 0xFFFF : ip);
}

function retNear(c: Cpu, i: Instr): void {
  const size = i.size;
  const saveLo = c.r[4], saveHi = c.rh[4];
  let t: number;
  if (size === 8) { const lo = c.pop(8); t = c.hi * TWO32 + (lo >>> 0); }
  else t = size === 2 ? c.pop(2) : c.pop(4) >>> 0;
  // a bad target faults with the stack pointer as it was before the RET
  if (c.mode64 ? t < -CANON || t >= CANON : t > c.segLimit[K.SEG_CS]) {
    c.r[4] = saveLo;
    c.rh[4] = saveHi;
    jumpTo(c, t);
  }
  c.rip = t;
  if (i.imm) {
    const ss = c.stackSize();
    if (ss === 8) c.setAddrReg(4, 8, c.rsp64 + i.imm);
    else if (ss === 4) c.r[4] = ((c.r[4] >>> 0) + i.imm) | 0;
    else c.r[4] = (c.r[4] & ~0xFFFF) | ((c.r[4] + i.imm) & 0xFFFF);
  }
}

function targetE(c: Cpu, i: Instr): number {
  if (i.size === 8) { const lo = readE64(c, i); return c.hi * TWO32 + (lo >>> 0); }
  const v = readE(c, i);
  return i.size === 2 ? v : v >>> 0;
}

function jmpE(c: Cpu, i: Instr): void {
  jumpTo(c, targetE(c, i));
}

function callE(c: Cpu, i: Instr): void {
  const t = targetE(c, i);
  if (c.mode64 ? t < -CANON || t >= CANON : t > c.segLimit[K.SEG_CS]) jumpTo(c, t);
  pushIp(c, i.size, i.next);
  c.rip = t;
}

/** LOOP/LOOPE/LOOPNE: count register by address size; cc 0 = LOOPNE, 1 = LOOPE, 2 = LOOP. */
function loop(c: Cpu, i: Instr): void {
  const as = i.asize;
  let taken: boolean;
  if (as === 8) {
    const v = c.reg64(1) - 1;
    c.setAddrReg(1, 8, v);
    taken = c.r[1] !== 0 || c.rh[1] !== 0;
  } else if (as === 4) {
    c.r[1] = (c.r[1] - 1) | 0;
    c.rh[1] = 0;
    taken = c.r[1] !== 0;
  } else {
    const v = (c.r[1] - 1) & 0xFFFF;
    c.r[1] = (c.r[1] & ~0xFFFF) | v;
    taken = v !== 0;
  }
  if (i.cc === 0) taken = taken && !c.getZF();
  else if (i.cc === 1) taken = taken && c.getZF() !== 0;
  if (taken) jumpTo(c, i.target);
}

function jcxz(c: Cpu, i: Instr): void {
  const as = i.asize;
  const zero = as === 8 ? (c.r[1] | c.rh[1]) === 0 : as === 4 ? c.r[1] === 0 : (c.r[1] & 0xFFFF) === 0;
  if (zero) jumpTo(c, i.target);
}

/** INT n; in virtual-8086 mode with IOPL < 3 it faults (#GP(0)) unless VME redirects it. */
function intN(c: Cpu, i: Instr): void {
  if (c.v86 && ((c.flags >> 12) & 3) < 3) c.raise(K.EXC_GP, 0, 'INT n in virtual-8086 mode with IOPL < 3');
  c.rip = i.next;
  c.deliver(i.imm, -1, EVT_SOFT, i.next);
}

function int3(c: Cpu, i: Instr): void {
  c.rip = i.next;
  c.deliver(K.EXC_BP, -1, EVT_SOFTEXC, i.next);
}

function into(c: Cpu, i: Instr): void {
  if (!c.getOF()) return;
  c.rip = i.next;
  c.deliver(K.EXC_OF, -1, EVT_SOFTEXC, i.next);
}

function int1(c: Cpu, i: Instr): void {
  c.rip = i.next;
  c.deliver(K.EXC_DB, -1, EVT_ICEBP, i.next);
}

/** BOUND: #BR when the signed index is outside [lower, upper]. */
function bound(c: Cpu, i: Instr): void {
  const ea = c.ea(i);
  const size = i.size;
  const idx = size === 2 ? (c.r[i.reg] << 16) >> 16 : c.r[i.reg];
  const lo = size === 2 ? (c.rd16(i.seg, ea) << 16) >> 16 : c.rd32(i.seg, ea);
  const hiOff = i.asize === 4 ? (ea + size) >>> 0 : (ea + size) & 0xFFFF;
  const hi = size === 2 ? (c.rd16(i.seg, hiOff) << 16) >> 16 : c.rd32(i.seg, hiOff);
  if (idx < lo || idx > hi) c.raise(K.EXC_BR, -1, `BOUND: index ${idx} outside [${lo}, ${hi}]`);
}

/** HLT: privileged; the CPU waits for an interrupt with RIP after the instruction. */
function hlt(c: Cpu, i: Instr): void {
  if (c.protectedMode && c.cpl !== 0) c.raise(K.EXC_GP, 0, 'HLT at CPL > 0');
  if (c.nonRoot) interceptHlt(c, i);
  c.rip = i.next;
  c.halted = true;
}

def('jcc', jcc);
def('jcc_4', jz);
def('jcc_5', jnz);
def('jmp_rel', jmpRel);
def('call_rel', callRel);
def('ret_near', retNear);
def('jmp_E', jmpE);
def('call_E', callE);
def('loop', loop);
def('jcxz', jcxz);
def('int_n', intN);
def('int3', int3);
def('into', into);
def('int1', int1);
def('bound', bound);
def('hlt', hlt);
