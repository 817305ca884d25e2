import * as K from '../constants';
import { CR4_VALID } from '../ops/system';
import {
  CONTROLS_BY_VECTOR, ControlVector, DEFAULT1_MASKS, VMCS_FIELDS, VmcsField, controlMask,
  IA32_VMX_BASIC, IA32_VMX_PINBASED_CTLS, IA32_VMX_PROCBASED_CTLS, IA32_VMX_EXIT_CTLS, IA32_VMX_ENTRY_CTLS,
  IA32_VMX_MISC, IA32_VMX_CR0_FIXED0, IA32_VMX_CR0_FIXED1, IA32_VMX_CR4_FIXED0, IA32_VMX_CR4_FIXED1,
  IA32_VMX_VMCS_ENUM, IA32_VMX_PROCBASED_CTLS2, IA32_VMX_EPT_VPID_CAP, IA32_VMX_TRUE_PINBASED_CTLS,
  IA32_VMX_TRUE_PROCBASED_CTLS, IA32_VMX_TRUE_EXIT_CTLS, IA32_VMX_TRUE_ENTRY_CTLS, IA32_VMX_VMFUNC,
  IA32_VMX_PROCBASED_CTLS3, IA32_VMX_EXIT_CTLS2,
} from './spec';

/**
 * The VMX capability model: which controls, activity states and fields a CPU model supports, and the
 * capability MSRs (SDM Appendix A) computed from that. Every control a model allows is emulated;
 * nothing is reported that the core does not do (APIC-register virtualization, virtual-interrupt
 * delivery, x2APIC virtualization, posted interrupts, mode-based execute control, #VE, and VM
 * functions other than EPTP switching are not reported). "Use TPR shadow" is reported without them:
 * CR8 accesses and TPR virtualization (src/cpu/vmx/tpr.ts); the default model also reports "virtualize
 * APIC accesses" (src/cpu/vmx/apicAccess.ts), whose only virtualized accesses are then the TPR's.
 */

/** IA32_VMX_EPT_VPID_CAP bits 31:0 of the default model. */
const EPT_CAP_BITS = (1n << 0n) | (1n << 6n) | (1n << 14n) | (1n << 16n) | (1n << 17n) | (1n << 20n) | (1n << 21n) | (1n << 25n) | (1n << 26n);

/** A model, as data: control names refer to the spec table (src/cpu/vmx/spec/controls.ts). */
export interface VmxModelSpec {
  readonly name: string;
  readonly description: string;
  readonly revisionId: number;
  /** Controls that may be 1, besides the default1 bits (which are always allowed). */
  readonly allowed: Readonly<Partial<Record<ControlVector, readonly string[]>>>;
  /** IA32_VMX_BASIC[55]: TRUE capability MSRs exist and named default1 controls may be 0. */
  readonly trueControls: boolean;
  /** IA32_VMX_BASIC[54]: INS/OUTS exits report instruction information. */
  readonly insOutsInfo: boolean;
  /** IA32_VMX_BASIC[56]: hardware exceptions may be injected with or without an error code. */
  readonly noHwErrorCodeCheck: boolean;
  readonly misc: {
    readonly timerRate: number;
    readonly storeEferLma: boolean;
    readonly activityHlt: boolean;
    readonly activityShutdown: boolean;
    readonly activityWaitSipi: boolean;
    readonly cr3Targets: number;
    /** Recommended MSR-list maximum = 512 * (maxMsrList + 1). */
    readonly maxMsrList: number;
    /** IA32_VMX_MISC[29]: VMWRITE may write VM-exit information fields. */
    readonly vmwriteAnyField: boolean;
    /** IA32_VMX_MISC[30]: software events may be injected with instruction length 0. */
    readonly zeroLengthInjection: boolean;
  };
  /** IA32_VMX_EPT_VPID_CAP (present when EPT or VPID is allowed). */
  readonly eptVpidCap: bigint;
  /** IA32_VMX_VMFUNC (present when "enable VM functions" is allowed). */
  readonly vmfunc: bigint;
}

/**
 * Today's model: everything the core emulates. VPID is reported because flushing the TLB on every
 * VM entry and exit is a correct (if slow) implementation of VPIDs; INVVPID then flushes. EPT
 * (src/cpu/vmx/ept.ts) and unrestricted guest are reported; INVEPT flushes every cached translation.
 * VM functions: EPTP switching only (function 0), without #VE, so there is no EPTP_INDEX field.
 * VMCS shadowing (src/cpu/vmx/shadow.ts): guest VMREAD/VMWRITE reach the shadow VMCS in memory.
 */
const DEFAULT_MODEL: VmxModelSpec = {
  name: 'default',
  description: 'Current-generation VMX with EPT (4-level, 2 MiB and 1 GiB pages, A/D flags) and unrestricted guest',
  revisionId: 0x12,
  allowed: {
    pin: ['PIN_BASED_EXT_INTR_MASK', 'PIN_BASED_NMI_EXITING', 'PIN_BASED_VIRTUAL_NMIS', 'PIN_BASED_VMX_PREEMPTION_TIMER'],
    proc1: [
      'CPU_BASED_INTR_WINDOW_EXITING', 'CPU_BASED_USE_TSC_OFFSETTING', 'CPU_BASED_HLT_EXITING', 'CPU_BASED_INVLPG_EXITING',
      'CPU_BASED_MWAIT_EXITING', 'CPU_BASED_RDPMC_EXITING', 'CPU_BASED_RDTSC_EXITING', 'CPU_BASED_CR3_LOAD_EXITING',
      'CPU_BASED_CR3_STORE_EXITING', 'CPU_BASED_CR8_LOAD_EXITING', 'CPU_BASED_CR8_STORE_EXITING', 'CPU_BASED_NMI_WINDOW_EXITING',
      'CPU_BASED_MOV_DR_EXITING', 'CPU_BASED_UNCOND_IO_EXITING', 'CPU_BASED_USE_IO_BITMAPS', 'CPU_BASED_USE_MSR_BITMAPS',
      'CPU_BASED_MONITOR_EXITING', 'CPU_BASED_PAUSE_EXITING', 'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS',
      'CPU_BASED_MONITOR_TRAP_FLAG', 'CPU_BASED_TPR_SHADOW',
    ],
    proc2: [
      'SECONDARY_EXEC_DESC', 'SECONDARY_EXEC_ENABLE_EPT', 'SECONDARY_EXEC_ENABLE_RDTSCP', 'SECONDARY_EXEC_ENABLE_VPID',
      'SECONDARY_EXEC_WBINVD_EXITING', 'SECONDARY_EXEC_UNRESTRICTED_GUEST', 'SECONDARY_EXEC_PAUSE_LOOP_EXITING',
      'SECONDARY_EXEC_ENABLE_VMFUNC', 'SECONDARY_EXEC_SHADOW_VMCS', 'SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES',
    ],
    exit: [
      'VM_EXIT_SAVE_DEBUG_CONTROLS', 'VM_EXIT_HOST_ADDR_SPACE_SIZE', 'VM_EXIT_ACK_INTR_ON_EXIT', 'VM_EXIT_SAVE_IA32_PAT',
      'VM_EXIT_LOAD_IA32_PAT', 'VM_EXIT_SAVE_IA32_EFER', 'VM_EXIT_LOAD_IA32_EFER', 'VM_EXIT_SAVE_VMX_PREEMPTION_TIMER',
    ],
    entry: ['VM_ENTRY_LOAD_DEBUG_CONTROLS', 'VM_ENTRY_IA32E_MODE', 'VM_ENTRY_LOAD_IA32_PAT', 'VM_ENTRY_LOAD_IA32_EFER'],
  },
  trueControls: true,
  insOutsInfo: true,
  noHwErrorCodeCheck: false,
  misc: {
    timerRate: 5, storeEferLma: true, activityHlt: true, activityShutdown: true, activityWaitSipi: true,
    cr3Targets: 4, maxMsrList: 0, vmwriteAnyField: true, zeroLengthInjection: true,
  },
  // EPT: execute-only (bit 0), 4-level walk (6), WB (14), 2 MiB (16) and 1 GiB (17) pages, INVEPT (20)
  // with single-context (25) and all-context (26) types, A/D flags (21); INVVPID (32) with all four
  // types (40-43). Not reported: 5-level walk (7), UC (8), advanced exit information (22), shadow stacks (23).
  eptVpidCap: EPT_CAP_BITS | (1n << 32n) | (0xFn << 40n),
  // VM function 0 (EPTP switching, src/cpu/ops/vmxops.ts) only
  vmfunc: 1n,
};

/**
 * A first-generation (Core 2) style model: no secondary controls (so no EPT, unrestricted guest or
 * VPID), no TRUE MSRs, no preemption timer, no monitor trap flag, no EFER/PAT switching, only the
 * HLT activity state, VMWRITE to exit-information fields fails with error 13, no INS/OUTS instruction
 * information.
 */
const CORE2_MODEL: VmxModelSpec = {
  name: 'core2-no-ug',
  description: 'Core 2 era VMX: primary controls only, no unrestricted guest, no EPT',
  revisionId: 0x0D,
  allowed: {
    pin: ['PIN_BASED_EXT_INTR_MASK', 'PIN_BASED_NMI_EXITING', 'PIN_BASED_VIRTUAL_NMIS'],
    proc1: [
      'CPU_BASED_INTR_WINDOW_EXITING', 'CPU_BASED_USE_TSC_OFFSETTING', 'CPU_BASED_HLT_EXITING', 'CPU_BASED_INVLPG_EXITING',
      'CPU_BASED_MWAIT_EXITING', 'CPU_BASED_RDPMC_EXITING', 'CPU_BASED_RDTSC_EXITING', 'CPU_BASED_CR8_LOAD_EXITING',
      'CPU_BASED_CR8_STORE_EXITING', 'CPU_BASED_NMI_WINDOW_EXITING', 'CPU_BASED_MOV_DR_EXITING', 'CPU_BASED_UNCOND_IO_EXITING',
      'CPU_BASED_USE_IO_BITMAPS', 'CPU_BASED_USE_MSR_BITMAPS', 'CPU_BASED_MONITOR_EXITING', 'CPU_BASED_PAUSE_EXITING',
    ],
    exit: ['VM_EXIT_HOST_ADDR_SPACE_SIZE', 'VM_EXIT_ACK_INTR_ON_EXIT'],
    entry: ['VM_ENTRY_IA32E_MODE'],
  },
  trueControls: false,
  insOutsInfo: false,
  noHwErrorCodeCheck: false,
  misc: {
    timerRate: 0, storeEferLma: false, activityHlt: true, activityShutdown: false, activityWaitSipi: false,
    cr3Targets: 4, maxMsrList: 0, vmwriteAnyField: false, zeroLengthInjection: false,
  },
  eptVpidCap: 0n,
  vmfunc: 0n,
};

export const VMX_MODELS: Readonly<Record<string, VmxModelSpec>> = {
  [DEFAULT_MODEL.name]: DEFAULT_MODEL,
  [CORE2_MODEL.name]: CORE2_MODEL,
};

/** Allowed-0 / allowed-1 settings of one 32-bit control vector, as numbers. */
export interface ControlCaps {
  /** Bits that must be 1. */
  readonly must1: number;
  /** Bits that may be 1. */
  readonly may1: number;
}

/**
 * Everything derived from a model, in the forms the hot paths and the entry checks want, plus the
 * MSR values.
 */
export class VmxCapabilities {
  readonly spec: VmxModelSpec;
  /** The settings VM entry checks against (TRUE forms when IA32_VMX_BASIC[55] = 1). */
  readonly pin: ControlCaps;
  readonly proc1: ControlCaps;
  /** All zero when secondary controls are not supported. */
  readonly proc2: ControlCaps;
  readonly exit: ControlCaps;
  readonly entry: ControlCaps;
  readonly cr0Fixed0 = 0x80000021 | 0;
  readonly cr0Fixed1 = 0xFFFFFFFF | 0;
  readonly cr4Fixed0 = K.CR4_VMXE;
  readonly cr4Fixed1 = CR4_VALID | K.CR4_VMXE;
  /** Which VMCS fields VMREAD/VMWRITE accept (by slot). */
  readonly fieldSupported: Uint8Array;
  /** MSR index -> value, only for the MSRs that exist on this model. */
  readonly msrs = new Map<number, bigint>();

  constructor(spec: VmxModelSpec) {
    this.spec = spec;
    const vec = (v: ControlVector, useTrue: boolean): ControlCaps => {
      let may1 = DEFAULT1_MASKS[v];
      for (const n of spec.allowed[v] ?? []) may1 |= controlMask(n);
      let must1 = DEFAULT1_MASKS[v];
      // TRUE forms: the named default1 controls (CR3-load/store exiting, save/load debug controls) may be 0
      if (useTrue) for (const c of CONTROLS_BY_VECTOR[v]) if (c.default1 && !c.reserved) must1 &= ~(1 << c.bit);
      return { must1: must1 | 0, may1: may1 | 0 };
    };
    const t = spec.trueControls;
    const secondary = (spec.allowed.proc1 ?? []).includes('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
    this.pin = vec('pin', t);
    this.proc1 = vec('proc1', t);
    this.proc2 = secondary ? vec('proc2', false) : { must1: 0, may1: 0 };
    this.exit = vec('exit', t);
    this.entry = vec('entry', t);
    const capMsr = (c: ControlCaps) => (BigInt(c.may1 >>> 0) << 32n) | BigInt(c.must1 >>> 0);
    const m = this.msrs;
    const basic = BigInt(spec.revisionId) | (4096n << 32n) | (6n << 50n) | (spec.insOutsInfo ? 1n << 54n : 0n) |
      (t ? 1n << 55n : 0n) | (spec.noHwErrorCodeCheck ? 1n << 56n : 0n);
    m.set(IA32_VMX_BASIC, basic);
    m.set(IA32_VMX_PINBASED_CTLS, capMsr(vec('pin', false)));
    m.set(IA32_VMX_PROCBASED_CTLS, capMsr(vec('proc1', false)));
    m.set(IA32_VMX_EXIT_CTLS, capMsr(vec('exit', false)));
    m.set(IA32_VMX_ENTRY_CTLS, capMsr(vec('entry', false)));
    if (t) {
      m.set(IA32_VMX_TRUE_PINBASED_CTLS, capMsr(this.pin));
      m.set(IA32_VMX_TRUE_PROCBASED_CTLS, capMsr(this.proc1));
      m.set(IA32_VMX_TRUE_EXIT_CTLS, capMsr(this.exit));
      m.set(IA32_VMX_TRUE_ENTRY_CTLS, capMsr(this.entry));
    }
    const mi = spec.misc;
    const misc = BigInt(mi.timerRate & 31) | (mi.storeEferLma ? 1n << 5n : 0n) | (mi.activityHlt ? 1n << 6n : 0n) |
      (mi.activityShutdown ? 1n << 7n : 0n) | (mi.activityWaitSipi ? 1n << 8n : 0n) | (BigInt(mi.cr3Targets) << 16n) |
      (BigInt(mi.maxMsrList & 7) << 25n) | (mi.vmwriteAnyField ? 1n << 29n : 0n) | (mi.zeroLengthInjection ? 1n << 30n : 0n);
    m.set(IA32_VMX_MISC, misc);
    m.set(IA32_VMX_CR0_FIXED0, BigInt(this.cr0Fixed0 >>> 0));
    m.set(IA32_VMX_CR0_FIXED1, BigInt(this.cr0Fixed1 >>> 0));
    m.set(IA32_VMX_CR4_FIXED0, BigInt(this.cr4Fixed0 >>> 0));
    m.set(IA32_VMX_CR4_FIXED1, BigInt(this.cr4Fixed1 >>> 0));
    if (secondary) m.set(IA32_VMX_PROCBASED_CTLS2, capMsr(this.proc2));
    if (this.allows2('SECONDARY_EXEC_ENABLE_EPT') || this.allows2('SECONDARY_EXEC_ENABLE_VPID')) m.set(IA32_VMX_EPT_VPID_CAP, spec.eptVpidCap);
    if (this.allows2('SECONDARY_EXEC_ENABLE_VMFUNC')) m.set(IA32_VMX_VMFUNC, spec.vmfunc);
    if (this.proc1.may1 & controlMask('CPU_BASED_ACTIVATE_TERTIARY_CONTROLS')) m.set(IA32_VMX_PROCBASED_CTLS3, 0n);
    if (this.exit.may1 & controlMask('VM_EXIT_ACTIVATE_SECONDARY_CONTROLS')) m.set(IA32_VMX_EXIT_CTLS2, 0n);

    // VMCS fields this model has: the architectural core set plus the fields of supported features
    this.fieldSupported = new Uint8Array(VMCS_FIELDS.length);
    let maxIndex = 0;
    VMCS_FIELDS.forEach((f, k) => {
      if (this.hasField(f)) {
        this.fieldSupported[k] = 1;
        maxIndex = Math.max(maxIndex, (f.encoding >>> 1) & 0x1FF);
      }
    });
    m.set(IA32_VMX_VMCS_ENUM, BigInt(maxIndex << 1));
  }

  get revisionId(): number {
    return this.spec.revisionId;
  }

  allows2(name: string): boolean {
    return (this.proc2.may1 & controlMask(name)) !== 0;
  }

  /** Misc: activity state n (1 HLT, 2 shutdown, 3 wait-for-SIPI) supported. */
  activitySupported(n: number): boolean {
    // every VM entry asks about the active state: answer it before reaching into the model
    if (n === 0) return true;
    const m = this.spec.misc;
    return (n === 1 && m.activityHlt) || (n === 2 && m.activityShutdown) || (n === 3 && m.activityWaitSipi);
  }

  /** Whether a field belongs to this model (fields of features it lacks: VMfailValid(12)). */
  private hasField(f: VmcsField): boolean {
    const p2 = (n: string) => this.allows2(n);
    switch (f.name) {
      case 'VIRTUAL_PROCESSOR_ID': return p2('SECONDARY_EXEC_ENABLE_VPID');
      case 'EPT_POINTER': case 'GUEST_PHYSICAL_ADDRESS': case 'GUEST_PDPTR0': case 'GUEST_PDPTR1': case 'GUEST_PDPTR2': case 'GUEST_PDPTR3':
        return p2('SECONDARY_EXEC_ENABLE_EPT');
      case 'EPTP_INDEX': case 'VE_INFORMATION_ADDRESS': return p2('SECONDARY_EXEC_EPT_VIOLATION_VE');
      case 'VM_FUNCTION_CONTROL': case 'EPTP_LIST_ADDRESS': return p2('SECONDARY_EXEC_ENABLE_VMFUNC');
      case 'PLE_GAP': case 'PLE_WINDOW': return p2('SECONDARY_EXEC_PAUSE_LOOP_EXITING');
      case 'VMREAD_BITMAP': case 'VMWRITE_BITMAP': return p2('SECONDARY_EXEC_SHADOW_VMCS');
      case 'APIC_ACCESS_ADDR': return p2('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES');
      case 'VMX_PREEMPTION_TIMER_VALUE': return (this.pin.may1 & controlMask('PIN_BASED_VMX_PREEMPTION_TIMER')) !== 0;
      case 'GUEST_IA32_PAT': return (this.entry.may1 & controlMask('VM_ENTRY_LOAD_IA32_PAT')) !== 0 || (this.exit.may1 & controlMask('VM_EXIT_SAVE_IA32_PAT')) !== 0;
      case 'HOST_IA32_PAT': return (this.exit.may1 & controlMask('VM_EXIT_LOAD_IA32_PAT')) !== 0;
      case 'GUEST_IA32_EFER': return (this.entry.may1 & controlMask('VM_ENTRY_LOAD_IA32_EFER')) !== 0 || (this.exit.may1 & controlMask('VM_EXIT_SAVE_IA32_EFER')) !== 0;
      case 'HOST_IA32_EFER': return (this.exit.may1 & controlMask('VM_EXIT_LOAD_IA32_EFER')) !== 0;
      case 'SECONDARY_VM_EXEC_CONTROL': return (this.proc1.may1 & controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')) !== 0;
    }
    // the architectural fields every VMX processor has (SDM Appendix B, first-generation set)
    return CORE_FIELDS.has(f.name);
  }
}

/** Fields of the first VMX processors: present on every model. */
const CORE_FIELDS = new Set<string>([
  'GUEST_ES_SELECTOR', 'GUEST_CS_SELECTOR', 'GUEST_SS_SELECTOR', 'GUEST_DS_SELECTOR', 'GUEST_FS_SELECTOR', 'GUEST_GS_SELECTOR',
  'GUEST_LDTR_SELECTOR', 'GUEST_TR_SELECTOR', 'HOST_ES_SELECTOR', 'HOST_CS_SELECTOR', 'HOST_SS_SELECTOR', 'HOST_DS_SELECTOR',
  'HOST_FS_SELECTOR', 'HOST_GS_SELECTOR', 'HOST_TR_SELECTOR', 'IO_BITMAP_A', 'IO_BITMAP_B', 'MSR_BITMAP',
  'VM_EXIT_MSR_STORE_ADDR', 'VM_EXIT_MSR_LOAD_ADDR', 'VM_ENTRY_MSR_LOAD_ADDR', 'EXECUTIVE_VMCS_POINTER', 'TSC_OFFSET',
  'VIRTUAL_APIC_PAGE_ADDR', 'VMCS_LINK_POINTER', 'GUEST_IA32_DEBUGCTL', 'PIN_BASED_VM_EXEC_CONTROL', 'CPU_BASED_VM_EXEC_CONTROL',
  'EXCEPTION_BITMAP', 'PAGE_FAULT_ERROR_CODE_MASK', 'PAGE_FAULT_ERROR_CODE_MATCH', 'CR3_TARGET_COUNT', 'VM_EXIT_CONTROLS',
  'VM_EXIT_MSR_STORE_COUNT', 'VM_EXIT_MSR_LOAD_COUNT', 'VM_ENTRY_CONTROLS', 'VM_ENTRY_MSR_LOAD_COUNT', 'VM_ENTRY_INTR_INFO_FIELD',
  'VM_ENTRY_EXCEPTION_ERROR_CODE', 'VM_ENTRY_INSTRUCTION_LEN', 'TPR_THRESHOLD', 'VM_INSTRUCTION_ERROR', 'VM_EXIT_REASON',
  'VM_EXIT_INTR_INFO', 'VM_EXIT_INTR_ERROR_CODE', 'IDT_VECTORING_INFO_FIELD', 'IDT_VECTORING_ERROR_CODE',
  'VM_EXIT_INSTRUCTION_LEN', 'VMX_INSTRUCTION_INFO', 'GUEST_ES_LIMIT', 'GUEST_CS_LIMIT', 'GUEST_SS_LIMIT', 'GUEST_DS_LIMIT',
  'GUEST_FS_LIMIT', 'GUEST_GS_LIMIT', 'GUEST_LDTR_LIMIT', 'GUEST_TR_LIMIT', 'GUEST_GDTR_LIMIT', 'GUEST_IDTR_LIMIT',
  'GUEST_ES_AR_BYTES', 'GUEST_CS_AR_BYTES', 'GUEST_SS_AR_BYTES', 'GUEST_DS_AR_BYTES', 'GUEST_FS_AR_BYTES', 'GUEST_GS_AR_BYTES',
  'GUEST_LDTR_AR_BYTES', 'GUEST_TR_AR_BYTES', 'GUEST_INTERRUPTIBILITY_INFO', 'GUEST_ACTIVITY_STATE', 'GUEST_SMBASE',
  'GUEST_SYSENTER_CS', 'HOST_IA32_SYSENTER_CS', 'CR0_GUEST_HOST_MASK', 'CR4_GUEST_HOST_MASK', 'CR0_READ_SHADOW',
  'CR4_READ_SHADOW', 'CR3_TARGET_VALUE0', 'CR3_TARGET_VALUE1', 'CR3_TARGET_VALUE2', 'CR3_TARGET_VALUE3',
  'EXIT_QUALIFICATION', 'IO_RCX', 'IO_RSI', 'IO_RDI', 'IO_RIP', 'GUEST_LINEAR_ADDRESS', 'GUEST_CR0', 'GUEST_CR3', 'GUEST_CR4',
  'GUEST_ES_BASE', 'GUEST_CS_BASE', 'GUEST_SS_BASE', 'GUEST_DS_BASE', 'GUEST_FS_BASE', 'GUEST_GS_BASE', 'GUEST_LDTR_BASE',
  'GUEST_TR_BASE', 'GUEST_GDTR_BASE', 'GUEST_IDTR_BASE', 'GUEST_DR7', 'GUEST_RSP', 'GUEST_RIP', 'GUEST_RFLAGS',
  'GUEST_PENDING_DBG_EXCEPTIONS', 'GUEST_SYSENTER_ESP', 'GUEST_SYSENTER_EIP', 'HOST_CR0', 'HOST_CR3', 'HOST_CR4',
  'HOST_FS_BASE', 'HOST_GS_BASE', 'HOST_TR_BASE', 'HOST_GDTR_BASE', 'HOST_IDTR_BASE', 'HOST_IA32_SYSENTER_ESP',
  'HOST_IA32_SYSENTER_EIP', 'HOST_RSP', 'HOST_RIP',
]);

export function vmxModel(name: string): VmxModelSpec {
  const m = VMX_MODELS[name];
  if (!m) throw new Error(`unknown VMX CPU model '${name}' (known: ${Object.keys(VMX_MODELS).join(', ')})`);
  return m;
}
