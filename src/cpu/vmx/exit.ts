import type { Cpu } from '../cpu';
import type { Instr } from '../block';
import { BLOCK_EXIT, FAULT } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { loadPdptes } from '../paging';
import { MSR_PAT } from '../msr';
import { controlMask } from './spec';
import * as S from './slots';

const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
const P2_VPID = controlMask('SECONDARY_EXEC_ENABLE_VPID');
import { SHADOW_NONE, SHADOW_STI, Vmx, vmxOf } from './state';
import { VMCS_OFF_ABORT, numHi, numLo, type VmcsCache } from './vmcs';
import { exitsObserved, notifyVmExit } from './observer';
import { leaveGuestDebug, savedPendingDebug } from './mtf';

/**
 * VM exits (SDM chapter 28): record the exit information (28.2), save guest state (28.3), store
 * guest MSRs (28.4), load host state (28.5) and host MSRs (28.6). A failure while loading host state
 * is a VMX abort (28.7): the abort indicator is written and the processor shuts down.
 */

/** Events bit the core does not use: while set, the run loop visits serviceEvents after every block. */
export const EV_VMX = 32;

export const EXIT_CTL_SAVE_DEBUG = controlMask('VM_EXIT_SAVE_DEBUG_CONTROLS');
export const EXIT_CTL_HOST_64 = controlMask('VM_EXIT_HOST_ADDR_SPACE_SIZE');
export const EXIT_CTL_ACK_INTR = controlMask('VM_EXIT_ACK_INTR_ON_EXIT');
export const EXIT_CTL_SAVE_PAT = controlMask('VM_EXIT_SAVE_IA32_PAT');
export const EXIT_CTL_LOAD_PAT = controlMask('VM_EXIT_LOAD_IA32_PAT');
export const EXIT_CTL_SAVE_EFER = controlMask('VM_EXIT_SAVE_IA32_EFER');
export const EXIT_CTL_LOAD_EFER = controlMask('VM_EXIT_LOAD_IA32_EFER');
export const EXIT_CTL_SAVE_TIMER = controlMask('VM_EXIT_SAVE_VMX_PREEMPTION_TIMER');
export const ENTRY_CTL_IA32E = controlMask('VM_ENTRY_IA32E_MODE');
export const ENTRY_CTL_LOAD_DEBUG = controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS');
export const ENTRY_CTL_LOAD_EFER = controlMask('VM_ENTRY_LOAD_IA32_EFER');
export const ENTRY_CTL_LOAD_PAT = controlMask('VM_ENTRY_LOAD_IA32_PAT');
const P1_MTF = controlMask('CPU_BASED_MONITOR_TRAP_FLAG');
export const PIN_VIRTUAL_NMIS = controlMask('PIN_BASED_VIRTUAL_NMIS');
export const PIN_TIMER = controlMask('PIN_BASED_VMX_PREEMPTION_TIMER');

/**
 * Optional exit information, filled by the code that decides on the exit and consumed (then reset)
 * by vmExit. A single shared object: an exit allocates nothing.
 */
export const exitInfo = {
  /** VM_EXIT_INSTRUCTION_LEN, or -1 to leave it. */
  len: -1,
  /** VMX_INSTRUCTION_INFO when hasInfo. */
  info: 0,
  hasInfo: false,
  /** GUEST_LINEAR_ADDRESS when hasLinear. */
  linear: 0,
  hasLinear: false,
  /** VM_EXIT_INTR_INFO (0 = not valid) and error code (-1 none). */
  intrInfo: 0,
  intrError: -1,
  /** The exit is due to an NMI: NMIs stay blocked afterwards. */
  nmi: false,
  /** Saved RFLAGS.RF is 1 (fault-class exception exits). */
  rf: false,
  /** The guest was in this activity state (an event woke it up): saved instead of active. */
  activity: 0,
};

function resetInfo(): void {
  exitInfo.len = -1;
  exitInfo.hasInfo = false;
  exitInfo.hasLinear = false;
  exitInfo.intrInfo = 0;
  exitInfo.intrError = -1;
  exitInfo.nmi = false;
  exitInfo.rf = false;
  exitInfo.activity = 0;
}

/** A VM exit caused by the instruction `i` (fault-like: guest RIP is the instruction). Never returns. */
export function exitForInstruction(c: Cpu, i: Instr, reason: number, qual: number): never {
  exitInfo.len = i.len;
  vmExit(c, reason, qual, i.rip);
  throw BLOCK_EXIT;
}

/**
 * The same VM exit for an instruction that ends its block (I/O, CPUID, HLT): the handler returns
 * instead of throwing. Throwing costs microseconds in V8 and keeps the throwing functions from ever
 * being optimised; here the run loop simply continues at HOST_RIP. The loop counts the instruction
 * as executed, so one is taken back: an exiting instruction does not retire.
 */
export function exitAtBlockEnd(c: Cpu, i: Instr, reason: number, qual: number): void {
  exitInfo.len = i.len;
  vmExit(c, reason, qual, i.rip);
  c.icount -= 1;
}

/** Performs a VM exit with basic reason `reason` and the given qualification; guest RIP as given. */
export function vmExit(c: Cpu, reason: number, qual: number, guestRip: number): void {
  const v = vmxOf(c);
  const d = v.vmcs;
  // the stores below (and saveGuestState's) do not move it themselves
  d.writeGen++;
  // ---- 28.2: exit information (fields no change counter follows) ----
  // Stored straight into lo/hi: this is the hottest VMCS writer, and calls to put() here went past
  // V8's inlining budget (they showed up as calls of their own in profiles)
  const lo = d.lo, hi = d.hi;
  lo[S.VM_EXIT_REASON] = reason; hi[S.VM_EXIT_REASON] = 0;
  let h = numHi(qual);
  lo[S.EXIT_QUALIFICATION] = numLo(qual, h); hi[S.EXIT_QUALIFICATION] = h;
  lo[S.VM_EXIT_INTR_INFO] = exitInfo.intrInfo; hi[S.VM_EXIT_INTR_INFO] = 0;
  if (exitInfo.intrError >= 0) { lo[S.VM_EXIT_INTR_ERROR_CODE] = exitInfo.intrError; hi[S.VM_EXIT_INTR_ERROR_CODE] = 0; }
  lo[S.IDT_VECTORING_INFO_FIELD] = v.vectoringInfo; hi[S.IDT_VECTORING_INFO_FIELD] = 0;
  if (v.vectoringInfo & 0x800) { lo[S.IDT_VECTORING_ERROR_CODE] = v.vectoringError; hi[S.IDT_VECTORING_ERROR_CODE] = 0; }
  if (exitInfo.len >= 0) { lo[S.VM_EXIT_INSTRUCTION_LEN] = exitInfo.len; hi[S.VM_EXIT_INSTRUCTION_LEN] = 0; }
  if (exitInfo.hasInfo) { lo[S.VMX_INSTRUCTION_INFO] = exitInfo.info; hi[S.VMX_INSTRUCTION_INFO] = 0; }
  if (exitInfo.hasLinear) {
    h = numHi(exitInfo.linear);
    lo[S.GUEST_LINEAR_ADDRESS] = numLo(exitInfo.linear, h); hi[S.GUEST_LINEAR_ADDRESS] = h;
  }
  // every VM exit invalidates the VM-entry interruption information (SDM 28.2.? "bit 31 cleared")
  const entryInfo = d.i32(S.VM_ENTRY_INTR_INFO_FIELD);
  if (entryInfo < 0) d.set(S.VM_ENTRY_INTR_INFO_FIELD, entryInfo & 0x7FFFFFFF, 0);
  // ---- 28.3: guest state ----
  saveGuestState(c, v, guestRip);
  const nmi = exitInfo.nmi;
  resetInfo();
  v.lastExit.reason = reason;
  v.lastExit.qualification = qual;
  v.lastExit.guestRip = guestRip;
  v.lastExit.icount = c.icount;
  v.exitCount++;
  if (v.inPlace !== null && !nmi && inPlaceAllowed(c, v) && v.inPlace.handleInPlace(reason)) return;
  // ---- 28.4: VM-exit MSR-store list ----
  if (!storeMsrs(c, v)) return vmxAbort(c, v, 1, 'storing a guest MSR in the VM-exit MSR-store list failed');
  leaveNonRoot(c, v, nmi);
  notifyVmExit(c);
}

/**
 * Whether an exit may be handled in place (state.ts InPlaceVmm): no observer needs the exit to
 * complete (observer.ts exitsObserved), no MSR
 * is stored or loaded on the way, and VM entry would load back exactly what this exit saved (debug
 * controls, EFER and PAT saved and loaded in pairs), so skipping the host state changes nothing the
 * guest can see. MTF is left to the architectural path.
 */
function inPlaceAllowed(c: Cpu, v: Vmx): boolean {
  const d = v.vmcs;
  // everything but the observer is a control field: decided once per ctlGen
  if (d.ctlGen === v.inPlaceCtlGen) return v.inPlaceOk && !exitsObserved(c);
  v.inPlaceCtlGen = d.ctlGen;
  v.inPlaceOk = false;
  const exitCtl = d.i32(S.VM_EXIT_CONTROLS), entryCtl = d.i32(S.VM_ENTRY_CONTROLS);
  if (!(exitCtl & EXIT_CTL_SAVE_DEBUG) || !(entryCtl & ENTRY_CTL_LOAD_DEBUG)) return false;
  if (!(exitCtl & EXIT_CTL_SAVE_EFER) || !(entryCtl & ENTRY_CTL_LOAD_EFER)) return false;
  if (exitCtl & EXIT_CTL_LOAD_PAT && (!(exitCtl & EXIT_CTL_SAVE_PAT) || !(entryCtl & ENTRY_CTL_LOAD_PAT))) return false;
  if (d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_MTF) return false;
  if (d.i32(S.VM_EXIT_MSR_STORE_COUNT) !== 0 || d.i32(S.VM_ENTRY_MSR_LOAD_COUNT) !== 0) return false;
  v.inPlaceOk = true;
  return !exitsObserved(c);
}

/**
 * A VM-entry failure after the guest state checks started (SDM 27.8): reason 33/34 with bit 31,
 * qualification; host state and the VM-exit MSR-load list are loaded, guest state is not saved.
 */
export function entryFailureExit(c: Cpu, reason: number, qual: number): void {
  const v = vmxOf(c);
  const d = v.vmcs;
  d.set(S.VM_EXIT_REASON, (reason | 0x80000000) | 0, 0);
  d.setNum(S.EXIT_QUALIFICATION, qual);
  v.lastExit.reason = (reason | 0x80000000) | 0;
  v.lastExit.qualification = qual;
  v.lastExit.guestRip = d.num(S.GUEST_RIP);
  v.lastExit.icount = c.icount;
  resetInfo();
  leaveNonRoot(c, v, false);
}

/** Host state, host MSRs, back to root operation. */
function leaveNonRoot(c: Cpu, v: Vmx, nmi: boolean): void {
  c.noteWorldLeaving();
  c.nonRoot = false;
  c.eptActive = false;
  c.apicPage = -1;
  v.timerActive = false;
  v.vectoringInfo = 0;
  v.delivering = false;
  v.shadowKind = SHADOW_NONE;
  v.guestActivity = 0;
  c.events &= ~EV_VMX;
  leaveGuestDebug(c, v);
  c.shadow = false;
  c.halted = false;
  c.shutdown = false;
  if (nmi && !(v.vmcs.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_VIRTUAL_NMIS)) c.nmiBlocked = true;
  const why = loadHostState(c, v);
  if (why) return vmxAbort(c, v, 2, why);
  if (!loadMsrList(c, v, S.VM_EXIT_MSR_LOAD_ADDR, S.VM_EXIT_MSR_LOAD_COUNT).ok) {
    return vmxAbort(c, v, 4, 'loading a host MSR from the VM-exit MSR-load list failed');
  }
}

/** SDM 28.7: the abort indicator goes to VMCS byte 4 and the processor shuts down. */
function vmxAbort(c: Cpu, v: Vmx, indicator: number, why: string): void {
  c.nonRoot = false;
  c.eptActive = false;
  c.apicPage = -1;
  if (v.hasCurrent) c.physWrite(v.current + VMCS_OFF_ABORT, 4, indicator);
  c.enterShutdown(`VMX abort ${indicator}: ${why}`);
}

function segSlots(s: number): [number, number, number, number] {
  switch (s) {
    case K.SEG_ES: return [S.GUEST_ES_SELECTOR, S.GUEST_ES_BASE, S.GUEST_ES_LIMIT, S.GUEST_ES_AR_BYTES];
    case K.SEG_CS: return [S.GUEST_CS_SELECTOR, S.GUEST_CS_BASE, S.GUEST_CS_LIMIT, S.GUEST_CS_AR_BYTES];
    case K.SEG_SS: return [S.GUEST_SS_SELECTOR, S.GUEST_SS_BASE, S.GUEST_SS_LIMIT, S.GUEST_SS_AR_BYTES];
    case K.SEG_DS: return [S.GUEST_DS_SELECTOR, S.GUEST_DS_BASE, S.GUEST_DS_LIMIT, S.GUEST_DS_AR_BYTES];
    case K.SEG_FS: return [S.GUEST_FS_SELECTOR, S.GUEST_FS_BASE, S.GUEST_FS_LIMIT, S.GUEST_FS_AR_BYTES];
    case K.SEG_GS: return [S.GUEST_GS_SELECTOR, S.GUEST_GS_BASE, S.GUEST_GS_LIMIT, S.GUEST_GS_AR_BYTES];
    case K.SEG_LDTR: return [S.GUEST_LDTR_SELECTOR, S.GUEST_LDTR_BASE, S.GUEST_LDTR_LIMIT, S.GUEST_LDTR_AR_BYTES];
    default: return [S.GUEST_TR_SELECTOR, S.GUEST_TR_BASE, S.GUEST_TR_LIMIT, S.GUEST_TR_AR_BYTES];
  }
}

/** GUEST_PDPTR0..3. */
export const GUEST_PDPTR_SLOTS: readonly number[] = [S.GUEST_PDPTR0, S.GUEST_PDPTR1, S.GUEST_PDPTR2, S.GUEST_PDPTR3];

/**
 * Guest segment-register slots, flat: [selector, base, limit, AR] of segment s (core segment number:
 * ES..GS, LDTR, TR) at 4 * s, so the exit and entry loops index an array instead of destructuring.
 */
export const GUEST_SEG_FLAT = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7].flatMap(segSlots));

/** The interruptibility state the guest is in (SDM 25.4.2) for the instruction at `rip`. */
export function interruptibility(c: Cpu, v: Vmx, rip: number): number {
  let st = 0;
  if (v.shadowKind !== SHADOW_NONE && v.shadowRip === rip) st |= v.shadowKind === SHADOW_STI ? 1 : 2;
  const nmiBlocked = v.vmcs.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_VIRTUAL_NMIS ? v.vnmiBlocked : c.nmiBlocked;
  if (nmiBlocked) st |= 8;
  return st;
}

/** The stable registers of SDM 28.3.1-28.3.2 but segments; non-zero when any saved value changed. */
function saveStableRegisters(c: Cpu, d: VmcsCache, exitCtl: number): number {
  let changed = d.put(S.GUEST_CR0, c.cr0, 0);
  changed |= d.putNum(S.GUEST_CR3, c.cr3);
  changed |= d.put(S.GUEST_CR4, c.cr4, 0);
  if (exitCtl & EXIT_CTL_SAVE_DEBUG) {
    changed |= d.putNum(S.GUEST_DR7, c.dr[7]);
    changed |= d.put(S.GUEST_IA32_DEBUGCTL, c.msrs.debugctl, 0);
  }
  changed |= d.put(S.GUEST_SYSENTER_CS, c.msrs.sysenterCs, 0);
  changed |= d.putNum(S.GUEST_SYSENTER_ESP, c.msrs.sysenterEsp);
  changed |= d.putNum(S.GUEST_SYSENTER_EIP, c.msrs.sysenterEip);
  if (exitCtl & EXIT_CTL_SAVE_EFER) changed |= d.put(S.GUEST_IA32_EFER, c.efer, 0);
  changed |= d.putNum(S.GUEST_GDTR_BASE, c.gdtrBase);
  changed |= d.put(S.GUEST_GDTR_LIMIT, c.gdtrLimit, 0);
  changed |= d.putNum(S.GUEST_IDTR_BASE, c.idtrBase);
  return changed | d.put(S.GUEST_IDTR_LIMIT, c.idtrLimit, 0);
}

/** SDM 28.3.2: the segment registers (selector, base, limit, access rights); non-zero on a change. */
function saveSegments(c: Cpu, d: VmcsCache): number {
  let changed = 0;
  for (let s = 0; s < 8; s++) {
    const f = s * 4;
    changed |= d.put(GUEST_SEG_FLAT[f], c.segSel[s], 0);
    changed |= d.putNum(GUEST_SEG_FLAT[f + 1], c.segBase[s]);
    changed |= d.putNum(GUEST_SEG_FLAT[f + 2], c.segLimit[s]);
    changed |= d.put(GUEST_SEG_FLAT[f + 3], c.segAr[s], 0);
  }
  return changed;
}

/** Off only in tests that compare the VMCS against saving every stable field at every exit. */
let skipUnchangedStable = true;
export function setSkipUnchangedStable(on: boolean): void {
  skipUnchangedStable = on;
}

/** SDM 28.3: processor state into the guest-state area. */
function saveGuestState(c: Cpu, v: Vmx, rip: number): void {
  const d = v.vmcs;
  const exitCtl = d.i32(S.VM_EXIT_CONTROLS);
  // the stable fields (VmcsCache.guestGen): a change moves the counter the entry checks look at. After
  // an exit handled in place nothing has reloaded them, so unless the guest changed one of those
  // registers (cpu.sysGen) or something wrote the VMCS, they hold what this save would write
  if (c.sysGen !== v.stableSysGen || d.guestGen !== v.stableGuestGen || d.ctlGen !== v.stableCtlGen || !skipUnchangedStable) {
    v.stableSaves++;
    if ((saveStableRegisters(c, d, exitCtl) | saveSegments(c, d)) !== 0) d.guestChanged();
    v.stableSysGen = c.sysGen;
    v.stableGuestGen = d.guestGen;
    v.stableCtlGen = d.ctlGen;
  }
  if (exitCtl & EXIT_CTL_SAVE_PAT) d.setBig(S.GUEST_IA32_PAT, c.msrs.read(MSR_PAT));
  // the volatile fields, stored straight (as vmExit's exit information)
  const lo = d.lo, hi = d.hi;
  const ripHi = numHi(rip);
  lo[S.GUEST_RIP] = numLo(rip, ripHi); hi[S.GUEST_RIP] = ripHi;
  lo[S.GUEST_RSP] = c.r[4]; hi[S.GUEST_RSP] = c.rh[4];
  lo[S.GUEST_RFLAGS] = exitInfo.rf ? c.getFlags() | F.RF : c.getFlags(); hi[S.GUEST_RFLAGS] = 0;
  lo[S.GUEST_ACTIVITY_STATE] = exitInfo.activity; hi[S.GUEST_ACTIVITY_STATE] = 0;
  lo[S.GUEST_INTERRUPTIBILITY_INFO] = interruptibility(c, v, rip); hi[S.GUEST_INTERRUPTIBILITY_INFO] = 0;
  lo[S.GUEST_PENDING_DBG_EXCEPTIONS] = savedPendingDebug(c, v, rip); hi[S.GUEST_PENDING_DBG_EXCEPTIONS] = 0;
  // SDM 28.3.4: with EPT, a PAE-paging guest's PDPTEs are saved
  if (c.eptActive && c.cr0 & K.CR0_PG && c.cr4 & K.CR4_PAE && !(c.efer & K.EFER_LMA)) {
    for (let n = 0; n < 4; n++) d.set(GUEST_PDPTR_SLOTS[n], c.pdpte[n * 2], c.pdpte[n * 2 + 1]);
  }
  if (v.timerActive && exitCtl & EXIT_CTL_SAVE_TIMER) d.set(S.VMX_PREEMPTION_TIMER_VALUE, timerRemaining(c, v), 0);
  // IA32_VMX_MISC[5]: the "IA-32e mode guest" entry control follows EFER.LMA
  if (v.storeEferLma) {
    const e = d.i32(S.VM_ENTRY_CONTROLS);
    const n = c.efer & K.EFER_LMA ? e | ENTRY_CTL_IA32E : e & ~ENTRY_CTL_IA32E;
    if (n !== e) d.set(S.VM_ENTRY_CONTROLS, n, 0);
  }
}

/** Preemption-timer value left now (it counts down once every 2^rate TSC ticks). */
export function timerRemaining(c: Cpu, v: Vmx): number {
  const rate = v.caps.spec.misc.timerRate;
  // the timer counts TSC time, which also runs while the guest is halted (idle ticks)
  const elapsed = Math.floor((c.readTsc() - v.timerStart) / 2 ** rate);
  return Math.max(0, v.timerValue - elapsed);
}

/** CR0 bits a VM exit or entry never changes (SDM 27.3.2.1, 28.5.1): ET, NW, CD, 15:6, 17, 28:19. */
export const CR0_KEEP = (K.CR0_ET | K.CR0_NW | K.CR0_CD | 0x0000FFC0 | 0x00020000 | 0x1FF80000) | 0;

/** SDM 28.5: host state. Returns why a VMX abort is needed, or '' on success. */
function loadHostState(c: Cpu, v: Vmx): string {
  const d = v.vmcs;
  const exitCtl = d.i32(S.VM_EXIT_CONTROLS);
  const host64 = (exitCtl & EXIT_CTL_HOST_64) !== 0;
  c.cr0 = (d.i32(S.HOST_CR0) & ~CR0_KEEP) | (c.cr0 & CR0_KEEP) | K.CR0_ET;
  c.cr4 = d.i32(S.HOST_CR4);
  c.cr3 = d.unum(S.HOST_CR3);
  loadDr7(c, 0x400);
  c.msrs.debugctl = 0;
  c.msrs.sysenterCs = d.u32(S.HOST_IA32_SYSENTER_CS) & 0xFFFF;
  c.msrs.sysenterEsp = d.num(S.HOST_IA32_SYSENTER_ESP);
  c.msrs.sysenterEip = d.num(S.HOST_IA32_SYSENTER_EIP);
  if (exitCtl & EXIT_CTL_LOAD_EFER) c.efer = d.i32(S.HOST_IA32_EFER) & (K.EFER_SCE | K.EFER_LME | K.EFER_LMA | K.EFER_NXE);
  else c.efer = host64 ? c.efer | K.EFER_LMA | K.EFER_LME : c.efer & ~(K.EFER_LMA | K.EFER_LME);
  if (exitCtl & EXIT_CTL_LOAD_PAT) c.msrs.loadChecked(MSR_PAT, d.big(S.HOST_IA32_PAT));
  // segment registers (28.5.2): flat, DPL 0, accessed; null selectors make SS/DS/ES/FS/GS unusable
  c.storeSegRaw(K.SEG_CS, d.i32(S.HOST_CS_SELECTOR) & 0xFFFF, 0, 0xFFFFFFFF,
    K.AR_P | K.AR_S | 11 | K.AR_G | (host64 ? K.AR_L : K.AR_DB));
  hostDataSeg(c, K.SEG_SS, d.i32(S.HOST_SS_SELECTOR), 0);
  hostDataSeg(c, K.SEG_DS, d.i32(S.HOST_DS_SELECTOR), 0);
  hostDataSeg(c, K.SEG_ES, d.i32(S.HOST_ES_SELECTOR), 0);
  hostDataSeg(c, K.SEG_FS, d.i32(S.HOST_FS_SELECTOR), d.num(S.HOST_FS_BASE));
  hostDataSeg(c, K.SEG_GS, d.i32(S.HOST_GS_SELECTOR), d.num(S.HOST_GS_BASE));
  // FS/GS bases come from the host fields even for null selectors (64-bit hosts use them)
  c.segBase[K.SEG_FS] = host64 ? d.num(S.HOST_FS_BASE) : d.u32(S.HOST_FS_BASE);
  c.segBase[K.SEG_GS] = host64 ? d.num(S.HOST_GS_BASE) : d.u32(S.HOST_GS_BASE);
  c.storeSegRaw(K.SEG_TR, d.i32(S.HOST_TR_SELECTOR) & 0xFFFF, d.num(S.HOST_TR_BASE), 0x67, K.AR_P | 11);
  c.storeSegRaw(K.SEG_LDTR, 0, 0, 0, K.AR_UNUSABLE);
  c.gdtrBase = d.num(S.HOST_GDTR_BASE);
  c.gdtrLimit = 0xFFFF;
  c.idtrBase = d.num(S.HOST_IDTR_BASE);
  c.idtrLimit = 0xFFFF;
  c.r[4] = d.i32(S.HOST_RSP);
  c.rh[4] = host64 ? d.hi[S.HOST_RSP] : 0;
  c.rip = host64 ? d.num(S.HOST_RIP) : d.u32(S.HOST_RIP);
  c.setFlags(0, F.IMPLEMENTED);
  c.updateMode();
  // host translations are VPID 0: kept across the guest's run only when the guest had its own VPID
  const p1 = d.u32(S.CPU_BASED_VM_EXEC_CONTROL);
  const p2 = p1 & P1_SECONDARY ? d.u32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
  const guestVpid = p2 & P2_VPID ? d.u32(S.VIRTUAL_PROCESSOR_ID) & 0xFFFF : 0;
  c.switchTlbWorld(false, guestVpid !== 0);
  if (c.cr0 & K.CR0_PG && c.cr4 & K.CR4_PAE && !(c.efer & K.EFER_LMA)) {
    try {
      loadPdptes(c);
    } catch (e) {
      if (e !== FAULT) throw e;
      return 'a host PDPTE has reserved bits set';
    }
  }
  return '';
}

/**
 * DR7 as VM entry and exit load it: breakpoints the old value armed must not fire in the other world
 * and the new value's must, so the core re-derives them when either value enables any.
 */
export function loadDr7(c: Cpu, value: number): void {
  const old = c.dr[7];
  c.dr[7] = value;
  if (old !== value && ((old | value) & 0xFF) !== 0) c.debugRegistersChanged();
}

const HOST_DATA_AR = K.AR_P | K.AR_S | 3 | K.AR_DB | K.AR_G;

/** A host data segment (SDM 28.5.2): flat read/write data, or unusable for a null selector. */
function hostDataSeg(c: Cpu, s: number, selector: number, base: number): void {
  const sel = selector & 0xFFFF;
  if (sel === 0) c.storeSegRaw(s, 0, base, 0xFFFFFFFF, K.AR_UNUSABLE);
  else c.storeSegRaw(s, sel, base, 0xFFFFFFFF, HOST_DATA_AR);
}

/**
 * Processes an MSR-load list (VM entry: SDM 27.4; VM exit: 28.6). Returns ok, or the 1-based index
 * of the failing entry with the reason.
 */
export function loadMsrList(c: Cpu, v: Vmx, addrSlot: number, countSlot: number): { ok: boolean; index: number; why: string } {
  const count = v.vmcs.u32(countSlot);
  if (count === 0) return OK;
  const base = v.vmcs.unum(addrSlot);
  const max = 512 * (v.caps.spec.misc.maxMsrList + 1);
  for (let k = 0; k < count; k++) {
    if (k >= max) return { ok: false, index: k + 1, why: `more than the ${max} entries IA32_VMX_MISC recommends` };
    const p = base + k * 16;
    const index = c.physRead(p, 4) >>> 0;
    const rsvd = c.physRead(p + 4, 4);
    const value = (BigInt(c.physRead(p + 12, 4) >>> 0) << 32n) | BigInt(c.physRead(p + 8, 4) >>> 0);
    const bad = msrLoadRule(index, rsvd);
    if (bad) return { ok: false, index: k + 1, why: bad };
    try {
      c.msrs.write(index, value);
    } catch (e) {
      if (e !== FAULT) throw e;
      return { ok: false, index: k + 1, why: `WRMSR 0x${index.toString(16)} of 0x${value.toString(16)} would #GP (${c.faultWhy})` };
    }
  }
  return OK;
}

const OK = { ok: true, index: 0, why: '' };

/** SDM 27.4 / 28.6: MSRs an MSR-load list may not name. '' when allowed. */
function msrLoadRule(index: number, rsvd: number): string {
  if (rsvd !== 0) return 'bits 63:32 of the entry (reserved) are not 0';
  if (index === 0xC0000100 || index === 0xC0000101) return `MSR 0x${index.toString(16)} (IA32_FS_BASE / IA32_GS_BASE) may not be loaded from an MSR list`;
  if (index >>> 8 === 0x8) return `MSR 0x${index.toString(16)} is in the x2APIC range 0x800-0x8FF`;
  if (index === 0x9B) return 'IA32_SMM_MONITOR_CTL may not be loaded from an MSR list';
  if (index === 0x79 || index === 0x8B) return `microcode-update MSR 0x${index.toString(16)} may not be loaded from an MSR list`;
  return '';
}

/** SDM 28.4: the VM-exit MSR-store list. */
function storeMsrs(c: Cpu, v: Vmx): boolean {
  const count = v.vmcs.u32(S.VM_EXIT_MSR_STORE_COUNT);
  if (count === 0) return true;
  const base = v.vmcs.unum(S.VM_EXIT_MSR_STORE_ADDR);
  const max = 512 * (v.caps.spec.misc.maxMsrList + 1);
  for (let k = 0; k < count; k++) {
    if (k >= max) return false;
    const p = base + k * 16;
    const index = c.physRead(p, 4) >>> 0;
    if (c.physRead(p + 4, 4) !== 0 || index >>> 8 === 0x8 || index === 0x9E) return false;
    let value: bigint;
    try {
      value = c.msrs.read(index);
    } catch (e) {
      if (e !== FAULT) throw e;
      return false;
    }
    c.physWrite(p + 8, 4, Number(value & 0xFFFFFFFFn) | 0);
    c.physWrite(p + 12, 4, Number((value >> 32n) & 0xFFFFFFFFn) | 0);
  }
  return true;
}

