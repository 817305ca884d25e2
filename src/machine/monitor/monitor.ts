import { FAULT } from '../../cpu/cpu';
import * as K from '../../cpu/constants';
import { resumeInPlace, vmEntry } from '../../cpu/vmx/entry';
import * as S from '../../cpu/vmx/slots';
import {
  IA32_VMX_BASIC, IA32_VMX_EPT_VPID_CAP, IA32_VMX_PROCBASED_CTLS2, controlMask, parseIoQualification, type ControlVector,
} from '../../cpu/vmx/spec';
import type { InPlaceVmm, Vmx } from '../../cpu/vmx/state';
import { EXIT_HALT, EXIT_INTERNAL, EXIT_SHUTDOWN, type Machine, type RunOutcome, type VmmHook } from '../machine';
import { DEFAULT_CONFIG, type MonitorConfig } from './config';
import {
  ControlError, type DerivedControls, deriveControls, dropControl, newRequest, preferControl, requireControl,
} from './controls';
import { describeExit } from './describe';
import { XCR0_SUPPORTED } from '../../cpu/xstate';

/**
 * The built-in monitor: a VMM written in TypeScript that runs the machine's image as a VMX guest of
 * the emulated CPU, as KVM runs a guest on a real one (DESIGN.md "Two ways to run a guest").
 *
 * How a VM exit reaches TypeScript. The core performs VM exits exactly as the SDM says: it saves guest
 * state, loads host state and then processes the VM-exit MSR-load list (SDM 28.6). The monitor's VMCS
 * has one entry in that list, for an MSR the monitor owns (DOORBELL_MSR, in the range Intel reserves for
 * software, 4000_0000H-4000_00FFH); the core's MSR file routes the write to the monitor's MsrRange. That
 * write is the "doorbell": it runs at the architectural end of the exit, with the CPU in the host state
 * the VMCS names, and no host instruction is ever fetched. The monitor then either
 *   - handles the exit right there and re-enters the guest with VMRESUME semantics (vmEntry from the
 *     core, all checks included), so cpu.run never returns: the fast path for I/O, CPUID, MSR and
 *     interrupt exits; or
 *   - asks the CPU to stop (requestStop) and finishes in Machine.run through the VmmHook: HLT with
 *     nothing to inject (the guest waits, time skips to the next device deadline), triple faults,
 *     failed entries and exits the configuration wants to stop on.
 * HOST_RIP points at a HLT in a page of the monitor, HOST_CR3 at identity page tables of its own, so
 * even if host code ever ran it would only halt.
 *
 * Without EPT, guest-physical = host-physical: the monitor's structures (MONITOR_AREA bytes below the
 * loader's tables at the top of the first 64 MiB) are visible to the guest, as they would be to any
 * guest of a VMM without EPT or shadow paging.
 */

/** Software MSR range (SDM vol. 4 "MSRs reserved for software"): never a real MSR. */
export const DOORBELL_MSR = 0x400000F0;
/** Bytes the monitor reserves for its VMX structures and tables. */
export const MONITOR_AREA = 0x20000;

const OFF_VMXON = 0x0000;
const OFF_VMCS = 0x1000;
const OFF_IO_A = 0x2000;
const OFF_IO_B = 0x3000;
const OFF_MSR_BITMAP = 0x4000;
const OFF_EXIT_MSR_LOAD = 0x5000;
const OFF_HOST_PML4 = 0x6000;
const OFF_HOST_PDPT = 0x7000;
const OFF_HOST_PD = 0x8000;
const OFF_HOST_CODE = 0x9000;
const OFF_GUEST_PD32 = 0xA000;
const OFF_EPT_PML4 = 0xB000;
const OFF_EPT_PDPT = 0xC000;
const OFF_EPT_PD = 0xD000; // four pages: 4 GiB of 2-MiB pages
const OFF_VIRTUAL_APIC = 0x11000;

const HOST_CS = 0x08, HOST_DS = 0x10, HOST_TR = 0x18;
const HOST_CR0 = (K.CR0_PE | K.CR0_NE | K.CR0_ET | K.CR0_PG) | 0;
const HOST_CR4 = K.CR4_PAE | K.CR4_VMXE;

const EXIT_EXCEPTION_NMI = 0, EXIT_EXTERNAL_INTERRUPT = 1, EXIT_TRIPLE_FAULT = 2, EXIT_INTERRUPT_WINDOW = 7;
const EXIT_CPUID = 10, EXIT_HLT = 12, EXIT_INVD = 13, EXIT_VMCALL = 18, EXIT_CR_ACCESS = 28, EXIT_IO = 30;
const EXIT_RDMSR = 31, EXIT_WRMSR = 32, EXIT_EPT_VIOLATION = 48, EXIT_WBINVD = 54, EXIT_XSETBV = 55;
/** XCR0 of the monitor's host context (x87 only, as after reset). */
const HOST_XCR0 = 1;

const P1_INTR_WINDOW = controlMask('CPU_BASED_INTR_WINDOW_EXITING');
const X_ACK_INTR = controlMask('VM_EXIT_ACK_INTR_ON_EXIT');
const X_SAVE_EFER = controlMask('VM_EXIT_SAVE_IA32_EFER');
const E_LOAD_EFER = controlMask('VM_ENTRY_LOAD_IA32_EFER');

const MSR_FEATURE_CONTROL = 0x3A, MSR_EFER = 0xC0000080, MSR_FS_BASE = 0xC0000100, MSR_GS_BASE = 0xC0000101;
const MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;

export type GuestMode = 'real' | 'protected' | 'long';

/** One VM exit as the monitor saw it (trace lines, debugger events). */
export interface ExitEvent {
  /** Full exit-reason field (bit 31 = VM-entry failure). */
  reason: number;
  qualification: number;
  guestRip: number;
  instructionLength: number;
  /** VM-exit interruption information (0 = none). */
  intrInfo: number;
  /** Exits so far, this one included. */
  index: number;
}

export interface MonitorOptions {
  config?: MonitorConfig;
  /** Called for every exit before it is handled (`--trace-exits`). */
  onExit?: (e: ExitEvent) => void;
  /** Called when the guest resumes after an exit handled in place (the debugger takes a stop it wanted there). */
  afterInPlace?: () => void;
  /** Where the monitor's notes go (dropped optional controls, ...). */
  onNote?: (text: string) => void;
}

export class MonitorError extends Error {}

export class Monitor implements VmmHook, InPlaceVmm {
  readonly machine: Machine;
  readonly config: MonitorConfig;
  readonly vmx: Vmx;
  /** Physical address of the monitor's area. */
  readonly base: number;
  readonly guestMode: GuestMode;
  readonly controls: DerivedControls;
  /** Revision identifier and VMCS region size from IA32_VMX_BASIC. */
  readonly revisionId: number;
  readonly vmcsSize: number;
  readonly usesEpt: boolean;

  // ---- statistics ----
  readonly exitsByReason = new Float64Array(128);
  readonly exitsByPort = new Float64Array(0x10000);
  readonly exitsByMsr = new Map<number, number>();
  totalExits = 0;
  /** Wall time (ms) spent with the guest running, for exits per second. */
  private runStart = 0;
  private runMs = 0;

  // ---- run state ----
  /** An exit is waiting for the slow path (Machine.run → afterStop / beforeSlice). */
  private pending = false;
  /** Re-entering the guest: a doorbell now means a failed VM entry (reason 33/34). */
  private entering = false;
  private entryFailed = false;
  /** An exit handled in place whose VMRESUME checks failed: the doorbell only has to re-enter. */
  private handledInPlace = false;
  /** The guest executed HLT and waits for an interrupt. */
  private waiting = false;
  /** External-interrupt vector taken from the controller, not yet injected (-1 none). */
  private pendingVector = -1;
  /**
   * The guest's XCR0. VM entries and exits do not switch XCR0 (it is not in the VMCS), so the monitor
   * does, as KVM does around VMRESUME: the guest's value goes in before each entry and the host's
   * comes back after each exit, both only when the two differ (never for a guest that leaves it at 1).
   */
  private guestXcr0 = HOST_XCR0;
  /** Why the run must end (set on the slow path). */
  private fatal: RunOutcome | null = null;
  /** A stop the configuration asked for (stopOn): reported once, then the guest resumes. */
  private report: RunOutcome | null = null;
  private readonly onExit: ((e: ExitEvent) => void) | null;
  private readonly afterInPlace: (() => void) | null;
  private readonly stopOn = new Uint8Array(128);
  private readonly exitEvent: ExitEvent = { reason: 0, qualification: 0, guestRip: 0, instructionLength: 0, intrInfo: 0, index: 0 };

  constructor(machine: Machine, opts: MonitorOptions = {}) {
    if (!machine.vmx) throw new MonitorError('the machine has no VMX (CPUID.1:ECX.VMX = 0): the built-in monitor needs a CPU model with VMX');
    this.machine = machine;
    this.vmx = machine.vmx;
    this.config = opts.config ?? { ...DEFAULT_CONFIG };
    this.onExit = opts.onExit ?? null;
    this.afterInPlace = opts.afterInPlace ?? null;
    for (const r of this.config.stopOn) if (r < 128) this.stopOn[r] = 1;
    const cpu = machine.cpu;
    const top = Math.min(machine.memory.lowRamSize, 64 * 1024 * 1024);
    // below the loader's GDT and page tables (initialState.ts: the top 0x7000 bytes)
    this.base = (top - 0x8000 - MONITOR_AREA) & ~0xFFF;
    const basic = this.readMsr(IA32_VMX_BASIC) ?? 0n;
    this.revisionId = Number(basic & 0x7FFFFFFFn);
    this.vmcsSize = Number((basic >> 32n) & 0x1FFFn);

    // ---- guest mode and what it needs ----
    const loaded: GuestMode = !(cpu.cr0 & K.CR0_PE) ? 'real' : cpu.efer & K.EFER_LMA ? 'long' : 'protected';
    const wanted = this.config.entry === 'auto' ? loaded : this.config.entry;
    if (wanted !== loaded) {
      throw new MonitorError(`entry '${wanted}': the image loader started the CPU in ${loaded} mode (choose the start mode with --mode ${wanted})`);
    }
    this.guestMode = wanted;
    const ug = wanted === 'real';
    if (ug) this.checkUnrestrictedGuest();
    this.usesEpt = ug;

    // ---- controls (KVM setup_vmcs_config) ----
    const req = newRequest();
    // KVM_REQUIRED_VMX_* of arch/x86/kvm/vmx: debug controls are switched on every exit and entry
    for (const n of ['PIN_BASED_EXT_INTR_MASK', 'PIN_BASED_NMI_EXITING', 'CPU_BASED_HLT_EXITING', 'VM_EXIT_HOST_ADDR_SPACE_SIZE',
      'VM_EXIT_SAVE_DEBUG_CONTROLS', 'VM_ENTRY_LOAD_DEBUG_CONTROLS']) requireControl(req, n);
    // a VPID keeps the guest's translations across exits, as KVM always asks for
    for (const n of ['PIN_BASED_VIRTUAL_NMIS', 'VM_EXIT_ACK_INTR_ON_EXIT', 'VM_EXIT_SAVE_IA32_EFER', 'VM_EXIT_LOAD_IA32_EFER', 'VM_ENTRY_LOAD_IA32_EFER', 'SECONDARY_EXEC_ENABLE_VPID']) preferControl(req, n);
    requireControl(req, this.config.ioExiting === 'bitmap' ? 'CPU_BASED_USE_IO_BITMAPS' : 'CPU_BASED_UNCOND_IO_EXITING');
    if (this.config.exitMsrs !== 'all') requireControl(req, 'CPU_BASED_USE_MSR_BITMAPS');
    if (wanted === 'long') requireControl(req, 'VM_ENTRY_IA32E_MODE');
    if (ug) {
      for (const n of ['CPU_BASED_ACTIVATE_SECONDARY_CONTROLS', 'SECONDARY_EXEC_ENABLE_EPT', 'SECONDARY_EXEC_UNRESTRICTED_GUEST']) requireControl(req, n);
    }
    for (const n of this.config.requiredControls) requireControl(req, n);
    for (const n of this.config.optionalControls) preferControl(req, n);
    for (const n of this.config.disabledControls) dropControl(req, n);
    // secondary controls are worth activating only when some secondary control is wanted
    if ((req.proc2.required.size || req.proc2.optional.size) && !req.proc1.required.has('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')) {
      preferControl(req, 'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
    }
    try {
      this.controls = deriveControls(req, (i) => this.readMsr(i), this.vmx.caps.spec.name);
    } catch (e) {
      if (e instanceof ControlError) throw new MonitorError(e.message);
      throw e;
    }
    for (const n of this.controls.dropped) opts.onNote?.(`monitor: optional control ${n} is not supported by CPU model '${this.vmx.caps.spec.name}'; dropped`);

    this.setupMemory();
    this.setupVmcs();
    cpu.msrs.ranges.push({
      owns: (index) => index === DOORBELL_MSR,
      read: () => cpu.raise(K.EXC_GP, 0, 'RDMSR of the monitor doorbell MSR'),
      write: () => this.doorbell(),
    });
  }

  /** A capability MSR's value, undefined when the model does not have it. */
  private readMsr(index: number): bigint | undefined {
    return this.vmx.caps.msrs.get(index);
  }

  /** Real-mode entry needs unrestricted guest and EPT; say which one the CPU model lacks. */
  private checkUnrestrictedGuest(): void {
    const ctls2 = this.readMsr(IA32_VMX_PROCBASED_CTLS2);
    const allowed1 = ctls2 === undefined ? 0 : Number(ctls2 >> 32n) >>> 0;
    const missing = ['SECONDARY_EXEC_UNRESTRICTED_GUEST', 'SECONDARY_EXEC_ENABLE_EPT'].filter((n) => !(allowed1 & controlMask(n)));
    if (missing.length) {
      throw new MonitorError(`a real-mode guest needs unrestricted guest and EPT, but CPU model '${this.vmx.caps.spec.name}' does not allow ${missing.join(' and ')} ` +
        `(${ctls2 === undefined ? 'no IA32_VMX_PROCBASED_CTLS2' : 'IA32_VMX_PROCBASED_CTLS2 allowed-1'}); start the image in protected or long mode (--mode protected|long)`);
    }
    const cap = this.readMsr(IA32_VMX_EPT_VPID_CAP) ?? 0n;
    const need: [bigint, string][] = [[6n, 'page-walk length 4'], [14n, 'write-back EPT structures'], [16n, '2-MiB EPT pages']];
    for (const [bit, what] of need) {
      if (!((cap >> bit) & 1n)) throw new MonitorError(`a real-mode guest needs EPT with ${what} (IA32_VMX_EPT_VPID_CAP bit ${bit}), which CPU model '${this.vmx.caps.spec.name}' does not report`);
    }
  }

  // =====================================================================================
  // Setup
  // =====================================================================================

  private w32(addr: number, v: number): void {
    this.machine.cpu.physWrite(addr, 4, v | 0);
  }

  private w64(addr: number, v: number): void {
    this.w32(addr, v);
    this.w32(addr + 4, Math.floor(v / 0x100000000));
  }

  private setupMemory(): void {
    const b = this.base;
    for (let k = 0; k < MONITOR_AREA; k += 4) this.w32(b + k, 0);
    this.w32(b + OFF_VMXON, this.revisionId);
    this.w32(b + OFF_VMCS, this.revisionId);
    // I/O bitmaps: a set bit makes the port exit
    if (this.config.ioExiting === 'bitmap') {
      for (const r of this.config.exitPorts) {
        for (let p = r.first; p <= r.last; p++) {
          const a = b + (p < 0x8000 ? OFF_IO_A : OFF_IO_B) + ((p & 0x7FFF) >>> 3);
          this.machine.cpu.physWrite(a, 1, this.machine.cpu.physRead(a, 1) | (1 << (p & 7)));
        }
      }
    }
    // MSR bitmap (read low, read high, write low, write high quarters)
    if (this.config.exitMsrs !== 'all') {
      for (const r of this.config.exitMsrs) {
        for (let m = r.first; m <= r.last; m++) {
          let off: number;
          if (m <= 0x1FFF) off = 0;
          else if (m >= 0xC0000000 && m <= 0xC0001FFF) off = 0x400;
          else continue; // outside the bitmap: always exits anyway
          for (const q of [0, 0x800]) {
            const a = b + OFF_MSR_BITMAP + off + q + ((m & 0x1FFF) >>> 3);
            this.machine.cpu.physWrite(a, 1, this.machine.cpu.physRead(a, 1) | (1 << (m & 7)));
          }
        }
      }
    }
    // the doorbell: one VM-exit MSR-load entry
    this.w32(b + OFF_EXIT_MSR_LOAD, DOORBELL_MSR);
    // host page tables: 1 GiB identity with 2-MiB pages (never walked unless host code runs)
    this.w64(b + OFF_HOST_PML4, b + OFF_HOST_PDPT + 3);
    this.w64(b + OFF_HOST_PDPT, b + OFF_HOST_PD + 3);
    for (let k = 0; k < 512; k++) this.w64(b + OFF_HOST_PD + k * 8, k * 0x200000 + 0x83);
    // host code: HLT forever
    for (let k = 0; k < 16; k++) this.machine.cpu.physWrite(b + OFF_HOST_CODE + k, 1, 0xF4);
    // 32-bit identity paging (4-MiB pages) for protected-mode guests without unrestricted guest
    for (let k = 0; k < 1024; k++) this.w32(b + OFF_GUEST_PD32 + k * 4, (k << 22) | 0x87);
    if (this.usesEpt) {
      // identity EPT for 4 GiB: RWX, write-back, 2-MiB pages
      this.w64(b + OFF_EPT_PML4, b + OFF_EPT_PDPT + 7);
      for (let k = 0; k < 4; k++) this.w64(b + OFF_EPT_PDPT + k * 8, b + OFF_EPT_PD + k * 0x1000 + 7);
      for (let k = 0; k < 2048; k++) this.w64(b + OFF_EPT_PD + k * 8, k * 0x200000 + 0x80 + (6 << 3) + 7);
    }
  }

  private setupVmcs(): void {
    const cpu = this.machine.cpu, v = this.vmx, d = v.vmcs, b = this.base;
    // as if VMXON, VMCLEAR and VMPTRLD had run: the monitor is the VMM, it executes no host code
    v.inVmx = true;
    v.vmxonPtr = b + OFF_VMXON;
    v.current = b + OFF_VMCS;
    d.clear();
    const ctl = this.controls.values;
    const set = (slot: number, value: number) => d.setNum(slot, value);
    const vec: [ControlVector, number][] = [['pin', S.PIN_BASED_VM_EXEC_CONTROL], ['proc1', S.CPU_BASED_VM_EXEC_CONTROL], ['exit', S.VM_EXIT_CONTROLS], ['entry', S.VM_ENTRY_CONTROLS]];
    for (const [name, slot] of vec) d.set(slot, ctl[name] | 0, 0);
    if (ctl.proc1 & controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')) d.set(S.SECONDARY_VM_EXEC_CONTROL, ctl.proc2 | 0, 0);
    set(S.IO_BITMAP_A, b + OFF_IO_A);
    set(S.IO_BITMAP_B, b + OFF_IO_B);
    set(S.MSR_BITMAP, b + OFF_MSR_BITMAP);
    set(S.EXCEPTION_BITMAP, this.config.exceptionBitmap | 0);
    d.set(S.VMCS_LINK_POINTER, -1, -1);
    set(S.VM_EXIT_MSR_LOAD_ADDR, b + OFF_EXIT_MSR_LOAD);
    set(S.VM_EXIT_MSR_LOAD_COUNT, 1);
    if (this.usesEpt) set(S.EPT_POINTER, b + OFF_EPT_PML4 + (3 << 3) + 6);
    // a configuration that asks for "use TPR shadow" gets a virtual-APIC page of the monitor's, as
    // KVM gives each vCPU one; threshold 0: MOV to CR8 never causes a TPR-below-threshold exit
    if (ctl.proc1 & controlMask('CPU_BASED_TPR_SHADOW')) {
      set(S.VIRTUAL_APIC_PAGE_ADDR, b + OFF_VIRTUAL_APIC);
      set(S.TPR_THRESHOLD, 0);
    }
    if (ctl.proc2 & controlMask('SECONDARY_EXEC_ENABLE_VPID')) set(S.VIRTUAL_PROCESSOR_ID, 1);

    // ---- guest state: the CPU as the image loader left it ----
    const mode = this.guestMode;
    let cr0 = cpu.cr0 | K.CR0_NE;
    let cr4 = cpu.cr4 | K.CR4_VMXE;
    let cr0Mask = K.CR0_NE, cr4Mask = K.CR4_VMXE;
    let cr3 = cpu.cr3;
    if (mode === 'protected' && !(cpu.cr0 & K.CR0_PG)) {
      // VMX needs CR0.PG = 1 without unrestricted guest: identity 4-MiB pages the guest does not see
      cr0 |= K.CR0_PG;
      cr4 |= K.CR4_PSE;
      cr0Mask |= K.CR0_PG | K.CR0_PE;
      cr4Mask |= K.CR4_PSE | K.CR4_PAE;
      cr3 = b + OFF_GUEST_PD32;
    }
    set(S.GUEST_CR0, cr0 >>> 0);
    set(S.GUEST_CR3, cr3);
    set(S.GUEST_CR4, cr4 >>> 0);
    set(S.CR0_GUEST_HOST_MASK, cr0Mask >>> 0);
    set(S.CR0_READ_SHADOW, cpu.cr0 >>> 0);
    set(S.CR4_GUEST_HOST_MASK, cr4Mask >>> 0);
    set(S.CR4_READ_SHADOW, cpu.cr4 >>> 0);
    set(S.GUEST_DR7, 0x400);
    if (ctl.entry & E_LOAD_EFER || ctl.exit & X_SAVE_EFER) d.set(S.GUEST_IA32_EFER, cpu.efer, 0);
    const segs: [number, number, number, number][] = [
      [S.GUEST_ES_SELECTOR, S.GUEST_ES_BASE, S.GUEST_ES_LIMIT, S.GUEST_ES_AR_BYTES],
      [S.GUEST_CS_SELECTOR, S.GUEST_CS_BASE, S.GUEST_CS_LIMIT, S.GUEST_CS_AR_BYTES],
      [S.GUEST_SS_SELECTOR, S.GUEST_SS_BASE, S.GUEST_SS_LIMIT, S.GUEST_SS_AR_BYTES],
      [S.GUEST_DS_SELECTOR, S.GUEST_DS_BASE, S.GUEST_DS_LIMIT, S.GUEST_DS_AR_BYTES],
      [S.GUEST_FS_SELECTOR, S.GUEST_FS_BASE, S.GUEST_FS_LIMIT, S.GUEST_FS_AR_BYTES],
      [S.GUEST_GS_SELECTOR, S.GUEST_GS_BASE, S.GUEST_GS_LIMIT, S.GUEST_GS_AR_BYTES],
      [S.GUEST_LDTR_SELECTOR, S.GUEST_LDTR_BASE, S.GUEST_LDTR_LIMIT, S.GUEST_LDTR_AR_BYTES],
      [S.GUEST_TR_SELECTOR, S.GUEST_TR_BASE, S.GUEST_TR_LIMIT, S.GUEST_TR_AR_BYTES],
    ];
    for (let s = 0; s < 8; s++) {
      const [sel, base, limit, ar] = segs[s];
      d.set(sel, cpu.segSel[s], 0);
      set(base, cpu.segBase[s]);
      d.set(limit, cpu.segLimit[s] | 0, 0);
      let a = cpu.segAr[s];
      // the loader's unused LDTR is a null selector: VMX wants it marked unusable
      if (s === K.SEG_LDTR && cpu.segSel[s] === 0 && mode !== 'real') a = K.AR_UNUSABLE;
      // a 64-bit guest's TR must be a busy 64-bit TSS (type 11), which the reset state's TR already is
      d.set(ar, a, 0);
    }
    set(S.GUEST_GDTR_BASE, cpu.gdtrBase);
    d.set(S.GUEST_GDTR_LIMIT, cpu.gdtrLimit, 0);
    set(S.GUEST_IDTR_BASE, cpu.idtrBase);
    d.set(S.GUEST_IDTR_LIMIT, cpu.idtrLimit, 0);
    set(S.GUEST_RIP, cpu.rip);
    this.guestXcr0 = cpu.xcr0;
    d.set(S.GUEST_RSP, cpu.r[4], cpu.rh[4]);
    d.set(S.GUEST_RFLAGS, cpu.getFlags(), 0);

    // ---- host state: a 64-bit monitor context that never runs ----
    set(S.HOST_CR0, HOST_CR0 >>> 0);
    set(S.HOST_CR3, b + OFF_HOST_PML4);
    set(S.HOST_CR4, HOST_CR4);
    d.set(S.HOST_CS_SELECTOR, HOST_CS, 0);
    for (const slot of [S.HOST_SS_SELECTOR, S.HOST_DS_SELECTOR, S.HOST_ES_SELECTOR]) d.set(slot, HOST_DS, 0);
    d.set(S.HOST_TR_SELECTOR, HOST_TR, 0);
    set(S.HOST_RIP, b + OFF_HOST_CODE);
    set(S.HOST_RSP, b + OFF_HOST_CODE + 0xFF0);
    if (ctl.exit & controlMask('VM_EXIT_LOAD_IA32_EFER')) d.set(S.HOST_IA32_EFER, K.EFER_LME | K.EFER_LMA, 0);
  }

  /** Puts the CPU into the monitor's host context (what VMXON's caller would be running in). */
  private enterHostContext(): void {
    const cpu = this.machine.cpu, d = this.vmx.vmcs;
    cpu.cr0 = HOST_CR0;
    cpu.cr4 = HOST_CR4;
    cpu.cr3 = d.unum(S.HOST_CR3);
    cpu.efer = K.EFER_LME | K.EFER_LMA;
    cpu.xcr0 = HOST_XCR0;
    cpu.loadSegRaw(K.SEG_CS, HOST_CS, 0, 0xFFFFFFFF, K.AR_P | K.AR_S | 0xB | K.AR_L | K.AR_G);
    for (const s of [K.SEG_SS, K.SEG_DS, K.SEG_ES]) cpu.loadSegRaw(s, HOST_DS, 0, 0xFFFFFFFF, K.AR_P | K.AR_S | 3 | K.AR_DB | K.AR_G);
    cpu.loadSegRaw(K.SEG_TR, HOST_TR, 0, 0x67, K.AR_P | 0xB);
    cpu.setFlags(2, -1);
    cpu.updateMode();
    cpu.flushTlb(true);
  }

  /**
   * VMLAUNCH. Returns null when the guest runs, else the outcome that ends the run (a control or host
   * field the entry checks refuse, or a VM-entry failure exit).
   */
  launch(): RunOutcome | null {
    this.enterHostContext();
    this.vmx.inPlace = this;
    this.runStart = performance.now();
    return this.enter(true);
  }

  private enter(launch: boolean): RunOutcome | null {
    const c = this.machine.cpu;
    this.entering = true;
    this.entryFailed = false;
    let r;
    if (this.guestXcr0 !== HOST_XCR0) c.xcr0 = this.guestXcr0;
    try {
      r = vmEntry(c, this.vmx, launch);
    } finally {
      this.entering = false;
    }
    if (r === 'entered') return null;
    c.xcr0 = HOST_XCR0;
    const f = this.vmx.lastEntryFailure;
    const why = f ? `${f.result}: ${f.check} ${f.section}: ${f.detail}` : 'unknown reason';
    this.fatal = { kind: 'stop', code: EXIT_INTERNAL, detail: `${launch ? 'VMLAUNCH' : 'VMRESUME'} failed: ${why}` };
    if (r === 'exit') this.count(this.vmx.vmcs.u32(S.VM_EXIT_REASON) | 0);
    return this.fatal;
  }

  // =====================================================================================
  // Exits
  // =====================================================================================

  private count(reason: number): void {
    this.totalExits++;
    this.exitsByReason[reason & 0x7F]++;
    if (this.onExit !== null) {
      const d = this.vmx.vmcs, e = this.exitEvent;
      e.reason = reason;
      e.qualification = d.num(S.EXIT_QUALIFICATION);
      e.guestRip = d.num(S.GUEST_RIP);
      e.instructionLength = d.u32(S.VM_EXIT_INSTRUCTION_LEN);
      e.intrInfo = d.u32(S.VM_EXIT_INTR_INFO);
      e.index = this.totalExits;
      this.onExit(e);
    }
  }

  /** The VM-exit MSR-load list wrote the doorbell: the CPU is in host state after a VM exit. */
  private doorbell(): void {
    if (this.entering) {
      // our own VMRESUME failed with reason 33/34: enter() reports it
      this.entryFailed = true;
      return;
    }
    if (this.handledInPlace) {
      this.handledInPlace = false;
      if (this.enter(false) !== null) {
        this.pending = true;
        this.machine.cpu.requestStop();
      }
      return;
    }
    if (this.guestXcr0 !== HOST_XCR0) this.machine.cpu.xcr0 = HOST_XCR0;
    const d = this.vmx.vmcs;
    const full = d.u32(S.VM_EXIT_REASON);
    const reason = full & 0xFFFF;
    this.count(reason);
    if (this.stopOn[reason]) {
      this.report = {
        kind: 'stop', code: EXIT_INTERNAL,
        detail: `VM exit ${describeExit(full, d.num(S.EXIT_QUALIFICATION))} at RIP 0x${d.num(S.GUEST_RIP).toString(16)}`,
      };
    }
    if (!this.handle(reason) || this.report !== null) {
      // the slow path: finish in Machine.run (beforeSlice)
      this.pending = true;
      this.machine.cpu.requestStop();
      return;
    }
    if (this.enter(false) !== null) {
      this.pending = true;
      this.machine.cpu.requestStop();
    }
  }

  /**
   * The fast path (state.ts InPlaceVmm): I/O and CPUID exits change only GPRs, memory and GUEST_RIP,
   * so they are handled before the host state would be loaded and the guest resumes from there, as
   * KVM handles its fastpath exits without leaving its run loop. Everything else, and any exit the
   * configuration stops on, completes architecturally and reaches the doorbell.
   */
  handleInPlace(reason: number): boolean {
    if ((reason !== EXIT_IO && reason !== EXIT_CPUID) || this.stopOn[reason]) return false;
    this.count(reason);
    if (reason === EXIT_IO) this.io();
    else this.cpuid();
    if (resumeInPlace(this.machine.cpu, this.vmx)) {
      if (this.afterInPlace !== null) this.afterInPlace();
      return true;
    }
    this.handledInPlace = true;
    return false;
  }

  /**
   * Handles an exit. Returns true when the guest can be resumed right away; false when the exit needs
   * the slow path (waiting in HLT, a stop).
   */
  private handle(reason: number): boolean {
    switch (reason) {
      case EXIT_IO: return this.io();
      case EXIT_CPUID: this.cpuid(); return true;
      case EXIT_RDMSR: this.rdmsr(); return true;
      case EXIT_WRMSR: this.wrmsr(); return true;
      case EXIT_EXTERNAL_INTERRUPT: this.externalInterrupt(); return true;
      case EXIT_INTERRUPT_WINDOW: this.injectPending(); return true;
      case EXIT_HLT: return this.hlt();
      case EXIT_EXCEPTION_NMI: this.reflect(); return true;
      case EXIT_INVD: case EXIT_WBINVD: this.skip(); return true;
      case EXIT_XSETBV: this.xsetbv(); return true;
      case EXIT_VMCALL:
        // KVM's answer to an unknown hypercall: RAX = -KVM_ENOSYS
        this.setGpr(0, -1000, 8);
        this.skip();
        return true;
      case EXIT_CR_ACCESS: return this.crAccess();
      case EXIT_TRIPLE_FAULT:
        this.fatal = { kind: 'shutdown', code: EXIT_SHUTDOWN, detail: `guest triple fault (VM exit 2, EXIT_REASON_TRIPLE_FAULT) at RIP 0x${this.vmx.vmcs.num(S.GUEST_RIP).toString(16)}` };
        return false;
      case EXIT_EPT_VIOLATION:
        this.fatal = { kind: 'stop', code: EXIT_INTERNAL, detail: `EPT violation outside RAM and the machine's MMIO: ${describeExit(this.vmx.vmcs.u32(S.VM_EXIT_REASON), this.vmx.vmcs.num(S.EXIT_QUALIFICATION))} at guest-physical 0x${this.vmx.vmcs.num(S.GUEST_PHYSICAL_ADDRESS).toString(16)}` };
        return false;
      default:
        this.fatal = {
          kind: 'stop', code: EXIT_INTERNAL,
          detail: `the monitor does not handle ${describeExit(this.vmx.vmcs.u32(S.VM_EXIT_REASON), this.vmx.vmcs.num(S.EXIT_QUALIFICATION))} at RIP 0x${this.vmx.vmcs.num(S.GUEST_RIP).toString(16)}`,
        };
        return false;
    }
  }

  /** GUEST_RIP past the exiting instruction; an STI / MOV SS shadow ends with it (KVM skip_emulated_instruction). */
  private skip(): void {
    const d = this.vmx.vmcs;
    const rip = d.num(S.GUEST_RIP) + d.u32(S.VM_EXIT_INSTRUCTION_LEN);
    d.setNum(S.GUEST_RIP, this.guestMode === 'long' ? rip : rip % 0x100000000);
    const intr = d.i32(S.GUEST_INTERRUPTIBILITY_INFO);
    if (intr & 3) d.set(S.GUEST_INTERRUPTIBILITY_INFO, intr & ~3, 0);
  }

  /**
   * RSI, RDI or RCX after a string instruction with this address size: a 16-bit one keeps bits 63:16,
   * a 32-bit one zero-extends, a 64-bit value may be negative (below 0 it wraps to the top).
   */
  private setAddressReg(r: number, v: number, asize: number): void {
    const c = this.machine.cpu;
    if (asize === 2) c.r[r] = (c.r[r] & ~0xFFFF) | (v & 0xFFFF);
    else if (asize === 4) { c.r[r] = v | 0; c.rh[r] = 0; } else { c.r[r] = v | 0; c.rh[r] = Math.floor(v / 0x100000000) | 0; }
  }

  /** Writes a guest GPR with x86 width rules (a 4-byte write zero-extends). */
  private setGpr(r: number, v: number, size: number): void {
    const c = this.machine.cpu;
    if (size === 1) c.r[r] = (c.r[r] & ~0xFF) | (v & 0xFF);
    else if (size === 2) c.r[r] = (c.r[r] & ~0xFFFF) | (v & 0xFFFF);
    else if (size === 4) { c.r[r] = v | 0; c.rh[r] = 0; } else { c.r[r] = v | 0; c.rh[r] = Math.floor(v / 0x100000000) | 0; }
  }

  private io(): boolean {
    const d = this.vmx.vmcs, c = this.machine.cpu, ports = this.machine.ports;
    const q = d.u32(S.EXIT_QUALIFICATION);
    const size = (q & 7) + 1, isIn = (q & 8) !== 0, port = q >>> 16;
    this.exitsByPort[port]++;
    if (q & 0x10) return this.stringIo(q);
    if (isIn) this.setGpr(0, ports.in(port, size), size);
    else ports.out(port, size, size === 4 ? c.r[0] >>> 0 : c.r[0] & (size === 1 ? 0xFF : 0xFFFF));
    this.skip();
    return true;
  }

  /**
   * INS/OUTS (REP too), all iterations at once, as KVM's emulator batches them. The guest's linear
   * address is used as physical: true for every entry state the monitor builds (identity paging).
   */
  private stringIo(q: number): boolean {
    const d = this.vmx.vmcs, c = this.machine.cpu, ports = this.machine.ports;
    const io = parseIoQualification(q);
    const size = io.size;
    const info = d.u32(S.VMX_INSTRUCTION_INFO);
    const asize = this.vmx.caps.spec.insOutsInfo ? [2, 4, 8][(info >>> 7) & 7] ?? 4 : this.guestMode === 'long' ? 8 : 4;
    const mask = asize === 8 ? Number.MAX_SAFE_INTEGER : asize === 4 ? 0xFFFFFFFF : 0xFFFF;
    const reg = io.direction === 'in' ? 7 : 6;
    const read = (r: number) => (asize === 8 ? (c.rh[r] >>> 0) * 0x100000000 + (c.r[r] >>> 0) : (c.r[r] >>> 0) & mask);
    let count = io.rep ? read(1) : 1;
    const step = (d.u32(S.GUEST_RFLAGS) & 0x400) !== 0 ? -size : size;
    let lin = d.num(S.GUEST_LINEAR_ADDRESS);
    // one batch at most 64 Ki iterations: a long REP resumes the guest, which exits again
    const n = Math.min(count, 0x10000);
    count -= n;
    for (let k = n; k > 0; k--) {
      if (io.direction === 'in') c.physWrite(lin, size, ports.in(io.port, size));
      else ports.out(io.port, size, c.physRead(lin, size) & (size === 4 ? -1 : (1 << (size * 8)) - 1));
      lin += step;
    }
    // RSI/RDI move by the whole batch, wrapping at the address size (64-bit values stay numbers:
    // bitwise masking would cut them to 32 bits)
    const moved = read(reg) + n * step;
    const off = asize === 8 ? moved : ((moved % (mask + 1)) + (mask + 1)) % (mask + 1);
    this.setAddressReg(reg, off, asize);
    if (io.rep) this.setAddressReg(1, count, asize);
    if (count === 0) this.skip();
    return true;
  }

  private cpuid(): void {
    const c = this.machine.cpu, d = this.vmx.vmcs;
    const leaf = c.r[0] >>> 0, sub = c.r[1] >>> 0;
    let eax: number, ebx: number, ecx: number, edx: number;
    const e = this.cpuidEntry(leaf, sub);
    if (e !== null) {
      eax = e.eax; ebx = e.ebx; ecx = e.ecx; edx = e.edx;
    } else {
      const r = c.cpuid.query(leaf, sub, c);
      eax = r[0]; ebx = r[1]; ecx = r[2]; edx = r[3];
      if (leaf === 1) {
        // no nested VMX: hide it, as KVM does by default; OSXSAVE follows the CR4 the guest sees, not the
        // host's: the guest's own bit unless the monitor owns it (then the read shadow's)
        const mask = d.i32(S.CR4_GUEST_HOST_MASK);
        const cr4 = (d.i32(S.GUEST_CR4) & ~mask) | (d.i32(S.CR4_READ_SHADOW) & mask);
        ecx = (ecx & ~(1 << 5) & ~(1 << 27)) | (cr4 & K.CR4_OSXSAVE ? 1 << 27 : 0);
      }
    }
    this.setGpr(0, eax >>> 0, 4);
    this.setGpr(3, ebx >>> 0, 4);
    this.setGpr(1, ecx >>> 0, 4);
    this.setGpr(2, edx >>> 0, 4);
    this.skip();
  }

  /** The configuration's CPUID result for the leaf and sub-leaf, if it has one (a loop: CPUID exits allocate nothing). */
  private cpuidEntry(leaf: number, sub: number): MonitorConfig['cpuid'][number] | null {
    const table = this.config.cpuid;
    for (let k = 0; k < table.length; k++) {
      const x = table[k];
      if (x.leaf === leaf && (x.subleaf === undefined || x.subleaf === sub)) return x;
    }
    return null;
  }

  /**
   * XSETBV (KVM handle_xsetbv): the CPU has raised #UD (CR4.OSXSAVE=0) and the CPL fault itself; the
   * XCR index and the value are checked here, #GP(0) for the guest when wrong. The value takes effect
   * at the next entry (guestXcr0).
   */
  private xsetbv(): void {
    const c = this.machine.cpu;
    const lo = c.r[0];
    if (c.r[1] !== 0 || c.r[2] !== 0 || lo & ~XCR0_SUPPORTED || !(lo & 1)) { this.injectGp(); return; }
    this.guestXcr0 = lo;
    this.skip();
  }

  private countMsr(index: number): void {
    this.exitsByMsr.set(index, (this.exitsByMsr.get(index) ?? 0) + 1);
  }

  /** Injects #GP(0) (an MSR the guest may not read or write). */
  private injectGp(): void {
    const d = this.vmx.vmcs;
    d.set(S.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | (3 << 8) | 0x800 | K.EXC_GP) | 0, 0);
    d.set(S.VM_ENTRY_EXCEPTION_ERROR_CODE, 0, 0);
  }

  private rdmsr(): void {
    const c = this.machine.cpu, d = this.vmx.vmcs;
    const index = c.r[1] >>> 0;
    this.countMsr(index);
    let v: bigint;
    // MSRs that VMX switches live in the VMCS while the host runs; the rest are shared with the host
    switch (index) {
      case MSR_EFER: v = BigInt(d.u32(S.GUEST_IA32_EFER)); if (!(d.i32(S.VM_EXIT_CONTROLS) & X_SAVE_EFER)) v = BigInt(this.guestMode === 'long' ? 0x500 : 0); break;
      case MSR_FS_BASE: v = BigInt.asUintN(64, BigInt(d.num(S.GUEST_FS_BASE))); break;
      case MSR_GS_BASE: v = BigInt.asUintN(64, BigInt(d.num(S.GUEST_GS_BASE))); break;
      case MSR_SYSENTER_CS: v = BigInt(d.u32(S.GUEST_SYSENTER_CS)); break;
      case MSR_SYSENTER_ESP: v = BigInt.asUintN(64, BigInt(d.num(S.GUEST_SYSENTER_ESP))); break;
      case MSR_SYSENTER_EIP: v = BigInt.asUintN(64, BigInt(d.num(S.GUEST_SYSENTER_EIP))); break;
      case MSR_FEATURE_CONTROL: v = 1n; break; // locked, VMX off: the guest has no VMX
      default:
        if ((index >= 0x480 && index <= 0x493) || index === DOORBELL_MSR) { this.injectGp(); return; }
        try {
          v = c.msrs.read(index);
        } catch (e) {
          if (e !== FAULT) throw e;
          this.injectGp();
          return;
        }
    }
    this.setGpr(0, Number(v & 0xFFFFFFFFn), 4);
    this.setGpr(2, Number(v >> 32n), 4);
    this.skip();
  }

  private wrmsr(): void {
    const c = this.machine.cpu, d = this.vmx.vmcs;
    const index = c.r[1] >>> 0;
    this.countMsr(index);
    const v = (BigInt(c.r[2] >>> 0) << 32n) | BigInt(c.r[0] >>> 0);
    const num = Number(BigInt.asIntN(64, v));
    switch (index) {
      case MSR_FS_BASE: d.setNum(S.GUEST_FS_BASE, num); break;
      case MSR_GS_BASE: d.setNum(S.GUEST_GS_BASE, num); break;
      case MSR_SYSENTER_CS: d.set(S.GUEST_SYSENTER_CS, Number(v & 0xFFFFn), 0); break;
      case MSR_SYSENTER_ESP: d.setNum(S.GUEST_SYSENTER_ESP, num); break;
      case MSR_SYSENTER_EIP: d.setNum(S.GUEST_SYSENTER_EIP, num); break;
      case MSR_EFER:
        if (!(d.i32(S.VM_ENTRY_CONTROLS) & E_LOAD_EFER) || v & ~0xD01n) { this.injectGp(); return; }
        d.set(S.GUEST_IA32_EFER, (Number(v) & ~K.EFER_LMA) | (d.i32(S.GUEST_IA32_EFER) & K.EFER_LMA), 0);
        break;
      case MSR_FEATURE_CONTROL: this.injectGp(); return;
      default:
        if ((index >= 0x480 && index <= 0x493) || index === DOORBELL_MSR) { this.injectGp(); return; }
        try {
          c.msrs.write(index, v);
        } catch (e) {
          if (e !== FAULT) throw e;
          this.injectGp();
          return;
        }
    }
    this.skip();
  }

  /** External-interrupt exit: take the vector (acknowledged on exit, or now) and inject it when the guest can take it. */
  private externalInterrupt(): void {
    const d = this.vmx.vmcs;
    const info = d.i32(S.VM_EXIT_INTR_INFO);
    if (d.i32(S.VM_EXIT_CONTROLS) & X_ACK_INTR && info < 0) this.pendingVector = info & 0xFF;
    else if (this.pendingVector < 0 && this.machine.router.hasInterrupt()) this.pendingVector = this.machine.router.acknowledge();
    this.injectPending();
  }

  /** True when the guest accepts an external interrupt at the next entry (RFLAGS.IF, no STI / MOV SS blocking). */
  private interruptible(): boolean {
    const d = this.vmx.vmcs;
    return (d.i32(S.GUEST_RFLAGS) & 0x200) !== 0 && (d.i32(S.GUEST_INTERRUPTIBILITY_INFO) & 3) === 0 && d.i32(S.VM_ENTRY_INTR_INFO_FIELD) >= 0;
  }

  /** Injects the held vector through VM-entry interruption information, or asks for an interrupt window. */
  private injectPending(): void {
    const d = this.vmx.vmcs;
    const p1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
    if (this.pendingVector < 0) {
      if (p1 & P1_INTR_WINDOW) d.set(S.CPU_BASED_VM_EXEC_CONTROL, p1 & ~P1_INTR_WINDOW, 0);
      return;
    }
    if (this.interruptible()) {
      d.set(S.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | this.pendingVector) | 0, 0);
      this.pendingVector = -1;
      if (p1 & P1_INTR_WINDOW) d.set(S.CPU_BASED_VM_EXEC_CONTROL, p1 & ~P1_INTR_WINDOW, 0);
      if (d.u32(S.GUEST_ACTIVITY_STATE) !== 0) d.set(S.GUEST_ACTIVITY_STATE, 0, 0);
    } else if (!(p1 & P1_INTR_WINDOW)) {
      if (!(this.controls.values.proc1 & P1_INTR_WINDOW) && !(this.readMsr(0x482)! >> 32n & BigInt(P1_INTR_WINDOW))) return;
      d.set(S.CPU_BASED_VM_EXEC_CONTROL, p1 | P1_INTR_WINDOW, 0);
    }
  }

  /** HLT: resume at once when an interrupt can be injected, else wait in the monitor (slow path). */
  private hlt(): boolean {
    this.skip();
    if (this.pendingVector < 0 && (this.vmx.vmcs.i32(S.GUEST_RFLAGS) & 0x200) !== 0 && this.machine.router.hasInterrupt()) {
      this.pendingVector = this.machine.router.acknowledge();
    }
    if (this.pendingVector >= 0 && this.interruptible()) {
      this.injectPending();
      return true;
    }
    if (!(this.vmx.vmcs.i32(S.GUEST_RFLAGS) & 0x200)) {
      this.fatal = { kind: 'halt', code: EXIT_HALT, detail: 'guest HLT with interrupts disabled' };
      return false;
    }
    this.waiting = true;
    return false;
  }

  /** An exception the exception bitmap intercepted: count it and deliver it to the guest as it was. */
  private reflect(): void {
    const d = this.vmx.vmcs;
    const info = d.i32(S.VM_EXIT_INTR_INFO);
    const type = (info >> 8) & 7;
    d.set(S.VM_ENTRY_INTR_INFO_FIELD, (info & 0x80000FFF) | 0, 0);
    if (info & 0x800) d.set(S.VM_ENTRY_EXCEPTION_ERROR_CODE, d.i32(S.VM_EXIT_INTR_ERROR_CODE), 0);
    if (type === 4 || type === 5 || type === 6) d.set(S.VM_ENTRY_INSTRUCTION_LEN, d.i32(S.VM_EXIT_INSTRUCTION_LEN), 0);
  }

  /** MOV to CR0/CR4 touching a bit the monitor owns. Only the shadow-only bits (NE, VMXE) are emulated. */
  private crAccess(): boolean {
    const d = this.vmx.vmcs, c = this.machine.cpu;
    const q = d.u32(S.EXIT_QUALIFICATION);
    const cr = q & 15, type = (q >>> 4) & 3, gpr = (q >>> 8) & 15;
    if (type === 0 && (cr === 0 || cr === 4)) {
      const val = gpr === 4 ? d.u32(S.GUEST_RSP) : c.r[gpr] >>> 0;
      const maskSlot = cr === 0 ? S.CR0_GUEST_HOST_MASK : S.CR4_GUEST_HOST_MASK;
      const shadowSlot = cr === 0 ? S.CR0_READ_SHADOW : S.CR4_READ_SHADOW;
      const guestSlot = cr === 0 ? S.GUEST_CR0 : S.GUEST_CR4;
      const shadowOnly = cr === 0 ? K.CR0_NE : K.CR4_VMXE;
      const changed = (val ^ d.u32(shadowSlot)) & d.u32(maskSlot);
      if ((changed & ~shadowOnly) === 0) {
        d.setNum(shadowSlot, val);
        const keep = d.u32(maskSlot);
        d.setNum(guestSlot, ((val & ~keep) | (d.u32(guestSlot) & keep)) >>> 0);
        this.skip();
        return true;
      }
    }
    this.fatal = {
      kind: 'stop', code: EXIT_INTERNAL,
      detail: `${describeExit(d.u32(S.VM_EXIT_REASON), d.num(S.EXIT_QUALIFICATION))} at RIP 0x${d.num(S.GUEST_RIP).toString(16)}: ` +
        `the guest changes a control-register bit the monitor owns (paging on/off without unrestricted guest is not supported)`,
    };
    return false;
  }

  // =====================================================================================
  // VmmHook: the slow path in Machine.run
  // =====================================================================================

  afterStop(): boolean {
    return this.pending;
  }

  beforeSlice(): RunOutcome | 'wait' | null {
    if (!this.pending) return null;
    if (this.fatal !== null) {
      this.pauseClock();
      return this.fatal;
    }
    if (this.report !== null) {
      const o = this.report;
      this.report = null;
      this.pauseClock();
      return o;
    }
    if (this.waiting) {
      const r = this.machine.router;
      if (!r.hasInterrupt() && this.pendingVector < 0) return 'wait';
      this.waiting = false;
      if (this.pendingVector < 0) this.pendingVector = r.acknowledge();
      this.injectPending();
    }
    this.pending = false;
    this.resumeClock();
    return this.enter(false) === null ? null : ((this.pending = true), this.fatal);
  }

  private clockRunning = true;

  private pauseClock(): void {
    if (!this.clockRunning) return;
    this.runMs += performance.now() - this.runStart;
    this.clockRunning = false;
  }

  private resumeClock(): void {
    if (this.clockRunning) return;
    this.runStart = performance.now();
    this.clockRunning = true;
  }

  /** Seconds the guest ran (wall clock), for exits per second. */
  runSeconds(): number {
    return (this.runMs + (this.clockRunning ? performance.now() - this.runStart : 0)) / 1000;
  }
}
