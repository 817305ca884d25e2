import type { Cpu } from '../cpu';
import { FAULT } from '../cpu';
import * as K from '../constants';
import { EVT_EXT, EVT_HW, EVT_ICEBP, EVT_NMI, EVT_SOFT, EVT_SOFTEXC } from '../interrupts';
import { MSR_PAT } from '../msr';
import { loadPdptes } from '../paging';
import { deliverPendingFault } from '../tasks';
import { checkControls, checkGuest, checkHost, entryPassesQuietly, readControls, type Controls } from './entryChecks';
import { apicAccessEnter } from './apicAccess';
import { eptEnter } from './ept';
import { CR0_KEEP, ENTRY_CTL_IA32E, ENTRY_CTL_LOAD_DEBUG, ENTRY_CTL_LOAD_EFER, ENTRY_CTL_LOAD_PAT, EV_VMX, EXIT_CTL_HOST_64, EXIT_CTL_LOAD_EFER, EXIT_CTL_SAVE_DEBUG, EXIT_CTL_SAVE_EFER, GUEST_PDPTR_SLOTS, GUEST_SEG_FLAT, PIN_TIMER, PIN_VIRTUAL_NMIS, entryFailureExit, loadDr7, loadMsrList } from './exit';
import { P1_MTF, enterMtfAndDebug, leaveGuestDebug } from './mtf';
import { vmFailValid } from './result';
import { controlMask } from './spec';
import * as S from './slots';
import { SHADOW_MOVSS, SHADOW_NONE, SHADOW_STI, Vmx, type ResumePlan } from './state';
import { LAUNCH_LAUNCHED, type VmcsCache } from './vmcs';

/**
 * VM entry after the basic checks of VMLAUNCH/VMRESUME (SDM chapter 27): controls and host state
 * (VMfailValid 7/8), guest state (failure exit 33), guest-state loading (27.3.2), the VM-entry
 * MSR-load list (27.4, failure exit 34), then event injection (27.6) and non-root operation.
 *
 * Returns 'fail' when the instruction completes with VMfailValid (RIP after VMLAUNCH), 'exit' when
 * the entry failed into the host (RIP = HOST_RIP), 'entered' when the guest runs (RIP = GUEST_RIP).
 */

const P2_EPT = controlMask('SECONDARY_EXEC_ENABLE_EPT');
const P2_VPID = controlMask('SECONDARY_EXEC_ENABLE_VPID');
const P2_APIC_ACCESS = controlMask('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES');

export type EntryOutcome = 'fail' | 'exit' | 'entered';

export function vmEntry(c: Cpu, v: Vmx, launch: boolean): EntryOutcome {
  v.lastEntryFailure = null;
  let f = checkControls(c, v);
  if (f) {
    v.lastEntryFailure = f;
    vmFailValid(c, v, 7);
    return 'fail';
  }
  f = checkHost(c, v);
  if (f) {
    v.lastEntryFailure = f;
    vmFailValid(c, v, 8);
    return 'fail';
  }
  const g = checkGuest(c, v);
  if (g.failure) {
    v.lastEntryFailure = g.failure;
    entryFailureExit(c, 33, g.qualification);
    return 'exit';
  }
  loadGuestState(c, v);
  c.nonRoot = true;
  const m = loadMsrList(c, v, S.VM_ENTRY_MSR_LOAD_ADDR, S.VM_ENTRY_MSR_LOAD_COUNT);
  if (!m.ok) {
    v.lastEntryFailure = {
      check: 'F', section: 'SDM 27.4 (loading MSRs)', field: 'VM_ENTRY_MSR_LOAD_ADDR',
      detail: `VM-entry MSR-load entry ${m.index}: ${m.why}`,
      result: `VM-entry failure: exit reason 34 (MSR loading), qualification ${m.index}`,
    };
    entryFailureExit(c, 34, m.index);
    return 'exit';
  }
  if (launch) v.vmcs.launch = LAUNCH_LAUNCHED;
  startNonRoot(c, v);
  return 'entered';
}

const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
const P1_INTR_WINDOW = controlMask('CPU_BASED_INTR_WINDOW_EXITING');
const P1_NMI_WINDOW = controlMask('CPU_BASED_NMI_WINDOW_EXITING');
const PIN_EXT_INTR = controlMask('PIN_BASED_EXT_INTR_MASK');

/**
 * VMRESUME by a VMM that handled an exit in place (state.ts InPlaceVmm): the guest state is still in
 * the processor, equal to what the exit saved, so of the guest-state load only what such a VMM may
 * change is loaded (RIP here, interruptibility and the event to inject in startNonRoot). The checks
 * run as for any VM entry, in root operation's EFER.LMA; false (nothing changed) when one fails, and
 * the exit then completes for the VMM to VMRESUME architecturally, which fails the same way.
 */
export function resumeInPlace(c: Cpu, v: Vmx): boolean {
  const d = v.vmcs;
  const plan = v.resumePlan;
  if (plan.ctlGen !== d.ctlGen) planResume(v);
  const quiet = entryPassesQuietly(c, v, plan.hostLma);
  if (!quiet && (checkControls(c, v) !== null || checkHost(c, v, plan.hostLma) !== null || checkGuest(c, v).failure !== null)) return false;
  v.lastEntryFailure = null;
  c.rip = plan.ia32e && (c.segAr[K.SEG_CS] & K.AR_L) !== 0 ? d.num(S.GUEST_RIP) : d.u32(S.GUEST_RIP);
  // without a VPID the exit and the entry would each have flushed the TLB
  if (plan.flushTlb) c.switchTlbWorld(true, false);
  // and without EPT a PAE guest's PDPTEs are read again through CR3 (checked by E3 just now)
  if (plan.pdptesFromCr3 && c.cr0 & K.CR0_PG && c.cr4 & K.CR4_PAE && !(c.efer & K.EFER_LMA)) loadPdptes(c);
  // what the exit would have reset in leaving non-root operation
  v.timerActive = false;
  v.delivering = false;
  c.shutdown = false;
  c.halted = false;
  leaveGuestDebug(c, v);
  if (quiet && plan.quietControls) startQuietly(c, v, plan);
  else startNonRoot(c, v);
  return true;
}

/** What resumeInPlace needs of the controls, worked out once per VmcsCache.ctlGen. */
function planResume(v: Vmx): void {
  const d = v.vmcs, plan = v.resumePlan;
  const pin = d.i32(S.PIN_BASED_VM_EXEC_CONTROL), p1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
  const p2 = p1 & P1_SECONDARY ? d.i32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
  plan.ctlGen = d.ctlGen;
  plan.hostLma = inPlaceHostLma(v);
  plan.ia32e = (d.i32(S.VM_ENTRY_CONTROLS) & ENTRY_CTL_IA32E) !== 0;
  plan.flushTlb = !(p2 & P2_VPID) || (d.u32(S.VIRTUAL_PROCESSOR_ID) & 0xFFFF) === 0;
  plan.pdptesFromCr3 = !(p2 & P2_EPT);
  plan.virtualNmis = (pin & PIN_VIRTUAL_NMIS) !== 0;
  plan.extIntrExiting = (pin & PIN_EXT_INTR) !== 0;
  // nothing of startNonRoot's but the interruptibility and NMI blocking depends on the guest state
  plan.quietControls = !(pin & PIN_TIMER) && !(p1 & (P1_INTR_WINDOW | P1_NMI_WINDOW | P1_MTF)) && !(p2 & P2_APIC_ACCESS);
}

/** EFER.LMA of the root operation an exit handled in place never went back to (its VMRESUME's checks use it). */
export function inPlaceHostLma(v: Vmx): boolean {
  const d = v.vmcs;
  const exitCtl = d.i32(S.VM_EXIT_CONTROLS);
  return exitCtl & EXIT_CTL_LOAD_EFER ? (d.i32(S.HOST_IA32_EFER) & K.EFER_LMA) !== 0 : (exitCtl & EXIT_CTL_HOST_64) !== 0;
}

const entryControls: Controls = { pin: 0, proc1: 0, proc2: 0, exit: 0, entry: 0 };

/** SDM 27.3.2: processor state from the guest-state area (checked already, so nothing here faults). */
function loadGuestState(c: Cpu, v: Vmx): void {
  c.noteWorldLeaving();
  const d = v.vmcs;
  const ctl = readControls(v, entryControls);
  const ia32e = (ctl.entry & ENTRY_CTL_IA32E) !== 0;
  c.cr0 = (d.i32(S.GUEST_CR0) & ~CR0_KEEP) | (c.cr0 & CR0_KEEP) | K.CR0_ET;
  c.cr3 = d.unum(S.GUEST_CR3);
  c.cr4 = d.i32(S.GUEST_CR4);
  if (ctl.entry & ENTRY_CTL_LOAD_DEBUG) {
    loadDr7(c, d.u32(S.GUEST_DR7));
    c.msrs.debugctl = d.lo[S.GUEST_IA32_DEBUGCTL];
  }
  c.msrs.sysenterCs = d.u32(S.GUEST_SYSENTER_CS) & 0xFFFF;
  c.msrs.sysenterEsp = d.num(S.GUEST_SYSENTER_ESP);
  c.msrs.sysenterEip = d.num(S.GUEST_SYSENTER_EIP);
  if (ctl.entry & ENTRY_CTL_LOAD_PAT) c.msrs.loadChecked(MSR_PAT, d.big(S.GUEST_IA32_PAT));
  if (ctl.entry & ENTRY_CTL_LOAD_EFER) {
    c.efer = d.i32(S.GUEST_IA32_EFER) & (K.EFER_SCE | K.EFER_LME | K.EFER_LMA | K.EFER_NXE);
  } else {
    c.efer = ia32e ? c.efer | K.EFER_LMA : c.efer & ~K.EFER_LMA;
    if (c.cr0 & K.CR0_PG) c.efer = ia32e ? c.efer | K.EFER_LME : c.efer & ~K.EFER_LME;
  }
  for (let s = 0; s < 8; s++) {
    const base = GUEST_SEG_FLAT[s * 4 + 1];
    // outside IA-32e mode only bits 31:0 of a base exist
    const b = ia32e ? d.num(base) : d.u32(base);
    c.storeSegRaw(s, d.i32(GUEST_SEG_FLAT[s * 4]) & 0xFFFF, b, d.u32(GUEST_SEG_FLAT[s * 4 + 2]), d.i32(GUEST_SEG_FLAT[s * 4 + 3]));
  }
  c.gdtrBase = ia32e ? d.num(S.GUEST_GDTR_BASE) : d.u32(S.GUEST_GDTR_BASE);
  c.gdtrLimit = d.u32(S.GUEST_GDTR_LIMIT);
  c.idtrBase = ia32e ? d.num(S.GUEST_IDTR_BASE) : d.u32(S.GUEST_IDTR_BASE);
  c.idtrLimit = d.u32(S.GUEST_IDTR_LIMIT);
  const long64 = ia32e && (d.i32(S.GUEST_CS_AR_BYTES) & K.AR_L) !== 0;
  c.rip = long64 ? d.num(S.GUEST_RIP) : d.u32(S.GUEST_RIP);
  c.r[4] = d.i32(S.GUEST_RSP);
  c.rh[4] = d.hi[S.GUEST_RSP];
  c.setFlags(d.i32(S.GUEST_RFLAGS), -1);
  c.updateMode();
  // with a VPID the guest's translations are tagged and survive exits (SDM 28.3.3.1); without, flush
  const vpid = ctl.proc2 & P2_VPID ? d.u32(S.VIRTUAL_PROCESSOR_ID) & 0xFFFF : 0;
  const ept = (ctl.proc2 & P2_EPT) !== 0;
  c.switchTlbWorld(true, vpid !== 0, vpid, ept ? d.hi[S.EPT_POINTER] : -1, ept ? d.lo[S.EPT_POINTER] : -1);
  if (ctl.proc2 & P2_EPT) eptEnter(c, v);
  if (c.cr0 & K.CR0_PG && c.cr4 & K.CR4_PAE && !ia32e) {
    // SDM 27.3.2.4: with EPT the PDPTEs come from the VMCS (checked already), otherwise from CR3
    if (ctl.proc2 & P2_EPT) {
      for (let n = 0; n < 4; n++) {
        c.pdpte[n * 2] = d.lo[GUEST_PDPTR_SLOTS[n]];
        c.pdpte[n * 2 + 1] = d.hi[GUEST_PDPTR_SLOTS[n]];
      }
    } else loadPdptes(c);
  }
  v.guestCr2 = c.cr2;
  // the stable fields now describe the processor exactly: the next exit need not save them again
  // unless the guest changes one of those registers (exit.ts saveGuestState, cpu.sysGen)
  v.stableSysGen = loadedAsSaved(c, d, ia32e, ctl.exit) ? c.sysGen : -1;
  v.stableGuestGen = d.guestGen;
  v.stableCtlGen = d.ctlGen;
}

/** Bases that outside IA-32e mode VM entry truncates to 32 bits. */
const STABLE_BASES = [
  S.GUEST_ES_BASE, S.GUEST_CS_BASE, S.GUEST_SS_BASE, S.GUEST_DS_BASE, S.GUEST_FS_BASE, S.GUEST_GS_BASE,
  S.GUEST_LDTR_BASE, S.GUEST_TR_BASE, S.GUEST_GDTR_BASE, S.GUEST_IDTR_BASE,
];

/**
 * Whether saveGuestState would write back exactly the stable fields guest-state loading just read.
 * Loading is the identity on them except where VM entry transforms a value (CR0's fixed bits and ET,
 * 32-bit bases, EFER computed from the controls) or leaves a register the exit saves (DR7, DEBUGCTL
 * and EFER when the entry controls do not load them): those are compared.
 */
function loadedAsSaved(c: Cpu, d: VmcsCache, ia32e: boolean, exitCtl: number): boolean {
  if (c.cr0 !== d.lo[S.GUEST_CR0]) return false;
  if (exitCtl & EXIT_CTL_SAVE_DEBUG) {
    if (c.dr[7] !== d.u32(S.GUEST_DR7) || d.hi[S.GUEST_DR7] !== 0) return false;
    if (c.msrs.debugctl !== d.lo[S.GUEST_IA32_DEBUGCTL] || d.hi[S.GUEST_IA32_DEBUGCTL] !== 0) return false;
  }
  if (exitCtl & EXIT_CTL_SAVE_EFER && (c.efer !== d.lo[S.GUEST_IA32_EFER] || d.hi[S.GUEST_IA32_EFER] !== 0)) return false;
  if (d.u32(S.GUEST_SYSENTER_CS) > 0xFFFF) return false;
  if (!ia32e) for (const slot of STABLE_BASES) if (d.hi[slot] !== 0) return false;
  return true;
}

/** Interruptibility, activity state, preemption timer, event injection: the guest starts. */
function startNonRoot(c: Cpu, v: Vmx): void {
  const d = v.vmcs;
  const pin = d.i32(S.PIN_BASED_VM_EXEC_CONTROL);
  const intr = d.u32(S.GUEST_INTERRUPTIBILITY_INFO);
  const rip = c.rip;
  v.shadowKind = intr & 1 ? SHADOW_STI : intr & 2 ? SHADOW_MOVSS : 0;
  v.shadowRip = rip;
  c.shadow = (intr & 3) !== 0;
  if (pin & PIN_VIRTUAL_NMIS) v.vnmiBlocked = (intr & 8) !== 0;
  else c.nmiBlocked = (intr & 8) !== 0;
  v.vectoringInfo = 0;
  v.pauseLast = v.pauseFirst = -1;
  const act = d.u32(S.GUEST_ACTIVITY_STATE);
  v.guestActivity = act;
  c.halted = act !== 0;
  if (pin & PIN_TIMER) {
    v.timerActive = true;
    v.timerValue = d.u32(S.VMX_PREEMPTION_TIMER_VALUE);
    v.timerStart = c.readTsc();
    c.events |= EV_VMX;
  }
  const info = d.i32(S.VM_ENTRY_INTR_INFO_FIELD);
  apicAccessEnter(c, v);
  enterMtfAndDebug(c, v, info);
  // what may exit before the first guest instruction is looked at there (events.ts boundary): the
  // window controls, an external interrupt already pending, the timer, MTF and debug traps, and
  // whatever an injection leads to. Without any of them that look would find nothing.
  const p1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
  if (p1 & (P1_INTR_WINDOW | P1_NMI_WINDOW) || info < 0 || c.mtf || c.pendingDb !== 0 || v.timerActive ||
    (pin & PIN_EXT_INTR && c.interruptPending())) c.events |= EV_VMX;
  // type 7 (a pending MTF VM exit, SDM 27.6.2) goes nowhere near the guest IDT
  if (info < 0 && ((info >>> 8) & 7) !== 7) inject(c, v, info);
}

/**
 * startNonRoot for a quiet guest state (entryChecks.ts entryPassesQuietly: active, no blocking, no
 * pending debug exceptions, nothing to inject) under controls without the preemption timer, window
 * exiting, MTF or APIC-access virtualization: what startNonRoot, apicAccessEnter and
 * enterMtfAndDebug then do after resumeInPlace's leaveGuestDebug (which already cleared the debug
 * traps and a pending MTF), without reading it all again. It must stay that; the monitor's
 * differential tests (test/machine/monitorFastPath.test.ts) compare it against architectural entries.
 */
function startQuietly(c: Cpu, v: Vmx, plan: ResumePlan): void {
  v.shadowKind = SHADOW_NONE;
  v.shadowRip = c.rip;
  c.shadow = false;
  if (plan.virtualNmis) v.vnmiBlocked = false;
  else c.nmiBlocked = false;
  v.vectoringInfo = 0;
  v.pauseLast = v.pauseFirst = -1;
  v.guestActivity = 0;
  c.apicPending = 0;
  c.apicPage = -1;
  v.mtfIcount = -1;
  if (plan.extIntrExiting && c.interruptPending()) c.events |= EV_VMX;
}

/** SDM 27.6: delivers the event of the VM-entry interruption-information field through the guest IDT. */
function inject(c: Cpu, v: Vmx, info: number): void {
  const d = v.vmcs;
  const type = (info >> 8) & 7, vec = info & 0xFF;
  const err = info & 0x800 ? d.u32(S.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1;
  const kind = type === 0 ? EVT_EXT : type === 2 ? EVT_NMI : type === 3 ? EVT_HW : type === 4 ? EVT_SOFT : type === 5 ? EVT_ICEBP : EVT_SOFTEXC;
  const next = type >= 4 && type <= 6 ? c.linAdd(c.rip, d.u32(S.VM_ENTRY_INSTRUCTION_LEN)) : c.rip;
  // an injected event wakes the guest from HLT or shutdown and ends any interrupt shadow it started with
  c.halted = false;
  v.guestActivity = 0;
  if (type === 2) {
    if (d.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_VIRTUAL_NMIS) v.vnmiBlocked = true;
    else c.nmiBlocked = true;
  }
  // injected events are not subject to the exception bitmap; faults while delivering them are,
  // and such an exit reports the injected event as IDT-vectoring information
  v.vectoringInfo = (info & 0x80000FFF) | 0;
  v.vectoringError = err;
  v.skipIntercept = true;
  try {
    c.deliver(vec, err, kind, next);
    v.vectoringInfo = 0;
  } catch (e) {
    if (e !== FAULT) throw e;
    v.skipIntercept = false;
    deliverPendingFault(c, type === 3 ? vec : -1);
  }
  v.skipIntercept = false;
}
