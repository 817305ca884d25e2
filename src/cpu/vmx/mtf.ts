import type { Cpu } from '../cpu';
import { EV_ATTN } from '../cpu';
import { controlMask } from './spec';
import * as S from './slots';
import { SHADOW_MOVSS, SHADOW_NONE, Vmx } from './state';

/**
 * The monitor trap flag (SDM 26.5.2, 27.6.2, 27.7.8) and pending debug exceptions (SDM 27.7.3,
 * 28.3.4): the state a VM entry sets up and a VM exit saves. The MTF VM exit itself is taken by
 * events.ts (mtfBoundary), which the core calls at instruction boundaries only while `cpu.mtf` is
 * set: with the control at 0 the run loop pays nothing.
 *
 * Debug traps live in the core as `cpu.pendingDb`, already in the layout of the VMCS field (B0-B3,
 * enabled breakpoint, BS), so a VM exit saves them as they are and a VM entry loads them back.
 */

export const P1_MTF = controlMask('CPU_BASED_MONITOR_TRAP_FLAG');
/** Basic exit reason 37, "monitor trap flag". */
export const EXIT_MTF = 37;
/** SDM Appendix C: the trap-like exit of TPR virtualization (tpr.ts). */
const EXIT_TPR_BELOW_THRESHOLD = 43;
/** Pending-debug-exceptions bits with a meaning here: B0-B3, enabled breakpoint (12), BS (14). */
const PDE_BITS = 0x500F;
/** Either of these makes the field's debug exceptions valid (SDM 27.7.3). */
const PDE_VALID = 0x5000;

/** Interruption type 7 ("other event") with vector 0: VM entry injects a pending MTF VM exit. */
function isPendingMtf(info: number): boolean {
  return info < 0 && ((info >>> 8) & 7) === 7;
}

function setMtf(c: Cpu, on: boolean): void {
  if (c.mtf === on) return;
  c.mtf = on;
  c.singleStepChanged();
}

/**
 * VM entry, after the guest state, interruptibility and activity state are loaded and before the
 * event of `info` (the VM-entry interruption-information field) is injected. An injection that ends
 * in a VM exit undoes all of this through leaveGuestDebug.
 */
export function enterMtfAndDebug(c: Cpu, v: Vmx, info: number): void {
  const d = v.vmcs;
  const type = (info >>> 8) & 7;
  const vectoring = info < 0 && type !== 7;
  const intr = d.u32(S.GUEST_INTERRUPTIBILITY_INFO);
  // SDM 27.7.1: after a vectoring entry there is no blocking by STI or by MOV SS
  if (vectoring) {
    c.shadow = false;
    v.shadowKind = SHADOW_NONE;
  }
  // SDM 27.7.3: the field is void for injected interrupts, NMIs, hardware and privileged software
  // exceptions, for software events without blocking by MOV SS, and in shutdown / wait-for-SIPI.
  // A software event injected under MOV SS blocking behaves as INT3 after a MOV SS that hit a debug
  // trap: the #DB follows its delivery (this processor does so for every vector).
  let pend = d.lo[S.GUEST_PENDING_DBG_EXCEPTIONS] & PDE_BITS;
  if (!(pend & PDE_VALID)) pend = 0;
  else if (vectoring ? (type !== 4 && type !== 6) || !(intr & 2) : v.guestActivity >= 2) pend = 0;
  c.pendingDb = pend;
  c.dbTrap = 0;
  // without a vectoring entry, blocking by MOV SS holds them back for the first guest instruction
  if (!vectoring && intr & 2) c.movSsShadow = true;
  // SDM 26.5.2: an MTF VM exit is pending right after an entry that injects an event (with the
  // control) or a pending MTF VM exit (even without it)
  const ctl = (d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_MTF) !== 0;
  v.mtfPending = isPendingMtf(info) || (ctl && vectoring);
  // the first boundary takes its icount: entries come from VMLAUNCH / VMRESUME, whose block is not
  // counted yet, and from the built-in monitor in the middle of an exit, so no count here is right
  v.mtfIcount = -1;
  setMtf(c, ctl || v.mtfPending);
  // that boundary must come before the first guest instruction, whatever the entry interrupted
  if (c.mtf) c.events |= EV_ATTN;
}

/**
 * SDM 28.3.4: the pending-debug-exceptions field a VM exit saves for the guest at `rip` (the exit
 * reason and interruption information are written already). It is 0 except for MTF and trap-like
 * TPR-below-threshold VM exits, which save the debug traps they outranked or that the instruction
 * raised, and for exits other than #DB that happen while blocking by MOV SS holds debug traps back.
 * (INIT, SMI and machine checks, the other exits that save it, are not emulated.)
 */
export function savedPendingDebug(c: Cpu, v: Vmx, rip: number): number {
  const pend = c.pendingDb;
  if (pend === 0) return 0;
  const d = v.vmcs;
  const basic = d.u32(S.VM_EXIT_REASON) & 0xFFFF;
  if (basic === EXIT_MTF || basic === EXIT_TPR_BELOW_THRESHOLD) return pend;
  if (v.shadowKind !== SHADOW_MOVSS || v.shadowRip !== rip) return 0;
  const ii = d.u32(S.VM_EXIT_INTR_INFO);
  const type = (ii >>> 8) & 7;
  const dbExit = (d.u32(S.VM_EXIT_REASON) & 0xFFFF) === 0 && ii >>> 31 === 1 && (ii & 0xFF) === 1 && (type === 3 || type === 5);
  return dbExit ? 0 : pend;
}

/** VM exit: the guest's debug traps went to the VMCS (or were lost) and the host runs without MTF. */
export function leaveGuestDebug(c: Cpu, v: Vmx): void {
  c.pendingDb = 0;
  c.dbTrap = 0;
  c.movSsShadow = false;
  v.mtfPending = false;
  setMtf(c, false);
}

/** After an MTF VM exit that did not happen (shutdown or wait-for-SIPI): single steps only with the control. */
export function mtfBlocked(c: Cpu, v: Vmx): void {
  setMtf(c, (v.vmcs.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_MTF) !== 0);
}
