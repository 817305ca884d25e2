import type { Cpu } from '../cpu';
import { VmxCapabilities } from './capabilities';
import { VmcsCache } from './vmcs';

/**
 * A VMM that is part of the host program (the built-in monitor) rather than code in guest memory.
 * At a VM exit, once the exit information and the guest state are in the VMCS, the core offers it
 * the exit (exit.ts, only when nothing observes VMX events and the exit's lists allow it). It may
 * handle the exit as a VMM would between the exit and its next VMRESUME (GPRs, GUEST_RIP,
 * GUEST_INTERRUPTIBILITY_INFO, the VM-entry event fields) and resume the guest with
 * entry.ts resumeInPlace, which runs that VMRESUME's checks and loads what may have changed: then it
 * returns true and the host state is never loaded, as nothing could see it. Returning false lets the
 * exit complete architecturally. Its VM-exit MSR-load list, if it has one, may only signal itself.
 */
export interface InPlaceVmm {
  handleInPlace(reason: number): boolean;
}

/** What entry.ts resumeInPlace takes from the controls, valid while VmcsCache.ctlGen equals `ctlGen`. */
export interface ResumePlan {
  ctlGen: number;
  hostLma: boolean;
  ia32e: boolean;
  flushTlb: boolean;
  pdptesFromCr3: boolean;
  virtualNmis: boolean;
  extIntrExiting: boolean;
  /** No preemption timer, window exiting, MTF or APIC-access virtualization. */
  quietControls: boolean;
}

/** "No current VMCS": the current-VMCS pointer reads as FFFFFFFF_FFFFFFFFH. */
export const NO_VMCS = -1;

/** Why the last VM entry failed, for the debugger (DESIGN.md: stops explain themselves). */
export interface EntryFailure {
  /** Check id of ../shared/reference/vmx/entry-checks.md, e.g. 'B6', 'D28'. */
  readonly check: string;
  /** SDM section, e.g. 'SDM 27.2.1.1'. */
  readonly section: string;
  /** The VMCS field (or control) the check is about. */
  readonly field: string;
  /** The rule in words and what the VMCS held. */
  readonly detail: string;
  /** 'VMfailValid(7)', 'VMfailValid(8)', 'VM-entry failure exit 33 (qualification 0)', ... */
  readonly result: string;
}

/** The last VM exit, in the processor's words (the VMCS holds the same, this is for quick display). */
export interface ExitRecord {
  reason: number;
  qualification: number;
  guestRip: number;
  icount: number;
}

/** Interrupt-shadow bookkeeping: which kind of blocking the next instruction runs under. */
export const SHADOW_NONE = 0;
export const SHADOW_STI = 1;
export const SHADOW_MOVSS = 2;

/**
 * VMX state of one logical processor. The CPU core carries it as `cpu.vmx` (typed unknown there);
 * everything VMX keeps lives here.
 */
export class Vmx {
  readonly caps: VmxCapabilities;
  /** In VMX operation (after VMXON, before VMXOFF). */
  inVmx = false;
  vmxonPtr = NO_VMCS;
  /** Current-VMCS pointer, NO_VMCS when invalid. */
  current = NO_VMCS;
  /** The current VMCS's data (valid when current !== NO_VMCS). */
  readonly vmcs = new VmcsCache();
  lastEntryFailure: EntryFailure | null = null;
  readonly lastExit: ExitRecord = { reason: -1, qualification: 0, guestRip: 0, icount: 0 };
  exitCount = 0;

  // ---- non-root bookkeeping ----
  /** Blocking by virtual NMI (virtual NMIs = 1). */
  vnmiBlocked = false;
  /** Preemption timer: value at `timerStart` (TSC) while active. */
  timerActive = false;
  timerValue = 0;
  timerStart = 0;
  /** PAUSE-loop exiting: icount of the last PAUSE and of the first PAUSE of the current loop. */
  pauseLast = -1;
  pauseFirst = -1;
  /** An event being delivered through the guest IDT (for IDT-vectoring information), -1 none. */
  vectoringInfo = 0;
  vectoringError = 0;
  /** Set while an event the guest did not intercept is being delivered. */
  delivering = false;
  /** Interrupt shadow set by STI / MOV SS for the instruction at `shadowRip`. */
  shadowKind = SHADOW_NONE;
  shadowRip = 0;
  /** The next event offered to the interceptor is an injected one: deliver it without a look. */
  skipIntercept = false;
  /**
   * The guest's CR2. A #PF that exits must leave CR2 as the guest had it (SDM 28.1), but the page
   * walker writes CR2 before the fault is offered: this copy restores it.
   */
  guestCr2 = 0;
  /** Guest activity state while in non-root (0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI). */
  guestActivity = 0;
  /**
   * Monitor trap flag (mtf.ts): an MTF VM exit is pending at the next boundary because an event was
   * delivered (injected or through the guest IDT) or a pending MTF VM exit was injected.
   */
  mtfPending = false;
  /**
   * cpu.icount at the last boundary looked at: an instruction retired since then when it differs;
   * -1 from VM entry until the first boundary.
   */
  mtfIcount = -1;

  // ---- EPT (ept.ts) ----
  /** Host-physical address of the EPT PML4 table (EPTP bits 51:12) while the guest runs with EPT. */
  eptRoot = 0;
  /** EPTP bit 6: accessed and dirty flags for EPT. */
  eptAd = false;
  /** The model allows execute-only EPT entries (IA32_VMX_EPT_VPID_CAP[0]). */
  eptExecOnly = false;
  /** The pending EPT exit raised as a fault: reason 48/49, qualification, addresses. */
  eptExitReason = 0;
  eptQualification = 0;
  eptGpa = 0;
  eptLinear = 0;
  eptLinearValid = false;
  /** An IRET that unblocked NMIs (or virtual NMIs) is executing (qualification bit 12). */
  iretUnblocking = false;

  /**
   * When the stable guest fields were last saved (exit.ts saveGuestState): cpu.sysGen and the VMCS
   * change counters then. While all three are unchanged the fields still hold the processor's values.
   */
  stableSysGen = -1;
  stableGuestGen = -1;
  stableCtlGen = -1;
  /** Exits that saved the stable fields (the others found them current). */
  stableSaves = 0;

  /** exit.ts inPlaceAllowed's verdict on the controls, and the VmcsCache.ctlGen it was made at. */
  inPlaceOk = false;
  inPlaceCtlGen = -1;

  readonly resumePlan: ResumePlan = {
    ctlGen: -1, hostLma: false, ia32e: false, flushTlb: true, pdptesFromCr3: true, virtualNmis: false, extIntrExiting: false, quietControls: false,
  };

  /** A VMM in the host program that may handle exits without a world switch (exit.ts InPlaceVmm). */
  inPlace: InPlaceVmm | null = null;

  /** IA32_VMX_MISC[5], read once: the exit path looks at it on every VM exit. */
  readonly storeEferLma: boolean;

  constructor(caps: VmxCapabilities) {
    this.caps = caps;
    this.storeEferLma = caps.spec.misc.storeEferLma;
  }

  get hasCurrent(): boolean {
    return this.current !== NO_VMCS;
  }
}

/** The VMX state of a CPU (only valid after attachVmx). */
export function vmxOf(c: Cpu): Vmx {
  return c.vmx as Vmx;
}
