import type { Cpu } from './cpu';
import * as K from './constants';
import * as F from './flags';
import { checkCodeDescriptor, commitCs, desc, descAr, descBase, descLimit, descriptorAddress, segmentFits, setAccessed, setCpl } from './segmentation';
import { FAULT } from './cpu';
import { deliverPendingFault, taskSwitch, TASK_INT, TASK_INT_SOFT } from './tasks';

/**
 * Event delivery (SDM 6.12, 6.14, 20.1.4): exceptions, external interrupts, NMI and software
 * interrupts through the real-mode IVT, the protected-mode IDT or the IA-32e IDT.
 */

/** Hardware exception (fault or trap raised by the CPU). */
export const EVT_HW = 0;
/** External interrupt from the interrupt controller. */
export const EVT_EXT = 1;
export const EVT_NMI = 2;
/** INT n. */
export const EVT_SOFT = 3;
/** INT3 and INTO: software exceptions (gate DPL checked, no error code). */
export const EVT_SOFTEXC = 4;
/** INT1 (ICEBP): privileged software exception, no DPL check. */
export const EVT_ICEBP = 5;

const TWO32 = 0x100000000;
const CANON = 0x800000000000; // 2^47

/**
 * Optional interposer: VMX non-root operation decides here whether an event causes a VM exit
 * instead of being delivered through the guest IDT. Returns true when it consumed the event.
 */
export let eventInterceptor: ((c: Cpu, vec: number, err: number, kind: number, nextRip: number) => boolean) | null = null;
export function setEventInterceptor(f: typeof eventInterceptor): void {
  eventInterceptor = f;
}

export function deliverEvent(c: Cpu, vec: number, err: number, kind: number, nextRip: number): void {
  if (c.nonRoot && eventInterceptor !== null && eventInterceptor(c, vec, err, kind, nextRip)) return;
  if (kind === EVT_EXT || kind === EVT_NMI) {
    // delivered between blocks, outside the run loop's fault handling: a fault while delivering
    // the interrupt (bad IDT entry, stack) is delivered here, the interrupt being benign
    try {
      deliverMode(c, vec, err, kind, nextRip);
    } catch (e) {
      if (e !== FAULT) throw e;
      deliverPendingFault(c, -1);
    }
    return;
  }
  deliverMode(c, vec, err, kind, nextRip);
}

function deliverMode(c: Cpu, vec: number, err: number, kind: number, nextRip: number): void {
  // the return address: faults restart the instruction, traps and software interrupts continue after it
  const ret = nextRip;
  if (!c.protectedMode) return deliverReal(c, vec, ret);
  if (c.efer & K.EFER_LMA) return deliverLong(c, vec, err, kind, ret);
  return deliverProtected(c, vec, err, kind, ret);
}

function deliverReal(c: Cpu, vec: number, ret: number): void {
  if (vec * 4 + 3 > c.idtrLimit) c.raise(K.EXC_GP, 0, `real-mode interrupt ${vec} beyond the IVT limit`);
  const entry = (c.idtrBase + vec * 4) >>> 0;
  const ip = c.rdSys16(entry);
  const cs = c.rdSys16((entry + 2) >>> 0);
  const flags = c.getFlags();
  // a fault on the second or third push must leave SP as it was
  const spLo = c.r[4], spHi = c.rh[4];
  try {
    c.push(2, flags & 0xFFFF);
    c.push(2, c.segSel[K.SEG_CS]);
    c.push(2, ret & 0xFFFF);
  } catch (e) {
    c.r[4] = spLo;
    c.rh[4] = spHi;
    throw e;
  }
  c.setFlags(0, F.IF | F.TF | F.AC | F.RF);
  c.segSel[K.SEG_CS] = cs;
  c.segBase[K.SEG_CS] = cs * 16;
  c.refreshSeg(K.SEG_CS);
  c.rip = ip;
  c.updateMode();
}

/** Error code for a fault on the IDT entry itself: IDT bit set, EXT when not software-initiated. */
function idtErr(vec: number, kind: number): number {
  return vec * 8 + 2 + (kind === EVT_SOFT || kind === EVT_SOFTEXC ? 0 : 1);
}

function extBit(kind: number): number {
  return kind === EVT_SOFT || kind === EVT_SOFTEXC ? 0 : 1;
}

/** Fault-class exception vectors: #DE #BR #UD #NM #TS #NP #SS #GP #PF #MF #AC #XM #VE #CP. */
const FAULT_CLASS = (1 << 0) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) |
  (1 << 14) | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 20) | (1 << 21);

/**
 * The EFLAGS image saved by event delivery: RF is pushed as 1 for every fault-class exception (the
 * instruction restarts without re-triggering an instruction breakpoint), otherwise as it is
 * (SDM 17.3.1.1).
 */
function frameFlags(c: Cpu, vec: number, kind: number): number {
  const f = c.getFlags();
  return kind === EVT_HW && vec < 32 && (FAULT_CLASS >>> vec) & 1 ? f | F.RF : f;
}

/** Reads the descriptor of an IDT gate's target: #GP(selector + EXT) when it lies outside its table. */
function readTarget(c: Cpu, sel: number, ext: number, vec: number): void {
  const addr = descriptorAddress(c, sel);
  if (addr < 0) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, `IDT entry ${vec}: selector 0x${sel.toString(16)} outside its descriptor table`);
  desc.addr = addr;
  desc.lo = c.rdSys32(addr);
  desc.hi = c.rdSys32(c.efer & K.EFER_LMA ? addr + 4 : (addr + 4) >>> 0);
}

/** Values of the frame being built (at most 10: v86 segments, SS:ESP, EFLAGS, CS:EIP, error code). */
const frame: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Writes frame[0..n) below `sp` in a legacy stack segment (frame[0] at the highest address), after
 * checking that every slot lies inside the segment (#SS(ssErr) otherwise, nothing written).
 * `sys`: supervisor accesses (a new, inner stack); otherwise accesses at the current CPL.
 * Returns the new stack pointer (masked to 16 bits when the segment's B flag is clear).
 */
export function writeStackFrame(c: Cpu, base: number, limit: number, ar: number, sp: number, n: number, psz: number, sys: boolean, ssErr: number, vals: number[] = frame): number {
  const big = (ar & K.AR_DB) !== 0;
  if (ar & K.AR_UNUSABLE) c.raise(K.EXC_SS, ssErr, 'no usable stack segment for the frame');
  for (let k = 1; k <= n; k++) {
    const off = big ? (sp - k * psz) >>> 0 : (sp - k * psz) & 0xFFFF;
    if (!segmentFits(limit, ar, off, psz)) c.raise(K.EXC_SS, ssErr, `no room for the ${n * psz}-byte frame on the stack`);
  }
  for (let k = 1; k <= n; k++) {
    const off = big ? (sp - k * psz) >>> 0 : (sp - k * psz) & 0xFFFF;
    const lin = (base + off) >>> 0;
    const v = vals[k - 1];
    if (sys) {
      if (psz === 4) c.wrSys32(lin, v); else c.wrSys16(lin, v & 0xFFFF);
    } else if (psz === 4) c.wrLin32(lin, v);
    else c.wrLin16(lin, v & 0xFFFF);
  }
  return big ? (sp - n * psz) >>> 0 : (sp - n * psz) & 0xFFFF;
}

/** Sets ESP (or SP for a 16-bit stack segment) after a frame was written. */
function setSp(c: Cpu, sp: number, big: boolean): void {
  if (big) { c.r[4] = sp | 0; c.rh[4] = 0; } else c.r[4] = (c.r[4] & ~0xFFFF) | (sp & 0xFFFF);
}

function deliverProtected(c: Cpu, vec: number, err: number, kind: number, ret: number): void {
  if (vec * 8 + 7 > c.idtrLimit) c.raise(K.EXC_GP, idtErr(vec, kind), `vector ${vec} beyond the IDT limit`);
  const addr = (c.idtrBase + vec * 8) >>> 0;
  const lo = c.rdSys32(addr);
  const hi = c.rdSys32((addr + 4) >>> 0);
  const type = (hi >>> 8) & 0x1F;
  const dpl = (hi >>> 13) & 3;
  const present = (hi & 0x8000) !== 0;
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0E && type !== 0x0F) {
    c.raise(K.EXC_GP, idtErr(vec, kind), `IDT entry ${vec} is not an interrupt, trap or task gate (type ${type})`);
  }
  if ((kind === EVT_SOFT || kind === EVT_SOFTEXC) && dpl < c.cpl) {
    c.raise(K.EXC_GP, vec * 8 + 2, `INT ${vec}: gate DPL ${dpl} below CPL ${c.cpl}`);
  }
  if (!present) c.raise(K.EXC_NP, idtErr(vec, kind), `IDT entry ${vec} not present`);
  const ext = extBit(kind);
  if (type === 0x05) {
    taskSwitch(c, lo >>> 16, ext ? TASK_INT : TASK_INT_SOFT, ret, err);
    return;
  }
  const gate32 = (type & 8) !== 0;
  const trap = (type & 1) !== 0;
  const sel = lo >>> 16;
  const offset = gate32 ? ((hi & 0xFFFF0000) | (lo & 0xFFFF)) >>> 0 : lo & 0xFFFF;
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, ext, `IDT entry ${vec} has a null code selector`);
  readTarget(c, sel, ext, vec);
  const ar = descAr(desc.hi);
  if (!(ar & K.AR_S) || !(ar & 8)) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, `IDT entry ${vec}: selector 0x${sel.toString(16)} is not code`);
  const cdpl = (ar >> K.AR_DPL_SHIFT) & 3;
  if (cdpl > c.cpl) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, `IDT entry ${vec}: code DPL ${cdpl} above CPL ${c.cpl}`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, (sel & 0xFFFC) + ext, `IDT entry ${vec}: code segment not present`);
  const conforming = (ar & 4) !== 0;
  const codeLo = desc.lo, codeHi = desc.hi, codeAddr = desc.addr;
  const oldFlags = frameFlags(c, vec, kind);
  const oldCs = c.segSel[K.SEG_CS];
  const psz = gate32 ? 4 : 2;
  const fromV86 = c.v86;
  if (fromV86 && (conforming || cdpl !== 0)) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, 'interrupt from virtual-8086 mode to a non-ring-0 handler');
  if (offset > descLimit(codeLo, codeHi)) c.raise(K.EXC_GP, ext, `IDT entry ${vec}: handler offset 0x${offset.toString(16)} beyond the code segment limit`);
  if (!conforming && cdpl < c.cpl) {
    // inner-privilege: switch to the stack for the new CPL from the TSS
    const { ss, sp } = tssStack32(c, cdpl, ext);
    const ssDesc = loadStackSegment(c, ss, cdpl, ext);
    let n = 0;
    if (fromV86) {
      frame[0] = c.segSel[K.SEG_GS]; frame[1] = c.segSel[K.SEG_FS]; frame[2] = c.segSel[K.SEG_DS]; frame[3] = c.segSel[K.SEG_ES];
      n = 4;
    }
    frame[n++] = c.segSel[K.SEG_SS];
    frame[n++] = psz === 4 ? c.r[4] : c.r[4] & 0xFFFF;
    frame[n++] = oldFlags;
    frame[n++] = oldCs;
    frame[n++] = ret;
    if (err >= 0) frame[n++] = err;
    // the whole frame is checked and written on the new stack before any register changes
    const nsp = writeStackFrame(c, ssDesc.base, ssDesc.limit, ssDesc.ar, sp, n, psz, true, (ss & 0xFFFC) + ext);
    c.loadSegRaw(K.SEG_SS, ssDesc.sel, ssDesc.base, ssDesc.limit, ssDesc.ar);
    setSp(c, nsp, (ssDesc.ar & K.AR_DB) !== 0);
    if (fromV86) {
      for (const s of [K.SEG_GS, K.SEG_FS, K.SEG_DS, K.SEG_ES]) c.loadSegRaw(s, 0, 0, 0, K.AR_UNUSABLE);
    }
    desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
    c.setFlags(0, F.VM);
    commitCs(c, sel, cdpl);
  } else {
    if (fromV86) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, 'interrupt from virtual-8086 mode needs a privilege change');
    let n = 0;
    frame[n++] = oldFlags;
    frame[n++] = oldCs;
    frame[n++] = ret;
    if (err >= 0) frame[n++] = err;
    const ssAr = c.segAr[K.SEG_SS];
    const big = (ssAr & K.AR_DB) !== 0;
    const sp = big ? c.r[4] >>> 0 : c.r[4] & 0xFFFF;
    const nsp = writeStackFrame(c, c.segBase[K.SEG_SS], c.segLimit[K.SEG_SS], ssAr, sp, n, psz, false, ext);
    setSp(c, nsp, big);
    desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
    commitCs(c, sel, c.cpl);
  }
  c.rip = offset;
  c.setFlags(0, F.TF | F.NT | F.VM | F.RF | (trap ? 0 : F.IF));
  c.updateMode();
}

/** The inner stack for privilege level `dpl` from the current 32- or 16-bit TSS. */
export function tssStack32(c: Cpu, dpl: number, ext: number): { ss: number; sp: number } {
  const type = c.segAr[K.SEG_TR] & 0xF;
  const base = c.segBase[K.SEG_TR];
  const tr = c.segSel[K.SEG_TR] & 0xFFFC;
  if (type === 0xB || type === 0x9) {
    const off = 4 + dpl * 8;
    if (off + 5 > c.segLimit[K.SEG_TR]) c.raise(K.EXC_TS, tr + ext, `TSS too small for the ring-${dpl} stack`);
    return { sp: c.rdSys32((base + off) >>> 0) >>> 0, ss: c.rdSys16((base + off + 4) >>> 0) };
  }
  const off = 2 + dpl * 4;
  if (off + 3 > c.segLimit[K.SEG_TR]) c.raise(K.EXC_TS, tr + ext, `TSS too small for the ring-${dpl} stack`);
  return { sp: c.rdSys16((base + off) >>> 0), ss: c.rdSys16((base + off + 2) >>> 0) };
}

/** Validates the stack segment for an inner-privilege transfer (#TS on failure, SDM 6.12.1). */
export function loadStackSegment(c: Cpu, ss: number, dpl: number, ext: number): { sel: number; base: number; limit: number; ar: number } {
  const err = (ss & 0xFFFC) + ext;
  if ((ss & 0xFFFC) === 0) c.raise(K.EXC_TS, ext, 'new stack segment selector is null');
  const addr = descriptorAddress(c, ss);
  if (addr < 0) c.raise(K.EXC_TS, err, `new SS 0x${ss.toString(16)} outside its descriptor table`);
  if ((ss & 3) !== dpl) c.raise(K.EXC_TS, err, `new SS RPL ${ss & 3} differs from target DPL ${dpl}`);
  desc.addr = addr;
  desc.lo = c.rdSys32(addr);
  desc.hi = c.rdSys32(c.efer & K.EFER_LMA ? addr + 4 : (addr + 4) >>> 0);
  const ar = descAr(desc.hi);
  if (((ar >> K.AR_DPL_SHIFT) & 3) !== dpl) c.raise(K.EXC_TS, err, `new SS DPL differs from target DPL ${dpl}`);
  if (!(ar & K.AR_S) || ar & 8 || !(ar & 2)) c.raise(K.EXC_TS, err, 'new SS is not a writable data segment');
  if (!(ar & K.AR_P)) c.raise(K.EXC_SS, err, 'new SS not present');
  const lo = desc.lo, hi = desc.hi;
  setAccessed(c);
  return { sel: ss, base: descBase(lo, hi), limit: descLimit(lo, hi), ar: descAr(hi | 0x100) };
}

function deliverLong(c: Cpu, vec: number, err: number, kind: number, ret: number): void {
  if (vec * 16 + 15 > c.idtrLimit) c.raise(K.EXC_GP, idtErr(vec, kind), `vector ${vec} beyond the IDT limit`);
  const addr = c.idtrBase + vec * 16;
  const lo = c.rdSys32(addr);
  const hi = c.rdSys32(addr + 4);
  const hi2 = c.rdSys32(addr + 8);
  const type = (hi >>> 8) & 0x1F;
  const dpl = (hi >>> 13) & 3;
  if (type !== 0x0E && type !== 0x0F) c.raise(K.EXC_GP, idtErr(vec, kind), `IDT entry ${vec} is not a 64-bit interrupt or trap gate (type ${type})`);
  if ((kind === EVT_SOFT || kind === EVT_SOFTEXC) && dpl < c.cpl) c.raise(K.EXC_GP, vec * 8 + 2, `INT ${vec}: gate DPL ${dpl} below CPL ${c.cpl}`);
  if (!(hi & 0x8000)) c.raise(K.EXC_NP, idtErr(vec, kind), `IDT entry ${vec} not present`);
  const sel = lo >>> 16;
  const ist = (hi & 7);
  const offset = (hi2 | 0) * TWO32 + (((hi & 0xFFFF0000) | (lo & 0xFFFF)) >>> 0);
  const ext = extBit(kind);
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, ext, `IDT entry ${vec} has a null code selector`);
  readTarget(c, sel, ext, vec);
  const cdpl = checkCodeDescriptorForGate(c, sel, ext, vec);
  const ar = descAr(desc.hi);
  if (!(ar & K.AR_L) || ar & K.AR_DB) c.raise(K.EXC_GP, (sel & 0xFFFC) + ext, `IDT entry ${vec}: target is not a 64-bit code segment`);
  if (offset < -CANON || offset >= CANON) c.raise(K.EXC_GP, ext, `IDT entry ${vec}: handler offset is not canonical`);
  const conforming = (ar & 4) !== 0;
  const newCpl = conforming ? c.cpl : cdpl;
  const oldSs = c.segSel[K.SEG_SS];
  const oldRspLo = c.r[4], oldRspHi = c.rh[4];
  const oldFlags = frameFlags(c, vec, kind);
  const oldCs = c.segSel[K.SEG_CS];
  let rsp: number;
  const base = c.segBase[K.SEG_TR];
  if (ist !== 0) {
    rsp = readTss64(c, base, 0x24 + (ist - 1) * 8, ext);
  } else if (newCpl < c.cpl) {
    rsp = readTss64(c, base, 4 + newCpl * 8, ext);
  } else {
    rsp = c.rsp64;
  }
  if (rsp < -CANON || rsp >= CANON) c.raise(K.EXC_SS, ext, 'new RSP is not canonical');
  // the CPU aligns the new stack on 16 bytes before pushing (SDM 6.14.2)
  rsp -= ((rsp % 16) + 16) % 16;
  // push SS, RSP, RFLAGS, CS, RIP, [error code], each 8 bytes
  const n = err >= 0 ? 6 : 5;
  if (rsp - n * 8 < -CANON) c.raise(K.EXC_SS, ext, 'the interrupt frame would reach a non-canonical address');
  const slots: [number, number][] = [
    [oldSs, 0], [oldRspLo, oldRspHi], [oldFlags, 0], [oldCs, 0], [ret | 0, Math.floor(ret / TWO32) | 0],
  ];
  if (err >= 0) slots.push([err, 0]);
  // accesses to the handler's stack are supervisor accesses unless it runs at ring 3 (conforming)
  const sys = newCpl < 3;
  let p = rsp;
  for (const [vlo, vhi] of slots) {
    p -= 8;
    if (sys) {
      c.wrSys32(p, vlo);
      c.wrSys32(p + 4, vhi);
    } else {
      c.wrLin32(p, vlo);
      c.wrLin32(p + 4, vhi);
    }
  }
  if (newCpl < c.cpl) {
    // SS becomes a null selector whose RPL is the new CPL
    c.loadSegRaw(K.SEG_SS, newCpl, 0, 0, K.AR_UNUSABLE | K.AR_DB | (newCpl << K.AR_DPL_SHIFT) | K.AR_S | 3);
  }
  commitCs(c, sel, newCpl);
  c.setAddrReg(4, 8, p);
  c.rip = offset;
  c.setFlags(0, F.TF | F.NT | F.VM | F.RF | (type === 0x0F ? 0 : F.IF));
  c.updateMode();
}

function checkCodeDescriptorForGate(c: Cpu, sel: number, ext: number, vec: number): number {
  const ar = descAr(desc.hi);
  const err = (sel & 0xFFFC) + ext;
  if (!(ar & K.AR_S) || !(ar & 8)) c.raise(K.EXC_GP, err, `IDT entry ${vec}: selector 0x${sel.toString(16)} is not code`);
  const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
  if (dpl > c.cpl) c.raise(K.EXC_GP, err, `IDT entry ${vec}: code DPL ${dpl} above CPL ${c.cpl}`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, err, `IDT entry ${vec}: code segment not present`);
  return dpl;
}

function readTss64(c: Cpu, base: number, off: number, ext: number): number {
  if (off + 7 > c.segLimit[K.SEG_TR]) c.raise(K.EXC_TS, (c.segSel[K.SEG_TR] & 0xFFFC) + ext, `64-bit TSS too small for offset 0x${off.toString(16)}`);
  const lo = c.rdSys32(base + off);
  const hi = c.rdSys32(base + off + 4);
  return hi * TWO32 + (lo >>> 0);
}

export { checkCodeDescriptor, setCpl };
