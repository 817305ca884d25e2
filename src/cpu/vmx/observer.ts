import type { Cpu } from '../cpu';
import { BLOCK_EXIT } from '../cpu';
import * as F from '../flags';
import { handlers } from '../ops/registry';
import type { EntryFailure, Vmx } from './state';

/**
 * An optional observer of VMX events for the debugger (DESIGN.md "Stops explain themselves"):
 * every VM exit, every failed VM entry, every VMfail and every VMWRITE, told with the decoded facts
 * while they are fresh. Off (no observer registered for a CPU) it costs one WeakMap lookup per VMX
 * event, nothing per ordinary instruction.
 *
 * The core calls the `notify*` functions (see the one-line calls listed at the end of this file).
 * Until those calls are in, `installVmxObserverShims()` wraps the VMX instruction handlers so the
 * instruction-driven events (VMfail, failed VM entry, VMWRITE, entry into non-root operation) are
 * reported from here; VM exits are then detected by the debugger itself (a breakpoint on HOST_RIP
 * while the guest runs).
 */

export interface VmxInstructionEvent {
  /** Lower-case mnemonic: 'vmlaunch', 'vmwrite', ... */
  instruction: string;
  /** RIP of the instruction and of the next one (offsets in CS). */
  rip: number;
  next: number;
}

export interface VmxObserver {
  /** A VM exit completed: host state is loaded, RIP = HOST_RIP, the exit-information fields are written. */
  vmExit?(cpu: Cpu, vmx: Vmx): void;
  /** VM entry failed: a control / host check (VMfailValid 7 or 8) or a guest check / MSR load (exit 33/34). */
  entryFailure?(cpu: Cpu, vmx: Vmx, failure: EntryFailure, ev: VmxInstructionEvent | null): void;
  /** A VMX instruction failed: error = VM-instruction error number (VMfailValid) or -1 (VMfailInvalid). */
  vmFail?(cpu: Cpu, vmx: Vmx, error: number, ev: VmxInstructionEvent | null): void;
  /** VMWRITE stored a field (slot = index into VMCS_FIELDS); old value given as lo/hi halves. */
  vmcsWrite?(cpu: Cpu, vmx: Vmx, slot: number, oldLo: number, oldHi: number, ev?: VmxInstructionEvent | null): void;
  /** VMLAUNCH/VMRESUME entered non-root operation. */
  vmEntry?(cpu: Cpu, vmx: Vmx): void;
  /** VMPTRLD / VMCLEAR / VMXOFF changed the current VMCS. */
  vmcsSwitch?(cpu: Cpu, vmx: Vmx, ev?: VmxInstructionEvent | null): void;
  /**
   * True while the observer hears of exits an in-place VMM handles (state.ts InPlaceVmm) from that
   * VMM itself (the debugger from the built-in monitor): such exits then need not complete
   * architecturally for it. Absent or false: every exit completes and reaches vmExit.
   */
  readonly seesInPlaceExits?: boolean;
}

const observers = new WeakMap<Cpu, VmxObserver>();
/** How many CPUs have an observer: while none has, the VM-exit path does not even look one up. */
let observed = 0;

export function setVmxObserver(cpu: Cpu, obs: VmxObserver | null): void {
  const had = observers.has(cpu);
  if (obs) observers.set(cpu, obs);
  else observers.delete(cpu);
  observed += (obs ? 1 : 0) - (had ? 1 : 0);
}

export function vmxObserverOf(cpu: Cpu): VmxObserver | undefined {
  return observers.get(cpu);
}

// ---- the calls the core makes ----------------------------------------------------------------

/** Whether an observer needs this CPU's VM exits to complete architecturally (no in-place handling then). */
export function exitsObserved(c: Cpu): boolean {
  if (observed === 0) return false;
  const o = observers.get(c);
  return o !== undefined && o.seesInPlaceExits !== true;
}

export function notifyVmExit(c: Cpu): void {
  const o = observers.get(c);
  if (o?.vmExit) o.vmExit(c, c.vmx as Vmx);
}

export function notifyEntryFailure(c: Cpu, f: EntryFailure, ev: VmxInstructionEvent | null = null): void {
  const o = observers.get(c);
  if (o?.entryFailure) o.entryFailure(c, c.vmx as Vmx, f, ev);
}

export function notifyVmFail(c: Cpu, error: number, ev: VmxInstructionEvent | null = null): void {
  const o = observers.get(c);
  if (o?.vmFail) o.vmFail(c, c.vmx as Vmx, error, ev);
}

export function notifyVmcsWrite(c: Cpu, slot: number, oldLo: number, oldHi: number): void {
  const o = observers.get(c);
  if (o?.vmcsWrite) o.vmcsWrite(c, c.vmx as Vmx, slot, oldLo, oldHi);
}

// ---- interim: wrappers around the VMX instruction handlers ------------------------------------

const WRAPPED = ['vmxon', 'vmxoff', 'vmclear', 'vmptrld', 'vmptrst', 'vmread', 'vmwrite', 'vmlaunch', 'vmresume', 'vmcall', 'invept', 'invvpid'];
let installed = false;

/** VM_INSTRUCTION_ERROR is the first 32-bit exit-information field; found by name once. */
let errorSlot = -1;

/**
 * Wraps the VMX instruction handlers (once per process) so that CPUs with an observer hear about
 * VMfail, failed VM entries, VMWRITE and entries into non-root operation. Must run before the
 * guest's VMX instructions are decoded (blocks keep the handler they were decoded with); the
 * debugger calls it right after attachVmx, before the first instruction.
 */
export function installVmxObserverShims(errorFieldSlot: number, slotOfEncoding: (enc: number) => number): void {
  if (installed) return;
  installed = true;
  errorSlot = errorFieldSlot;
  for (const name of WRAPPED) {
    const orig = handlers[name];
    if (!orig) continue;
    handlers[name] = (c, i) => {
      const o = observers.get(c);
      if (o === undefined) return orig(c, i);
      const v = c.vmx as Vmx;
      const wasNonRoot = c.nonRoot;
      const current = v.current;
      // VMWRITE: remember the old value of the named field
      let slot = -1, oldLo = 0, oldHi = 0;
      if (name === 'vmwrite' && !wasNonRoot && v.current !== -1) {
        slot = c.mode64 && c.rh[i.reg] !== 0 ? -1 : slotOfEncoding((c.r[i.reg] >>> 0) & ~1);
        if (slot >= 0) { oldLo = v.vmcs.lo[slot]; oldHi = v.vmcs.hi[slot]; }
      }
      const ev: VmxInstructionEvent = { instruction: name, rip: i.rip, next: i.next };
      if (name === 'vmlaunch' || name === 'vmresume') v.lastEntryFailure = null;
      try {
        orig(c, i);
      } catch (e) {
        if (e === BLOCK_EXIT && !wasNonRoot) {
          if (c.nonRoot) o.vmEntry?.(c, v);
          else if (v.lastEntryFailure) o.entryFailure?.(c, v, v.lastEntryFailure, ev);
        }
        throw e;
      }
      if (wasNonRoot) return;
      if (name === 'vmlaunch' || name === 'vmresume') {
        // entries return normally (the instruction ends its block): now in the guest, or back in the host
        if (c.nonRoot) { o.vmEntry?.(c, v); return; }
        if (v.lastEntryFailure && !(c.getFlags() & F.ZF)) {
          o.entryFailure?.(c, v, v.lastEntryFailure, ev);
          return;
        }
      }
      const fl = c.getFlags();
      if (fl & F.CF && name !== 'vmptrst') {
        o.vmFail?.(c, v, -1, ev);
      } else if (fl & F.ZF && name !== 'vmptrst') {
        const err = errorSlot >= 0 ? v.vmcs.lo[errorSlot] : 0;
        if (v.lastEntryFailure && (name === 'vmlaunch' || name === 'vmresume')) o.entryFailure?.(c, v, v.lastEntryFailure, ev);
        else o.vmFail?.(c, v, err, ev);
      } else {
        if (slot >= 0) o.vmcsWrite?.(c, v, slot, oldLo, oldHi, ev);
        if (v.current !== current) o.vmcsSwitch?.(c, v, ev);
      }
    };
  }
}

/*
 * The one-line calls the core needs (then the shims above can go):
 *   exit.ts   vmExit(), last line (after leaveNonRoot):          notifyVmExit(c);
 *   exit.ts   entryFailureExit(), last line:                     if (v.lastEntryFailure) notifyEntryFailure(c, v.lastEntryFailure);
 *   entry.ts  vmEntry(), after each `vmFailValid(c, v, 7|8)`:    notifyEntryFailure(c, f);
 *   result.ts vmFailValid(), last line:                          notifyVmFail(c, error);
 *   result.ts vmFailInvalid(), last line:                        notifyVmFail(c, -1);
 *   vmxops.ts vmwrite(), before `d.set(...)` / `d.hi[slot] = lo`: notifyVmcsWrite(c, slot, d.lo[slot], d.hi[slot]);
 * (the VMfailValid 7/8 of vmEntry then also reaches vmFail: an observer ignores a vmFail that
 * follows an entryFailure for the same instruction.)
 */
