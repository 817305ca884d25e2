import type { Cpu } from '../cpu';
import { BLOCK_EXIT, EV_ATTN, EV_NMI } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { EVT_EXT, EVT_HW, EVT_ICEBP, EVT_NMI, EVT_SOFT, EVT_SOFTEXC, deliverEvent } from '../interrupts';
import { VEC_VMX_EXIT } from '../paging';
import { TASK_CALL, TASK_IRET, TASK_JMP } from '../tasks';
import { EXIT_APIC_ACCESS, apicAccessExit } from './apicAccess';
import { eptExit } from './ept';
import { controlMask, makeTaskSwitchQualification } from './spec';
import * as S from './slots';
import { EV_VMX, EXIT_CTL_ACK_INTR, exitInfo, timerRemaining, vmExit } from './exit';
import { EXIT } from './intercept';
import { leaveGuestDebug, mtfBlocked } from './mtf';
import { SHADOW_NONE, Vmx } from './state';

/**
 * Events in VMX non-root operation: the checks at instruction boundaries (preemption timer, NMI and
 * external-interrupt exiting, NMI and interrupt windows: SDM 26.2, 26.7), exceptions against the
 * exception bitmap (26.2), task switches (26.4.2) and triple faults, with IDT-vectoring information
 * for exits that happen while an event is being delivered (28.2.4).
 */

const PIN_EXT = controlMask('PIN_BASED_EXT_INTR_MASK');
const PIN_NMI = controlMask('PIN_BASED_NMI_EXITING');
const PIN_VNMI = controlMask('PIN_BASED_VIRTUAL_NMIS');
const P1_INTR_WIN = controlMask('CPU_BASED_INTR_WINDOW_EXITING');
const P1_NMI_WIN = controlMask('CPU_BASED_NMI_WINDOW_EXITING');

/** Fault-class vectors: an exit for them saves RFLAGS.RF = 1 (as the IDT frame would hold it). */
const FAULT_CLASS = (1 << 0) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) |
  (1 << 14) | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 20) | (1 << 21);

function vmxOrNull(c: Cpu): Vmx | null {
  return c.vmx as Vmx | null;
}

/**
 * At an instruction boundary (the core's serviceEvents, after the interrupt shadow and stop
 * requests). Returns true when it turned the boundary into a VM exit.
 */
export function boundary(c: Cpu): boolean {
  const v = vmxOrNull(c);
  if (v === null) return false;
  // an STI / MOV SS shadow covers one instruction, which has run by now
  v.shadowKind = SHADOW_NONE;
  if (!c.nonRoot) return false;
  const d = v.vmcs;
  const activity = c.halted ? v.guestActivity || 1 : 0;
  if (v.timerActive) {
    if (timerRemaining(c, v) === 0) {
      exitInfo.activity = activity;
      d.set(S.VMX_PREEMPTION_TIMER_VALUE, 0, 0);
      v.vectoringInfo = 0;
      vmExit(c, EXIT.PREEMPTION_TIMER, 0, c.rip);
      return true;
    }
  } else if (!c.mtf) c.events &= ~EV_VMX;
  const pin = d.i32(S.PIN_BASED_VM_EXEC_CONTROL);
  const p1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
  if (c.events & EV_NMI && pin & PIN_NMI && !c.nmiBlocked) {
    c.events &= ~EV_NMI;
    exitInfo.intrInfo = (0x80000000 | (2 << 8) | 2) | 0;
    exitInfo.nmi = true;
    exitInfo.activity = activity;
    v.vectoringInfo = 0;
    vmExit(c, EXIT.EXCEPTION_NMI, 0, c.rip);
    return true;
  }
  if (p1 & P1_NMI_WIN && !v.vnmiBlocked) {
    exitInfo.activity = activity;
    v.vectoringInfo = 0;
    vmExit(c, EXIT.NMI_WINDOW, 0, c.rip);
    return true;
  }
  if (p1 & P1_INTR_WIN && c.flags & F.IF) {
    exitInfo.activity = activity;
    v.vectoringInfo = 0;
    vmExit(c, EXIT.INTERRUPT_WINDOW, 0, c.rip);
    return true;
  }
  if (pin & PIN_EXT && c.intc !== null && c.intc.hasInterrupt()) {
    // external-interrupt exiting ignores RFLAGS.IF; with "acknowledge interrupt on exit" the vector is taken now
    if (d.i32(S.VM_EXIT_CONTROLS) & EXIT_CTL_ACK_INTR) exitInfo.intrInfo = (0x80000000 | c.intc.acknowledge()) | 0;
    exitInfo.activity = activity;
    v.vectoringInfo = 0;
    vmExit(c, EXIT.EXTERNAL_INTERRUPT, 0, c.rip);
    return true;
  }
  return false;
}

/**
 * SDM 26.5.2: under the monitor trap flag an MTF VM exit is pending at the boundary after each guest
 * instruction (after one iteration of a REP string instruction, or from the HLT state after HLT)
 * and after an event was delivered (onEvent, injection). The core asks here before delivering
 * debug traps: only SMIs and INIT (not emulated) outrank MTF VM exits; debug traps, the preemption
 * timer, NMIs, interrupts and the window exits of boundary() come after. An instruction that exits
 * leaves non-root operation, so no MTF VM exit follows it.
 */
export function mtfBoundary(c: Cpu): boolean {
  const v = vmxOrNull(c);
  if (v === null) return false;
  if (!c.nonRoot) {
    leaveGuestDebug(c, v);
    return false;
  }
  // the first boundary after VM entry: no guest instruction has run yet
  if (v.mtfIcount < 0) v.mtfIcount = c.icount;
  if (!v.mtfPending && c.icount === v.mtfIcount) return false;
  v.mtfPending = false;
  v.mtfIcount = c.icount;
  const activity = c.halted ? v.guestActivity || 1 : 0;
  // no MTF VM exits in the shutdown and wait-for-SIPI states (an NMI that leaves shutdown makes one pending)
  if (activity >= 2) {
    mtfBlocked(c, v);
    return false;
  }
  exitInfo.activity = activity;
  v.vectoringInfo = 0;
  vmExit(c, EXIT.MONITOR_TRAP_FLAG, 0, c.rip);
  return true;
}

/** Interruption type (interruption-information bits 10:8) of a core event kind. */
function typeOf(kind: number): number {
  switch (kind) {
    case EVT_EXT: return 0;
    case EVT_NMI: return 2;
    case EVT_HW: return 3;
    case EVT_SOFT: return 4;
    case EVT_ICEBP: return 5;
    default: return 6;
  }
}

/** Length assumed for the instruction that raised a software event (INT n 2 bytes, INT3/INTO/INT1 1). */
function softLength(kind: number): number {
  return kind === EVT_SOFT ? 2 : 1;
}

/**
 * Every event the core is about to deliver in non-root operation comes here first (interrupts.ts
 * eventInterceptor). Intercepted events become VM exits; the others are delivered through the guest
 * IDT from here, with the event remembered as IDT-vectoring information while it is delivered.
 */
export function onEvent(c: Cpu, vec: number, err: number, kind: number, nextRip: number): boolean {
  const v = c.vmx as Vmx;
  if (vec === VEC_VMX_EXIT) {
    // an EPT violation or misconfiguration (ept.ts) or an APIC access (apicAccess.ts) raised inside an
    // access: RIP is the faulting instruction
    v.skipIntercept = false;
    if (v.eptExitReason === EXIT_APIC_ACCESS) apicAccessExit(c, v, nextRip);
    else eptExit(c, v, nextRip);
    return true;
  }
  if (v.skipIntercept) {
    v.skipIntercept = false;
    return false;
  }
  const d = v.vmcs;
  let exits = false;
  if (kind === EVT_HW || kind === EVT_SOFTEXC || kind === EVT_ICEBP) {
    const bm = d.i32(S.EXCEPTION_BITMAP);
    exits = vec < 32 && ((bm >>> vec) & 1) !== 0;
    if (vec === K.EXC_PF && kind === EVT_HW) {
      // SDM 26.2: with bit 14 set a #PF exits iff (PFEC & mask) == match; with it clear, iff they differ
      const match = ((err & d.i32(S.PAGE_FAULT_ERROR_CODE_MASK)) | 0) === d.i32(S.PAGE_FAULT_ERROR_CODE_MATCH);
      exits = exits ? match : !match;
    }
  } else if (kind === EVT_NMI) exits = (d.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_NMI) !== 0;
  else if (kind === EVT_EXT) exits = (d.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_EXT) !== 0;
  const type = typeOf(kind);
  if (exits) {
    let qual = 0;
    if (vec === K.EXC_PF && kind === EVT_HW) {
      qual = c.cr2;
      c.cr2 = v.guestCr2;
    } else if (vec === K.EXC_DB && kind === EVT_HW) {
      // a debug trap that exits leaves DR6 alone and reports its conditions here (SDM 27.1, 28.2.1);
      // the processor leaves HLT only after such an exit, so the exit saves HLT
      qual = c.dbTrap !== 0 ? c.dbTrap & 0x400F : c.dr[6] & 0x600F;
      if (c.dbTrap !== 0 && c.halted) exitInfo.activity = v.guestActivity || 1;
    }
    exitInfo.intrInfo = (0x80000000 | (type << 8) | vec | (err >= 0 ? 0x800 : 0)) | 0;
    exitInfo.intrError = err;
    exitInfo.nmi = kind === EVT_NMI;
    exitInfo.rf = kind === EVT_HW && vec < 32 && ((FAULT_CLASS >>> vec) & 1) !== 0;
    let rip = nextRip;
    if (kind === EVT_SOFTEXC || kind === EVT_ICEBP) {
      exitInfo.len = softLength(kind);
      rip = c.linAdd(nextRip, -exitInfo.len);
    }
    // a #DF that results from the original event does not report that event (SDM 28.2.4)
    if (vec === K.EXC_DF) v.vectoringInfo = 0;
    vmExit(c, EXIT.EXCEPTION_NMI, qual, rip);
    // INT3 / INTO / INT1 are delivered from inside their handler: leave that instruction's block
    if (kind === EVT_SOFTEXC || kind === EVT_ICEBP) throw BLOCK_EXIT;
    return true;
  }
  if (kind === EVT_NMI && d.i32(S.PIN_BASED_VM_EXEC_CONTROL) & PIN_VNMI) v.vnmiBlocked = true;
  if (vec === K.EXC_DB && kind === EVT_HW && c.dbTrap !== 0) {
    c.dr[6] = (c.dr[6] | (c.dbTrap & 0x400F)) >>> 0;
    c.dbTrap = 0;
    c.halted = false;
  }
  v.vectoringInfo = (0x80000000 | (type << 8) | vec | (err >= 0 ? 0x800 : 0)) | 0;
  v.vectoringError = err;
  v.skipIntercept = true;
  // a fault while delivering leaves the vectoring information for the nested event's exit
  deliverEvent(c, vec, err, kind, nextRip);
  v.skipIntercept = false;
  v.vectoringInfo = 0;
  if (vec === K.EXC_PF && kind === EVT_HW) v.guestCr2 = c.cr2;
  if (c.mtf) {
    // the MTF VM exit comes before the handler's first instruction: make the run loop look again
    v.mtfPending = true;
    c.events |= EV_ATTN;
  }
  return true;
}

/** Task switches always exit in non-root operation (SDM 26.4.2); source 3 = through the IDT. */
export function onTaskSwitch(c: Cpu, sel: number, reason: number, ret: number, _err: number, insRip: number): boolean {
  const v = c.vmx as Vmx;
  const source = reason === TASK_CALL ? 0 : reason === TASK_IRET ? 1 : reason === TASK_JMP ? 2 : 3;
  // fault-like (SDM 28.2.4, 28.3.3): RIP is the CALL, IRET or JMP, or the INT n / INT3 / INTO / INT1
  // whose delivery met the task gate, and the instruction length is saved for those
  let rip = ret;
  if (source !== 3) {
    v.vectoringInfo = 0;
    rip = insRip;
    exitInfo.len = (ret - insRip + 0x10000) % 0x10000;
  } else if (v.vectoringInfo < 0 && ((v.vectoringInfo >>> 8) & 7) >= 4) {
    const type = (v.vectoringInfo >>> 8) & 7;
    exitInfo.len = softLength(type === 4 ? EVT_SOFT : type === 5 ? EVT_ICEBP : EVT_SOFTEXC);
    rip = c.linAdd(ret, -exitInfo.len);
  }
  vmExit(c, EXIT.TASK_SWITCH, makeTaskSwitchQualification(sel & 0xFFFF, source), rip);
  // an instruction (JMP, CALL, IRET) is abandoned; an event delivery simply ends here
  if (source !== 3) throw BLOCK_EXIT;
  return true;
}

/** A triple fault in non-root operation is a VM exit (reason 2), not a shutdown. */
export function onShutdown(c: Cpu, _why: string): boolean {
  const v = c.vmx as Vmx;
  v.vectoringInfo = 0;
  vmExit(c, EXIT.TRIPLE_FAULT, 0, c.rip);
  return true;
}
