/**
 * Basic VM-exit reasons (SDM vol. 3C Appendix C) and the layout of the exit-reason field (25.9.1).
 *
 * Names are Linux `EXIT_REASON_*` (arch/x86/include/uapi/asm/vmx.h) where Linux defines one (`linux: true`);
 * the others are made up in the same style from the SDM wording (`sdmName`).
 */

/**
 * Coarse grouping used by debugger exception filters ("stop on every I/O exit", ...).
 * 'instruction' = any other intercepted instruction; 'other' = everything that fits nowhere else.
 */
export type ExitReasonClass =
  | 'exception'
  | 'interrupt'
  | 'triple-fault'
  | 'task-switch'
  | 'cpuid'
  | 'hlt'
  | 'io'
  | 'cr'
  | 'dr'
  | 'msr'
  | 'ept'
  | 'apic'
  | 'vmcall'
  | 'vmx-instruction'
  | 'instruction'
  | 'entry-failure'
  | 'other';

export const EXIT_REASON_CLASSES: readonly { readonly id: ExitReasonClass; readonly label: string }[] = [
  { id: 'exception', label: 'Exceptions and NMIs' },
  { id: 'interrupt', label: 'External interrupts, interrupt/NMI windows, INIT, SIPI, SMI' },
  { id: 'triple-fault', label: 'Triple fault' },
  { id: 'task-switch', label: 'Task switch' },
  { id: 'cpuid', label: 'CPUID' },
  { id: 'hlt', label: 'HLT' },
  { id: 'io', label: 'I/O instructions' },
  { id: 'cr', label: 'Control-register accesses' },
  { id: 'dr', label: 'Debug-register accesses' },
  { id: 'msr', label: 'MSR accesses' },
  { id: 'ept', label: 'EPT violations, misconfigurations, PML, SPP' },
  { id: 'apic', label: 'APIC virtualization' },
  { id: 'vmcall', label: 'VMCALL' },
  { id: 'vmx-instruction', label: 'VMX instructions in the guest' },
  { id: 'instruction', label: 'Other intercepted instructions' },
  { id: 'entry-failure', label: 'VM-entry failures' },
  { id: 'other', label: 'Other (MTF, preemption timer, bus lock, notify, ...)' },
];

export interface ExitReason {
  readonly number: number;
  readonly name: string;
  /** Linux defines `name` as an EXIT_REASON_* constant. */
  readonly linux: boolean;
  readonly sdmName: string;
  readonly description: string;
  readonly class: ExitReasonClass;
  /** Reserved number: no processor reports it. */
  readonly reserved?: true;
  /** Can only be reported with bit 31 (VM-entry failure) set. */
  readonly entryFailure?: true;
  /** Trap-like: RIP already points past the instruction that caused it. */
  readonly trapLike?: true;
}

type Row = [
  number: number,
  name: string,
  linux: 0 | 1,
  cls: ExitReasonClass,
  sdmName: string,
  description: string,
  flags?: 'reserved' | 'entry-failure' | 'trap-like',
];

const ROWS: readonly Row[] = [
  [0, 'EXIT_REASON_EXCEPTION_NMI', 1, 'exception', 'Exception or non-maskable interrupt (NMI)', 'Exception selected by the exception bitmap (or #PF mask/match), or an NMI with NMI exiting; see VM_EXIT_INTR_INFO'],
  [1, 'EXIT_REASON_EXTERNAL_INTERRUPT', 1, 'interrupt', 'External interrupt', 'An external interrupt arrived while external-interrupt exiting = 1'],
  [2, 'EXIT_REASON_TRIPLE_FAULT', 1, 'triple-fault', 'Triple fault', 'The guest hit a triple fault (or an exception while shutting down)'],
  [3, 'EXIT_REASON_INIT_SIGNAL', 1, 'interrupt', 'INIT signal', 'An INIT signal arrived (always exits in non-root operation)'],
  [4, 'EXIT_REASON_SIPI_SIGNAL', 1, 'interrupt', 'Start-up IPI (SIPI)', 'A SIPI arrived while the guest was in the wait-for-SIPI state'],
  [5, 'EXIT_REASON_IO_SMI', 0, 'interrupt', 'I/O system-management interrupt (SMI)', 'An SMI arrived right after an I/O instruction retired (dual-monitor treatment only)'],
  [6, 'EXIT_REASON_OTHER_SMI', 1, 'interrupt', 'Other SMI', 'Any other SMI (dual-monitor treatment only)'],
  [7, 'EXIT_REASON_INTERRUPT_WINDOW', 1, 'interrupt', 'Interrupt window', 'Interrupt-window exiting: the guest can now accept maskable interrupts'],
  [8, 'EXIT_REASON_NMI_WINDOW', 1, 'interrupt', 'NMI window', 'NMI-window exiting: virtual-NMI blocking has ended'],
  [9, 'EXIT_REASON_TASK_SWITCH', 1, 'task-switch', 'Task switch', 'The guest attempted a task switch (always exits)'],
  [10, 'EXIT_REASON_CPUID', 1, 'cpuid', 'CPUID', 'CPUID executed (always exits)'],
  [11, 'EXIT_REASON_GETSEC', 0, 'instruction', 'GETSEC', 'GETSEC executed (always exits)'],
  [12, 'EXIT_REASON_HLT', 1, 'hlt', 'HLT', 'HLT executed with HLT exiting = 1'],
  [13, 'EXIT_REASON_INVD', 1, 'instruction', 'INVD', 'INVD executed (always exits)'],
  [14, 'EXIT_REASON_INVLPG', 1, 'instruction', 'INVLPG', 'INVLPG executed with INVLPG exiting = 1'],
  [15, 'EXIT_REASON_RDPMC', 1, 'instruction', 'RDPMC', 'RDPMC executed with RDPMC exiting = 1'],
  [16, 'EXIT_REASON_RDTSC', 1, 'instruction', 'RDTSC', 'RDTSC executed with RDTSC exiting = 1'],
  [17, 'EXIT_REASON_RSM', 0, 'instruction', 'RSM', 'RSM executed in SMM inside the guest (dual-monitor treatment only)'],
  [18, 'EXIT_REASON_VMCALL', 1, 'vmcall', 'VMCALL', 'VMCALL executed (always exits)'],
  [19, 'EXIT_REASON_VMCLEAR', 1, 'vmx-instruction', 'VMCLEAR', 'VMCLEAR executed in the guest'],
  [20, 'EXIT_REASON_VMLAUNCH', 1, 'vmx-instruction', 'VMLAUNCH', 'VMLAUNCH executed in the guest'],
  [21, 'EXIT_REASON_VMPTRLD', 1, 'vmx-instruction', 'VMPTRLD', 'VMPTRLD executed in the guest'],
  [22, 'EXIT_REASON_VMPTRST', 1, 'vmx-instruction', 'VMPTRST', 'VMPTRST executed in the guest'],
  [23, 'EXIT_REASON_VMREAD', 1, 'vmx-instruction', 'VMREAD', 'VMREAD executed in the guest (unless VMCS shadowing satisfies it)'],
  [24, 'EXIT_REASON_VMRESUME', 1, 'vmx-instruction', 'VMRESUME', 'VMRESUME executed in the guest'],
  [25, 'EXIT_REASON_VMWRITE', 1, 'vmx-instruction', 'VMWRITE', 'VMWRITE executed in the guest (unless VMCS shadowing satisfies it)'],
  [26, 'EXIT_REASON_VMOFF', 1, 'vmx-instruction', 'VMXOFF', 'VMXOFF executed in the guest'],
  [27, 'EXIT_REASON_VMON', 1, 'vmx-instruction', 'VMXON', 'VMXON executed in the guest'],
  [28, 'EXIT_REASON_CR_ACCESS', 1, 'cr', 'Control-register accesses', 'MOV to/from CR0/CR3/CR4/CR8, CLTS or LMSW intercepted'],
  [29, 'EXIT_REASON_DR_ACCESS', 1, 'dr', 'MOV DR', 'MOV to/from a debug register with MOV-DR exiting = 1'],
  [30, 'EXIT_REASON_IO_INSTRUCTION', 1, 'io', 'I/O instruction', 'IN/INS/OUT/OUTS intercepted (unconditional I/O exiting or I/O bitmaps)'],
  [31, 'EXIT_REASON_MSR_READ', 1, 'msr', 'RDMSR', 'RDMSR intercepted (MSR bitmaps, or always without them)'],
  [32, 'EXIT_REASON_MSR_WRITE', 1, 'msr', 'WRMSR', 'WRMSR intercepted (MSR bitmaps, or always without them)'],
  [33, 'EXIT_REASON_INVALID_STATE', 1, 'entry-failure', 'VM-entry failure due to invalid guest state', 'A guest-state check failed during VM entry', 'entry-failure'],
  [34, 'EXIT_REASON_MSR_LOAD_FAIL', 1, 'entry-failure', 'VM-entry failure due to MSR loading', 'Loading the VM-entry MSR-load list failed', 'entry-failure'],
  [35, 'EXIT_REASON_RESERVED_35', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [36, 'EXIT_REASON_MWAIT_INSTRUCTION', 1, 'instruction', 'MWAIT', 'MWAIT executed with MWAIT exiting = 1'],
  [37, 'EXIT_REASON_MONITOR_TRAP_FLAG', 1, 'other', 'Monitor trap flag', 'Monitor trap flag: one guest instruction (or event delivery) completed'],
  [38, 'EXIT_REASON_RESERVED_38', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [39, 'EXIT_REASON_MONITOR_INSTRUCTION', 1, 'instruction', 'MONITOR', 'MONITOR executed with MONITOR exiting = 1'],
  [40, 'EXIT_REASON_PAUSE_INSTRUCTION', 1, 'instruction', 'PAUSE', 'PAUSE with PAUSE exiting, or a PAUSE loop longer than the PLE window'],
  [41, 'EXIT_REASON_MCE_DURING_VMENTRY', 1, 'entry-failure', 'VM-entry failure due to machine-check event', 'A machine-check event occurred during VM entry', 'entry-failure'],
  [42, 'EXIT_REASON_RESERVED_42', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [43, 'EXIT_REASON_TPR_BELOW_THRESHOLD', 1, 'apic', 'TPR below threshold', 'The TPR shadow dropped below TPR_THRESHOLD', 'trap-like'],
  [44, 'EXIT_REASON_APIC_ACCESS', 1, 'apic', 'APIC access', 'The guest accessed the APIC-access page'],
  [45, 'EXIT_REASON_EOI_INDUCED', 1, 'apic', 'Virtualized EOI', 'EOI virtualization for a vector set in the EOI-exit bitmap', 'trap-like'],
  [46, 'EXIT_REASON_GDTR_IDTR', 1, 'instruction', 'Access to GDTR or IDTR', 'LGDT/LIDT/SGDT/SIDT with descriptor-table exiting = 1'],
  [47, 'EXIT_REASON_LDTR_TR', 1, 'instruction', 'Access to LDTR or TR', 'LLDT/LTR/SLDT/STR with descriptor-table exiting = 1'],
  [48, 'EXIT_REASON_EPT_VIOLATION', 1, 'ept', 'EPT violation', 'A guest-physical access was not allowed by the EPT paging structures'],
  [49, 'EXIT_REASON_EPT_MISCONFIG', 1, 'ept', 'EPT misconfiguration', 'An EPT paging-structure entry is misconfigured'],
  [50, 'EXIT_REASON_INVEPT', 1, 'vmx-instruction', 'INVEPT', 'INVEPT executed in the guest'],
  [51, 'EXIT_REASON_RDTSCP', 1, 'instruction', 'RDTSCP', 'RDTSCP executed with RDTSC exiting = 1'],
  [52, 'EXIT_REASON_PREEMPTION_TIMER', 1, 'other', 'VMX-preemption timer expired', 'The VMX-preemption timer counted down to zero'],
  [53, 'EXIT_REASON_INVVPID', 1, 'vmx-instruction', 'INVVPID', 'INVVPID executed in the guest'],
  [54, 'EXIT_REASON_WBINVD', 1, 'instruction', 'WBINVD or WBNOINVD', 'WBINVD/WBNOINVD executed with WBINVD exiting = 1'],
  [55, 'EXIT_REASON_XSETBV', 1, 'instruction', 'XSETBV', 'XSETBV executed (always exits)'],
  [56, 'EXIT_REASON_APIC_WRITE', 1, 'apic', 'APIC write', 'A write to the virtual-APIC page needs VMM emulation', 'trap-like'],
  [57, 'EXIT_REASON_RDRAND', 1, 'instruction', 'RDRAND', 'RDRAND executed with RDRAND exiting = 1'],
  [58, 'EXIT_REASON_INVPCID', 1, 'instruction', 'INVPCID', 'INVPCID executed with INVLPG exiting = 1 and enable INVPCID = 1'],
  [59, 'EXIT_REASON_VMFUNC', 1, 'vmx-instruction', 'VMFUNC', 'VMFUNC failed (function not enabled or invalid input)'],
  [60, 'EXIT_REASON_ENCLS', 1, 'instruction', 'ENCLS', 'ENCLS leaf selected by the ENCLS-exiting bitmap'],
  [61, 'EXIT_REASON_RDSEED', 1, 'instruction', 'RDSEED', 'RDSEED executed with RDSEED exiting = 1'],
  [62, 'EXIT_REASON_PML_FULL', 1, 'ept', 'Page-modification log full', 'The page-modification log is full'],
  [63, 'EXIT_REASON_XSAVES', 1, 'instruction', 'XSAVES', 'XSAVES with a set bit matched in the XSS-exiting bitmap'],
  [64, 'EXIT_REASON_XRSTORS', 1, 'instruction', 'XRSTORS', 'XRSTORS with a set bit matched in the XSS-exiting bitmap'],
  [65, 'EXIT_REASON_PCONFIG', 0, 'instruction', 'PCONFIG', 'PCONFIG leaf selected by the PCONFIG-exiting bitmap'],
  [66, 'EXIT_REASON_SPP', 0, 'ept', 'SPP-related event', 'Sub-page-permission table misconfiguration or miss'],
  [67, 'EXIT_REASON_UMWAIT', 1, 'instruction', 'UMWAIT', 'UMWAIT executed (enable user wait and pause + RDTSC exiting)'],
  [68, 'EXIT_REASON_TPAUSE', 1, 'instruction', 'TPAUSE', 'TPAUSE executed (enable user wait and pause + RDTSC exiting)'],
  [69, 'EXIT_REASON_LOADIWKEY', 0, 'instruction', 'LOADIWKEY', 'LOADIWKEY executed with LOADIWKEY exiting = 1'],
  [70, 'EXIT_REASON_ENCLV', 0, 'instruction', 'ENCLV', 'ENCLV leaf selected by the ENCLV-exiting bitmap'],
  [71, 'EXIT_REASON_RESERVED_71', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [72, 'EXIT_REASON_ENQCMD_PASID', 0, 'instruction', 'ENQCMD PASID translation failure', 'ENQCMD could not translate the PASID'],
  [73, 'EXIT_REASON_ENQCMDS_PASID', 0, 'instruction', 'ENQCMDS PASID translation failure', 'ENQCMDS could not translate the PASID'],
  [74, 'EXIT_REASON_BUS_LOCK', 1, 'other', 'Bus lock', 'A bus lock was asserted with VMM bus-lock detection = 1', 'trap-like'],
  [75, 'EXIT_REASON_NOTIFY', 1, 'other', 'Instruction timeout', 'No event window opened within NOTIFY_WINDOW'],
  [76, 'EXIT_REASON_SEAMCALL', 1, 'instruction', 'SEAMCALL', 'SEAMCALL executed (always exits)'],
  [77, 'EXIT_REASON_TDCALL', 1, 'instruction', 'TDCALL', 'TDCALL executed (always exits)'],
  [78, 'EXIT_REASON_RDMSRLIST', 0, 'msr', 'RDMSRLIST', 'RDMSRLIST intercepted'],
  [79, 'EXIT_REASON_WRMSRLIST', 0, 'msr', 'WRMSRLIST', 'WRMSRLIST intercepted'],
  [80, 'EXIT_REASON_URDMSR', 0, 'msr', 'URDMSR', 'URDMSR intercepted'],
  [81, 'EXIT_REASON_UWRMSR', 0, 'msr', 'UWRMSR', 'UWRMSR intercepted'],
  [82, 'EXIT_REASON_RESERVED_82', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [83, 'EXIT_REASON_RESERVED_83', 0, 'other', 'Reserved', 'Reserved', 'reserved'],
  [84, 'EXIT_REASON_MSR_READ_IMM', 1, 'msr', 'RDMSR with immediate operand', 'Immediate-form RDMSR intercepted'],
  [85, 'EXIT_REASON_MSR_WRITE_IMM', 1, 'msr', 'WRMSRNS with immediate operand', 'Immediate-form WRMSRNS intercepted'],
];

/** Basic exit reasons 0..85, indexed by number (EXIT_REASONS[n].number === n). */
export const EXIT_REASONS: readonly ExitReason[] = Object.freeze(
  ROWS.map(([number, name, linux, cls, sdmName, description, flag], index) => {
    if (number !== index) throw new Error(`exit-reason table out of order at ${number}`);
    const r: ExitReason = {
      number,
      name,
      linux: linux === 1,
      sdmName,
      description,
      class: cls,
      ...(flag === 'reserved' ? { reserved: true as const } : {}),
      ...(flag === 'entry-failure' ? { entryFailure: true as const } : {}),
      ...(flag === 'trap-like' ? { trapLike: true as const } : {}),
    };
    return Object.freeze(r);
  }),
);

export const MAX_EXIT_REASON = EXIT_REASONS.length - 1;

const BY_NAME = new Map<string, ExitReason>(EXIT_REASONS.map((r) => [r.name, r]));

/** The basic reason for a number (bits 15:0 of a full exit-reason value are used). */
export function exitReasonByNumber(n: number): ExitReason | undefined {
  return EXIT_REASONS[n & 0xffff];
}

/** Accepts 'EXIT_REASON_CPUID' or just 'CPUID'. */
export function exitReasonByName(name: string): ExitReason | undefined {
  return BY_NAME.get(name) ?? BY_NAME.get('EXIT_REASON_' + name);
}

/** Name without the EXIT_REASON_ prefix, e.g. 'IO_INSTRUCTION'. */
export function exitReasonShortName(r: ExitReason): string {
  return r.name.replace(/^EXIT_REASON_/, '');
}

export function exitReasonsInClass(cls: ExitReasonClass): readonly ExitReason[] {
  return EXIT_REASONS.filter((r) => r.class === cls);
}

// ---- exit-reason field (VM_EXIT_REASON, 0x4402) ----

export const EXIT_REASON_BASIC_MASK = 0x0000ffff;
/**
 * Bit 26: a bus lock was asserted during the instruction that also caused this (other) VM exit (VMM
 * bus-lock detection). The reference lists 26:17 as reserved; KVM `union vmx_exit_reason`
 * (bus_lock_detected) and the SDM's bus-lock detection define bit 26, so it is decoded here.
 */
export const EXIT_REASON_BUS_LOCK_DETECTED = 0x04000000;
/** Bit 27: the exit happened from enclave mode (Linux VMX_EXIT_REASONS_SGX_ENCLAVE_MODE). */
export const EXIT_REASON_ENCLAVE_MODE = 0x08000000;
/** Bit 28: pending MTF VM exit (SMM / dual-monitor treatment). */
export const EXIT_REASON_PENDING_MTF = 0x10000000;
/** Bit 29: the exit was from VMX root operation (SMM / dual-monitor treatment). */
export const EXIT_REASON_FROM_VMX_ROOT = 0x20000000;
/** Bit 31: VM-entry failure (Linux VMX_EXIT_REASONS_FAILED_VMENTRY); basic reason is 33, 34 or 41. */
export const EXIT_REASON_ENTRY_FAILURE = 0x80000000;
/** Bits that are always 0: 16, 25:17, 30. */
export const EXIT_REASON_RESERVED_MASK = 0x43ff0000;

export interface ExitReasonFieldBit {
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  readonly description: string;
}

/** Layout of the exit-reason field as data. */
export const EXIT_REASON_FIELD_LAYOUT: readonly ExitReasonFieldBit[] = [
  { name: 'basic', lo: 0, hi: 15, description: 'Basic exit reason' },
  { name: 'zero16', lo: 16, hi: 16, description: 'Always cleared to 0' },
  { name: 'reserved', lo: 17, hi: 25, description: 'Reserved (0)' },
  { name: 'busLockDetected', lo: 26, hi: 26, description: 'A bus lock was asserted (VMM bus-lock detection)' },
  { name: 'enclaveMode', lo: 27, hi: 27, description: 'VM exit from enclave mode' },
  { name: 'pendingMtf', lo: 28, hi: 28, description: 'Pending MTF VM exit' },
  { name: 'fromVmxRoot', lo: 29, hi: 29, description: 'VM exit from VMX root operation' },
  { name: 'reserved30', lo: 30, hi: 30, description: 'Reserved (0)' },
  { name: 'entryFailure', lo: 31, hi: 31, description: 'VM-entry failure' },
];

export interface DecodedExitReason {
  readonly raw: number;
  readonly basic: number;
  readonly reason: ExitReason | undefined;
  readonly entryFailure: boolean;
  readonly enclaveMode: boolean;
  readonly pendingMtf: boolean;
  readonly fromVmxRoot: boolean;
  readonly busLockDetected: boolean;
  /** Reserved bits found set (should be 0). */
  readonly reservedBits: number;
}

export function decodeExitReason(value: number | bigint): DecodedExitReason {
  const raw = Number(BigInt.asUintN(32, BigInt(value)));
  const basic = raw & EXIT_REASON_BASIC_MASK;
  return {
    raw,
    basic,
    reason: EXIT_REASONS[basic],
    entryFailure: (raw & EXIT_REASON_ENTRY_FAILURE) !== 0,
    enclaveMode: (raw & EXIT_REASON_ENCLAVE_MODE) !== 0,
    pendingMtf: (raw & EXIT_REASON_PENDING_MTF) !== 0,
    fromVmxRoot: (raw & EXIT_REASON_FROM_VMX_ROOT) !== 0,
    busLockDetected: (raw & EXIT_REASON_BUS_LOCK_DETECTED) !== 0,
    reservedBits: (raw & EXIT_REASON_RESERVED_MASK) >>> 0,
  };
}

/** Builds an exit-reason value; entryFailure sets bit 31. */
export function makeExitReason(basic: number, flags: { entryFailure?: boolean; enclaveMode?: boolean; busLockDetected?: boolean } = {}): number {
  let v = basic & EXIT_REASON_BASIC_MASK;
  if (flags.entryFailure) v |= EXIT_REASON_ENTRY_FAILURE;
  if (flags.enclaveMode) v |= EXIT_REASON_ENCLAVE_MODE;
  if (flags.busLockDetected) v |= EXIT_REASON_BUS_LOCK_DETECTED;
  return v >>> 0;
}

/** One-line text, e.g. "VM-entry failure: EXIT_REASON_INVALID_STATE (33)". */
export function formatExitReason(value: number | bigint): string {
  const d = decodeExitReason(value);
  const name = d.reason ? d.reason.name : 'unknown exit reason';
  const flags = [
    d.busLockDetected ? 'bus lock detected' : '',
    d.enclaveMode ? 'from enclave mode' : '',
    d.pendingMtf ? 'pending MTF' : '',
    d.fromVmxRoot ? 'from VMX root' : '',
  ].filter((s) => s !== '');
  return `${d.entryFailure ? 'VM-entry failure: ' : ''}${name} (${d.basic})${flags.length ? ' [' + flags.join(', ') + ']' : ''}`;
}
