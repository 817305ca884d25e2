import type { Cpu } from '../cpu';
import * as K from '../constants';
import { controlMask } from './spec';
import * as S from './slots';
import { fieldOfSlot, type VmcsCache } from './vmcs';
import type { EntryFailure, Vmx } from './state';

/**
 * The VM-entry checks (SDM 27.2 controls and host state, 27.3.1 guest state, 27.3.1.6 PDPTEs), in
 * the order of ../shared/reference/vmx/entry-checks.md, which names each check (B1..B47, C1..C21,
 * D1..D68, E3). Each failure records the check id, its SDM section, the field and the rule in words,
 * so the debugger can say exactly why VMLAUNCH did not enter the guest.
 *
 * Checks for features no model reports (posted interrupts, PML, SPP, HLAT, IPI virtualization, CET,
 * FRED, PKRS, PT, LBR, UINV, SPEC_CTRL, SMM) are reached only through controls that the capability
 * MSRs already refuse (B1-B4, B31, B37), so they are not repeated here.
 */

/** Which result a group of checks produces. */
export const RESULT_CONTROL = 'VMfailValid(7)';
export const RESULT_HOST = 'VMfailValid(8)';
export function resultExit33(q: number): string {
  return `VM-entry failure: exit reason 33 (invalid guest state), qualification ${q}`;
}

/** SDM section of each check group. */
const SEC_EXEC = 'SDM 27.2.1.1 (VM-execution control fields)';
const SEC_EXIT = 'SDM 27.2.1.2 (VM-exit control fields)';
const SEC_ENTRY = 'SDM 27.2.1.3 (VM-entry control fields)';
const SEC_HOST_CR = 'SDM 27.2.2 (host control registers and MSRs)';
const SEC_HOST_SEG = 'SDM 27.2.3 (host segment and descriptor-table registers)';
const SEC_HOST_SIZE = 'SDM 27.2.4 (checks related to address-space size)';
const SEC_G_CR = 'SDM 27.3.1.1 (guest control registers, debug registers and MSRs)';
const SEC_G_SEG = 'SDM 27.3.1.2 (guest segment registers)';
const SEC_G_DT = 'SDM 27.3.1.3 (guest descriptor-table registers)';
const SEC_G_RIP = 'SDM 27.3.1.4 (guest RIP, RFLAGS and SSP)';
const SEC_G_NR = 'SDM 27.3.1.5 (guest non-register state)';
const SEC_G_PDPTE = 'SDM 27.3.1.6 (guest PDPTEs)';

const MAXPHY_HI = 1 << (K.MAXPHYADDR - 32);
const CANON = 2 ** 47;

/** Controls by name, resolved once from the spec table. */
const PIN_NMI = controlMask('PIN_BASED_NMI_EXITING');
const PIN_VNMI = controlMask('PIN_BASED_VIRTUAL_NMIS');
const PIN_EXT = controlMask('PIN_BASED_EXT_INTR_MASK');
const PIN_TIMER = controlMask('PIN_BASED_VMX_PREEMPTION_TIMER');
const PIN_POSTED = controlMask('PIN_BASED_POSTED_INTR');
const P1_NMI_WIN = controlMask('CPU_BASED_NMI_WINDOW_EXITING');
const P1_TPR = controlMask('CPU_BASED_TPR_SHADOW');
const P1_IO_BITMAPS = controlMask('CPU_BASED_USE_IO_BITMAPS');
const P1_MSR_BITMAPS = controlMask('CPU_BASED_USE_MSR_BITMAPS');
const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
const P1_TERTIARY = controlMask('CPU_BASED_ACTIVATE_TERTIARY_CONTROLS');
const P1_MTF = controlMask('CPU_BASED_MONITOR_TRAP_FLAG');
const P2_APIC_ACCESS = controlMask('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES');
const P2_EPT = controlMask('SECONDARY_EXEC_ENABLE_EPT');
const P2_X2APIC = controlMask('SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE');
const P2_VPID = controlMask('SECONDARY_EXEC_ENABLE_VPID');
const P2_UG = controlMask('SECONDARY_EXEC_UNRESTRICTED_GUEST');
const P2_APIC_REG = controlMask('SECONDARY_EXEC_APIC_REGISTER_VIRT');
const P2_VID = controlMask('SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY');
const P2_VMFUNC = controlMask('SECONDARY_EXEC_ENABLE_VMFUNC');
const P2_SHADOW = controlMask('SECONDARY_EXEC_SHADOW_VMCS');
const P2_PML = controlMask('SECONDARY_EXEC_ENABLE_PML');
const P2_VE = controlMask('SECONDARY_EXEC_EPT_VIOLATION_VE');
const P2_MBEC = controlMask('SECONDARY_EXEC_MODE_BASED_EPT_EXEC');
const X_SAVE_TIMER = controlMask('VM_EXIT_SAVE_VMX_PREEMPTION_TIMER');
const X_HOST64 = controlMask('VM_EXIT_HOST_ADDR_SPACE_SIZE');
const X_LOAD_PAT = controlMask('VM_EXIT_LOAD_IA32_PAT');
const X_LOAD_EFER = controlMask('VM_EXIT_LOAD_IA32_EFER');
const X_ACK = controlMask('VM_EXIT_ACK_INTR_ON_EXIT');
const E_IA32E = controlMask('VM_ENTRY_IA32E_MODE');
const E_SMM = controlMask('VM_ENTRY_SMM');
const E_DUAL = controlMask('VM_ENTRY_DEACT_DUAL_MONITOR');
const E_LOAD_DEBUG = controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS');
const E_LOAD_PAT = controlMask('VM_ENTRY_LOAD_IA32_PAT');
const E_LOAD_EFER = controlMask('VM_ENTRY_LOAD_IA32_EFER');

/** The effective control vectors of the current VMCS (secondary = 0 unless activated). */
export interface Controls {
  pin: number;
  proc1: number;
  proc2: number;
  exit: number;
  entry: number;
}

/** Reads the control vectors into `out` (a fresh object unless given: VM entry reuses one). */
export function readControls(v: Vmx, out: Controls = { pin: 0, proc1: 0, proc2: 0, exit: 0, entry: 0 }): Controls {
  const d = v.vmcs;
  const proc1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
  out.pin = d.i32(S.PIN_BASED_VM_EXEC_CONTROL);
  out.proc1 = proc1;
  out.proc2 = proc1 & P1_SECONDARY ? d.i32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
  out.exit = d.i32(S.VM_EXIT_CONTROLS);
  out.entry = d.i32(S.VM_ENTRY_CONTROLS);
  return out;
}

function hex(n: number | bigint): string {
  return '0x' + (typeof n === 'bigint' ? n : BigInt(Math.trunc(n))).toString(16).toUpperCase();
}

function name(slot: number): string {
  return fieldOfSlot(slot).name;
}

/**
 * The state of one run of checks. VM entry runs them on every VMLAUNCH/VMRESUME, so one instance is
 * reused (the checks never re-enter) and nothing is allocated unless a check fails.
 */
class Checker {
  c!: Cpu;
  v!: Vmx;
  d!: VmcsCache;
  readonly ctl: Controls = { pin: 0, proc1: 0, proc2: 0, exit: 0, entry: 0 };
  failure: EntryFailure | null = null;
  /** What a failure of the current group of checks produces (RESULT_CONTROL, ...). */
  result = '';
  /** ctlGen of the VMCS `ctl` was read from. */
  private ctlReadGen = -1;

  start(c: Cpu, v: Vmx, result: string): this {
    this.c = c;
    // the control fields change only with VmcsCache.ctlGen: read them again only then
    if (v !== this.v || v.vmcs.ctlGen !== this.ctlReadGen) {
      readControls(v, this.ctl);
      this.ctlReadGen = v.vmcs.ctlGen;
    }
    this.v = v;
    this.d = v.vmcs;
    this.failure = null;
    this.result = result;
    return this;
  }
  fail(check: string, section: string, field: string, detail: string, result: string): false {
    if (this.failure === null) this.failure = { check, section, field, detail, result };
    return false;
  }
  /** A failure about the field in `slot`, with the group's result. */
  f(check: string, section: string, slot: number, detail: string): false {
    return this.fail(check, section, name(slot), detail, this.result);
  }
  /** A failure about a field named in words, with the group's result. */
  g(check: string, section: string, field: string, detail: string): false {
    return this.fail(check, section, field, detail, this.result);
  }
  /** 4-KiB aligned and below MAXPHYADDR. */
  page(slot: number): boolean {
    return (this.d.lo[slot] & 0xFFF) === 0 && (this.d.hi[slot] >>> 0) < MAXPHY_HI;
  }
  canon(slot: number): boolean {
    const n = this.d.num(slot);
    return n >= -CANON && n < CANON;
  }
  val(slot: number): string {
    return hex(this.d.big(slot));
  }
}

/** Allowed by the capability: must-be-1 bits set, may-be-1 bits only. */
function allowed(value: number, must1: number, may1: number): string {
  const miss = must1 & ~value;
  const extra = value & ~may1;
  if (miss) return `bits ${hex(miss >>> 0)} must be 1`;
  if (extra) return `bits ${hex(extra >>> 0)} are not allowed to be 1`;
  return '';
}

// =====================================================================================
// B: VMX controls (VMfailValid(7))
// =====================================================================================

const checker = new Checker();

/**
 * The control and host checks read only control and host-state fields, the capabilities and (host
 * checks) EFER.LMA, except for two that read more: B10 reads the VTPR from memory (TPR shadow) and
 * B44 reads GUEST_CR0 (an event to inject). Otherwise a pass is remembered until one of those fields
 * changes value (VmcsCache.ctlGen): a VMM that only advances GUEST_RIP and resumes skips them.
 */
function memoizable(v: Vmx): boolean {
  const d = v.vmcs;
  return !(d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_TPR) && d.i32(S.VM_ENTRY_INTR_INFO_FIELD) >= 0;
}

export function checkControls(c: Cpu, v: Vmx): EntryFailure | null {
  const d = v.vmcs;
  if (d.ctlCheckedGen === d.ctlGen) return null;
  const k = checker.start(c, v, RESULT_CONTROL);
  controls(k);
  if (k.failure === null && memoizable(v)) d.ctlCheckedGen = d.ctlGen;
  return k.failure;
}

function controls(k: Checker): boolean {
  const d = k.d, caps = k.v.caps, ctl = k.ctl;
  let why = allowed(ctl.pin, caps.pin.must1, caps.pin.may1);
  const trueMsr = caps.spec.trueControls ? 'IA32_VMX_TRUE_' : 'IA32_VMX_';
  if (why) return k.f('B1', SEC_EXEC, S.PIN_BASED_VM_EXEC_CONTROL, `pin-based controls ${hex(ctl.pin >>> 0)} not allowed by ${trueMsr}PINBASED_CTLS: ${why}`);
  why = allowed(ctl.proc1, caps.proc1.must1, caps.proc1.may1);
  if (why) return k.f('B2', SEC_EXEC, S.CPU_BASED_VM_EXEC_CONTROL, `primary processor-based controls ${hex(ctl.proc1 >>> 0)} not allowed by ${trueMsr}PROCBASED_CTLS: ${why}`);
  if (ctl.proc1 & P1_SECONDARY) {
    why = allowed(ctl.proc2, caps.proc2.must1, caps.proc2.may1);
    if (why) return k.f('B3', SEC_EXEC, S.SECONDARY_VM_EXEC_CONTROL, `secondary processor-based controls ${hex(ctl.proc2 >>> 0)} not allowed by IA32_VMX_PROCBASED_CTLS2: ${why}`);
  }
  if (ctl.proc1 & P1_TERTIARY && d.big(S.TERTIARY_VM_EXEC_CONTROL) !== 0n) {
    return k.f('B4', SEC_EXEC, S.TERTIARY_VM_EXEC_CONTROL, 'tertiary controls use bits IA32_VMX_PROCBASED_CTLS3 does not allow');
  }
  if (d.u32(S.CR3_TARGET_COUNT) > caps.spec.misc.cr3Targets) {
    return k.f('B5', SEC_EXEC, S.CR3_TARGET_COUNT, `CR3-target count ${d.u32(S.CR3_TARGET_COUNT)} exceeds the ${caps.spec.misc.cr3Targets} of IA32_VMX_MISC[24:16]`);
  }
  if (ctl.proc1 & P1_IO_BITMAPS) {
    if (!k.page(S.IO_BITMAP_A)) return k.f('B6', SEC_EXEC, S.IO_BITMAP_A, `I/O bitmap A address ${k.val(S.IO_BITMAP_A)} is not 4-KiB aligned or exceeds the physical-address width`);
    if (!k.page(S.IO_BITMAP_B)) return k.f('B6', SEC_EXEC, S.IO_BITMAP_B, `I/O bitmap B address ${k.val(S.IO_BITMAP_B)} is not 4-KiB aligned or exceeds the physical-address width`);
  }
  if (ctl.proc1 & P1_MSR_BITMAPS && !k.page(S.MSR_BITMAP)) {
    return k.f('B7', SEC_EXEC, S.MSR_BITMAP, `MSR-bitmap address ${k.val(S.MSR_BITMAP)} is not 4-KiB aligned or exceeds the physical-address width`);
  }
  if (ctl.proc1 & P1_TPR) {
    if (!k.page(S.VIRTUAL_APIC_PAGE_ADDR)) return k.f('B8', SEC_EXEC, S.VIRTUAL_APIC_PAGE_ADDR, 'virtual-APIC address not 4-KiB aligned or beyond the physical-address width');
    if (!(ctl.proc2 & P2_VID) && d.u32(S.TPR_THRESHOLD) >>> 4) return k.f('B9', SEC_EXEC, S.TPR_THRESHOLD, 'TPR threshold bits 31:4 must be 0');
    if (!(ctl.proc2 & (P2_VID | P2_APIC_ACCESS))) {
      const vtpr = k.c.physRead(d.unum(S.VIRTUAL_APIC_PAGE_ADDR) + 0x80, 1);
      if ((d.u32(S.TPR_THRESHOLD) & 0xF) > vtpr >>> 4) return k.f('B10', SEC_EXEC, S.TPR_THRESHOLD, 'TPR threshold bits 3:0 exceed VTPR bits 7:4');
    }
  } else if (ctl.proc2 & (P2_X2APIC | P2_APIC_REG | P2_VID)) {
    return k.f('B11', SEC_EXEC, S.SECONDARY_VM_EXEC_CONTROL, 'virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery need "use TPR shadow"');
  }
  if (!(ctl.pin & PIN_NMI) && ctl.pin & PIN_VNMI) return k.f('B12', SEC_EXEC, S.PIN_BASED_VM_EXEC_CONTROL, '"virtual NMIs" = 1 requires "NMI exiting" = 1');
  if (!(ctl.pin & PIN_VNMI) && ctl.proc1 & P1_NMI_WIN) return k.f('B13', SEC_EXEC, S.CPU_BASED_VM_EXEC_CONTROL, '"NMI-window exiting" = 1 requires "virtual NMIs" = 1');
  if (ctl.proc2 & P2_APIC_ACCESS && !k.page(S.APIC_ACCESS_ADDR)) return k.f('B14', SEC_EXEC, S.APIC_ACCESS_ADDR, 'APIC-access address not 4-KiB aligned or beyond the physical-address width');
  if (ctl.proc2 & P2_X2APIC && ctl.proc2 & P2_APIC_ACCESS) return k.f('B15', SEC_EXEC, S.SECONDARY_VM_EXEC_CONTROL, '"virtualize x2APIC mode" and "virtualize APIC accesses" are both 1');
  if (ctl.proc2 & P2_VID && !(ctl.pin & PIN_EXT)) return k.f('B16', SEC_EXEC, S.PIN_BASED_VM_EXEC_CONTROL, '"virtual-interrupt delivery" = 1 requires "external-interrupt exiting" = 1');
  if (ctl.pin & PIN_POSTED && (!(ctl.proc2 & P2_VID) || !(ctl.exit & X_ACK))) return k.f('B17', SEC_EXEC, S.PIN_BASED_VM_EXEC_CONTROL, '"process posted interrupts" needs virtual-interrupt delivery and acknowledge interrupt on exit');
  if (ctl.proc2 & P2_VPID && (d.u32(S.VIRTUAL_PROCESSOR_ID) & 0xFFFF) === 0) return k.f('B18', SEC_EXEC, S.VIRTUAL_PROCESSOR_ID, '"enable VPID" = 1 requires a non-zero VPID');
  if (ctl.proc2 & P2_EPT) {
    const why2 = eptpProblemCached(caps.spec.eptVpidCap, d.hi[S.EPT_POINTER], d.lo[S.EPT_POINTER]);
    if (why2) return k.f('B19', SEC_EXEC, S.EPT_POINTER, why2);
  }
  if (ctl.proc2 & P2_PML && (!(ctl.proc2 & P2_EPT) || !k.page(S.PML_ADDRESS))) return k.f('B20', SEC_EXEC, S.PML_ADDRESS, '"enable PML" needs EPT and an aligned PML address');
  if (ctl.proc2 & P2_UG && !(ctl.proc2 & P2_EPT)) return k.f('B21', SEC_EXEC, S.SECONDARY_VM_EXEC_CONTROL, '"unrestricted guest" = 1 requires "enable EPT" = 1');
  if (ctl.proc2 & P2_MBEC && !(ctl.proc2 & P2_EPT)) return k.f('B22', SEC_EXEC, S.SECONDARY_VM_EXEC_CONTROL, '"mode-based execute control for EPT" = 1 requires "enable EPT" = 1');
  if (ctl.proc2 & P2_VMFUNC) {
    const fc = d.big(S.VM_FUNCTION_CONTROL);
    if (fc & ~caps.spec.vmfunc) return k.f('B24', SEC_EXEC, S.VM_FUNCTION_CONTROL, `VM-function controls ${hex(fc)} use functions IA32_VMX_VMFUNC does not allow`);
    if (fc & 1n && (!(ctl.proc2 & P2_EPT) || !k.page(S.EPTP_LIST_ADDRESS))) return k.f('B24', SEC_EXEC, S.EPTP_LIST_ADDRESS, 'EPTP switching needs EPT and an aligned EPTP-list address');
  }
  if (ctl.proc2 & P2_SHADOW && (!k.page(S.VMREAD_BITMAP) || !k.page(S.VMWRITE_BITMAP))) return k.f('B25', SEC_EXEC, S.VMREAD_BITMAP, 'VMREAD/VMWRITE bitmap addresses not aligned or beyond the physical-address width');
  if (ctl.proc2 & P2_VE && !k.page(S.VE_INFORMATION_ADDRESS)) return k.f('B26', SEC_EXEC, S.VE_INFORMATION_ADDRESS, 'virtualization-exception information address not aligned or beyond the physical-address width');

  // ---- B.2 exit controls ----
  why = allowed(ctl.exit, caps.exit.must1, caps.exit.may1);
  if (why) return k.f('B31', SEC_EXIT, S.VM_EXIT_CONTROLS, `VM-exit controls ${hex(ctl.exit >>> 0)} not allowed by ${trueMsr}EXIT_CTLS: ${why}`);
  if (!(ctl.pin & PIN_TIMER) && ctl.exit & X_SAVE_TIMER) return k.f('B33', SEC_EXIT, S.VM_EXIT_CONTROLS, '"save VMX-preemption-timer value" = 1 requires "activate VMX-preemption timer" = 1');
  if (!msrListOk(k, S.VM_EXIT_MSR_STORE_ADDR, S.VM_EXIT_MSR_STORE_COUNT)) return k.f('B34', SEC_EXIT, S.VM_EXIT_MSR_STORE_ADDR, `VM-exit MSR-store address ${k.val(S.VM_EXIT_MSR_STORE_ADDR)} is not 16-byte aligned or the list exceeds the physical-address width`);
  if (!msrListOk(k, S.VM_EXIT_MSR_LOAD_ADDR, S.VM_EXIT_MSR_LOAD_COUNT)) return k.f('B35', SEC_EXIT, S.VM_EXIT_MSR_LOAD_ADDR, `VM-exit MSR-load address ${k.val(S.VM_EXIT_MSR_LOAD_ADDR)} is not 16-byte aligned or the list exceeds the physical-address width`);

  // ---- B.3 entry controls ----
  why = allowed(ctl.entry, caps.entry.must1, caps.entry.may1);
  if (why) return k.f('B37', SEC_ENTRY, S.VM_ENTRY_CONTROLS, `VM-entry controls ${hex(ctl.entry >>> 0)} not allowed by ${trueMsr}ENTRY_CTLS: ${why}`);
  if (ctl.entry & (E_SMM | E_DUAL)) return k.f('B38', SEC_ENTRY, S.VM_ENTRY_CONTROLS, '"entry to SMM" and "deactivate dual-monitor treatment" must be 0 outside SMM');
  if (!msrListOk(k, S.VM_ENTRY_MSR_LOAD_ADDR, S.VM_ENTRY_MSR_LOAD_COUNT)) return k.f('B39', SEC_ENTRY, S.VM_ENTRY_MSR_LOAD_ADDR, `VM-entry MSR-load address ${k.val(S.VM_ENTRY_MSR_LOAD_ADDR)} is not 16-byte aligned or the list exceeds the physical-address width`);
  return injectionControls(k);
}

function msrListOk(k: Checker, addrSlot: number, countSlot: number): boolean {
  const count = k.d.u32(countSlot);
  if (count === 0) return true;
  const a = k.d.unum(addrSlot);
  if (k.d.lo[addrSlot] & 0xF || (k.d.hi[addrSlot] >>> 0) >= MAXPHY_HI) return false;
  return a + count * 16 - 1 < 2 ** K.MAXPHYADDR;
}

/** The last EPTP judged and the verdict: VM entries see the same EPTP again and again. */
let eptpSeenCap = -1n, eptpSeenHi = 0, eptpSeenLo = 0, eptpSeenWhy = '';

function eptpProblemCached(cap: bigint, hi: number, lo: number): string {
  if (cap !== eptpSeenCap || hi !== eptpSeenHi || lo !== eptpSeenLo) {
    eptpSeenWhy = eptpProblem(cap, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    eptpSeenCap = cap; eptpSeenHi = hi; eptpSeenLo = lo;
  }
  return eptpSeenWhy;
}

/** SDM 27.2.1.1: why an EPTP is invalid for this model ('' when valid); INVEPT single-context uses it too. */
export function eptpProblem(cap: bigint, eptp: bigint): string {
  const mt = Number(eptp & 7n);
  if (!((mt === 0 && cap & (1n << 8n)) || (mt === 6 && cap & (1n << 14n)))) return `EPTP memory type ${mt} not supported`;
  const walk = Number((eptp >> 3n) & 7n);
  if (!((walk === 3 && cap & (1n << 6n)) || (walk === 4 && cap & (1n << 7n)))) return `EPTP page-walk length ${walk + 1} not supported`;
  if (eptp & (1n << 6n) && !(cap & (1n << 21n))) return 'EPTP accessed/dirty enable without support';
  if (eptp & (1n << 7n) && !(cap & (1n << 23n))) return 'EPTP supervisor shadow-stack bit without support';
  if (eptp & 0xF00n) return 'EPTP bits 11:8 must be 0';
  if (eptp >> BigInt(K.MAXPHYADDR)) return 'EPTP sets bits beyond the physical-address width';
  return '';
}

/** B40-B47: the VM-entry interruption-information field. */
function injectionControls(k: Checker): boolean {
  const d = k.d;
  const info = d.i32(S.VM_ENTRY_INTR_INFO_FIELD);
  if (info >= 0) return true; // bit 31 clear: nothing to inject
  const F = (id: string, slot: number, detail: string) => k.f(id, SEC_ENTRY, slot, detail);
  const type = (info >> 8) & 7, vector = info & 0xFF;
  const mtf = (k.v.caps.proc1.may1 & P1_MTF) !== 0;
  if (type === 1 || (type === 7 && !mtf)) return F('B40', S.VM_ENTRY_INTR_INFO_FIELD, `interruption type ${type} is ${type === 1 ? 'reserved' : 'not supported (no monitor trap flag)'}`);
  if (type === 2 && vector !== 2) return F('B41', S.VM_ENTRY_INTR_INFO_FIELD, `NMI injection with vector ${vector} (must be 2)`);
  if (type === 3 && vector > 31) return F('B42', S.VM_ENTRY_INTR_INFO_FIELD, `hardware exception with vector ${vector} (must be at most 31)`);
  if (type === 7 && vector !== 0) return F('B43', S.VM_ENTRY_INTR_INFO_FIELD, `other event with vector ${vector} (must be 0)`);
  const dec = (info & 0x800) !== 0;
  const ug = (k.ctl.proc2 & P2_UG) !== 0;
  const pe = (d.i32(S.GUEST_CR0) & K.CR0_PE) !== 0;
  const codeVectors = vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
  if (k.v.caps.spec.noHwErrorCodeCheck) {
    if (dec && (type !== 3 || (ug && !pe))) return F('B44', S.VM_ENTRY_INTR_INFO_FIELD, '"deliver error code" = 1 for an event that never has one');
  } else {
    const need = type === 3 && codeVectors && (!ug || pe);
    if (dec !== need) return F('B44', S.VM_ENTRY_INTR_INFO_FIELD, `"deliver error code" is ${dec ? 1 : 0} but must be ${need ? 1 : 0} for type ${type} vector ${vector}`);
  }
  if (info & 0x7FFFF000) return F('B45', S.VM_ENTRY_INTR_INFO_FIELD, `reserved bits 30:12 set (${hex((info & 0x7FFFF000) >>> 0)})`);
  if (dec && d.u32(S.VM_ENTRY_EXCEPTION_ERROR_CODE) >>> 16) return F('B46', S.VM_ENTRY_EXCEPTION_ERROR_CODE, `error code ${hex(d.u32(S.VM_ENTRY_EXCEPTION_ERROR_CODE))} has bits 31:16 set`);
  if (type >= 4 && type <= 6) {
    const len = d.u32(S.VM_ENTRY_INSTRUCTION_LEN);
    const min = k.v.caps.spec.misc.zeroLengthInjection ? 0 : 1;
    if (len < min || len > 15) return F('B47', S.VM_ENTRY_INSTRUCTION_LEN, `instruction length ${len} for a software event must be ${min}..15`);
  }
  return true;
}

// =====================================================================================
// C: host state (VMfailValid(8))
// =====================================================================================

/** The host-state checks; `lma` is EFER.LMA of the root operation VMLAUNCH/VMRESUME runs in. */
export function checkHost(c: Cpu, v: Vmx, lma = (c.efer & K.EFER_LMA) !== 0): EntryFailure | null {
  const d = v.vmcs;
  if (d.hostCheckedGen === d.ctlGen && d.hostCheckedLma === lma) return null;
  const k = checker.start(c, v, RESULT_HOST);
  host(k, lma);
  if (k.failure === null) {
    d.hostCheckedGen = d.ctlGen;
    d.hostCheckedLma = lma;
  }
  return k.failure;
}

function host(k: Checker, lma: boolean): boolean {
  const d = k.d, caps = k.v.caps, ctl = k.ctl;
  const host64 = (ctl.exit & X_HOST64) !== 0;
  const ia32e = (ctl.entry & E_IA32E) !== 0;
  if (!lma && (ia32e || host64)) return k.f('C1', SEC_HOST_SIZE, ia32e ? S.VM_ENTRY_CONTROLS : S.VM_EXIT_CONTROLS, `outside IA-32e mode "IA-32e mode guest" (${ia32e ? 1 : 0}) and "host address-space size" (${host64 ? 1 : 0}) must be 0`);
  if (lma && !host64) return k.f('C2', SEC_HOST_SIZE, S.VM_EXIT_CONTROLS, 'in IA-32e mode "host address-space size" must be 1');
  if (!host64) {
    if (ia32e) return k.f('C3', SEC_HOST_SIZE, S.VM_ENTRY_CONTROLS, '"IA-32e mode guest" needs "host address-space size" = 1');
    if (d.i32(S.HOST_CR4) & K.CR4_PCIDE) return k.f('C3', SEC_HOST_SIZE, S.HOST_CR4, 'HOST_CR4.PCIDE must be 0 for a 32-bit host');
    if (d.hi[S.HOST_RIP] !== 0) return k.f('C3', SEC_HOST_SIZE, S.HOST_RIP, `HOST_RIP ${k.val(S.HOST_RIP)} has bits 63:32 set for a 32-bit host`);
  } else {
    if (!(d.i32(S.HOST_CR4) & K.CR4_PAE)) return k.f('C4', SEC_HOST_SIZE, S.HOST_CR4, 'HOST_CR4.PAE must be 1 for a 64-bit host');
    if (!k.canon(S.HOST_RIP)) return k.f('C4', SEC_HOST_SIZE, S.HOST_RIP, `HOST_RIP ${k.val(S.HOST_RIP)} is not canonical`);
  }
  const cr0 = d.i32(S.HOST_CR0), cr4 = d.i32(S.HOST_CR4);
  if ((cr0 & caps.cr0Fixed0) !== caps.cr0Fixed0 || cr0 & ~caps.cr0Fixed1 || d.hi[S.HOST_CR0] !== 0) return k.f('C5', SEC_HOST_CR, S.HOST_CR0, `HOST_CR0 ${k.val(S.HOST_CR0)} violates IA32_VMX_CR0_FIXED0/FIXED1`);
  if ((cr4 & caps.cr4Fixed0) !== caps.cr4Fixed0 || cr4 & ~caps.cr4Fixed1 || d.hi[S.HOST_CR4] !== 0) return k.f('C6', SEC_HOST_CR, S.HOST_CR4, `HOST_CR4 ${k.val(S.HOST_CR4)} violates IA32_VMX_CR4_FIXED0/FIXED1`);
  if ((d.hi[S.HOST_CR3] >>> 0) >= MAXPHY_HI) return k.f('C7', SEC_HOST_CR, S.HOST_CR3, `HOST_CR3 ${k.val(S.HOST_CR3)} sets bits beyond the physical-address width`);
  if (!k.canon(S.HOST_IA32_SYSENTER_ESP)) return k.f('C8', SEC_HOST_CR, S.HOST_IA32_SYSENTER_ESP, `HOST_IA32_SYSENTER_ESP ${k.val(S.HOST_IA32_SYSENTER_ESP)} is not canonical`);
  if (!k.canon(S.HOST_IA32_SYSENTER_EIP)) return k.f('C8', SEC_HOST_CR, S.HOST_IA32_SYSENTER_EIP, `HOST_IA32_SYSENTER_EIP ${k.val(S.HOST_IA32_SYSENTER_EIP)} is not canonical`);
  if (ctl.exit & X_LOAD_PAT && !patOk(d.lo[S.HOST_IA32_PAT], d.hi[S.HOST_IA32_PAT])) return k.f('C10', SEC_HOST_CR, S.HOST_IA32_PAT, `HOST_IA32_PAT ${k.val(S.HOST_IA32_PAT)} holds an invalid memory type`);
  if (ctl.exit & X_LOAD_EFER) {
    const e = d.lo[S.HOST_IA32_EFER];
    if (e & ~0xD01 || d.hi[S.HOST_IA32_EFER] !== 0) return k.f('C11', SEC_HOST_CR, S.HOST_IA32_EFER, `HOST_IA32_EFER ${k.val(S.HOST_IA32_EFER)} sets reserved bits`);
    const l = host64 ? 1 : 0;
    if (((e >> 10) & 1) !== l || ((e >> 8) & 1) !== l) return k.f('C11', SEC_HOST_CR, S.HOST_IA32_EFER, `HOST_IA32_EFER.LMA and LME must both equal "host address-space size" (${l})`);
  }
  for (const slot of HOST_SELECTORS) if (d.i32(slot) & 7) return k.f('C17', SEC_HOST_SEG, slot, `${name(slot)} ${k.val(slot)} has RPL or TI set`);
  if ((d.i32(S.HOST_CS_SELECTOR) & 0xFFFF) === 0) return k.f('C18', SEC_HOST_SEG, S.HOST_CS_SELECTOR, 'HOST_CS_SELECTOR is null');
  if ((d.i32(S.HOST_TR_SELECTOR) & 0xFFFF) === 0) return k.f('C19', SEC_HOST_SEG, S.HOST_TR_SELECTOR, 'HOST_TR_SELECTOR is null');
  if (!host64 && (d.i32(S.HOST_SS_SELECTOR) & 0xFFFF) === 0) return k.f('C20', SEC_HOST_SEG, S.HOST_SS_SELECTOR, 'HOST_SS_SELECTOR is null for a 32-bit host');
  for (const slot of HOST_BASES) {
    if (!k.canon(slot)) return k.f('C21', SEC_HOST_SEG, slot, `${name(slot)} ${k.val(slot)} is not canonical`);
  }
  return true;
}

const HOST_SELECTORS = [S.HOST_ES_SELECTOR, S.HOST_CS_SELECTOR, S.HOST_SS_SELECTOR, S.HOST_DS_SELECTOR, S.HOST_FS_SELECTOR, S.HOST_GS_SELECTOR, S.HOST_TR_SELECTOR];
const HOST_BASES = [S.HOST_FS_BASE, S.HOST_GS_BASE, S.HOST_GDTR_BASE, S.HOST_IDTR_BASE, S.HOST_TR_BASE];

/** Each of the eight PAT entries (bytes of lo:hi) is a valid memory type: 0, 1, 4, 5, 6 or 7. */
function patOk(lo: number, hi: number): boolean {
  for (let s = 0; s < 64; s += 8) {
    const t = ((s < 32 ? lo >>> s : hi >>> (s - 32)) & 0xFF);
    if (t === 2 || t === 3 || t > 7) return false;
  }
  return true;
}

// =====================================================================================
// D, E: guest state (VM-entry failure, exit reason 33)
// =====================================================================================

export interface GuestCheckResult {
  failure: EntryFailure | null;
  /** Exit qualification for reason 33: 0, 2 (PDPTE), 3 (NMI injection under STI blocking), 4 (VMCS link pointer). */
  qualification: number;
}

const SEGS = [
  { n: 'ES', sel: S.GUEST_ES_SELECTOR, base: S.GUEST_ES_BASE, limit: S.GUEST_ES_LIMIT, ar: S.GUEST_ES_AR_BYTES },
  { n: 'CS', sel: S.GUEST_CS_SELECTOR, base: S.GUEST_CS_BASE, limit: S.GUEST_CS_LIMIT, ar: S.GUEST_CS_AR_BYTES },
  { n: 'SS', sel: S.GUEST_SS_SELECTOR, base: S.GUEST_SS_BASE, limit: S.GUEST_SS_LIMIT, ar: S.GUEST_SS_AR_BYTES },
  { n: 'DS', sel: S.GUEST_DS_SELECTOR, base: S.GUEST_DS_BASE, limit: S.GUEST_DS_LIMIT, ar: S.GUEST_DS_AR_BYTES },
  { n: 'FS', sel: S.GUEST_FS_SELECTOR, base: S.GUEST_FS_BASE, limit: S.GUEST_FS_LIMIT, ar: S.GUEST_FS_AR_BYTES },
  { n: 'GS', sel: S.GUEST_GS_SELECTOR, base: S.GUEST_GS_BASE, limit: S.GUEST_GS_LIMIT, ar: S.GUEST_GS_AR_BYTES },
];
const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
const PDPTR_SLOTS = [S.GUEST_PDPTR0, S.GUEST_PDPTR1, S.GUEST_PDPTR2, S.GUEST_PDPTR3];
const SS_DS_ES = [SS, DS, ES];
const DS_ES_FS_GS = [DS, ES, FS, GS];
const CS_SS_DS_ES_FS_GS = [CS, SS, DS, ES, FS, GS];
/** The guest's access rights and selectors of ES..GS, read once per check run. */
const AR = new Int32Array(6);
const SEL = new Int32Array(6);
const RESULT_GUEST = resultExit33(0);
const guestResult: GuestCheckResult = { failure: null, qualification: 0 };
const usable = (x: number): boolean => (AR[x] & K.AR_UNUSABLE) === 0;
const dpl = (x: number): number => (AR[x] >> K.AR_DPL_SHIFT) & 3;

/**
 * Whether a VM entry would pass every check, known without running them: the control, host and
 * D1-D43 results are memoized for the fields as they are, and the rest of the guest state is quiet
 * (active, no blocking, no pending debug exceptions, nothing to inject, no VMCS link, no PAE
 * PDPTEs), which leaves only D44-D47 on RIP and RFLAGS to look at. The resume after an exit
 * handled in place (entry.ts) is nearly always such an entry; false just means "run the checks".
 */
export function entryPassesQuietly(c: Cpu, v: Vmx, hostLma: boolean): boolean {
  const d = v.vmcs;
  const gen = d.ctlGen;
  if (d.ctlCheckedGen !== gen || d.hostCheckedGen !== gen || d.hostCheckedLma !== hostLma) return false;
  if (d.guestCheckedGen !== d.guestGen || d.guestCheckedCtlGen !== gen) return false;
  const rfl = d.i32(S.GUEST_RFLAGS), rflHi = d.hi[S.GUEST_RFLAGS];
  if (d.guestCheckedVm !== ((rfl & (1 << 17)) !== 0)) return false;
  if ((d.lo[S.GUEST_ACTIVITY_STATE] | d.lo[S.GUEST_INTERRUPTIBILITY_INFO] | d.lo[S.GUEST_PENDING_DBG_EXCEPTIONS] | d.hi[S.GUEST_PENDING_DBG_EXCEPTIONS]) !== 0) return false;
  if (d.i32(S.VM_ENTRY_INTR_INFO_FIELD) < 0 || (d.lo[S.VMCS_LINK_POINTER] & d.hi[S.VMCS_LINK_POINTER]) !== -1) return false;
  const ia32e = (d.i32(S.VM_ENTRY_CONTROLS) & E_IA32E) !== 0;
  const cr0 = d.i32(S.GUEST_CR0);
  if (!ia32e && cr0 & K.CR0_PG && d.i32(S.GUEST_CR4) & K.CR4_PAE) return false;
  // D44-D47, as guest() has them
  if (ia32e && d.i32(S.GUEST_CS_AR_BYTES) & K.AR_L) {
    const rip = d.num(S.GUEST_RIP);
    if (rip < -CANON || rip >= CANON) return false;
  } else if (d.hi[S.GUEST_RIP] !== 0) return false;
  if (rflHi !== 0 || rfl & 0xFFC08028 || !(rfl & 2)) return false;
  return !(rfl & (1 << 17) && (ia32e || !(cr0 & K.CR0_PE)));
}

/** The guest-state checks. The result object is reused: read it before the next VM entry. */
export function checkGuest(c: Cpu, v: Vmx): GuestCheckResult {
  const k = checker.start(c, v, RESULT_GUEST);
  const out = guestResult;
  out.qualification = 0;
  guest(k, out);
  out.failure = k.failure;
  return out;
}

function guest(k: Checker, out: GuestCheckResult): boolean {
  const d = k.d, caps = k.v.caps, ctl = k.ctl;
  const ug = (ctl.proc2 & P2_UG) !== 0;
  const ia32e = (ctl.entry & E_IA32E) !== 0;
  const cr0 = d.i32(S.GUEST_CR0), cr4 = d.i32(S.GUEST_CR4);
  const vm = (d.i32(S.GUEST_RFLAGS) & (1 << 17)) !== 0;
  // D.1-D.3 read only the "stable" guest fields (VmcsCache.guestGen), the controls and RFLAGS.VM
  if (d.guestCheckedGen !== d.guestGen || d.guestCheckedCtlGen !== d.ctlGen || d.guestCheckedVm !== vm) {
    if (!registers(k, vm, ug, ia32e, cr0, cr4)) return false;
    d.guestCheckedGen = d.guestGen;
    d.guestCheckedCtlGen = d.ctlGen;
    d.guestCheckedVm = vm;
  }

  // ---- D.4 RIP and RFLAGS ----
  const long64 = ia32e && (d.i32(S.GUEST_CS_AR_BYTES) & K.AR_L) !== 0;
  if (!long64 && d.hi[S.GUEST_RIP] !== 0) return k.g('D44', SEC_G_RIP, 'GUEST_RIP', `GUEST_RIP ${k.val(S.GUEST_RIP)} has bits 63:32 set outside 64-bit mode`);
  if (long64 && !k.canon(S.GUEST_RIP)) return k.g('D45', SEC_G_RIP, 'GUEST_RIP', `GUEST_RIP ${k.val(S.GUEST_RIP)} is not canonical`);
  const rfl = d.i32(S.GUEST_RFLAGS);
  if (d.hi[S.GUEST_RFLAGS] !== 0 || rfl & 0xFFC08028 || !(rfl & 2)) return k.g('D46', SEC_G_RIP, 'GUEST_RFLAGS', `GUEST_RFLAGS ${k.val(S.GUEST_RFLAGS)}: bits 63:22, 15, 5, 3 must be 0 and bit 1 must be 1`);
  if (vm && (ia32e || !(cr0 & K.CR0_PE))) return k.g('D47', SEC_G_RIP, 'GUEST_RFLAGS', 'RFLAGS.VM = 1 in an IA-32e mode guest or with CR0.PE = 0');
  const inj = d.i32(S.VM_ENTRY_INTR_INFO_FIELD);
  const injValid = inj < 0;
  const injType = (inj >> 8) & 7, injVec = inj & 0xFF;
  if (injValid && injType === 0 && !(rfl & 0x200)) return k.g('D48', SEC_G_RIP, 'GUEST_RFLAGS', 'injecting an external interrupt with RFLAGS.IF = 0');

  // ---- D.5 non-register state ----
  const act = d.u32(S.GUEST_ACTIVITY_STATE);
  const intr = d.u32(S.GUEST_INTERRUPTIBILITY_INFO);
  if (act > 3 || !caps.activitySupported(act)) return k.g('D49', SEC_G_NR, 'GUEST_ACTIVITY_STATE', `activity state ${act} is not supported (IA32_VMX_MISC bits 8:6)`);
  if (act === 1 && ((d.i32(S.GUEST_SS_AR_BYTES) >> K.AR_DPL_SHIFT) & 3) !== 0) return k.g('D50', SEC_G_NR, 'GUEST_ACTIVITY_STATE', 'HLT activity state with SS.DPL != 0');
  if (act !== 0 && intr & 3) return k.g('D51', SEC_G_NR, 'GUEST_ACTIVITY_STATE', 'blocking by STI or MOV SS requires the active activity state');
  if (injValid && act !== 0) {
    const ok = act === 1 ? injType === 0 || injType === 2 || (injType === 3 && (injVec === 1 || injVec === 18)) || (injType === 7 && injVec === 0)
      : act === 2 ? injType === 2 || (injType === 3 && injVec === 18) : false;
    if (!ok) return k.g('D52', SEC_G_NR, 'VM_ENTRY_INTR_INFO_FIELD', `event type ${injType} vector ${injVec} cannot be injected in activity state ${act}`);
  }
  if (intr >>> 4) return k.g('D54', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', `interruptibility state ${hex(intr)} sets reserved bits 31:4`);
  if ((intr & 3) === 3) return k.g('D55', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'blocking by STI and by MOV SS both set');
  if (!(rfl & 0x200) && intr & 1) return k.g('D56', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'blocking by STI with RFLAGS.IF = 0');
  if (injValid && injType === 0 && intr & 3) return k.g('D57', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'injecting an external interrupt under STI or MOV SS blocking');
  if (injValid && injType === 2 && intr & 2) return k.g('D58', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'injecting an NMI under MOV SS blocking');
  if (injValid && injType === 2 && intr & 1) {
    out.qualification = 3;
    return k.fail('D58', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'injecting an NMI under STI blocking (this processor refuses it)', resultExit33(3));
  }
  if (injValid && injType === 2 && ctl.pin & PIN_VNMI && intr & 8) return k.g('D59', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'injecting an NMI with virtual-NMI blocking set');
  if (intr & 4) return k.g('D60', SEC_G_NR, 'GUEST_INTERRUPTIBILITY_INFO', 'blocking by SMI outside SMM');
  const pde = d.lo[S.GUEST_PENDING_DBG_EXCEPTIONS], pdeHi = d.hi[S.GUEST_PENDING_DBG_EXCEPTIONS];
  if (pdeHi === 0 && pde & 0x10000 && !(pde & ~0x1500F)) return k.g('D65', SEC_G_NR, 'GUEST_PENDING_DBG_EXCEPTIONS', 'RTM bit 16 set on a processor without RTM');
  if (pde & ~0x500F || pdeHi !== 0) return k.g('D63', SEC_G_NR, 'GUEST_PENDING_DBG_EXCEPTIONS', `pending debug exceptions ${k.val(S.GUEST_PENDING_DBG_EXCEPTIONS)} set reserved bits`);
  if (intr & 3 || act === 1) {
    const tf = (rfl & 0x100) !== 0;
    const btf = ctl.entry & E_LOAD_DEBUG ? (d.lo[S.GUEST_IA32_DEBUGCTL] & 2) !== 0 : (k.c.msrs.debugctl & 2) !== 0;
    const bs = (pde & 0x4000) !== 0;
    if (tf && !btf && !bs) return k.g('D64', SEC_G_NR, 'GUEST_PENDING_DBG_EXCEPTIONS', 'BS must be 1 when RFLAGS.TF = 1 and DEBUGCTL.BTF = 0 under STI/MOV SS blocking or HLT');
    if ((!tf || btf) && bs) return k.g('D64', SEC_G_NR, 'GUEST_PENDING_DBG_EXCEPTIONS', 'BS must be 0 when RFLAGS.TF = 0 or DEBUGCTL.BTF = 1 under STI/MOV SS blocking or HLT');
  }
  // VMCS link pointer (qualification 4)
  if (d.lo[S.VMCS_LINK_POINTER] !== -1 || d.hi[S.VMCS_LINK_POINTER] !== -1) {
    const R4 = resultExit33(4);
    const link = d.unum(S.VMCS_LINK_POINTER);
    const L = (id: string, detail: string) => { out.qualification = 4; return k.fail(id, SEC_G_NR, 'VMCS_LINK_POINTER', detail, R4); };
    if (!k.page(S.VMCS_LINK_POINTER)) return L('D66', `VMCS link pointer ${k.val(S.VMCS_LINK_POINTER)} is not all ones, not 4-KiB aligned or beyond the physical-address width`);
    const rev = k.c.physRead(link, 4);
    const shadow = (ctl.proc2 & P2_SHADOW) !== 0;
    if ((rev & 0x7FFFFFFF) !== caps.revisionId || (rev < 0) !== shadow) return L('D67', `the VMCS at the link pointer has revision/shadow dword ${hex(rev >>> 0)}; expected revision ${hex(caps.revisionId)} with shadow bit ${shadow ? 1 : 0}`);
    if (link === k.v.current) return L('D68', 'the VMCS link pointer equals the current-VMCS pointer');
  }
  // ---- E: PDPTEs of a PAE guest (qualification 2) ----
  if (cr0 & K.CR0_PG && cr4 & K.CR4_PAE && !ia32e) {
    // without EPT the PDPTEs are read through GUEST_CR3; with EPT the GUEST_PDPTRn fields are checked
    const ept = (ctl.proc2 & P2_EPT) !== 0;
    const base = d.u32(S.GUEST_CR3) & 0xFFFFFFE0;
    for (let n = 0; n < 4; n++) {
      const slot = PDPTR_SLOTS[n];
      const lo = ept ? d.lo[slot] : k.c.physRead(base + n * 8, 4), hi = ept ? d.hi[slot] : k.c.physRead(base + n * 8 + 4, 4);
      if (lo & 1 && (lo & 0x1E6 || (hi >>> 0) >= MAXPHY_HI)) {
        out.qualification = 2;
        return k.fail('E3', SEC_G_PDPTE, ept ? name(slot) : 'GUEST_CR3', `${ept ? name(slot) + ' ' : ''}PDPTE ${n} (${hex(((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)))}) is present with reserved bits set`, resultExit33(2));
      }
    }
  }
  return true;
}

/** D1-D43: control and debug registers, MSRs, segment and descriptor-table registers. */
function registers(k: Checker, vm: boolean, ug: boolean, ia32e: boolean, cr0: number, cr4: number): boolean {
  const d = k.d, caps = k.v.caps, ctl = k.ctl;
  for (let x = 0; x < 6; x++) {
    AR[x] = d.i32(SEGS[x].ar);
    SEL[x] = d.i32(SEGS[x].sel) & 0xFFFF;
  }
  // ---- D.1 control registers, debug registers, MSRs ----
  const fixed0 = ug ? caps.cr0Fixed0 & ~(K.CR0_PE | K.CR0_PG) : caps.cr0Fixed0;
  if ((cr0 & fixed0) !== fixed0 || cr0 & ~caps.cr0Fixed1 || d.hi[S.GUEST_CR0] !== 0) return k.g('D1', SEC_G_CR, 'GUEST_CR0', `GUEST_CR0 ${k.val(S.GUEST_CR0)} violates IA32_VMX_CR0_FIXED0/FIXED1${ug ? ' (PE and PG exempt: unrestricted guest)' : ''}`);
  if (cr0 & K.CR0_PG && !(cr0 & K.CR0_PE)) return k.g('D2', SEC_G_CR, 'GUEST_CR0', 'GUEST_CR0.PG = 1 with PE = 0');
  if ((cr4 & caps.cr4Fixed0) !== caps.cr4Fixed0 || cr4 & ~caps.cr4Fixed1 || d.hi[S.GUEST_CR4] !== 0) return k.g('D3', SEC_G_CR, 'GUEST_CR4', `GUEST_CR4 ${k.val(S.GUEST_CR4)} violates IA32_VMX_CR4_FIXED0/FIXED1`);
  if (ia32e && (!(cr0 & K.CR0_PG) || !(cr4 & K.CR4_PAE))) return k.g('D4', SEC_G_CR, 'GUEST_CR0', '"IA-32e mode guest" = 1 requires GUEST_CR0.PG = 1 and GUEST_CR4.PAE = 1');
  if (!ia32e && cr4 & K.CR4_PCIDE) return k.g('D5', SEC_G_CR, 'GUEST_CR4', 'GUEST_CR4.PCIDE = 1 outside IA-32e mode');
  if ((d.hi[S.GUEST_CR3] >>> 0) >= MAXPHY_HI) return k.g('D6', SEC_G_CR, 'GUEST_CR3', `GUEST_CR3 ${k.val(S.GUEST_CR3)} sets bits beyond the physical-address width`);
  if (ctl.entry & E_LOAD_DEBUG) {
    if (d.lo[S.GUEST_IA32_DEBUGCTL] & ~3 || d.hi[S.GUEST_IA32_DEBUGCTL] !== 0) return k.g('D8', SEC_G_CR, 'GUEST_IA32_DEBUGCTL', `GUEST_IA32_DEBUGCTL ${k.val(S.GUEST_IA32_DEBUGCTL)} sets bits this processor does not support`);
    if (d.hi[S.GUEST_DR7] !== 0) return k.g('D8', SEC_G_CR, 'GUEST_DR7', `GUEST_DR7 ${k.val(S.GUEST_DR7)} has bits 63:32 set`);
  }
  if (!k.canon(S.GUEST_SYSENTER_ESP)) return k.g('D9', SEC_G_CR, 'GUEST_SYSENTER_ESP', `GUEST_SYSENTER_ESP ${k.val(S.GUEST_SYSENTER_ESP)} is not canonical`);
  if (!k.canon(S.GUEST_SYSENTER_EIP)) return k.g('D9', SEC_G_CR, 'GUEST_SYSENTER_EIP', `GUEST_SYSENTER_EIP ${k.val(S.GUEST_SYSENTER_EIP)} is not canonical`);
  if (ctl.entry & E_LOAD_PAT && !patOk(d.lo[S.GUEST_IA32_PAT], d.hi[S.GUEST_IA32_PAT])) return k.g('D11', SEC_G_CR, 'GUEST_IA32_PAT', `GUEST_IA32_PAT ${k.val(S.GUEST_IA32_PAT)} holds an invalid memory type`);
  if (ctl.entry & E_LOAD_EFER) {
    const e = d.lo[S.GUEST_IA32_EFER];
    if (e & ~0xD01 || d.hi[S.GUEST_IA32_EFER] !== 0) return k.g('D12', SEC_G_CR, 'GUEST_IA32_EFER', `GUEST_IA32_EFER ${k.val(S.GUEST_IA32_EFER)} sets reserved bits`);
    const lma = (e >> 10) & 1, lme = (e >> 8) & 1;
    if (lma !== (ia32e ? 1 : 0)) return k.g('D12', SEC_G_CR, 'GUEST_IA32_EFER', `GUEST_IA32_EFER.LMA (${lma}) differs from "IA-32e mode guest" (${ia32e ? 1 : 0})`);
    if (cr0 & K.CR0_PG && lma !== lme) return k.g('D12', SEC_G_CR, 'GUEST_IA32_EFER', 'GUEST_IA32_EFER.LME differs from LMA while GUEST_CR0.PG = 1');
  }

  // ---- D.2 segment registers ----
  if (!segments(k, vm, ug, ia32e, cr0)) return false;

  // ---- D.3 descriptor-table registers ----
  if (!k.canon(S.GUEST_GDTR_BASE)) return k.g('D42', SEC_G_DT, 'GUEST_GDTR_BASE', `GDTR base ${k.val(S.GUEST_GDTR_BASE)} is not canonical`);
  if (!k.canon(S.GUEST_IDTR_BASE)) return k.g('D42', SEC_G_DT, 'GUEST_IDTR_BASE', `IDTR base ${k.val(S.GUEST_IDTR_BASE)} is not canonical`);
  if (d.u32(S.GUEST_GDTR_LIMIT) >>> 16) return k.g('D43', SEC_G_DT, 'GUEST_GDTR_LIMIT', `GDTR limit ${hex(d.u32(S.GUEST_GDTR_LIMIT))} has bits 31:16 set`);
  if (d.u32(S.GUEST_IDTR_LIMIT) >>> 16) return k.g('D43', SEC_G_DT, 'GUEST_IDTR_LIMIT', `IDTR limit ${hex(d.u32(S.GUEST_IDTR_LIMIT))} has bits 31:16 set`);
  return true;
}

/** D20-D40: the guest segment registers (registers() has read ES..GS into AR and SEL). */
function segments(k: Checker, vm: boolean, ug: boolean, ia32e: boolean, cr0: number): boolean {
  const d = k.d, ar = AR, sel = SEL;
  const trSel = d.i32(S.GUEST_TR_SELECTOR) & 0xFFFF, trAr = d.i32(S.GUEST_TR_AR_BYTES);
  const ldtrSel = d.i32(S.GUEST_LDTR_SELECTOR) & 0xFFFF, ldtrAr = d.i32(S.GUEST_LDTR_AR_BYTES);
  const ldtrUsable = (ldtrAr & K.AR_UNUSABLE) === 0;
  if (trSel & 4) return k.g('D20', SEC_G_SEG, 'GUEST_TR_SELECTOR', `TR selector ${hex(trSel)} has TI = 1`);
  if (ldtrUsable && ldtrSel & 4) return k.g('D21', SEC_G_SEG, 'GUEST_LDTR_SELECTOR', `LDTR selector ${hex(ldtrSel)} has TI = 1`);
  if (!vm && !ug && (sel[SS] & 3) !== (sel[CS] & 3)) return k.g('D22', SEC_G_SEG, 'GUEST_SS_SELECTOR', `SS.RPL ${sel[SS] & 3} differs from CS.RPL ${sel[CS] & 3}`);
  if (vm) {
    for (let x = 0; x < 6; x++) {
      const s = SEGS[x];
      if (d.unum(s.base) !== sel[x] * 16) return k.g('D23', SEC_G_SEG, `GUEST_${s.n}_BASE`, `virtual-8086 guest: ${s.n} base ${k.val(s.base)} is not selector << 4`);
      if (d.u32(s.limit) !== 0xFFFF) return k.g('D24', SEC_G_SEG, `GUEST_${s.n}_LIMIT`, `virtual-8086 guest: ${s.n} limit ${hex(d.u32(s.limit))} is not 0xFFFF`);
      if (ar[x] !== 0xF3) return k.g('D25', SEC_G_SEG, `GUEST_${s.n}_AR_BYTES`, `virtual-8086 guest: ${s.n} access rights ${hex(ar[x] >>> 0)} are not 0xF3`);
    }
  }
  if (!k.canon(S.GUEST_TR_BASE)) return k.g('D26', SEC_G_SEG, 'GUEST_TR_BASE', `TR base ${k.val(S.GUEST_TR_BASE)} is not canonical`);
  if (!vm) {
    if (!k.canon(S.GUEST_FS_BASE)) return k.g('D26', SEC_G_SEG, 'GUEST_FS_BASE', `FS base ${k.val(S.GUEST_FS_BASE)} is not canonical`);
    if (!k.canon(S.GUEST_GS_BASE)) return k.g('D26', SEC_G_SEG, 'GUEST_GS_BASE', `GS base ${k.val(S.GUEST_GS_BASE)} is not canonical`);
    if (ldtrUsable && !k.canon(S.GUEST_LDTR_BASE)) return k.g('D26', SEC_G_SEG, 'GUEST_LDTR_BASE', `LDTR base ${k.val(S.GUEST_LDTR_BASE)} is not canonical`);
    if (d.hi[S.GUEST_CS_BASE] !== 0) return k.g('D27', SEC_G_SEG, 'GUEST_CS_BASE', `CS base ${k.val(S.GUEST_CS_BASE)} has bits 63:32 set`);
    for (const x of SS_DS_ES) if (usable(x) && d.hi[SEGS[x].base] !== 0) return k.g('D27', SEC_G_SEG, `GUEST_${SEGS[x].n}_BASE`, `${SEGS[x].n} base ${k.val(SEGS[x].base)} has bits 63:32 set`);
    // access rights
    const csType = ar[CS] & 0xF;
    if (!(csType === 9 || csType === 11 || csType === 13 || csType === 15 || (ug && csType === 3))) return k.g('D28', SEC_G_SEG, 'GUEST_CS_AR_BYTES', `CS type ${csType} is not an accessed code segment`);
    if (usable(SS) && (ar[SS] & 0xF) !== 3 && (ar[SS] & 0xF) !== 7) return k.g('D29', SEC_G_SEG, 'GUEST_SS_AR_BYTES', `SS type ${ar[SS] & 0xF} is not a read/write accessed data segment`);
    for (const x of DS_ES_FS_GS) {
      if (!usable(x)) continue;
      const t = ar[x] & 0xF;
      if (!(t & 1) || (t & 8 && !(t & 2))) return k.g('D30', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n} type ${t} is not accessed or is unreadable code`);
    }
    for (const x of CS_SS_DS_ES_FS_GS) {
      if (x !== CS && !usable(x)) continue;
      if (!(ar[x] & K.AR_S)) return k.g('D31', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n} has S = 0 (system descriptor)`);
    }
    if (csType === 3 && dpl(CS) !== 0) return k.g('D32', SEC_G_SEG, 'GUEST_CS_AR_BYTES', 'CS type 3 (unrestricted guest) needs DPL 0');
    if ((csType === 9 || csType === 11) && dpl(CS) !== dpl(SS)) return k.g('D32', SEC_G_SEG, 'GUEST_CS_AR_BYTES', `non-conforming CS DPL ${dpl(CS)} differs from SS.DPL ${dpl(SS)}`);
    if ((csType === 13 || csType === 15) && dpl(CS) > dpl(SS)) return k.g('D32', SEC_G_SEG, 'GUEST_CS_AR_BYTES', `conforming CS DPL ${dpl(CS)} above SS.DPL ${dpl(SS)}`);
    if (!ug && dpl(SS) !== (sel[SS] & 3)) return k.g('D33', SEC_G_SEG, 'GUEST_SS_AR_BYTES', `SS.DPL ${dpl(SS)} differs from SS.RPL ${sel[SS] & 3}`);
    if ((csType === 3 || !(cr0 & K.CR0_PE)) && dpl(SS) !== 0) return k.g('D33', SEC_G_SEG, 'GUEST_SS_AR_BYTES', 'SS.DPL must be 0 (CS type 3 or CR0.PE = 0)');
    if (!ug) {
      for (const x of DS_ES_FS_GS) {
        if (usable(x) && (ar[x] & 0xF) <= 11 && dpl(x) < (sel[x] & 3)) return k.g('D34', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n}.DPL ${dpl(x)} below its RPL ${sel[x] & 3}`);
      }
    }
    for (const x of CS_SS_DS_ES_FS_GS) {
      if (x !== CS && !usable(x)) continue;
      if (!(ar[x] & K.AR_P)) return k.g('D35', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n} is not present`);
    }
    for (const x of CS_SS_DS_ES_FS_GS) {
      if (x !== CS && !usable(x)) continue;
      if (ar[x] & 0xFFFE0F00) return k.g('D36', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n} access rights ${hex(ar[x] >>> 0)} set reserved bits 11:8 or 31:17`);
    }
    if (ia32e && ar[CS] & K.AR_L && ar[CS] & K.AR_DB) return k.g('D37', SEC_G_SEG, 'GUEST_CS_AR_BYTES', 'CS.L = 1 and CS.D = 1 in an IA-32e mode guest');
    for (const x of CS_SS_DS_ES_FS_GS) {
      if (x !== CS && !usable(x)) continue;
      const why = granularity(d.u32(SEGS[x].limit), ar[x]);
      if (why) return k.g('D38', SEC_G_SEG, `GUEST_${SEGS[x].n}_AR_BYTES`, `${SEGS[x].n}: ${why}`);
    }
  }
  // TR and LDTR (also for virtual-8086 guests)
  const trType = trAr & 0xF;
  if (trAr & K.AR_UNUSABLE) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', 'TR is unusable');
  if (!(trType === 11 || (!ia32e && trType === 3))) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', `TR type ${trType} is not a busy ${ia32e ? '64-bit' : '16/32-bit'} TSS`);
  if (trAr & K.AR_S) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', 'TR has S = 1');
  if (!(trAr & K.AR_P)) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', 'TR is not present');
  if (trAr & 0xFFFE0F00) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', `TR access rights ${hex(trAr >>> 0)} set reserved bits`);
  let why = granularity(d.u32(S.GUEST_TR_LIMIT), trAr);
  if (why) return k.g('D39', SEC_G_SEG, 'GUEST_TR_AR_BYTES', `TR: ${why}`);
  if (ldtrUsable) {
    if ((ldtrAr & 0xF) !== 2) return k.g('D40', SEC_G_SEG, 'GUEST_LDTR_AR_BYTES', `LDTR type ${ldtrAr & 0xF} is not 2`);
    if (ldtrAr & K.AR_S) return k.g('D40', SEC_G_SEG, 'GUEST_LDTR_AR_BYTES', 'LDTR has S = 1');
    if (!(ldtrAr & K.AR_P)) return k.g('D40', SEC_G_SEG, 'GUEST_LDTR_AR_BYTES', 'LDTR is not present');
    if (ldtrAr & 0xFFFE0F00) return k.g('D40', SEC_G_SEG, 'GUEST_LDTR_AR_BYTES', 'LDTR access rights set reserved bits');
    why = granularity(d.u32(S.GUEST_LDTR_LIMIT), ldtrAr);
    if (why) return k.g('D40', SEC_G_SEG, 'GUEST_LDTR_AR_BYTES', `LDTR: ${why}`);
  }
  return true;
}

/** The G flag must match the limit: limit[11:0] not all ones -> G = 0; limit[31:20] not all zeros -> G = 1. */
function granularity(limit: number, ar: number): string {
  const g = (ar & K.AR_G) !== 0;
  if ((limit & 0xFFF) !== 0xFFF && g) return `limit ${hex(limit)} with bits 11:0 not all ones needs G = 0`;
  if (limit >>> 20 && !g) return `limit ${hex(limit)} with bits 31:20 not all zeros needs G = 1`;
  return '';
}
