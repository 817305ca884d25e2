/**
 * VMX capability MSRs 0x480-0x493 and IA32_FEATURE_CONTROL (0x3A) with their bit layouts
 * (SDM vol. 3C Appendix A, vol. 4 MSR tables). Names: SDM (`name`) and Linux msr-index.h (`linuxName`).
 */

import { BitField, DecodedField, checkLayout, decodeBitFields } from './bits';

export interface MsrBitField extends BitField {
  /** Linux macro or accessor for this bit/range, where one exists. */
  readonly linuxName?: string;
}

export interface VmxMsr {
  readonly index: number;
  readonly name: string;
  readonly linuxName: string;
  readonly description: string;
  /** When RDMSR does not #GP. */
  readonly presentIf: string;
  readonly fields: readonly MsrBitField[];
}

/** Allowed-0 / allowed-1 format of the 32-bit control-capability MSRs (SDM A.3-A.5). */
const CONTROL_CAP_FIELDS: readonly MsrBitField[] = [
  { name: 'allowed0', lo: 0, hi: 31, description: 'Allowed 0-settings: a 1 in bit n means control bit n must be 1' },
  { name: 'allowed1', lo: 32, hi: 63, description: 'Allowed 1-settings: a 0 in bit n+32 means control bit n must be 0' },
];

/** Allowed-1-only format of the 64-bit control-capability MSRs (tertiary, secondary exit). */
const ALLOWED1_FIELDS: readonly MsrBitField[] = [
  { name: 'allowed1', lo: 0, hi: 63, description: 'Bit n = 1: control bit n may be 1 (every bit may be 0)' },
];

const MEMORY_TYPES: Readonly<Record<number, string>> = { 0: 'UC', 6: 'WB' };

export const IA32_FEATURE_CONTROL = 0x03a;
export const IA32_VMX_BASIC = 0x480;
export const IA32_VMX_PINBASED_CTLS = 0x481;
export const IA32_VMX_PROCBASED_CTLS = 0x482;
export const IA32_VMX_EXIT_CTLS = 0x483;
export const IA32_VMX_ENTRY_CTLS = 0x484;
export const IA32_VMX_MISC = 0x485;
export const IA32_VMX_CR0_FIXED0 = 0x486;
export const IA32_VMX_CR0_FIXED1 = 0x487;
export const IA32_VMX_CR4_FIXED0 = 0x488;
export const IA32_VMX_CR4_FIXED1 = 0x489;
export const IA32_VMX_VMCS_ENUM = 0x48a;
export const IA32_VMX_PROCBASED_CTLS2 = 0x48b;
export const IA32_VMX_EPT_VPID_CAP = 0x48c;
export const IA32_VMX_TRUE_PINBASED_CTLS = 0x48d;
export const IA32_VMX_TRUE_PROCBASED_CTLS = 0x48e;
export const IA32_VMX_TRUE_EXIT_CTLS = 0x48f;
export const IA32_VMX_TRUE_ENTRY_CTLS = 0x490;
export const IA32_VMX_VMFUNC = 0x491;
export const IA32_VMX_PROCBASED_CTLS3 = 0x492;
export const IA32_VMX_EXIT_CTLS2 = 0x493;

export const VMX_MSRS: readonly VmxMsr[] = [
  {
    index: IA32_FEATURE_CONTROL, name: 'IA32_FEATURE_CONTROL', linuxName: 'MSR_IA32_FEAT_CTL',
    description: 'Feature control: lock and VMX/SMX/SGX/LMCE enables. VMXON #GP unless locked with the relevant VMX enable set; WRMSR #GP once locked',
    presentIf: 'always on VMX/SMX/LMCE-capable processors',
    fields: [
      { name: 'lock', lo: 0, hi: 0, description: 'Lock: further WRMSR #GP until reset', linuxName: 'FEAT_CTL_LOCKED' },
      { name: 'vmxInsideSmx', lo: 1, hi: 1, description: 'Enable VMX inside SMX operation', linuxName: 'FEAT_CTL_VMX_ENABLED_INSIDE_SMX' },
      { name: 'vmxOutsideSmx', lo: 2, hi: 2, description: 'Enable VMX outside SMX operation', linuxName: 'FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX' },
      { name: 'reserved3', lo: 3, hi: 7, description: 'Reserved', reserved: true },
      { name: 'senterLocalEnables', lo: 8, hi: 14, description: 'SENTER local function enables' },
      { name: 'senterGlobalEnable', lo: 15, hi: 15, description: 'SENTER global enable' },
      { name: 'reserved16', lo: 16, hi: 16, description: 'Reserved', reserved: true },
      { name: 'sgxLaunchControlEnable', lo: 17, hi: 17, description: 'SGX launch control enable', linuxName: 'FEAT_CTL_SGX_LC_ENABLED' },
      { name: 'sgxGlobalEnable', lo: 18, hi: 18, description: 'SGX global enable', linuxName: 'FEAT_CTL_SGX_ENABLED' },
      { name: 'reserved19', lo: 19, hi: 19, description: 'Reserved', reserved: true },
      { name: 'lmceOn', lo: 20, hi: 20, description: 'Local machine-check exceptions enabled', linuxName: 'FEAT_CTL_LMCE_ENABLED' },
    ],
  },
  {
    index: IA32_VMX_BASIC, name: 'IA32_VMX_BASIC', linuxName: 'MSR_IA32_VMX_BASIC',
    description: 'Basic VMX information: VMCS revision ID and size, memory type, TRUE-control support',
    presentIf: 'CPUID.1:ECX.VMX[bit 5] = 1',
    fields: [
      { name: 'vmcsRevisionId', lo: 0, hi: 30, description: 'VMCS revision identifier (first dword of VMXON region and VMCS)', linuxName: 'vmx_basic_vmcs_revision_id()' },
      { name: 'zero31', lo: 31, hi: 31, description: 'Always 0 (bit 31 of a VMCS first dword is the shadow-VMCS indicator)', reserved: true },
      { name: 'vmcsSize', lo: 32, hi: 44, description: 'Bytes to allocate for the VMXON region and a VMCS (at most 4096)', format: 'dec', linuxName: 'vmx_basic_vmcs_size()' },
      { name: 'reserved45', lo: 45, hi: 47, description: 'Reserved (0)', reserved: true },
      { name: 'physAddr32', lo: 48, hi: 48, description: 'VMXON/VMCS/bitmap physical addresses limited to 32 bits (0 on Intel 64 processors)', linuxName: 'VMX_BASIC_32BIT_PHYS_ADDR_ONLY' },
      { name: 'dualMonitor', lo: 49, hi: 49, description: 'Dual-monitor treatment of SMIs and SMM supported', linuxName: 'VMX_BASIC_DUAL_MONITOR_TREATMENT' },
      { name: 'memoryType', lo: 50, hi: 53, description: 'Memory type for VMCS and VMX data-structure accesses', values: MEMORY_TYPES, linuxName: 'vmx_basic_vmcs_mem_type()' },
      { name: 'insOutsInfo', lo: 54, hi: 54, description: 'VM exits for INS/OUTS report VM-exit instruction information', linuxName: 'VMX_BASIC_INOUT' },
      { name: 'trueControls', lo: 55, hi: 55, description: 'Default1 controls may be 0; the TRUE capability MSRs 0x48D-0x490 exist', linuxName: 'VMX_BASIC_TRUE_CTLS' },
      { name: 'noHwErrorCodeCheck', lo: 56, hi: 56, description: 'VM entry may inject a hardware exception with or without an error code regardless of vector', linuxName: 'VMX_BASIC_NO_HW_ERROR_CODE_CC' },
      { name: 'reserved57', lo: 57, hi: 57, description: 'Reserved (0)', reserved: true },
      { name: 'nestedException', lo: 58, hi: 58, description: 'VMX nested-exception support (interruption-information bit 13, FRED)', linuxName: 'VMX_BASIC_NESTED_EXCEPTION' },
      { name: 'reserved59', lo: 59, hi: 59, description: 'Reserved (0)', reserved: true },
      // [unsure in reference] Confirmed as Linux VMX_BASIC_NO_SEAMRET_INVD_VMCS BIT_ULL(60) in the TDX host series
      // (used by tdx.c to detect the SEAMRET-clears-current-VMCS erratum). Kept; only meaningful with TDX.
      { name: 'noSeamretInvdVmcs', lo: 60, hi: 60, description: 'SEAMRET does not invalidate the current VMCS (TDX)', linuxName: 'VMX_BASIC_NO_SEAMRET_INVD_VMCS' },
      { name: 'reserved61', lo: 61, hi: 63, description: 'Reserved (0)', reserved: true },
    ],
  },
  {
    index: IA32_VMX_PINBASED_CTLS, name: 'IA32_VMX_PINBASED_CTLS', linuxName: 'MSR_IA32_VMX_PINBASED_CTLS',
    description: 'Allowed settings of the pin-based controls (default1 bits 1, 2, 4 reported as must-be-1)',
    presentIf: 'VMX supported', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_PROCBASED_CTLS, name: 'IA32_VMX_PROCBASED_CTLS', linuxName: 'MSR_IA32_VMX_PROCBASED_CTLS',
    description: 'Allowed settings of the primary processor-based controls (default1 0x0401E172 must-be-1)',
    presentIf: 'VMX supported', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_EXIT_CTLS, name: 'IA32_VMX_EXIT_CTLS', linuxName: 'MSR_IA32_VMX_EXIT_CTLS',
    description: 'Allowed settings of the primary VM-exit controls (default1 0x00036DFF must-be-1)',
    presentIf: 'VMX supported', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_ENTRY_CTLS, name: 'IA32_VMX_ENTRY_CTLS', linuxName: 'MSR_IA32_VMX_ENTRY_CTLS',
    description: 'Allowed settings of the VM-entry controls (default1 0x000011FF must-be-1)',
    presentIf: 'VMX supported', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_MISC, name: 'IA32_VMX_MISC', linuxName: 'MSR_IA32_VMX_MISC',
    description: 'Miscellaneous VMX capabilities',
    presentIf: 'VMX supported',
    fields: [
      { name: 'preemptionTimerRate', lo: 0, hi: 4, description: 'The preemption timer ticks once every 2^N TSC increments', format: 'dec', linuxName: 'vmx_misc_preemption_timer_rate()' },
      { name: 'storeEferLma', lo: 5, hi: 5, description: 'VM exit stores EFER.LMA into the "IA-32e mode guest" entry control', linuxName: 'VMX_MISC_SAVE_EFER_LMA' },
      { name: 'activityHlt', lo: 6, hi: 6, description: 'Activity state HLT supported', linuxName: 'VMX_MISC_ACTIVITY_HLT' },
      { name: 'activityShutdown', lo: 7, hi: 7, description: 'Activity state shutdown supported', linuxName: 'VMX_MISC_ACTIVITY_SHUTDOWN' },
      { name: 'activityWaitSipi', lo: 8, hi: 8, description: 'Activity state wait-for-SIPI supported', linuxName: 'VMX_MISC_ACTIVITY_WAIT_SIPI' },
      { name: 'reserved9', lo: 9, hi: 13, description: 'Reserved (0)', reserved: true },
      { name: 'intelPt', lo: 14, hi: 14, description: 'Intel PT may be used in VMX operation', linuxName: 'VMX_MISC_INTEL_PT' },
      { name: 'rdmsrSmbase', lo: 15, hi: 15, description: 'RDMSR in SMM can read IA32_SMBASE', linuxName: 'VMX_MISC_RDMSR_IN_SMM' },
      { name: 'cr3TargetCount', lo: 16, hi: 24, description: 'Number of CR3-target values supported', format: 'dec', linuxName: 'vmx_misc_cr3_count()' },
      { name: 'maxMsrListSize', lo: 25, hi: 27, description: 'Recommended maximum MSR-list entries = 512 * (N + 1)', format: 'dec', linuxName: 'vmx_misc_max_msr()' },
      { name: 'smmMonitorCtlBit2', lo: 28, hi: 28, description: 'IA32_SMM_MONITOR_CTL bit 2 may be set (VMXOFF unblocks SMIs)', linuxName: 'VMX_MISC_VMXOFF_BLOCK_SMI' },
      { name: 'vmwriteAnyField', lo: 29, hi: 29, description: 'VMWRITE may write any field, including VM-exit information fields', linuxName: 'VMX_MISC_VMWRITE_SHADOW_RO_FIELDS' },
      { name: 'zeroLengthInjection', lo: 30, hi: 30, description: 'Software interrupt/exception injection with instruction length 0 allowed', linuxName: 'VMX_MISC_ZERO_LEN_INS' },
      { name: 'reserved31', lo: 31, hi: 31, description: 'Reserved (0)', reserved: true },
      { name: 'msegRevisionId', lo: 32, hi: 63, description: 'MSEG revision identifier', linuxName: 'vmx_misc_mseg_revid()' },
    ],
  },
  {
    index: IA32_VMX_CR0_FIXED0, name: 'IA32_VMX_CR0_FIXED0', linuxName: 'MSR_IA32_VMX_CR0_FIXED0',
    description: 'CR0 bits fixed to 1 in VMX operation (typically 0x80000021: PG, NE, PE)',
    presentIf: 'VMX supported',
    fields: [{ name: 'fixed1Bits', lo: 0, hi: 63, description: 'Bit n = 1: CR0 bit n must be 1' }],
  },
  {
    index: IA32_VMX_CR0_FIXED1, name: 'IA32_VMX_CR0_FIXED1', linuxName: 'MSR_IA32_VMX_CR0_FIXED1',
    description: 'CR0 bits that may be 1 in VMX operation (typically 0xFFFFFFFF)',
    presentIf: 'VMX supported',
    fields: [{ name: 'allowed1Bits', lo: 0, hi: 63, description: 'Bit n = 0: CR0 bit n must be 0' }],
  },
  {
    index: IA32_VMX_CR4_FIXED0, name: 'IA32_VMX_CR4_FIXED0', linuxName: 'MSR_IA32_VMX_CR4_FIXED0',
    description: 'CR4 bits fixed to 1 in VMX operation (typically 0x2000: VMXE)',
    presentIf: 'VMX supported',
    fields: [{ name: 'fixed1Bits', lo: 0, hi: 63, description: 'Bit n = 1: CR4 bit n must be 1' }],
  },
  {
    index: IA32_VMX_CR4_FIXED1, name: 'IA32_VMX_CR4_FIXED1', linuxName: 'MSR_IA32_VMX_CR4_FIXED1',
    description: 'CR4 bits that may be 1 in VMX operation',
    presentIf: 'VMX supported',
    fields: [{ name: 'allowed1Bits', lo: 0, hi: 63, description: 'Bit n = 0: CR4 bit n must be 0' }],
  },
  {
    index: IA32_VMX_VMCS_ENUM, name: 'IA32_VMX_VMCS_ENUM', linuxName: 'MSR_IA32_VMX_VMCS_ENUM',
    description: 'Highest index used in any VMCS field encoding',
    presentIf: 'VMX supported',
    fields: [
      { name: 'reserved0', lo: 0, hi: 0, description: 'Reserved (0)', reserved: true },
      { name: 'highestIndex', lo: 1, hi: 9, description: 'Highest index value used in any VMCS field encoding (bits 9:1)' },
      { name: 'reserved10', lo: 10, hi: 63, description: 'Reserved (0)', reserved: true },
    ],
  },
  {
    index: IA32_VMX_PROCBASED_CTLS2, name: 'IA32_VMX_PROCBASED_CTLS2', linuxName: 'MSR_IA32_VMX_PROCBASED_CTLS2',
    description: 'Allowed settings of the secondary processor-based controls (no default1 bits)',
    presentIf: 'IA32_VMX_PROCBASED_CTLS bit 63 = 1 (activate secondary controls may be 1)', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_EPT_VPID_CAP, name: 'IA32_VMX_EPT_VPID_CAP', linuxName: 'MSR_IA32_VMX_EPT_VPID_CAP',
    description: 'EPT and VPID capabilities',
    presentIf: 'IA32_VMX_PROCBASED_CTLS2 bit 33 (enable EPT) or bit 37 (enable VPID) = 1',
    fields: [
      { name: 'executeOnly', lo: 0, hi: 0, description: 'Execute-only EPT translations', linuxName: 'VMX_EPT_EXECUTE_ONLY_BIT' },
      { name: 'reserved1', lo: 1, hi: 5, description: 'Reserved', reserved: true },
      { name: 'pageWalk4', lo: 6, hi: 6, description: '4-level EPT page walk', linuxName: 'VMX_EPT_PAGE_WALK_4_BIT' },
      { name: 'pageWalk5', lo: 7, hi: 7, description: '5-level EPT page walk', linuxName: 'VMX_EPT_PAGE_WALK_5_BIT' },
      { name: 'memoryTypeUc', lo: 8, hi: 8, description: 'EPT paging structures may be UC', linuxName: 'VMX_EPTP_UC_BIT' },
      { name: 'reserved9', lo: 9, hi: 13, description: 'Reserved', reserved: true },
      { name: 'memoryTypeWb', lo: 14, hi: 14, description: 'EPT paging structures may be WB', linuxName: 'VMX_EPTP_WB_BIT' },
      { name: 'reserved15', lo: 15, hi: 15, description: 'Reserved', reserved: true },
      { name: 'pages2M', lo: 16, hi: 16, description: '2-MByte EPT pages', linuxName: 'VMX_EPT_2MB_PAGE_BIT' },
      { name: 'pages1G', lo: 17, hi: 17, description: '1-GByte EPT pages', linuxName: 'VMX_EPT_1GB_PAGE_BIT' },
      { name: 'reserved18', lo: 18, hi: 19, description: 'Reserved', reserved: true },
      { name: 'invept', lo: 20, hi: 20, description: 'INVEPT supported', linuxName: 'VMX_EPT_INVEPT_BIT' },
      { name: 'accessedDirty', lo: 21, hi: 21, description: 'EPT accessed and dirty flags', linuxName: 'VMX_EPT_AD_BIT' },
      { name: 'advancedExitInfo', lo: 22, hi: 22, description: 'Advanced VM-exit information for EPT violations (qualification bits 9-11)' },
      { name: 'supervisorShadowStack', lo: 23, hi: 23, description: 'Supervisor shadow-stack control (EPTP bit 7)' },
      { name: 'reserved24', lo: 24, hi: 24, description: 'Reserved', reserved: true },
      { name: 'inveptSingleContext', lo: 25, hi: 25, description: 'Single-context INVEPT', linuxName: 'VMX_EPT_EXTENT_CONTEXT_BIT' },
      { name: 'inveptAllContext', lo: 26, hi: 26, description: 'All-context INVEPT', linuxName: 'VMX_EPT_EXTENT_GLOBAL_BIT' },
      { name: 'reserved27', lo: 27, hi: 31, description: 'Reserved', reserved: true },
      { name: 'invvpid', lo: 32, hi: 32, description: 'INVVPID supported', linuxName: 'VMX_VPID_INVVPID_BIT' },
      { name: 'reserved33', lo: 33, hi: 39, description: 'Reserved', reserved: true },
      { name: 'invvpidIndividualAddress', lo: 40, hi: 40, description: 'INVVPID type 0 (individual address)', linuxName: 'VMX_VPID_EXTENT_INDIVIDUAL_ADDR_BIT' },
      { name: 'invvpidSingleContext', lo: 41, hi: 41, description: 'INVVPID type 1 (single context)', linuxName: 'VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT' },
      { name: 'invvpidAllContext', lo: 42, hi: 42, description: 'INVVPID type 2 (all contexts)', linuxName: 'VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT' },
      { name: 'invvpidSingleContextRetainGlobals', lo: 43, hi: 43, description: 'INVVPID type 3 (single context, retaining globals)', linuxName: 'VMX_VPID_EXTENT_SINGLE_NON_GLOBAL_BIT' },
      { name: 'reserved44', lo: 44, hi: 47, description: 'Reserved', reserved: true },
      // [unsure in reference about the width] Confirmed 6 bits (53:48) by ia32-doc's ia32_vmx_ept_vpid_cap
      // (max_hlat_prefix_size : 6 after 4 reserved bits from 44).
      { name: 'maxHlatPrefixSize', lo: 48, hi: 53, description: 'Maximum HLAT prefix size', format: 'dec' },
      { name: 'reserved54', lo: 54, hi: 63, description: 'Reserved', reserved: true },
    ],
  },
  {
    index: IA32_VMX_TRUE_PINBASED_CTLS, name: 'IA32_VMX_TRUE_PINBASED_CTLS', linuxName: 'MSR_IA32_VMX_TRUE_PINBASED_CTLS',
    description: 'Like IA32_VMX_PINBASED_CTLS, but the low word shows which default1 bits may really be 0',
    presentIf: 'IA32_VMX_BASIC bit 55 = 1', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_TRUE_PROCBASED_CTLS, name: 'IA32_VMX_TRUE_PROCBASED_CTLS', linuxName: 'MSR_IA32_VMX_TRUE_PROCBASED_CTLS',
    description: 'Like IA32_VMX_PROCBASED_CTLS (CR3-load/store exiting typically clearable)',
    presentIf: 'IA32_VMX_BASIC bit 55 = 1', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_TRUE_EXIT_CTLS, name: 'IA32_VMX_TRUE_EXIT_CTLS', linuxName: 'MSR_IA32_VMX_TRUE_EXIT_CTLS',
    description: 'Like IA32_VMX_EXIT_CTLS (save debug controls typically clearable)',
    presentIf: 'IA32_VMX_BASIC bit 55 = 1', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_TRUE_ENTRY_CTLS, name: 'IA32_VMX_TRUE_ENTRY_CTLS', linuxName: 'MSR_IA32_VMX_TRUE_ENTRY_CTLS',
    description: 'Like IA32_VMX_ENTRY_CTLS (load debug controls typically clearable)',
    presentIf: 'IA32_VMX_BASIC bit 55 = 1', fields: CONTROL_CAP_FIELDS,
  },
  {
    index: IA32_VMX_VMFUNC, name: 'IA32_VMX_VMFUNC', linuxName: 'MSR_IA32_VMX_VMFUNC',
    description: 'VM functions that may be enabled',
    presentIf: 'IA32_VMX_PROCBASED_CTLS2 bit 45 (enable VM functions) = 1',
    fields: [
      { name: 'eptpSwitching', lo: 0, hi: 0, description: 'VM function 0 (EPTP switching) may be enabled' },
      { name: 'otherFunctions', lo: 1, hi: 63, description: 'Bit n = 1: VM function n may be enabled' },
    ],
  },
  {
    index: IA32_VMX_PROCBASED_CTLS3, name: 'IA32_VMX_PROCBASED_CTLS3', linuxName: 'MSR_IA32_VMX_PROCBASED_CTLS3',
    description: 'Allowed 1-settings of the 64-bit tertiary processor-based controls',
    presentIf: 'IA32_VMX_PROCBASED_CTLS bit 49 = 1 (activate tertiary controls may be 1)', fields: ALLOWED1_FIELDS,
  },
  {
    index: IA32_VMX_EXIT_CTLS2, name: 'IA32_VMX_EXIT_CTLS2', linuxName: 'MSR_IA32_VMX_EXIT_CTLS2',
    description: 'Allowed 1-settings of the 64-bit secondary VM-exit controls',
    presentIf: 'IA32_VMX_EXIT_CTLS bit 63 = 1 (activate secondary controls may be 1)', fields: ALLOWED1_FIELDS,
  },
];

for (const m of VMX_MSRS) checkLayout(m.name, m.fields);

const BY_INDEX = new Map<number, VmxMsr>(VMX_MSRS.map((m) => [m.index, m]));
const BY_NAME = new Map<string, VmxMsr>(VMX_MSRS.flatMap((m) => [[m.name, m], [m.linuxName, m]]));

/** The VMX capability MSR range (inclusive). */
export const VMX_CAPABILITY_MSR_FIRST = IA32_VMX_BASIC;
export const VMX_CAPABILITY_MSR_LAST = IA32_VMX_EXIT_CTLS2;

export function msrByIndex(index: number): VmxMsr | undefined {
  return BY_INDEX.get(index);
}

/** Accepts the SDM name (IA32_VMX_BASIC) or the Linux name (MSR_IA32_VMX_BASIC). */
export function msrByName(name: string): VmxMsr | undefined {
  return BY_NAME.get(name);
}

export function isVmxCapabilityMsr(index: number): boolean {
  return index >= VMX_CAPABILITY_MSR_FIRST && index <= VMX_CAPABILITY_MSR_LAST;
}

/** Field of an MSR by name, throwing when unknown. */
export function msrField(msr: VmxMsr | number, fieldName: string): MsrBitField {
  const m = typeof msr === 'number' ? BY_INDEX.get(msr) : msr;
  const f = m?.fields.find((x) => x.name === fieldName);
  if (!m || !f) throw new Error(`unknown MSR field ${fieldName}`);
  return f;
}

/** Decodes an MSR value by its layout; undefined for an MSR not in this table. */
export function decodeMsr(index: number, value: bigint): DecodedField[] | undefined {
  const m = BY_INDEX.get(index);
  return m ? decodeBitFields(m.fields, value) : undefined;
}
