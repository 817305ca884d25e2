/**
 * Every VMCS field, by SDM area (SDM vol. 3C chapter 25 and Appendix B "Field Encoding in VMCS").
 *
 * Names follow Linux `enum vmcs_field` (arch/x86/include/asm/vmx.h) where Linux has one; otherwise the
 * name is taken from posted KVM patches, Bochs or kvm-unit-tests, in the same UPPER_SNAKE style.
 * 64-bit fields are listed once, by their FULL encoding; the HIGH encoding (enc | 1) is resolved by
 * `fieldByEncoding`. `type` is derived from encoding bits 11:10 and `width` is checked against bits
 * 14:13 when this module loads.
 */

import {
  VmcsFieldType,
  VmcsFieldWidth,
  encodingType,
  encodingWidth,
  formatEncoding,
  isValidEncoding,
} from './encoding';

export type VmcsArea =
  | 'guest-state'
  | 'host-state'
  | 'vm-execution-control'
  | 'vm-exit-control'
  | 'vm-entry-control'
  | 'vm-exit-information';

export const VMCS_AREAS: readonly VmcsArea[] = [
  'guest-state',
  'host-state',
  'vm-execution-control',
  'vm-exit-control',
  'vm-entry-control',
  'vm-exit-information',
];

/** SDM section titles of the six areas, for headings in views and dumps. */
export const VMCS_AREA_TITLES: Readonly<Record<VmcsArea, string>> = {
  'guest-state': 'Guest-state area',
  'host-state': 'Host-state area',
  'vm-execution-control': 'VM-execution control fields',
  'vm-exit-control': 'VM-exit control fields',
  'vm-entry-control': 'VM-entry control fields',
  'vm-exit-information': 'VM-exit information fields',
};

export interface VmcsField {
  readonly name: string;
  /** FULL encoding (bit 0 clear). */
  readonly encoding: number;
  readonly width: VmcsFieldWidth;
  /** From encoding bits 11:10. */
  readonly type: VmcsFieldType;
  readonly area: VmcsArea;
  readonly description: string;
  /** The value is a physical address of a VMX data structure (or, for GUEST_PHYSICAL_ADDRESS, a GPA). */
  readonly pointer?: true;
}

type Row = Omit<VmcsField, 'type'>;

// Helpers keep the table one row per line.
const P = { pointer: true } as const;
function g(name: string, encoding: number, width: VmcsFieldWidth, description: string, extra?: typeof P): Row {
  return { name, encoding, width, area: 'guest-state', description, ...extra };
}
function h(name: string, encoding: number, width: VmcsFieldWidth, description: string): Row {
  return { name, encoding, width, area: 'host-state', description };
}
function x(name: string, encoding: number, width: VmcsFieldWidth, description: string, extra?: typeof P): Row {
  return { name, encoding, width, area: 'vm-execution-control', description, ...extra };
}
function xe(name: string, encoding: number, width: VmcsFieldWidth, description: string, extra?: typeof P): Row {
  return { name, encoding, width, area: 'vm-exit-control', description, ...extra };
}
function en(name: string, encoding: number, width: VmcsFieldWidth, description: string, extra?: typeof P): Row {
  return { name, encoding, width, area: 'vm-entry-control', description, ...extra };
}
function i(name: string, encoding: number, width: VmcsFieldWidth, description: string, extra?: typeof P): Row {
  return { name, encoding, width, area: 'vm-exit-information', description, ...extra };
}

const ROWS: readonly Row[] = [
  // ---- 16-bit control fields ----
  x('VIRTUAL_PROCESSOR_ID', 0x0000, '16', 'Virtual-processor identifier (VPID)'),
  x('POSTED_INTR_NV', 0x0002, '16', 'Posted-interrupt notification vector'),
  x('EPTP_INDEX', 0x0004, '16', 'EPTP index (EPTP switching, #VE information)'),
  x('HLAT_PREFIX_SIZE', 0x0006, '16', 'HLAT prefix size'),
  x('LAST_PID_POINTER_INDEX', 0x0008, '16', 'Last PID-pointer index (IPI virtualization)'),
  // APIC-timer virtualization (Intel ISE, Bochs VMCS_16BIT_CONTROL_VIRTUAL_TIMER_VECTOR); not yet in the SDM proper.
  x('VIRTUAL_TIMER_VECTOR', 0x000a, '16', 'Virtual-timer vector (APIC-timer virtualization)'),

  // ---- 16-bit guest-state fields ----
  g('GUEST_ES_SELECTOR', 0x0800, '16', 'Guest ES selector'),
  g('GUEST_CS_SELECTOR', 0x0802, '16', 'Guest CS selector'),
  g('GUEST_SS_SELECTOR', 0x0804, '16', 'Guest SS selector'),
  g('GUEST_DS_SELECTOR', 0x0806, '16', 'Guest DS selector'),
  g('GUEST_FS_SELECTOR', 0x0808, '16', 'Guest FS selector'),
  g('GUEST_GS_SELECTOR', 0x080a, '16', 'Guest GS selector'),
  g('GUEST_LDTR_SELECTOR', 0x080c, '16', 'Guest LDTR selector'),
  g('GUEST_TR_SELECTOR', 0x080e, '16', 'Guest TR selector'),
  g('GUEST_INTR_STATUS', 0x0810, '16', 'Guest interrupt status (RVI bits 7:0, SVI bits 15:8)'),
  g('GUEST_PML_INDEX', 0x0812, '16', 'PML index (next page-modification-log entry)'),
  g('GUEST_UINV', 0x0814, '16', 'Guest user-interrupt notification vector (UINTR)'),

  // ---- 16-bit host-state fields ----
  h('HOST_ES_SELECTOR', 0x0c00, '16', 'Host ES selector'),
  h('HOST_CS_SELECTOR', 0x0c02, '16', 'Host CS selector'),
  h('HOST_SS_SELECTOR', 0x0c04, '16', 'Host SS selector'),
  h('HOST_DS_SELECTOR', 0x0c06, '16', 'Host DS selector'),
  h('HOST_FS_SELECTOR', 0x0c08, '16', 'Host FS selector'),
  h('HOST_GS_SELECTOR', 0x0c0a, '16', 'Host GS selector'),
  h('HOST_TR_SELECTOR', 0x0c0c, '16', 'Host TR selector'),

  // ---- 64-bit control fields ----
  x('IO_BITMAP_A', 0x2000, '64', 'Address of I/O bitmap A (ports 0000-7FFF)', P),
  x('IO_BITMAP_B', 0x2002, '64', 'Address of I/O bitmap B (ports 8000-FFFF)', P),
  x('MSR_BITMAP', 0x2004, '64', 'Address of MSR bitmaps', P),
  xe('VM_EXIT_MSR_STORE_ADDR', 0x2006, '64', 'VM-exit MSR-store address', P),
  xe('VM_EXIT_MSR_LOAD_ADDR', 0x2008, '64', 'VM-exit MSR-load address', P),
  en('VM_ENTRY_MSR_LOAD_ADDR', 0x200a, '64', 'VM-entry MSR-load address', P),
  x('EXECUTIVE_VMCS_POINTER', 0x200c, '64', 'Executive-VMCS pointer (dual-monitor treatment of SMM)', P),
  x('PML_ADDRESS', 0x200e, '64', 'PML address (page-modification log)', P),
  x('TSC_OFFSET', 0x2010, '64', 'TSC offset'),
  x('VIRTUAL_APIC_PAGE_ADDR', 0x2012, '64', 'Virtual-APIC address', P),
  x('APIC_ACCESS_ADDR', 0x2014, '64', 'APIC-access address', P),
  x('POSTED_INTR_DESC_ADDR', 0x2016, '64', 'Posted-interrupt descriptor address', P),
  x('VM_FUNCTION_CONTROL', 0x2018, '64', 'VM-function controls'),
  x('EPT_POINTER', 0x201a, '64', 'EPT pointer (EPTP)', P),
  x('EOI_EXIT_BITMAP0', 0x201c, '64', 'EOI-exit bitmap 0 (vectors 0-63)'),
  x('EOI_EXIT_BITMAP1', 0x201e, '64', 'EOI-exit bitmap 1 (vectors 64-127)'),
  x('EOI_EXIT_BITMAP2', 0x2020, '64', 'EOI-exit bitmap 2 (vectors 128-191)'),
  x('EOI_EXIT_BITMAP3', 0x2022, '64', 'EOI-exit bitmap 3 (vectors 192-255)'),
  x('EPTP_LIST_ADDRESS', 0x2024, '64', 'EPTP-list address (EPTP switching)', P),
  x('VMREAD_BITMAP', 0x2026, '64', 'VMREAD-bitmap address (VMCS shadowing)', P),
  x('VMWRITE_BITMAP', 0x2028, '64', 'VMWRITE-bitmap address (VMCS shadowing)', P),
  x('VE_INFORMATION_ADDRESS', 0x202a, '64', 'Virtualization-exception information address', P),
  // Not a pointer: the XSS-exiting bitmap is a 64-bit mask of IA32_XSS bits (SDM 25.6.20), not an address.
  x('XSS_EXIT_BITMAP', 0x202c, '64', 'XSS-exiting bitmap (IA32_XSS bits whose XSAVES/XRSTORS exit)'),
  x('ENCLS_EXITING_BITMAP', 0x202e, '64', 'ENCLS-exiting bitmap (one bit per ENCLS leaf)'),
  x('SPPT_POINTER', 0x2030, '64', 'Sub-page-permission-table pointer', P),
  x('TSC_MULTIPLIER', 0x2032, '64', 'TSC multiplier (TSC scaling)'),
  x('TERTIARY_VM_EXEC_CONTROL', 0x2034, '64', 'Tertiary processor-based VM-execution controls'),
  x('ENCLV_EXITING_BITMAP', 0x2036, '64', 'ENCLV-exiting bitmap (one bit per ENCLV leaf)'),
  x('LOW_PASID_DIRECTORY_ADDR', 0x2038, '64', 'Low PASID directory address (PASID translation)', P),
  x('HIGH_PASID_DIRECTORY_ADDR', 0x203a, '64', 'High PASID directory address (PASID translation)', P),
  x('SHARED_EPT_POINTER', 0x203c, '64', 'Shared EPT pointer (TDX)', P),
  x('PCONFIG_EXITING_BITMAP', 0x203e, '64', 'PCONFIG-exiting bitmap (one bit per PCONFIG leaf)'),
  x('HLAT_POINTER', 0x2040, '64', 'Hypervisor-managed linear-address translation pointer (HLATP)', P),
  x('PID_POINTER_TABLE', 0x2042, '64', 'PID-pointer table address (IPI virtualization)', P),
  xe('SECONDARY_VM_EXIT_CONTROLS', 0x2044, '64', 'Secondary VM-exit controls'),
  x('IA32_SPEC_CTRL_MASK', 0x204a, '64', 'IA32_SPEC_CTRL mask (IA32_SPEC_CTRL virtualization)'),
  x('IA32_SPEC_CTRL_SHADOW', 0x204c, '64', 'IA32_SPEC_CTRL shadow (IA32_SPEC_CTRL virtualization)'),
  x('GUEST_DEADLINE_VIR', 0x204e, '64', 'Virtual guest TSC deadline (APIC-timer virtualization)'),
  en('INJECTED_EVENT_DATA', 0x2052, '64', 'Injected-event data (FRED event injection)'),

  // ---- 64-bit read-only data fields ----
  i('GUEST_PHYSICAL_ADDRESS', 0x2400, '64', 'Guest-physical address of an EPT violation or misconfiguration', P),
  i('MSR_DATA', 0x2402, '64', 'MSR data (MSR-list / immediate-form MSR exits)'),
  i('ORIGINAL_EVENT_DATA', 0x2404, '64', 'Original-event data (FRED; event being delivered at exit)'),

  // ---- 64-bit guest-state fields ----
  g('VMCS_LINK_POINTER', 0x2800, '64', 'VMCS link pointer (shadow VMCS; all ones when unused)', P),
  g('GUEST_IA32_DEBUGCTL', 0x2802, '64', 'Guest IA32_DEBUGCTL'),
  g('GUEST_IA32_PAT', 0x2804, '64', 'Guest IA32_PAT'),
  g('GUEST_IA32_EFER', 0x2806, '64', 'Guest IA32_EFER'),
  g('GUEST_IA32_PERF_GLOBAL_CTRL', 0x2808, '64', 'Guest IA32_PERF_GLOBAL_CTRL'),
  g('GUEST_PDPTR0', 0x280a, '64', 'Guest PDPTE0 (PAE paging with EPT)'),
  g('GUEST_PDPTR1', 0x280c, '64', 'Guest PDPTE1'),
  g('GUEST_PDPTR2', 0x280e, '64', 'Guest PDPTE2'),
  g('GUEST_PDPTR3', 0x2810, '64', 'Guest PDPTE3'),
  g('GUEST_BNDCFGS', 0x2812, '64', 'Guest IA32_BNDCFGS'),
  g('GUEST_IA32_RTIT_CTL', 0x2814, '64', 'Guest IA32_RTIT_CTL'),
  g('GUEST_IA32_LBR_CTL', 0x2816, '64', 'Guest IA32_LBR_CTL'),
  g('GUEST_IA32_PKRS', 0x2818, '64', 'Guest IA32_PKRS'),
  g('GUEST_IA32_FRED_CONFIG', 0x281a, '64', 'Guest IA32_FRED_CONFIG'),
  g('GUEST_IA32_FRED_RSP1', 0x281c, '64', 'Guest IA32_FRED_RSP1'),
  g('GUEST_IA32_FRED_RSP2', 0x281e, '64', 'Guest IA32_FRED_RSP2'),
  g('GUEST_IA32_FRED_RSP3', 0x2820, '64', 'Guest IA32_FRED_RSP3'),
  g('GUEST_IA32_FRED_STKLVLS', 0x2822, '64', 'Guest IA32_FRED_STKLVLS'),
  g('GUEST_IA32_FRED_SSP1', 0x2824, '64', 'Guest IA32_FRED_SSP1'),
  g('GUEST_IA32_FRED_SSP2', 0x2826, '64', 'Guest IA32_FRED_SSP2'),
  g('GUEST_IA32_FRED_SSP3', 0x2828, '64', 'Guest IA32_FRED_SSP3'),
  // Guest/host IA32_SPEC_CTRL: Intel ISE ("load IA32_SPEC_CTRL" controls), Bochs cpu/vmx.h.
  g('GUEST_IA32_SPEC_CTRL', 0x282e, '64', 'Guest IA32_SPEC_CTRL'),
  g('GUEST_DEADLINE_PHY', 0x2830, '64', 'Guest physical TSC deadline (APIC-timer virtualization)'),

  // ---- 64-bit host-state fields ----
  h('HOST_IA32_PAT', 0x2c00, '64', 'Host IA32_PAT'),
  h('HOST_IA32_EFER', 0x2c02, '64', 'Host IA32_EFER'),
  h('HOST_IA32_PERF_GLOBAL_CTRL', 0x2c04, '64', 'Host IA32_PERF_GLOBAL_CTRL'),
  h('HOST_IA32_PKRS', 0x2c06, '64', 'Host IA32_PKRS'),
  h('HOST_IA32_FRED_CONFIG', 0x2c08, '64', 'Host IA32_FRED_CONFIG'),
  h('HOST_IA32_FRED_RSP1', 0x2c0a, '64', 'Host IA32_FRED_RSP1'),
  h('HOST_IA32_FRED_RSP2', 0x2c0c, '64', 'Host IA32_FRED_RSP2'),
  h('HOST_IA32_FRED_RSP3', 0x2c0e, '64', 'Host IA32_FRED_RSP3'),
  h('HOST_IA32_FRED_STKLVLS', 0x2c10, '64', 'Host IA32_FRED_STKLVLS'),
  h('HOST_IA32_FRED_SSP1', 0x2c12, '64', 'Host IA32_FRED_SSP1'),
  h('HOST_IA32_FRED_SSP2', 0x2c14, '64', 'Host IA32_FRED_SSP2'),
  h('HOST_IA32_FRED_SSP3', 0x2c16, '64', 'Host IA32_FRED_SSP3'),
  h('HOST_IA32_SPEC_CTRL', 0x2c1a, '64', 'Host IA32_SPEC_CTRL'),

  // ---- 32-bit control fields ----
  x('PIN_BASED_VM_EXEC_CONTROL', 0x4000, '32', 'Pin-based VM-execution controls'),
  x('CPU_BASED_VM_EXEC_CONTROL', 0x4002, '32', 'Primary processor-based VM-execution controls'),
  x('EXCEPTION_BITMAP', 0x4004, '32', 'Exception bitmap (bit n = exception vector n exits)'),
  x('PAGE_FAULT_ERROR_CODE_MASK', 0x4006, '32', 'Page-fault error-code mask'),
  x('PAGE_FAULT_ERROR_CODE_MATCH', 0x4008, '32', 'Page-fault error-code match'),
  x('CR3_TARGET_COUNT', 0x400a, '32', 'CR3-target count'),
  xe('VM_EXIT_CONTROLS', 0x400c, '32', 'Primary VM-exit controls'),
  xe('VM_EXIT_MSR_STORE_COUNT', 0x400e, '32', 'VM-exit MSR-store count'),
  xe('VM_EXIT_MSR_LOAD_COUNT', 0x4010, '32', 'VM-exit MSR-load count'),
  en('VM_ENTRY_CONTROLS', 0x4012, '32', 'VM-entry controls'),
  en('VM_ENTRY_MSR_LOAD_COUNT', 0x4014, '32', 'VM-entry MSR-load count'),
  en('VM_ENTRY_INTR_INFO_FIELD', 0x4016, '32', 'VM-entry interruption-information field'),
  en('VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018, '32', 'VM-entry exception error code'),
  en('VM_ENTRY_INSTRUCTION_LEN', 0x401a, '32', 'VM-entry instruction length'),
  x('TPR_THRESHOLD', 0x401c, '32', 'TPR threshold'),
  x('SECONDARY_VM_EXEC_CONTROL', 0x401e, '32', 'Secondary processor-based VM-execution controls'),
  x('PLE_GAP', 0x4020, '32', 'PAUSE-loop exiting gap'),
  x('PLE_WINDOW', 0x4022, '32', 'PAUSE-loop exiting window'),
  x('NOTIFY_WINDOW', 0x4024, '32', 'Instruction-timeout control (notify window)'),
  // [unsure in reference] SEAM only (Bochs VMCS_32BIT_CONTROL_SEAM_GUEST_KEYID). Decision: bits 11:10 = 0 make it a
  // control field; with no SDM grouping for it, it is placed with the VM-execution controls.
  x('SEAM_GUEST_KEYID', 0x4026, '32', 'Guest KeyID (SEAM / TDX module only)'),

  // ---- 32-bit read-only data fields ----
  i('VM_INSTRUCTION_ERROR', 0x4400, '32', 'VM-instruction error number'),
  i('VM_EXIT_REASON', 0x4402, '32', 'Exit reason'),
  i('VM_EXIT_INTR_INFO', 0x4404, '32', 'VM-exit interruption information'),
  i('VM_EXIT_INTR_ERROR_CODE', 0x4406, '32', 'VM-exit interruption error code'),
  i('IDT_VECTORING_INFO_FIELD', 0x4408, '32', 'IDT-vectoring information'),
  i('IDT_VECTORING_ERROR_CODE', 0x440a, '32', 'IDT-vectoring error code'),
  i('VM_EXIT_INSTRUCTION_LEN', 0x440c, '32', 'VM-exit instruction length'),
  i('VMX_INSTRUCTION_INFO', 0x440e, '32', 'VM-exit instruction information'),

  // ---- 32-bit guest-state fields ----
  g('GUEST_ES_LIMIT', 0x4800, '32', 'Guest ES limit'),
  g('GUEST_CS_LIMIT', 0x4802, '32', 'Guest CS limit'),
  g('GUEST_SS_LIMIT', 0x4804, '32', 'Guest SS limit'),
  g('GUEST_DS_LIMIT', 0x4806, '32', 'Guest DS limit'),
  g('GUEST_FS_LIMIT', 0x4808, '32', 'Guest FS limit'),
  g('GUEST_GS_LIMIT', 0x480a, '32', 'Guest GS limit'),
  g('GUEST_LDTR_LIMIT', 0x480c, '32', 'Guest LDTR limit'),
  g('GUEST_TR_LIMIT', 0x480e, '32', 'Guest TR limit'),
  g('GUEST_GDTR_LIMIT', 0x4810, '32', 'Guest GDTR limit'),
  g('GUEST_IDTR_LIMIT', 0x4812, '32', 'Guest IDTR limit'),
  g('GUEST_ES_AR_BYTES', 0x4814, '32', 'Guest ES access rights'),
  g('GUEST_CS_AR_BYTES', 0x4816, '32', 'Guest CS access rights'),
  g('GUEST_SS_AR_BYTES', 0x4818, '32', 'Guest SS access rights'),
  g('GUEST_DS_AR_BYTES', 0x481a, '32', 'Guest DS access rights'),
  g('GUEST_FS_AR_BYTES', 0x481c, '32', 'Guest FS access rights'),
  g('GUEST_GS_AR_BYTES', 0x481e, '32', 'Guest GS access rights'),
  g('GUEST_LDTR_AR_BYTES', 0x4820, '32', 'Guest LDTR access rights'),
  g('GUEST_TR_AR_BYTES', 0x4822, '32', 'Guest TR access rights'),
  g('GUEST_INTERRUPTIBILITY_INFO', 0x4824, '32', 'Guest interruptibility state'),
  g('GUEST_ACTIVITY_STATE', 0x4826, '32', 'Guest activity state (0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI)'),
  g('GUEST_SMBASE', 0x4828, '32', 'Guest SMBASE'),
  g('GUEST_SYSENTER_CS', 0x482a, '32', 'Guest IA32_SYSENTER_CS'),
  g('VMX_PREEMPTION_TIMER_VALUE', 0x482e, '32', 'VMX-preemption timer value'),

  // ---- 32-bit host-state field ----
  h('HOST_IA32_SYSENTER_CS', 0x4c00, '32', 'Host IA32_SYSENTER_CS'),

  // ---- natural-width control fields ----
  x('CR0_GUEST_HOST_MASK', 0x6000, 'natural', 'CR0 guest/host mask'),
  x('CR4_GUEST_HOST_MASK', 0x6002, 'natural', 'CR4 guest/host mask'),
  x('CR0_READ_SHADOW', 0x6004, 'natural', 'CR0 read shadow'),
  x('CR4_READ_SHADOW', 0x6006, 'natural', 'CR4 read shadow'),
  x('CR3_TARGET_VALUE0', 0x6008, 'natural', 'CR3-target value 0'),
  x('CR3_TARGET_VALUE1', 0x600a, 'natural', 'CR3-target value 1'),
  x('CR3_TARGET_VALUE2', 0x600c, 'natural', 'CR3-target value 2'),
  x('CR3_TARGET_VALUE3', 0x600e, 'natural', 'CR3-target value 3'),

  // ---- natural-width read-only data fields ----
  i('EXIT_QUALIFICATION', 0x6400, 'natural', 'Exit qualification'),
  i('IO_RCX', 0x6402, 'natural', 'I/O RCX (SMI after I/O, dual-monitor treatment only)'),
  i('IO_RSI', 0x6404, 'natural', 'I/O RSI (SMI after I/O, dual-monitor treatment only)'),
  i('IO_RDI', 0x6406, 'natural', 'I/O RDI (SMI after I/O, dual-monitor treatment only)'),
  i('IO_RIP', 0x6408, 'natural', 'I/O RIP (SMI after I/O, dual-monitor treatment only)'),
  i('GUEST_LINEAR_ADDRESS', 0x640a, 'natural', 'Guest-linear address'),

  // ---- natural-width guest-state fields ----
  g('GUEST_CR0', 0x6800, 'natural', 'Guest CR0'),
  g('GUEST_CR3', 0x6802, 'natural', 'Guest CR3'),
  g('GUEST_CR4', 0x6804, 'natural', 'Guest CR4'),
  g('GUEST_ES_BASE', 0x6806, 'natural', 'Guest ES base'),
  g('GUEST_CS_BASE', 0x6808, 'natural', 'Guest CS base'),
  g('GUEST_SS_BASE', 0x680a, 'natural', 'Guest SS base'),
  g('GUEST_DS_BASE', 0x680c, 'natural', 'Guest DS base'),
  g('GUEST_FS_BASE', 0x680e, 'natural', 'Guest FS base'),
  g('GUEST_GS_BASE', 0x6810, 'natural', 'Guest GS base'),
  g('GUEST_LDTR_BASE', 0x6812, 'natural', 'Guest LDTR base'),
  g('GUEST_TR_BASE', 0x6814, 'natural', 'Guest TR base'),
  g('GUEST_GDTR_BASE', 0x6816, 'natural', 'Guest GDTR base'),
  g('GUEST_IDTR_BASE', 0x6818, 'natural', 'Guest IDTR base'),
  g('GUEST_DR7', 0x681a, 'natural', 'Guest DR7'),
  g('GUEST_RSP', 0x681c, 'natural', 'Guest RSP'),
  g('GUEST_RIP', 0x681e, 'natural', 'Guest RIP'),
  g('GUEST_RFLAGS', 0x6820, 'natural', 'Guest RFLAGS'),
  g('GUEST_PENDING_DBG_EXCEPTIONS', 0x6822, 'natural', 'Guest pending debug exceptions'),
  g('GUEST_SYSENTER_ESP', 0x6824, 'natural', 'Guest IA32_SYSENTER_ESP'),
  g('GUEST_SYSENTER_EIP', 0x6826, 'natural', 'Guest IA32_SYSENTER_EIP'),
  g('GUEST_S_CET', 0x6828, 'natural', 'Guest IA32_S_CET'),
  g('GUEST_SSP', 0x682a, 'natural', 'Guest SSP (shadow-stack pointer)'),
  g('GUEST_INTR_SSP_TABLE', 0x682c, 'natural', 'Guest IA32_INTERRUPT_SSP_TABLE_ADDR'),

  // ---- natural-width host-state fields ----
  h('HOST_CR0', 0x6c00, 'natural', 'Host CR0'),
  h('HOST_CR3', 0x6c02, 'natural', 'Host CR3'),
  h('HOST_CR4', 0x6c04, 'natural', 'Host CR4'),
  h('HOST_FS_BASE', 0x6c06, 'natural', 'Host FS base'),
  h('HOST_GS_BASE', 0x6c08, 'natural', 'Host GS base'),
  h('HOST_TR_BASE', 0x6c0a, 'natural', 'Host TR base'),
  h('HOST_GDTR_BASE', 0x6c0c, 'natural', 'Host GDTR base'),
  h('HOST_IDTR_BASE', 0x6c0e, 'natural', 'Host IDTR base'),
  h('HOST_IA32_SYSENTER_ESP', 0x6c10, 'natural', 'Host IA32_SYSENTER_ESP'),
  h('HOST_IA32_SYSENTER_EIP', 0x6c12, 'natural', 'Host IA32_SYSENTER_EIP'),
  h('HOST_RSP', 0x6c14, 'natural', 'Host RSP'),
  h('HOST_RIP', 0x6c16, 'natural', 'Host RIP'),
  h('HOST_S_CET', 0x6c18, 'natural', 'Host IA32_S_CET'),
  h('HOST_SSP', 0x6c1a, 'natural', 'Host SSP (shadow-stack pointer)'),
  h('HOST_INTR_SSP_TABLE', 0x6c1c, 'natural', 'Host IA32_INTERRUPT_SSP_TABLE_ADDR'),
];

/** The encoding type that each area must have. */
const TYPE_OF_AREA: Readonly<Record<VmcsArea, VmcsFieldType>> = {
  'guest-state': 'guest',
  'host-state': 'host',
  'vm-execution-control': 'control',
  'vm-exit-control': 'control',
  'vm-entry-control': 'control',
  'vm-exit-information': 'exit-info',
};

function build(rows: readonly Row[]): readonly VmcsField[] {
  const names = new Set<string>();
  const encodings = new Set<number>();
  const out: VmcsField[] = [];
  for (const r of rows) {
    const where = `${r.name} (${formatEncoding(r.encoding)})`;
    if (!isValidEncoding(r.encoding) || (r.encoding & 1) !== 0) throw new Error(`VMCS field table: bad encoding for ${where}`);
    if (encodingWidth(r.encoding) !== r.width) throw new Error(`VMCS field table: width ${r.width} disagrees with encoding of ${where}`);
    const type = encodingType(r.encoding);
    if (TYPE_OF_AREA[r.area] !== type) throw new Error(`VMCS field table: area ${r.area} disagrees with type ${type} of ${where}`);
    if (names.has(r.name) || encodings.has(r.encoding)) throw new Error(`VMCS field table: duplicate ${where}`);
    names.add(r.name);
    encodings.add(r.encoding);
    out.push(Object.freeze({ ...r, type }));
  }
  return Object.freeze(out);
}

/** Every VMCS field, in encoding order within each width/type group (as in SDM Appendix B). */
export const VMCS_FIELDS: readonly VmcsField[] = build(ROWS);

const BY_ENCODING = new Map<number, VmcsField>(VMCS_FIELDS.map((f) => [f.encoding, f]));
const BY_NAME = new Map<string, VmcsField>(VMCS_FIELDS.map((f) => [f.name, f]));

export interface FieldLookup {
  readonly field: VmcsField;
  /** True for the HIGH access (enc | 1) of a 64-bit field: bits 63:32 read/written as 32 bits. */
  readonly high: boolean;
}

/**
 * Resolves an encoding to a field. Odd encodings resolve only for 64-bit fields (HIGH access);
 * anything else, including malformed encodings, gives undefined (VMREAD/VMWRITE: VMfailValid(12)).
 */
export function fieldByEncoding(enc: number | bigint): FieldLookup | undefined {
  if (!isValidEncoding(enc)) return undefined;
  const e = Number(enc);
  if ((e & 1) === 0) {
    const field = BY_ENCODING.get(e);
    return field ? { field, high: false } : undefined;
  }
  const field = BY_ENCODING.get(e & ~1);
  return field && field.width === '64' ? { field, high: true } : undefined;
}

/** Field by name; also accepts the Linux `<NAME>_HIGH` spelling of a 64-bit field's high half. */
export function fieldByName(name: string): FieldLookup | undefined {
  const field = BY_NAME.get(name);
  if (field) return { field, high: false };
  if (name.endsWith('_HIGH')) {
    const full = BY_NAME.get(name.slice(0, -5));
    if (full && full.width === '64') return { field: full, high: true };
  }
  return undefined;
}

/** Field by name, throwing when unknown (for code that names fields literally). */
export function vmcsField(name: string): VmcsField {
  const field = BY_NAME.get(name);
  if (!field) throw new Error(`unknown VMCS field ${name}`);
  return field;
}

/** FULL encoding of a field by name, throwing when unknown. */
export function fieldEncoding(name: string): number {
  return vmcsField(name).encoding;
}

export function fieldsInArea(area: VmcsArea): readonly VmcsField[] {
  return VMCS_FIELDS.filter((f) => f.area === area);
}

/** True for VM-exit information fields (VMWRITE needs IA32_VMX_MISC bit 29, else VMfailValid(13)). */
export function isReadOnlyField(field: VmcsField): boolean {
  return field.type === 'exit-info';
}

/** Highest index (encoding bits 9:1) used by any field: what IA32_VMX_VMCS_ENUM bits 9:1 report. */
export const VMCS_MAX_INDEX: number = VMCS_FIELDS.reduce((m, f) => Math.max(m, (f.encoding >>> 1) & 0x1ff), 0);
