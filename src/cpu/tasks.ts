import type { Cpu } from './cpu';
import { EV_ATTN, FAULT } from './cpu';
import * as K from './constants';
import * as F from './flags';
import { loadPdptes } from './paging';
import { desc, descAr, descBase, descLimit, descriptorAddress, segmentFits } from './segmentation';

/**
 * Hardware task switching (SDM 7.3): JMP/CALL to a TSS or task gate, IRET with EFLAGS.NT = 1, and
 * interrupts/exceptions through a task gate, with 32-bit and 16-bit TSSs. Only legacy protected
 * mode has tasks; in IA-32e mode the callers raise #GP before getting here.
 *
 * The switch runs in two halves around the commit point. Before it, every check and every memory
 * access that can fault is done first (the new TSS is read completely, the pages written later are
 * probed), so a fault leaves the old task untouched and is delivered in its context. After it (TR,
 * CR3, LDTR, segment registers of the new task), faults belong to the new task: they are delivered
 * here, with CS:EIP already the new task's, as the SDM prescribes.
 */

/** Why a task switch happens (SDM 7.3): decides busy-bit and NT/back-link handling. */
export const TASK_JMP = 0;
export const TASK_CALL = 1;
export const TASK_IRET = 2;
/** Exception, external interrupt or NMI through a task gate: error codes of faults carry EXT = 1. */
export const TASK_INT = 3;
/** INT n / INT3 / INTO through a task gate: like TASK_INT, but error codes have EXT = 0. */
export const TASK_INT_SOFT = 4;

/**
 * VMX non-root operation: a task switch is an unconditional VM exit (SDM 25.4.2). The VMX layer
 * installs this; returning true means the switch was turned into a VM exit.
 */
export let taskSwitchInterceptor: ((c: Cpu, sel: number, reason: number, ret: number, err: number, insRip: number) => boolean) | null = null;
export function setTaskSwitchInterceptor(f: typeof taskSwitchInterceptor): void {
  taskSwitchInterceptor = f;
}

/** The new task's state, read completely before the commit point. */
const nt = {
  eip: 0, eflags: 0, cr3: 0, ldt: 0, trap: 0,
  regs: new Int32Array(8),
  sels: new Uint16Array(6),
};

/** Contributory exceptions for the double-fault rule (#DE, #TS, #NP, #SS, #GP). */
function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

/**
 * Hardware task switch (SDM 7.3). `sel` is the selector named by the instruction or gate (a TSS or,
 * for JMP/CALL, a task gate; for IRET the back link). `ret` is the EIP saved in the old TSS; `err` an
 * error code to push on the new task's stack (-1 for none).
 */
export function taskSwitch(c: Cpu, sel: number, reason: number, ret: number, err: number, insRip = -1): void {
  if (c.nonRoot && taskSwitchInterceptor !== null && taskSwitchInterceptor(c, sel, reason, ret, err, insRip)) return;
  sel &= 0xFFFF;
  const isInt = reason === TASK_INT || reason === TASK_INT_SOFT;
  const ext = reason === TASK_INT ? 1 : 0;
  const nesting = reason === TASK_CALL || isInt;
  const iret = reason === TASK_IRET;
  // errors on the TSS selector: #TS for IRET, #GP otherwise (SDM table 7-1)
  const selVec = iret ? K.EXC_TS : K.EXC_GP;

  // ---- 1. find the new TSS descriptor: JMP/CALL may name a task gate ----
  let tssSel = sel;
  if (reason === TASK_JMP || reason === TASK_CALL) {
    const a = descriptorAddress(c, sel);
    if (a < 0) c.raise(K.EXC_GP, sel & 0xFFFC, `task switch: selector 0x${sel.toString(16)} outside its descriptor table`);
    const hi = c.rdSys32((a + 4) >>> 0);
    const type = (hi >>> 8) & 0x1F;
    const dpl = (hi >>> 13) & 3;
    // the gate's or TSS's DPL must allow both CPL and RPL (SDM JMP/CALL "task gate", "task-state segment")
    if (dpl < c.cpl || dpl < (sel & 3)) c.raise(K.EXC_GP, sel & 0xFFFC, `task switch: DPL ${dpl} below CPL ${c.cpl} or RPL ${sel & 3}`);
    if (type === 0x05) {
      if (!(hi & 0x8000)) c.raise(K.EXC_NP, sel & 0xFFFC, `task gate 0x${sel.toString(16)} not present`);
      tssSel = c.rdSys32(a) >>> 16;
    }
  }
  const tssErr = (tssSel & 0xFFFC) + ext;
  if (tssSel & 4) c.raise(selVec, tssErr, `task switch: TSS selector 0x${tssSel.toString(16)} points into the LDT`);
  const tssAddr = descriptorAddress(c, tssSel);
  if (tssAddr < 0) c.raise(selVec, tssErr, `task switch: TSS selector 0x${tssSel.toString(16)} beyond the GDT limit`);
  const tlo = c.rdSys32(tssAddr);
  const thi = c.rdSys32((tssAddr + 4) >>> 0);
  const ttype = (thi >>> 8) & 0x1F; // with the S bit: system descriptors only
  if (iret) {
    if (ttype !== 0x03 && ttype !== 0x0B) c.raise(K.EXC_TS, tssErr, `IRET task return: 0x${tssSel.toString(16)} is not a busy TSS`);
  } else if (ttype !== 0x01 && ttype !== 0x09) {
    c.raise(K.EXC_GP, tssErr, `task switch: 0x${tssSel.toString(16)} is ${ttype === 0x03 || ttype === 0x0B ? 'a busy TSS' : 'not a TSS'}`);
  }
  if (!(thi & 0x8000)) c.raise(K.EXC_NP, tssErr, `TSS 0x${tssSel.toString(16)} not present`);
  const new32 = (ttype & 8) !== 0;
  const nbase = descBase(tlo, thi);
  const nlimit = descLimit(tlo, thi);
  if (nlimit < (new32 ? 0x67 : 0x2B)) c.raise(K.EXC_TS, tssErr, `TSS 0x${tssSel.toString(16)} limit 0x${nlimit.toString(16)} too small`);
  const oldType = c.segAr[K.SEG_TR] & 0xF;
  const old32 = oldType === 0x9 || oldType === 0xB;
  const obase = c.segBase[K.SEG_TR] >>> 0;
  const oldTr = c.segSel[K.SEG_TR];
  if (c.segLimit[K.SEG_TR] < (old32 ? 0x5F : 0x29)) c.raise(K.EXC_TS, (oldTr & 0xFFFC) + ext, 'current TSS too small to save the task state');

  // ---- 2. everything that can fault before the commit point ----
  const lin = (o: number) => (nbase + o) >>> 0;
  const olin = (o: number) => (obase + o) >>> 0;
  const oldDescAddr = (c.gdtrBase + (oldTr & 0xFFF8)) >>> 0;
  if (c.cr0 & K.CR0_PG) {
    // the TSS areas and descriptors written below must not page-fault halfway through
    c.xlate(lin(0), nesting, false, true);
    c.xlate(lin(new32 ? 0x67 : 0x2B), false, false, true);
    c.xlate(olin(old32 ? 0x20 : 0x0E), true, false, true);
    c.xlate(olin(old32 ? 0x5D : 0x29), true, false, true);
    if (!iret) { c.xlate((tssAddr + 4) >>> 0, true, false, true); c.xlate((tssAddr + 7) >>> 0, true, false, true); }
    if (reason === TASK_JMP || iret) { c.xlate((oldDescAddr + 4) >>> 0, true, false, true); c.xlate((oldDescAddr + 7) >>> 0, true, false, true); }
  }
  if (new32) {
    nt.cr3 = c.rdSys32(lin(0x1C)) >>> 0;
    nt.eip = c.rdSys32(lin(0x20)) >>> 0;
    nt.eflags = c.rdSys32(lin(0x24));
    for (let k = 0; k < 8; k++) nt.regs[k] = c.rdSys32(lin(0x28 + 4 * k));
    for (let s = 0; s < 6; s++) nt.sels[s] = c.rdSys16(lin(0x48 + 4 * s));
    nt.ldt = c.rdSys16(lin(0x60));
    nt.trap = c.rdSys16(lin(0x64)) & 1;
  } else {
    nt.eip = c.rdSys16(lin(0x0E));
    nt.eflags = c.rdSys16(lin(0x10));
    // a 16-bit TSS leaves the upper halves of the registers set (as 80386-era parts did, per Bochs)
    for (let k = 0; k < 8; k++) nt.regs[k] = 0xFFFF0000 | c.rdSys16(lin(0x12 + 2 * k));
    for (let s = 0; s < 4; s++) nt.sels[s] = c.rdSys16(lin(0x22 + 2 * s));
    nt.sels[K.SEG_FS] = 0;
    nt.sels[K.SEG_GS] = 0;
    nt.ldt = c.rdSys16(lin(0x2A));
    nt.trap = 0;
  }

  // ---- 3. old task: busy bit, saved state, link ----
  let oldFlags = c.getFlags();
  if (iret) oldFlags &= ~F.NT;
  if (reason === TASK_JMP || iret) {
    const h = c.rdSys32((oldDescAddr + 4) >>> 0);
    c.wrSys32((oldDescAddr + 4) >>> 0, h & ~0x200);
  }
  if (old32) {
    c.wrSys32(olin(0x20), ret);
    c.wrSys32(olin(0x24), oldFlags);
    for (let k = 0; k < 8; k++) c.wrSys32(olin(0x28 + 4 * k), c.r[k]);
    for (let s = 0; s < 6; s++) c.wrSys16(olin(0x48 + 4 * s), c.segSel[s]);
  } else {
    c.wrSys16(olin(0x0E), ret & 0xFFFF);
    c.wrSys16(olin(0x10), oldFlags & 0xFFFF);
    for (let k = 0; k < 8; k++) c.wrSys16(olin(0x12 + 2 * k), c.r[k] & 0xFFFF);
    for (let s = 0; s < 4; s++) c.wrSys16(olin(0x22 + 2 * s), c.segSel[s]);
  }
  if (nesting) c.wrSys16(lin(0), oldTr);
  if (!iret) c.wrSys32((tssAddr + 4) >>> 0, thi | 0x200);

  // ---- commit point: TR, CR0.TS, DR7 local enables ----
  c.loadSegRaw(K.SEG_TR, tssSel, nbase, nlimit, descAr(thi) | 2);
  c.cr0 |= K.CR0_TS;
  c.dr[7] = (c.dr[7] & ~0x155) >>> 0;
  // the exception being delivered, for the double-fault rule (hardware-initiated events only)
  const first = reason === TASK_INT ? c.delivering : -1;
  try {
    loadNewTask(c, new32, nesting, ext);
    if (isInt && err >= 0) {
      // the error code goes on the new task's stack, sized by the TSS type
      const psz = new32 ? 4 : 2;
      const ssAr = c.segAr[K.SEG_SS];
      const big = (ssAr & K.AR_DB) !== 0;
      const sp = big ? c.r[4] >>> 0 : c.r[4] & 0xFFFF;
      const off = big ? (sp - psz) >>> 0 : (sp - psz) & 0xFFFF;
      if (!segmentFits(c.segLimit[K.SEG_SS], c.v86 ? ssAr & ~4 : ssAr, off, psz)) c.raise(K.EXC_SS, ext, 'no room for the error code on the new task\'s stack');
      c.push(psz, err);
    }
    if (c.rip > c.segLimit[K.SEG_CS]) c.raise(K.EXC_GP, ext, `new task's EIP 0x${c.rip.toString(16)} beyond its CS limit`);
  } catch (e) {
    if (e !== FAULT) throw e;
    deliverPendingFault(c, first);
    return;
  }
  if (nt.trap) {
    // T flag of the new TSS: #DB (trap, DR6.BT) before the new task's first instruction
    c.dr[6] = (c.dr[6] | 0x8000) >>> 0;
    c.faultVec = K.EXC_DB;
    c.faultErr = -1;
    c.faultWhy = 'T flag set in the new TSS';
    deliverPendingFault(c, -1);
  }
}

/** After the commit point: CR3, LDTR, EFLAGS, EIP, general and segment registers of the new task. */
function loadNewTask(c: Cpu, new32: boolean, nesting: boolean, ext: number): void {
  c.rip = nt.eip;
  for (let k = 0; k < 8; k++) { c.r[k] = nt.regs[k]; c.rh[k] = 0; }
  let fl = nt.eflags;
  if (nesting) fl |= F.NT;
  // selectors are loaded first, so they are there even when a descriptor check fails below; their
  // caches stay unusable until checked (SS unusable at DPL 3: a fault before SS is valid is
  // delivered with a stack switch, never onto the bogus stack)
  for (let s = 0; s < 6; s++) {
    if (s !== K.SEG_CS) c.loadSegRaw(s, nt.sels[s], 0, 0, K.AR_UNUSABLE | (s === K.SEG_SS ? 3 << K.AR_DPL_SHIFT : 0));
  }
  c.segSel[K.SEG_CS] = nt.sels[K.SEG_CS];
  c.loadSegRaw(K.SEG_LDTR, nt.ldt, 0, 0, K.AR_UNUSABLE);
  // RF is dropped for the same reason IRET drops it (see far.ts)
  c.setFlags((new32 ? fl : fl & 0xFFFF) & ~F.RF, F.IMPLEMENTED);
  if (new32 && c.cr0 & K.CR0_PG) {
    c.cr3 = nt.cr3;
    if (c.cr4 & K.CR4_PAE) loadPdptes(c);
    c.flushTlb(false);
  }
  c.updateMode();

  // LDTR: a GDT selector of a present LDT descriptor, or null
  const ldt = nt.ldt;
  if (ldt & 4) c.raise(K.EXC_TS, (ldt & 0xFFFC) + ext, 'new task\'s LDT selector points into the LDT');
  if ((ldt & 0xFFFC) !== 0) {
    readChecked(c, ldt, ext, 'LDT');
    const ar = descAr(desc.hi);
    if (ar & K.AR_S || (ar & 0xF) !== 2) c.raise(K.EXC_TS, (ldt & 0xFFFC) + ext, `new task's LDT selector 0x${ldt.toString(16)} is not an LDT`);
    if (!(ar & K.AR_P)) c.raise(K.EXC_TS, (ldt & 0xFFFC) + ext, `new task's LDT 0x${ldt.toString(16)} not present`);
    c.loadSegRaw(K.SEG_LDTR, ldt, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), ar);
  }

  if (c.v86) {
    // EFLAGS.VM from the TSS: every segment register is loaded as in virtual-8086 mode
    const v86Ar = K.AR_P | K.AR_S | 3 | (3 << K.AR_DPL_SHIFT);
    for (let s = 0; s < 6; s++) c.loadSegRaw(s, nt.sels[s], nt.sels[s] * 16, 0xFFFF, s === K.SEG_CS ? v86Ar | 8 : v86Ar);
    c.updateMode();
    return;
  }

  const csSel = nt.sels[K.SEG_CS];
  const cpl = csSel & 3;
  // SS: writable data, DPL = RPL = the new CPL (CS.RPL), present
  const ss = nt.sels[K.SEG_SS];
  const ssErr = (ss & 0xFFFC) + ext;
  if ((ss & 0xFFFC) === 0) c.raise(K.EXC_TS, ssErr, 'new task\'s SS is null');
  readChecked(c, ss, ext, 'SS');
  {
    const ar = descAr(desc.hi);
    const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
    if (!(ar & K.AR_S) || ar & 8 || !(ar & 2)) c.raise(K.EXC_TS, ssErr, `new task's SS 0x${ss.toString(16)} is not a writable data segment`);
    if (!(ar & K.AR_P)) c.raise(K.EXC_SS, ssErr, `new task's SS 0x${ss.toString(16)} not present`);
    if (dpl !== cpl) c.raise(K.EXC_TS, ssErr, `new task's SS DPL ${dpl} differs from its CPL ${cpl}`);
    if ((ss & 3) !== cpl) c.raise(K.EXC_TS, ssErr, `new task's SS RPL ${ss & 3} differs from its CPL ${cpl}`);
    touch(c);
    c.loadSegRaw(K.SEG_SS, ss, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), descAr(desc.hi));
    c.updateMode();
  }
  // DS, ES, FS, GS: null, or data / readable code the new CPL may use, present
  for (const s of [K.SEG_DS, K.SEG_ES, K.SEG_FS, K.SEG_GS]) {
    const v = nt.sels[s];
    if ((v & 0xFFFC) === 0) continue;
    const e = (v & 0xFFFC) + ext;
    readChecked(c, v, ext, K.SEG_NAMES[s].toUpperCase());
    const ar = descAr(desc.hi);
    const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
    if (!(ar & K.AR_S) || (ar & 0xA) === 8) c.raise(K.EXC_TS, e, `new task's ${K.SEG_NAMES[s]} 0x${v.toString(16)} is not data or readable code`);
    if ((!(ar & 8) || !(ar & 4)) && ((v & 3) > dpl || cpl > dpl)) c.raise(K.EXC_TS, e, `new task's ${K.SEG_NAMES[s]} 0x${v.toString(16)}: RPL ${v & 3} / CPL ${cpl} above DPL ${dpl}`);
    if (!(ar & K.AR_P)) c.raise(K.EXC_NP, e, `new task's ${K.SEG_NAMES[s]} 0x${v.toString(16)} not present`);
    touch(c);
    c.loadSegRaw(s, v, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), descAr(desc.hi));
  }
  // CS: code; non-conforming DPL = RPL, conforming DPL <= RPL; present
  const csErr = (csSel & 0xFFFC) + ext;
  if ((csSel & 0xFFFC) === 0) c.raise(K.EXC_TS, csErr, 'new task\'s CS is null');
  readChecked(c, csSel, ext, 'CS');
  const ar = descAr(desc.hi);
  const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
  if (!(ar & K.AR_S) || !(ar & 8)) c.raise(K.EXC_TS, csErr, `new task's CS 0x${csSel.toString(16)} is not a code segment`);
  if (ar & 4 ? dpl > cpl : dpl !== cpl) c.raise(K.EXC_TS, csErr, `new task's CS DPL ${dpl} does not fit its RPL ${cpl}`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, csErr, `new task's CS 0x${csSel.toString(16)} not present`);
  touch(c);
  c.loadSegRaw(K.SEG_CS, csSel, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), descAr(desc.hi));
  c.updateMode();
}

/** Reads the descriptor for `sel` into `desc`: #TS(selector) when it lies outside its table. */
function readChecked(c: Cpu, sel: number, ext: number, what: string): void {
  const a = descriptorAddress(c, sel);
  if (a < 0) c.raise(K.EXC_TS, (sel & 0xFFFC) + ext, `new task's ${what} selector 0x${sel.toString(16)} outside its descriptor table`);
  desc.addr = a;
  desc.lo = c.rdSys32(a);
  desc.hi = c.rdSys32((a + 4) >>> 0);
}

/** Sets the accessed bit of the descriptor in `desc`. */
function touch(c: Cpu): void {
  if (!(desc.hi & 0x100)) {
    desc.hi |= 0x100;
    c.wrSys32((desc.addr + 4) >>> 0, desc.hi);
  }
}

/**
 * Delivers the fault recorded by raise() right away, with the double- and triple-fault rules, for
 * faults the run loop must not rewind: those after a task switch's commit point (CS:EIP are the new
 * task's already) and those raised while delivering an external interrupt or NMI between blocks.
 * `first` is the exception whose delivery was under way (-1 for none or a benign event).
 */
export function deliverPendingFault(c: Cpu, first: number): void {
  let vec = c.faultVec;
  let err = c.faultErr;
  if (vec < 256 && c.onException !== null && c.onException(vec, err, c.faultWhy)) {
    c.stopReason = 'exception';
    c.events |= EV_ATTN; // inside an instruction: make the run loop look at stopReason
    return;
  }
  if (first === K.EXC_DF) {
    c.enterShutdown(`triple fault: ${K.EXCEPTION_NAMES[vec] ?? 'vector ' + vec} in the #DF task (${c.faultWhy})`);
    return;
  }
  if (first >= 0 && ((contributory(first) && contributory(vec)) || (first === K.EXC_PF && (contributory(vec) || vec === K.EXC_PF)))) {
    vec = K.EXC_DF;
    err = 0;
  }
  for (;;) {
    try {
      c.deliver(vec, err, 0);
      return;
    } catch (e) {
      if (e !== FAULT) throw e;
      const second = c.faultVec;
      if (vec === K.EXC_DF) {
        c.enterShutdown(`triple fault: ${K.EXCEPTION_NAMES[second] ?? 'vector ' + second} while delivering #DF (${c.faultWhy})`);
        return;
      }
      if ((contributory(vec) && contributory(second)) || (vec === K.EXC_PF && (contributory(second) || second === K.EXC_PF))) {
        vec = K.EXC_DF;
        err = 0;
      } else {
        vec = second;
        err = c.faultErr;
      }
    }
  }
}
