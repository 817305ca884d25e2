/**
 * Every bit of the VMX control vectors (SDM vol. 3C 25.6.1-25.6.2, 25.7.1, 25.8.1):
 * pin-based, primary/secondary/tertiary processor-based, primary/secondary VM-exit and VM-entry controls.
 *
 * Naming: Linux `asm/vmx.h` macro names (PIN_BASED_*, CPU_BASED_*, SECONDARY_EXEC_*, TERTIARY_EXEC_*,
 * VM_EXIT_*, SECONDARY_VM_EXIT_*, VM_ENTRY_*). Where Linux has no macro the name is made up in the same
 * style from the SDM wording, which is always kept as `sdmName`. Reserved bits that belong to the
 * default1 class are listed too (named <PREFIX>_DEFAULT1_BIT<n>, `reserved: true`); any bit not listed is
 * reserved and must be 0.
 */

export type ControlVector = 'pin' | 'proc1' | 'proc2' | 'proc3' | 'exit' | 'exit2' | 'entry';

export const CONTROL_VECTORS: readonly ControlVector[] = ['pin', 'proc1', 'proc2', 'proc3', 'exit', 'exit2', 'entry'];

export interface ControlBit {
  readonly name: string;
  readonly sdmName: string;
  readonly vector: ControlVector;
  readonly bit: number;
  readonly description: string;
  /**
   * In the default1 class: the non-TRUE capability MSR always reports it as must-be-1. With
   * IA32_VMX_BASIC bit 55 the TRUE MSR may allow 0 (the named default1 bits: CR3-load/store exiting,
   * save/load debug controls).
   */
  readonly default1: boolean;
  /** A reserved bit (only default1-class reserved bits are listed). */
  readonly reserved?: true;
}

export interface ControlVectorInfo {
  readonly vector: ControlVector;
  readonly title: string;
  /** VMCS field holding the vector. */
  readonly field: string;
  readonly width: 32 | 64;
  /** Capability MSR reporting allowed settings. */
  readonly capabilityMsr: number;
  /** TRUE capability MSR (used when IA32_VMX_BASIC bit 55 = 1). */
  readonly trueCapabilityMsr?: number;
  /**
   * 32-bit vectors use the allowed-0/allowed-1 MSR format (low word must-be-1, high word may-be-1);
   * 64-bit vectors use an allowed-1-only MSR (bit n = 1: control bit n may be 1).
   */
  readonly capabilityFormat: 'allowed0-allowed1' | 'allowed1';
  /** The vector is used only when this control is 1 (otherwise it acts as all zeros). */
  readonly activatedBy?: { readonly vector: ControlVector; readonly bit: number };
}

export const CONTROL_VECTOR_INFO: Readonly<Record<ControlVector, ControlVectorInfo>> = {
  pin: {
    vector: 'pin', title: 'Pin-based VM-execution controls', field: 'PIN_BASED_VM_EXEC_CONTROL', width: 32,
    capabilityMsr: 0x481, trueCapabilityMsr: 0x48d, capabilityFormat: 'allowed0-allowed1',
  },
  proc1: {
    vector: 'proc1', title: 'Primary processor-based VM-execution controls', field: 'CPU_BASED_VM_EXEC_CONTROL', width: 32,
    capabilityMsr: 0x482, trueCapabilityMsr: 0x48e, capabilityFormat: 'allowed0-allowed1',
  },
  proc2: {
    vector: 'proc2', title: 'Secondary processor-based VM-execution controls', field: 'SECONDARY_VM_EXEC_CONTROL', width: 32,
    capabilityMsr: 0x48b, capabilityFormat: 'allowed0-allowed1', activatedBy: { vector: 'proc1', bit: 31 },
  },
  proc3: {
    vector: 'proc3', title: 'Tertiary processor-based VM-execution controls', field: 'TERTIARY_VM_EXEC_CONTROL', width: 64,
    capabilityMsr: 0x492, capabilityFormat: 'allowed1', activatedBy: { vector: 'proc1', bit: 17 },
  },
  exit: {
    vector: 'exit', title: 'Primary VM-exit controls', field: 'VM_EXIT_CONTROLS', width: 32,
    capabilityMsr: 0x483, trueCapabilityMsr: 0x48f, capabilityFormat: 'allowed0-allowed1',
  },
  exit2: {
    vector: 'exit2', title: 'Secondary VM-exit controls', field: 'SECONDARY_VM_EXIT_CONTROLS', width: 64,
    capabilityMsr: 0x493, capabilityFormat: 'allowed1', activatedBy: { vector: 'exit', bit: 31 },
  },
  entry: {
    vector: 'entry', title: 'VM-entry controls', field: 'VM_ENTRY_CONTROLS', width: 32,
    capabilityMsr: 0x484, trueCapabilityMsr: 0x490, capabilityFormat: 'allowed0-allowed1',
  },
};

/** Vector -> VMCS field name. */
export const CONTROL_VECTOR_FIELD: Readonly<Record<ControlVector, string>> = {
  pin: CONTROL_VECTOR_INFO.pin.field,
  proc1: CONTROL_VECTOR_INFO.proc1.field,
  proc2: CONTROL_VECTOR_INFO.proc2.field,
  proc3: CONTROL_VECTOR_INFO.proc3.field,
  exit: CONTROL_VECTOR_INFO.exit.field,
  exit2: CONTROL_VECTOR_INFO.exit2.field,
  entry: CONTROL_VECTOR_INFO.entry.field,
};

type Row = [bit: number, name: string, sdmName: string, description: string, default1?: 'default1'];

function rows(vector: ControlVector, defaultPrefix: string, list: readonly Row[], reservedDefault1: readonly number[]): readonly ControlBit[] {
  const out: ControlBit[] = list.map(([bit, name, sdmName, description, d1]) => ({
    name, sdmName, vector, bit, description, default1: d1 === 'default1',
  }));
  for (const bit of reservedDefault1) {
    out.push({
      name: `${defaultPrefix}_DEFAULT1_BIT${bit}`,
      sdmName: 'Reserved (default1)',
      vector,
      bit,
      description: 'Reserved; in the default1 class: set it to 1 unless the TRUE capability MSR allows 0',
      default1: true,
      reserved: true,
    });
  }
  out.sort((a, b) => a.bit - b.bit);
  return Object.freeze(out.map((c) => Object.freeze(c)));
}

export const PIN_CONTROLS: readonly ControlBit[] = rows('pin', 'PIN_BASED', [
  [0, 'PIN_BASED_EXT_INTR_MASK', 'External-interrupt exiting', 'External interrupts cause VM exits (else delivered through the guest IDT)'],
  [3, 'PIN_BASED_NMI_EXITING', 'NMI exiting', 'NMIs cause VM exits'],
  [5, 'PIN_BASED_VIRTUAL_NMIS', 'Virtual NMIs', 'NMIs are never blocked; virtual-NMI blocking is tracked instead (needs NMI exiting)'],
  [6, 'PIN_BASED_VMX_PREEMPTION_TIMER', 'Activate VMX-preemption timer', 'The VMX-preemption timer counts down in non-root operation and exits at zero'],
  [7, 'PIN_BASED_POSTED_INTR', 'Process posted interrupts', 'Interrupts with the posted-interrupt notification vector are processed as posted interrupts'],
], [1, 2, 4]);

export const PROC1_CONTROLS: readonly ControlBit[] = rows('proc1', 'CPU_BASED', [
  [2, 'CPU_BASED_INTR_WINDOW_EXITING', 'Interrupt-window exiting', 'Exit at the start of any instruction when RFLAGS.IF = 1 and nothing blocks interrupts'],
  [3, 'CPU_BASED_USE_TSC_OFFSETTING', 'Use TSC offsetting', 'RDTSC/RDTSCP/RDMSR(TSC) return the TSC plus TSC_OFFSET'],
  [7, 'CPU_BASED_HLT_EXITING', 'HLT exiting', 'HLT causes a VM exit'],
  [9, 'CPU_BASED_INVLPG_EXITING', 'INVLPG exiting', 'INVLPG (and INVPCID with enable INVPCID) causes a VM exit'],
  [10, 'CPU_BASED_MWAIT_EXITING', 'MWAIT exiting', 'MWAIT causes a VM exit'],
  [11, 'CPU_BASED_RDPMC_EXITING', 'RDPMC exiting', 'RDPMC causes a VM exit'],
  [12, 'CPU_BASED_RDTSC_EXITING', 'RDTSC exiting', 'RDTSC and RDTSCP cause VM exits'],
  [15, 'CPU_BASED_CR3_LOAD_EXITING', 'CR3-load exiting', 'MOV to CR3 exits unless the value matches a CR3-target value', 'default1'],
  [16, 'CPU_BASED_CR3_STORE_EXITING', 'CR3-store exiting', 'MOV from CR3 causes a VM exit', 'default1'],
  [17, 'CPU_BASED_ACTIVATE_TERTIARY_CONTROLS', 'Activate tertiary controls', 'The tertiary processor-based controls are used'],
  [19, 'CPU_BASED_CR8_LOAD_EXITING', 'CR8-load exiting', 'MOV to CR8 causes a VM exit'],
  [20, 'CPU_BASED_CR8_STORE_EXITING', 'CR8-store exiting', 'MOV from CR8 causes a VM exit'],
  [21, 'CPU_BASED_TPR_SHADOW', 'Use TPR shadow', 'CR8 accesses use the TPR shadow in the virtual-APIC page'],
  [22, 'CPU_BASED_NMI_WINDOW_EXITING', 'NMI-window exiting', 'Exit at the start of any instruction when there is no virtual-NMI blocking'],
  [23, 'CPU_BASED_MOV_DR_EXITING', 'MOV-DR exiting', 'MOV to/from debug registers causes a VM exit'],
  [24, 'CPU_BASED_UNCOND_IO_EXITING', 'Unconditional I/O exiting', 'Every IN/INS/OUT/OUTS causes a VM exit (ignored when use I/O bitmaps = 1)'],
  [25, 'CPU_BASED_USE_IO_BITMAPS', 'Use I/O bitmaps', 'I/O bitmaps A/B decide which ports exit'],
  [27, 'CPU_BASED_MONITOR_TRAP_FLAG', 'Monitor trap flag', 'Exit after the next guest instruction (or event delivery)'],
  [28, 'CPU_BASED_USE_MSR_BITMAPS', 'Use MSR bitmaps', 'MSR bitmaps decide which RDMSR/WRMSR exit (else all exit)'],
  [29, 'CPU_BASED_MONITOR_EXITING', 'MONITOR exiting', 'MONITOR causes a VM exit'],
  [30, 'CPU_BASED_PAUSE_EXITING', 'PAUSE exiting', 'PAUSE causes a VM exit'],
  [31, 'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS', 'Activate secondary controls', 'The secondary processor-based controls are used'],
], [1, 4, 5, 6, 8, 13, 14, 26]);

export const PROC2_CONTROLS: readonly ControlBit[] = rows('proc2', 'SECONDARY_EXEC', [
  [0, 'SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES', 'Virtualize APIC accesses', 'Accesses to the APIC-access page are virtualized or exit'],
  [1, 'SECONDARY_EXEC_ENABLE_EPT', 'Enable EPT', 'Extended page tables translate guest-physical addresses'],
  [2, 'SECONDARY_EXEC_DESC', 'Descriptor-table exiting', 'LGDT/LIDT/LLDT/LTR/SGDT/SIDT/SLDT/STR cause VM exits'],
  [3, 'SECONDARY_EXEC_ENABLE_RDTSCP', 'Enable RDTSCP', 'RDTSCP is allowed (else #UD)'],
  [4, 'SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE', 'Virtualize x2APIC mode', 'RDMSR/WRMSR to x2APIC MSRs are virtualized'],
  [5, 'SECONDARY_EXEC_ENABLE_VPID', 'Enable VPID', 'Linear translations are cached with the VPID tag'],
  [6, 'SECONDARY_EXEC_WBINVD_EXITING', 'WBINVD exiting', 'WBINVD and WBNOINVD cause VM exits'],
  [7, 'SECONDARY_EXEC_UNRESTRICTED_GUEST', 'Unrestricted guest', 'Guest may run unpaged or in real mode (needs EPT)'],
  [8, 'SECONDARY_EXEC_APIC_REGISTER_VIRT', 'APIC-register virtualization', 'APIC register reads come from the virtual-APIC page'],
  [9, 'SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY', 'Virtual-interrupt delivery', 'Pending virtual interrupts are evaluated and delivered'],
  [10, 'SECONDARY_EXEC_PAUSE_LOOP_EXITING', 'PAUSE-loop exiting', 'A PAUSE loop longer than PLE_WINDOW causes a VM exit'],
  [11, 'SECONDARY_EXEC_RDRAND_EXITING', 'RDRAND exiting', 'RDRAND causes a VM exit'],
  [12, 'SECONDARY_EXEC_ENABLE_INVPCID', 'Enable INVPCID', 'INVPCID is allowed (else #UD)'],
  [13, 'SECONDARY_EXEC_ENABLE_VMFUNC', 'Enable VM functions', 'VMFUNC is allowed'],
  [14, 'SECONDARY_EXEC_SHADOW_VMCS', 'VMCS shadowing', 'VMREAD/VMWRITE in the guest may access a shadow VMCS'],
  [15, 'SECONDARY_EXEC_ENCLS_EXITING', 'Enable ENCLS exiting', 'ENCLS leaves selected by the ENCLS-exiting bitmap cause VM exits'],
  [16, 'SECONDARY_EXEC_RDSEED_EXITING', 'RDSEED exiting', 'RDSEED causes a VM exit'],
  [17, 'SECONDARY_EXEC_ENABLE_PML', 'Enable PML', 'Page-modification logging records guest-physical writes'],
  [18, 'SECONDARY_EXEC_EPT_VIOLATION_VE', 'EPT-violation #VE', 'Some EPT violations raise #VE in the guest instead of exiting'],
  [19, 'SECONDARY_EXEC_PT_CONCEAL_VMX', 'Conceal VMX from PT', 'Intel PT suppresses VMX-related packets'],
  [20, 'SECONDARY_EXEC_ENABLE_XSAVES', 'Enable XSAVES/XRSTORS', 'XSAVES/XRSTORS are allowed (else #UD)'],
  [21, 'SECONDARY_EXEC_PASID_TRANSLATION', 'PASID translation', 'ENQCMD/ENQCMDS PASIDs are translated'],
  [22, 'SECONDARY_EXEC_MODE_BASED_EPT_EXEC', 'Mode-based execute control for EPT', 'EPT execute permission is split into supervisor and user'],
  [23, 'SECONDARY_EXEC_ENABLE_SPP', 'Sub-page write permissions for EPT', 'EPT write permission may be set per 128-byte sub-page'],
  [24, 'SECONDARY_EXEC_PT_USE_GPA', 'Intel PT uses guest-physical addresses', 'Intel PT output addresses are guest-physical'],
  [25, 'SECONDARY_EXEC_TSC_SCALING', 'Use TSC scaling', 'TSC reads are multiplied by TSC_MULTIPLIER'],
  [26, 'SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE', 'Enable user wait and pause', 'UMWAIT/UMONITOR/TPAUSE are allowed (else #UD)'],
  [27, 'SECONDARY_EXEC_ENABLE_PCONFIG', 'Enable PCONFIG', 'PCONFIG is allowed (else #UD)'],
  [28, 'SECONDARY_EXEC_ENCLV_EXITING', 'Enable ENCLV exiting', 'ENCLV leaves selected by the ENCLV-exiting bitmap cause VM exits'],
  [30, 'SECONDARY_EXEC_BUS_LOCK_DETECTION', 'VMM bus-lock detection', 'A bus lock in the guest causes a trap-like VM exit'],
  [31, 'SECONDARY_EXEC_NOTIFY_VM_EXITING', 'Instruction timeout', 'Exit when no event window opens within NOTIFY_WINDOW'],
], []);

// Tertiary bit 6 ("enable MSR-list instructions") was marked unsure in the reference; confirmed against
// ia32-doc's IA32_VMX_PROCBASED_CTLS3 layout (enable_rdmsrlist_wrmsrlist at bit 6, bit 5 reserved) and
// Bochs VMX_VM_EXEC_CTRL3_ENABLE_MSRLIST (1 << 6).
export const PROC3_CONTROLS: readonly ControlBit[] = rows('proc3', 'TERTIARY_EXEC', [
  [0, 'TERTIARY_EXEC_LOADIWKEY_EXITING', 'LOADIWKEY exiting', 'LOADIWKEY causes a VM exit'],
  [1, 'TERTIARY_EXEC_ENABLE_HLAT', 'Enable HLAT', 'Hypervisor-managed linear-address translation is used'],
  [2, 'TERTIARY_EXEC_EPT_PAGING_WRITE', 'EPT paging-write control', 'EPT paging-write permission (bit 58) is honoured'],
  [3, 'TERTIARY_EXEC_GUEST_PAGING_VERIFY', 'Guest-paging verification', 'EPT verify-paging-write bit (57) is honoured'],
  [4, 'TERTIARY_EXEC_IPI_VIRT', 'IPI virtualization', 'ICR writes sending IPIs are virtualized via the PID-pointer table'],
  [6, 'TERTIARY_EXEC_ENABLE_MSR_LIST', 'Enable MSR-list instructions', 'RDMSRLIST/WRMSRLIST are allowed (else #UD)'],
  [7, 'TERTIARY_EXEC_SPEC_CTRL_VIRT', 'Virtualize IA32_SPEC_CTRL', 'Guest IA32_SPEC_CTRL accesses go through the mask and shadow'],
  [8, 'TERTIARY_EXEC_GUEST_APIC_TIMER', 'APIC-timer virtualization', 'The guest APIC timer (TSC-deadline) is virtualized'],
], []);

export const EXIT_CONTROLS: readonly ControlBit[] = rows('exit', 'VM_EXIT', [
  [2, 'VM_EXIT_SAVE_DEBUG_CONTROLS', 'Save debug controls', 'DR7 and IA32_DEBUGCTL are saved on VM exit', 'default1'],
  [9, 'VM_EXIT_HOST_ADDR_SPACE_SIZE', 'Host address-space size', 'The host runs in 64-bit mode after VM exit'],
  [12, 'VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL', 'Load IA32_PERF_GLOBAL_CTRL', 'IA32_PERF_GLOBAL_CTRL is loaded on VM exit'],
  [15, 'VM_EXIT_ACK_INTR_ON_EXIT', 'Acknowledge interrupt on exit', 'External-interrupt exits acknowledge the interrupt and save its vector'],
  [18, 'VM_EXIT_SAVE_IA32_PAT', 'Save IA32_PAT', 'Guest IA32_PAT is saved on VM exit'],
  [19, 'VM_EXIT_LOAD_IA32_PAT', 'Load IA32_PAT', 'Host IA32_PAT is loaded on VM exit'],
  [20, 'VM_EXIT_SAVE_IA32_EFER', 'Save IA32_EFER', 'Guest IA32_EFER is saved on VM exit'],
  [21, 'VM_EXIT_LOAD_IA32_EFER', 'Load IA32_EFER', 'Host IA32_EFER is loaded on VM exit'],
  [22, 'VM_EXIT_SAVE_VMX_PREEMPTION_TIMER', 'Save VMX-preemption timer value', 'The preemption-timer value is saved on VM exit'],
  [23, 'VM_EXIT_CLEAR_BNDCFGS', 'Clear IA32_BNDCFGS', 'IA32_BNDCFGS is cleared on VM exit'],
  [24, 'VM_EXIT_PT_CONCEAL_PIP', 'Conceal VMX from PT', 'Intel PT does not produce a PIP on VM exit'],
  [25, 'VM_EXIT_CLEAR_IA32_RTIT_CTL', 'Clear IA32_RTIT_CTL', 'IA32_RTIT_CTL is cleared on VM exit'],
  [26, 'VM_EXIT_CLEAR_IA32_LBR_CTL', 'Clear IA32_LBR_CTL', 'IA32_LBR_CTL is cleared on VM exit'],
  [27, 'VM_EXIT_CLEAR_UINV', 'Clear UINV', 'UINV is cleared on VM exit'],
  [28, 'VM_EXIT_LOAD_CET_STATE', 'Load CET state', 'Host CET state (IA32_S_CET, SSP, SSP table) is loaded on VM exit'],
  [29, 'VM_EXIT_LOAD_IA32_PKRS', 'Load PKRS', 'Host IA32_PKRS is loaded on VM exit'],
  [30, 'VM_EXIT_SAVE_IA32_PERF_GLOBAL_CTRL', 'Save IA32_PERF_GLOBAL_CTRL', 'Guest IA32_PERF_GLOBAL_CTRL is saved on VM exit'],
  [31, 'VM_EXIT_ACTIVATE_SECONDARY_CONTROLS', 'Activate secondary controls', 'The secondary VM-exit controls are used'],
], [0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17]);

// Secondary exit controls. Bochs vmx_ctrls.h (2024) defines "shadow stack prematurely busy" as bit 2, but the
// SDM-derived ia32-doc layout of IA32_VMX_EXIT_CTLS2 (bits 2:0 reserved, indication at bit 3), other SDM-based
// hypervisor headers and the reference all put it at bit 3, and later Bochs code has a separate
// "load host IA32_SPEC_CTRL" secondary exit control (bit 2 in a port of it). Decision: bit 2 = load
// IA32_SPEC_CTRL, bit 3 = prematurely busy shadow stack.
export const EXIT2_CONTROLS: readonly ControlBit[] = rows('exit2', 'SECONDARY_VM_EXIT', [
  [0, 'SECONDARY_VM_EXIT_SAVE_IA32_FRED', 'Save IA32_FRED', 'Guest FRED MSRs are saved on VM exit'],
  [1, 'SECONDARY_VM_EXIT_LOAD_IA32_FRED', 'Load IA32_FRED', 'Host FRED MSRs are loaded on VM exit'],
  [2, 'SECONDARY_VM_EXIT_LOAD_IA32_SPEC_CTRL', 'Load IA32_SPEC_CTRL', 'Host IA32_SPEC_CTRL is loaded on VM exit'],
  [3, 'SECONDARY_VM_EXIT_PREMATURELY_BUSY_SHSTK', 'Prematurely busy shadow stack', 'VM exit reports a shadow stack left prematurely busy'],
], []);

export const ENTRY_CONTROLS: readonly ControlBit[] = rows('entry', 'VM_ENTRY', [
  [2, 'VM_ENTRY_LOAD_DEBUG_CONTROLS', 'Load debug controls', 'DR7 and IA32_DEBUGCTL are loaded on VM entry', 'default1'],
  [9, 'VM_ENTRY_IA32E_MODE', 'IA-32e mode guest', 'The guest is in IA-32e mode after VM entry (loads EFER.LMA)'],
  [10, 'VM_ENTRY_SMM', 'Entry to SMM', 'VM entry returns to SMM (dual-monitor treatment)'],
  [11, 'VM_ENTRY_DEACT_DUAL_MONITOR', 'Deactivate dual-monitor treatment', 'Dual-monitor treatment of SMIs and SMM is deactivated'],
  [13, 'VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL', 'Load IA32_PERF_GLOBAL_CTRL', 'Guest IA32_PERF_GLOBAL_CTRL is loaded on VM entry'],
  [14, 'VM_ENTRY_LOAD_IA32_PAT', 'Load IA32_PAT', 'Guest IA32_PAT is loaded on VM entry'],
  [15, 'VM_ENTRY_LOAD_IA32_EFER', 'Load IA32_EFER', 'Guest IA32_EFER is loaded on VM entry'],
  [16, 'VM_ENTRY_LOAD_BNDCFGS', 'Load IA32_BNDCFGS', 'Guest IA32_BNDCFGS is loaded on VM entry'],
  [17, 'VM_ENTRY_PT_CONCEAL_PIP', 'Conceal VMX from PT', 'Intel PT does not produce a PIP on VM entry'],
  [18, 'VM_ENTRY_LOAD_IA32_RTIT_CTL', 'Load IA32_RTIT_CTL', 'Guest IA32_RTIT_CTL is loaded on VM entry'],
  [19, 'VM_ENTRY_LOAD_UINV', 'Load UINV', 'Guest UINV is loaded on VM entry'],
  [20, 'VM_ENTRY_LOAD_CET_STATE', 'Load CET state', 'Guest CET state is loaded on VM entry'],
  [21, 'VM_ENTRY_LOAD_IA32_LBR_CTL', 'Load guest IA32_LBR_CTL', 'Guest IA32_LBR_CTL is loaded on VM entry'],
  [22, 'VM_ENTRY_LOAD_IA32_PKRS', 'Load PKRS', 'Guest IA32_PKRS is loaded on VM entry'],
  [23, 'VM_ENTRY_LOAD_IA32_FRED', 'Load FRED', 'Guest FRED MSRs are loaded on VM entry'],
  [24, 'VM_ENTRY_LOAD_IA32_SPEC_CTRL', 'Load IA32_SPEC_CTRL', 'Guest IA32_SPEC_CTRL is loaded on VM entry'],
], [0, 1, 3, 4, 5, 6, 7, 8, 12]);

export const CONTROLS_BY_VECTOR: Readonly<Record<ControlVector, readonly ControlBit[]>> = {
  pin: PIN_CONTROLS,
  proc1: PROC1_CONTROLS,
  proc2: PROC2_CONTROLS,
  proc3: PROC3_CONTROLS,
  exit: EXIT_CONTROLS,
  exit2: EXIT2_CONTROLS,
  entry: ENTRY_CONTROLS,
};

/** Every control bit of every vector. */
export const ALL_CONTROLS: readonly ControlBit[] = Object.freeze(CONTROL_VECTORS.flatMap((v) => CONTROLS_BY_VECTOR[v]));

/**
 * Default1 masks (SDM Appendix A.2: bits that the first VMX processors supported only as 1; also Linux
 * *_ALWAYSON_WITHOUT_TRUE_MSR). Checked at load against the default1 flags in the tables.
 */
export const DEFAULT1_MASKS: Readonly<Record<ControlVector, number>> = {
  pin: 0x00000016,
  proc1: 0x0401e172,
  proc2: 0,
  proc3: 0,
  exit: 0x00036dff,
  exit2: 0,
  entry: 0x000011ff,
};

function maskOf(list: readonly ControlBit[]): number {
  return list.reduce((m, c) => (m | (1 << c.bit)) >>> 0, 0);
}

/** Bits defined (architectural controls plus listed default1 reserved bits) per vector. */
export const DEFINED_MASKS: Readonly<Record<ControlVector, number>> = Object.freeze(
  Object.fromEntries(CONTROL_VECTORS.map((v) => [v, maskOf(CONTROLS_BY_VECTOR[v])])) as Record<ControlVector, number>,
);

(function check(): void {
  const names = new Set<string>();
  for (const v of CONTROL_VECTORS) {
    const list = CONTROLS_BY_VECTOR[v];
    const bits = new Set<number>();
    for (const c of list) {
      if (bits.has(c.bit) || names.has(c.name) || c.bit < 0 || c.bit >= CONTROL_VECTOR_INFO[v].width) {
        throw new Error(`VMX control table: bad or duplicate ${v} bit ${c.bit} (${c.name})`);
      }
      bits.add(c.bit);
      names.add(c.name);
    }
    const d1 = maskOf(list.filter((c) => c.default1));
    if (d1 !== DEFAULT1_MASKS[v]) {
      throw new Error(`VMX control table: ${v} default1 bits 0x${d1.toString(16)} != mask 0x${DEFAULT1_MASKS[v].toString(16)}`);
    }
  }
})();

const BY_NAME = new Map<string, ControlBit>(ALL_CONTROLS.map((c) => [c.name, c]));

export function controlByName(name: string): ControlBit | undefined {
  return BY_NAME.get(name);
}

export function controlByBit(vector: ControlVector, bit: number): ControlBit | undefined {
  return CONTROLS_BY_VECTOR[vector].find((c) => c.bit === bit);
}

/** The control, throwing when unknown (for code that names controls literally). */
export function vmxControl(name: string): ControlBit {
  const c = BY_NAME.get(name);
  if (!c) throw new Error(`unknown VMX control ${name}`);
  return c;
}

/** Mask of a control by name, e.g. controlMask('CPU_BASED_HLT_EXITING') === 0x80. */
export function controlMask(name: string): number {
  return (1 << vmxControl(name).bit) >>> 0;
}

export interface DecodedControls {
  /** Controls whose bit is set in the value (named and default1 reserved). */
  readonly set: readonly ControlBit[];
  /** Set bits that the table does not define (reserved, must be 0). */
  readonly undefinedBits: readonly number[];
}

/** Splits a control-vector value into the set controls and unknown set bits. */
export function decodeControls(vector: ControlVector, value: number | bigint): DecodedControls {
  const v = BigInt.asUintN(64, BigInt(value));
  const set: ControlBit[] = [];
  const undefinedBits: number[] = [];
  const width = CONTROL_VECTOR_INFO[vector].width;
  for (let bit = 0; bit < width; bit++) {
    if (((v >> BigInt(bit)) & 1n) === 0n) continue;
    const c = controlByBit(vector, bit);
    if (c) set.push(c);
    else undefinedBits.push(bit);
  }
  if (width === 32 && v >> 32n !== 0n) {
    for (let bit = 32; bit < 64; bit++) if (((v >> BigInt(bit)) & 1n) !== 0n) undefinedBits.push(bit);
  }
  return { set, undefinedBits };
}
