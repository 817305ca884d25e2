import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { checkCodeDescriptor, checkReturnSs, commitCs, commitReturnSs, desc, descAr, descLimit, nullLowerPrivSegs, readDescriptor } from '../segmentation';
import { taskSwitch, TASK_CALL, TASK_IRET, TASK_JMP } from '../tasks';
import { callGate } from './gates';
import { def } from './registry';

/** Far control transfers: JMP/CALL ptr16:xx and m16:xx, RETF, IRET in every mode. */

const TWO32 = 0x100000000;
const CANON = 0x800000000000;

/** Real and virtual-8086 mode: CS = sel, base = sel * 16. */
function realFar(c: Cpu, sel: number, off: number): void {
  if (off > c.segLimit[K.SEG_CS]) c.raise(K.EXC_GP, 0, `far transfer offset 0x${off.toString(16)} beyond the CS limit`);
  c.segSel[K.SEG_CS] = sel;
  c.segBase[K.SEG_CS] = sel * 16;
  c.refreshSeg(K.SEG_CS);
  c.rip = off;
  c.updateMode();
}

/**
 * Protected-mode far JMP/CALL (SDM JMP/CALL "protected mode"): a code segment directly, or a call
 * gate, task gate or TSS. `call` pushes the return address after the checks.
 */
export function farTransfer(c: Cpu, sel: number, off: number, osz: number, call: boolean, retIp: number, insRip = -1): void {
  if (!c.protectedMode || c.v86) {
    const o = osz === 2 ? off & 0xFFFF : off >>> 0;
    if (call) {
      c.push(osz, c.segSel[K.SEG_CS]);
      c.push(osz, retIp);
    }
    realFar(c, sel, o);
    return;
  }
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'far transfer to a null selector');
  readDescriptor(c, sel);
  const ar = descAr(desc.hi);
  if (!(ar & K.AR_S)) {
    const type = ar & 0xF;
    if (type === 0xC || (type === 0x4 && !(c.efer & K.EFER_LMA))) {
      callGate(c, sel, call, retIp, osz);
      return;
    }
    if (c.efer & K.EFER_LMA) c.raise(K.EXC_GP, sel & 0xFFFC, `far transfer to system descriptor type ${type} in IA-32e mode`);
    if (type === 0x5 || type === 0x1 || type === 0x9) {
      taskSwitch(c, sel, call ? TASK_CALL : TASK_JMP, retIp, -1, insRip);
      return;
    }
    c.raise(K.EXC_GP, sel & 0xFFFC, `far transfer to system descriptor type ${type}`);
  }
  const dpl = checkCodeDescriptor(c, sel, call ? 'CALL far' : 'JMP far');
  const conforming = (ar & 4) !== 0;
  const rpl = sel & 3;
  if (conforming) {
    if (dpl > c.cpl) c.raise(K.EXC_GP, sel & 0xFFFC, `conforming code DPL ${dpl} above CPL ${c.cpl}`);
  } else if (rpl > c.cpl || dpl !== c.cpl) {
    c.raise(K.EXC_GP, sel & 0xFFFC, `non-conforming code: RPL ${rpl}, DPL ${dpl}, CPL ${c.cpl}`);
  }
  const lim = descLimit(desc.lo, desc.hi);
  const long = (c.efer & K.EFER_LMA) !== 0 && (ar & K.AR_L) !== 0;
  const o = osz === 2 ? off & 0xFFFF : osz === 4 ? off >>> 0 : off;
  if (!long && o > lim) c.raise(K.EXC_GP, 0, `far transfer offset 0x${o.toString(16)} beyond the new CS limit`);
  if (long && (o < -CANON || o >= CANON)) c.raise(K.EXC_GP, 0, 'far transfer to a non-canonical offset');
  if (call) {
    if (osz === 8) {
      c.push(8, c.segSel[K.SEG_CS], 0);
      c.push(8, retIp | 0, Math.floor(retIp / TWO32) | 0);
    } else {
      c.push(osz, c.segSel[K.SEG_CS]);
      c.push(osz, retIp);
    }
  }
  commitCs(c, sel, c.cpl);
  c.rip = o;
  c.updateMode();
}

function jmpFar(c: Cpu, i: Instr): void {
  farTransfer(c, i.imm2, i.imm, i.size, false, i.next, i.rip);
}

function callFar(c: Cpu, i: Instr): void {
  farTransfer(c, i.imm2, i.imm, i.size, true, i.next, i.rip);
}

/** Far pointer in memory: offset (2, 4 or 8 bytes by operand size) then selector. */
function readFarPtr(c: Cpu, i: Instr): { sel: number; off: number } {
  const ea = c.ea(i);
  const osz = i.size;
  let off: number;
  if (osz === 8) { const lo = c.rd64(i.seg, ea); off = c.hi * TWO32 + (lo >>> 0); }
  else off = osz === 4 ? c.rd32(i.seg, ea) >>> 0 : c.rd16(i.seg, ea);
  const selOff = i.asize === 8 ? ea + osz : i.asize === 4 ? (ea + osz) >>> 0 : (ea + osz) & 0xFFFF;
  return { sel: c.rd16(i.seg, selOff), off };
}

function jmpFarM(c: Cpu, i: Instr): void {
  const p = readFarPtr(c, i);
  farTransfer(c, p.sel, p.off, i.size, false, i.next, i.rip);
}

function callFarM(c: Cpu, i: Instr): void {
  const p = readFarPtr(c, i);
  farTransfer(c, p.sel, p.off, i.size, true, i.next, i.rip);
}

function peekN(c: Cpu, osz: number, k: number): number {
  if (osz === 8) { const lo = c.peek(8, k * 8); return c.hi * TWO32 + (lo >>> 0); }
  const v = c.peek(osz, k * osz);
  return osz === 4 ? v >>> 0 : v;
}

function addSp(c: Cpu, n: number): void {
  const ss = c.stackSize();
  if (ss === 8) c.setAddrReg(4, 8, c.rsp64 + n);
  else if (ss === 4) c.r[4] = ((c.r[4] >>> 0) + n) | 0;
  else c.r[4] = (c.r[4] & ~0xFFFF) | ((c.r[4] + n) & 0xFFFF);
}

/** RETF [imm16] (SDM RET "far return"): same or outer privilege. */
function retf(c: Cpu, i: Instr): void {
  const osz = i.size;
  if (!c.protectedMode || c.v86) {
    const ip = peekN(c, osz, 0);
    const cs = peekN(c, osz, 1) & 0xFFFF;
    realFar(c, cs, osz === 2 ? ip & 0xFFFF : ip);
    addSp(c, 2 * osz + i.imm);
    return;
  }
  const off = peekN(c, osz, 0);
  const sel = peekN(c, osz, 1) & 0xFFFF;
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'RETF to a null selector');
  readDescriptor(c, sel);
  const ar = descAr(desc.hi);
  const rpl = sel & 3;
  if (rpl < c.cpl) c.raise(K.EXC_GP, sel & 0xFFFC, `RETF: return RPL ${rpl} below CPL ${c.cpl}`);
  const dpl = checkCodeDescriptor(c, sel, 'RETF');
  if (ar & 4 ? dpl > rpl : dpl !== rpl) c.raise(K.EXC_GP, sel & 0xFFFC, `RETF: code DPL ${dpl} does not match RPL ${rpl}`);
  const long = (c.efer & K.EFER_LMA) !== 0 && (ar & K.AR_L) !== 0;
  const lim = descLimit(desc.lo, desc.hi);
  if (!long && off > lim) c.raise(K.EXC_GP, 0, 'RETF offset beyond the CS limit');
  if (long && (off < -CANON || off >= CANON)) c.raise(K.EXC_GP, 0, 'RETF to a non-canonical offset');
  if (rpl === c.cpl) {
    commitCs(c, sel, c.cpl);
    c.rip = off;
    addSp(c, 2 * osz + i.imm);
    c.updateMode();
    return;
  }
  // return to an outer privilege level: SS:ESP follow CS:EIP (and the parameters) on the stack
  const codeLo = desc.lo, codeHi = desc.hi, codeAddr = desc.addr;
  const sp = peekN(c, osz, 2 + i.imm / osz);
  const ss = peekN(c, osz, 3 + i.imm / osz) & 0xFFFF;
  // SS is checked before anything changes, loaded after CS
  checkReturnSs(c, ss, rpl, long);
  desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
  commitCs(c, sel, rpl);
  commitReturnSs(c);
  if (osz === 8 || long) c.setAddrReg(4, 8, sp + i.imm);
  else if (c.segAr[K.SEG_SS] & K.AR_DB) { c.r[4] = (sp + i.imm) | 0; c.rh[4] = 0; }
  else c.r[4] = (c.r[4] & ~0xFFFF) | ((sp + i.imm) & 0xFFFF);
  c.rip = off;
  nullLowerPrivSegs(c);
  c.updateMode();
}

/**
 * IRET/IRETD/IRETQ (SDM IRET): real mode, virtual-8086, protected mode, nested task, IA-32e.
 * RF from the image would only suppress instruction breakpoints on the next instruction and is then
 * cleared when that instruction completes; the core has no instruction breakpoints and never clears
 * RF per instruction, so IRET leaves it clear (otherwise RF=1 from a fault frame would stick and show
 * up in later frames, R11 after SYSCALL and saved task state).
 */
function iret(c: Cpu, i: Instr): void {
  const osz = i.size;
  // IRET unblocks NMIs even when it faults (SDM 6.7.1); a pending NMI is then taken at the boundary
  c.nmiBlocked = false;
  if (!c.protectedMode) {
    const ip = peekN(c, osz, 0);
    const cs = peekN(c, osz, 1) & 0xFFFF;
    const fl = peekN(c, osz, 2);
    realFar(c, cs, osz === 2 ? ip & 0xFFFF : ip);
    addSp(c, 3 * osz);
    const m = osz === 2 ? 0xFFFF & ~0 : F.IMPLEMENTED & ~(F.VM | F.VIF | F.VIP);
    c.setFlags(fl & ~F.RF, m | (osz === 4 ? F.RF : 0));
    return;
  }
  if (c.v86) {
    if (((c.flags >> 12) & 3) < 3) c.raise(K.EXC_GP, 0, 'IRET in virtual-8086 mode with IOPL < 3');
    const ip = peekN(c, osz, 0);
    const cs = peekN(c, osz, 1) & 0xFFFF;
    const fl = peekN(c, osz, 2);
    realFar(c, cs, osz === 2 ? ip & 0xFFFF : ip);
    addSp(c, 3 * osz);
    // IOPL and VM are not changed from virtual-8086 mode
    c.setFlags(fl & ~F.RF, (osz === 2 ? 0xFFFF : F.IMPLEMENTED & ~(F.VIF | F.VIP)) & ~(F.IOPL | F.VM));
    return;
  }
  if (c.flags & F.NT) {
    if (c.efer & K.EFER_LMA) c.raise(K.EXC_GP, 0, 'IRET with NT=1 in IA-32e mode');
    const back = c.rdSys16(c.segBase[K.SEG_TR] >>> 0);
    taskSwitch(c, back, TASK_IRET, i.next, -1, i.rip);
    return;
  }
  const ip = peekN(c, osz, 0);
  const sel = peekN(c, osz, 1) & 0xFFFF;
  const fl = peekN(c, osz, 2);
  if (fl & F.VM && c.cpl === 0 && osz === 4 && !(c.efer & K.EFER_LMA)) {
    iretToV86(c, ip, sel, fl);
    return;
  }
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'IRET to a null selector');
  readDescriptor(c, sel);
  const ar = descAr(desc.hi);
  const rpl = sel & 3;
  if (rpl < c.cpl) c.raise(K.EXC_GP, sel & 0xFFFC, `IRET: return RPL ${rpl} below CPL ${c.cpl}`);
  const dpl = checkCodeDescriptor(c, sel, 'IRET');
  if (ar & 4 ? dpl > rpl : dpl !== rpl) c.raise(K.EXC_GP, sel & 0xFFFC, `IRET: code DPL ${dpl} does not match RPL ${rpl}`);
  const long = (c.efer & K.EFER_LMA) !== 0 && (ar & K.AR_L) !== 0;
  if (!long && ip > descLimit(desc.lo, desc.hi)) c.raise(K.EXC_GP, 0, 'IRET offset beyond the CS limit');
  if (long && (ip < -CANON || ip >= CANON)) c.raise(K.EXC_GP, 0, 'IRET to a non-canonical offset');
  const codeLo = desc.lo, codeHi = desc.hi, codeAddr = desc.addr;
  const oldCpl = c.cpl;
  // IA-32e mode always pops SS:RSP; otherwise only on a privilege change
  const popStack = (c.efer & K.EFER_LMA) !== 0 && c.mode64 || rpl > oldCpl;
  let sp = 0, ss = 0;
  if (popStack) {
    sp = peekN(c, osz, 3);
    ss = peekN(c, osz, 4) & 0xFFFF;
    // SS is checked before anything changes, loaded after CS
    checkReturnSs(c, ss, rpl, long);
  }
  // flags: which bits IRET may change depends on the old CPL and IOPL
  let m = F.ARITH | F.TF | F.DF | F.NT | F.RF | F.AC | F.ID;
  const iopl = (c.flags >> 12) & 3;
  if (oldCpl <= iopl) m |= F.IF;
  if (oldCpl === 0) m |= F.IOPL | F.VIF | F.VIP;
  if (osz === 2) m &= 0xFFFF;
  desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
  commitCs(c, sel, rpl);
  c.rip = ip;
  if (popStack) {
    commitReturnSs(c);
    if (long || osz === 8) c.setAddrReg(4, 8, sp);
    else if (c.segAr[K.SEG_SS] & K.AR_DB) { c.r[4] = sp | 0; c.rh[4] = 0; }
    else c.r[4] = (c.r[4] & ~0xFFFF) | (sp & 0xFFFF);
  } else {
    addSp(c, 3 * osz);
  }
  c.setFlags(fl & ~F.RF, m);
  if (rpl > oldCpl) nullLowerPrivSegs(c);
  c.updateMode();
}

/** IRETD from ring 0 with VM=1 in the image: returns to virtual-8086 mode (SDM IRET). */
function iretToV86(c: Cpu, ip: number, cs: number, fl: number): void {
  if (ip > 0xFFFF) c.raise(K.EXC_GP, 0, `IRET to virtual-8086 mode with EIP 0x${ip.toString(16)} beyond 0xFFFF`);
  const esp = peekN(c, 4, 3);
  const ss = peekN(c, 4, 4) & 0xFFFF;
  const es = peekN(c, 4, 5) & 0xFFFF;
  const ds = peekN(c, 4, 6) & 0xFFFF;
  const fs = peekN(c, 4, 7) & 0xFFFF;
  const gs = peekN(c, 4, 8) & 0xFFFF;
  c.setFlags(fl & ~F.RF, F.IMPLEMENTED);
  const v86Ar = K.AR_P | K.AR_S | 3 | (3 << K.AR_DPL_SHIFT);
  const segs: [number, number][] = [[K.SEG_ES, es], [K.SEG_CS, cs], [K.SEG_SS, ss], [K.SEG_DS, ds], [K.SEG_FS, fs], [K.SEG_GS, gs]];
  for (const [s, v] of segs) c.loadSegRaw(s, v, v * 16, 0xFFFF, s === K.SEG_CS ? v86Ar | 8 : v86Ar);
  c.r[4] = esp | 0;
  c.rh[4] = 0;
  c.rip = ip;
  c.updateMode();
}

def('jmp_far', jmpFar);
def('call_far', callFar);
def('jmp_farM', jmpFarM);
def('call_farM', callFarM);
def('retf', retf);
def('iret', iret);
