/**
 * One test per VM-entry check of ../shared/reference/vmx/entry-checks.md: a valid VMCS with exactly
 * one violation must fail with the SDM's result and name the check.
 */
import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, MSR_AREA, VmxHost } from './harness';

type Expect = 'fail7' | 'fail8' | `exit33:${number}` | `exit34:${number}`;

interface Case {
  id: string;
  what: string;
  mutate: (f: Fields, h: VmxHost) => void;
  expect: Expect;
  model?: string;
}

const or = (f: Fields, name: string, bits: number | bigint) => f.set(name, (f.get(name) ?? 0n) | BigInt(bits));
const andNot = (f: Fields, name: string, bits: number | bigint) => f.set(name, (f.get(name) ?? 0n) & ~BigInt(bits));
const set = (f: Fields, name: string, v: number | bigint) => f.set(name, BigInt(v));
const ctl = (n: string) => controlMask(n) >>> 0;
const P1 = 'CPU_BASED_VM_EXEC_CONTROL', P2 = 'SECONDARY_VM_EXEC_CONTROL', PIN = 'PIN_BASED_VM_EXEC_CONTROL';
const EXITC = 'VM_EXIT_CONTROLS', ENTRYC = 'VM_ENTRY_CONTROLS';
const secondary = (f: Fields, bits: number) => { or(f, P1, ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')); or(f, P2, bits); };
const inject = (f: Fields, info: number) => set(f, 'VM_ENTRY_INTR_INFO_FIELD', (info | 0x80000000) >>> 0);
/** "enable EPT" with a valid EPTP (WB, 4-level walk), so only the check under test can fail. */
const ept = (f: Fields) => { secondary(f, ctl('SECONDARY_EXEC_ENABLE_EPT')); set(f, 'EPT_POINTER', 0x80001E); };
/** "enable VM functions" with these VM-function controls and EPTP-list address. */
const vmfunc = (f: Fields, fc: bigint, list: bigint) => { secondary(f, ctl('SECONDARY_EXEC_ENABLE_VMFUNC')); set(f, 'VM_FUNCTION_CONTROL', fc); set(f, 'EPTP_LIST_ADDRESS', list); };

/** "VMCS shadowing" with these VMREAD/VMWRITE bitmap addresses. */
const shadowing = (f: Fields, read: number | bigint, write: number | bigint) => { secondary(f, ctl('SECONDARY_EXEC_SHADOW_VMCS')); set(f, 'VMREAD_BITMAP', read); set(f, 'VMWRITE_BITMAP', write); };

/** "use TPR shadow" with this virtual-APIC address and TPR threshold (the page at 0x49000 is zero: VTPR 0). */
const tpr = (f: Fields, vapic: number | bigint, threshold: number) => { or(f, P1, ctl('CPU_BASED_TPR_SHADOW')); set(f, 'VIRTUAL_APIC_PAGE_ADDR', vapic); set(f, 'TPR_THRESHOLD', threshold); };

const CASES: Case[] = [
  // ---- B: controls ----
  { id: 'B1', what: 'pin-based default1 bit cleared', mutate: (f) => andNot(f, PIN, 0x16), expect: 'fail7' },
  { id: 'B1', what: 'posted interrupts (not supported)', mutate: (f) => or(f, PIN, ctl('PIN_BASED_POSTED_INTR')), expect: 'fail7' },
  { id: 'B2', what: 'monitor trap flag (core2: not supported)', mutate: (f) => or(f, P1, ctl('CPU_BASED_MONITOR_TRAP_FLAG')), expect: 'fail7', model: 'core2-no-ug' },
  { id: 'B2', what: 'CR3-load exiting required without TRUE MSRs', mutate: (f) => andNot(f, P1, ctl('CPU_BASED_CR3_LOAD_EXITING')), expect: 'fail7', model: 'core2-no-ug' },
  { id: 'B2', what: 'virtualize APIC accesses (core2: no secondary controls)', mutate: (f) => secondary(f, ctl('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES')), expect: 'fail7', model: 'core2-no-ug' },
  { id: 'B3', what: 'APIC-register virtualization (not supported)', mutate: (f) => { tpr(f, 0x49000, 0); secondary(f, ctl('SECONDARY_EXEC_APIC_REGISTER_VIRT')); }, expect: 'fail7' },
  // B15 cannot be reached alone: no model allows "virtualize x2APIC mode", so B3 refuses it first
  { id: 'B3', what: 'virtualize x2APIC mode with virtualize APIC accesses (x2APIC mode not supported)', mutate: (f) => { tpr(f, 0x49000, 0); secondary(f, ctl('SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE') | ctl('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES')); set(f, 'APIC_ACCESS_ADDR', 0x4A000); }, expect: 'fail7' },
  { id: 'B14', what: 'APIC-access address not 4-KiB aligned', mutate: (f) => { secondary(f, ctl('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES')); set(f, 'APIC_ACCESS_ADDR', 0x4A010); }, expect: 'fail7' },
  { id: 'B14', what: 'APIC-access address beyond MAXPHYADDR', mutate: (f) => { secondary(f, ctl('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES')); set(f, 'APIC_ACCESS_ADDR', 2n ** 40n); }, expect: 'fail7' },
  { id: 'B3', what: 'mode-based execute control (not supported)', mutate: (f) => secondary(f, ctl('SECONDARY_EXEC_MODE_BASED_EPT_EXEC')), expect: 'fail7' },
  { id: 'B5', what: 'CR3-target count 5', mutate: (f) => set(f, 'CR3_TARGET_COUNT', 5), expect: 'fail7' },
  { id: 'B6', what: 'I/O bitmap A unaligned', mutate: (f) => { or(f, P1, ctl('CPU_BASED_USE_IO_BITMAPS')); set(f, 'IO_BITMAP_A', 0x43010); set(f, 'IO_BITMAP_B', 0x44000); }, expect: 'fail7' },
  { id: 'B6', what: 'I/O bitmap B beyond MAXPHYADDR', mutate: (f) => { or(f, P1, ctl('CPU_BASED_USE_IO_BITMAPS')); set(f, 'IO_BITMAP_A', 0x43000); set(f, 'IO_BITMAP_B', 2n ** 40n); }, expect: 'fail7' },
  { id: 'B7', what: 'MSR bitmap unaligned', mutate: (f) => { or(f, P1, ctl('CPU_BASED_USE_MSR_BITMAPS')); set(f, 'MSR_BITMAP', 0x45800); }, expect: 'fail7' },
  { id: 'B2', what: 'use TPR shadow (core2 model: not reported)', mutate: (f) => tpr(f, 0x49000, 0), expect: 'fail7', model: 'core2-no-ug' },
  { id: 'B8', what: 'virtual-APIC address unaligned', mutate: (f) => tpr(f, 0x49010, 0), expect: 'fail7' },
  { id: 'B8', what: 'virtual-APIC address beyond MAXPHYADDR', mutate: (f) => tpr(f, 2n ** 40n, 0), expect: 'fail7' },
  { id: 'B9', what: 'TPR threshold bit 4 set', mutate: (f) => tpr(f, 0x49000, 0x10), expect: 'fail7' },
  { id: 'B10', what: 'TPR threshold 1 above VTPR[7:4] = 0', mutate: (f) => tpr(f, 0x49000, 1), expect: 'fail7' },
  { id: 'B12', what: 'virtual NMIs without NMI exiting', mutate: (f) => or(f, PIN, ctl('PIN_BASED_VIRTUAL_NMIS')), expect: 'fail7' },
  { id: 'B13', what: 'NMI-window exiting without virtual NMIs', mutate: (f) => or(f, P1, ctl('CPU_BASED_NMI_WINDOW_EXITING')), expect: 'fail7' },
  { id: 'B18', what: 'enable VPID with VPID 0', mutate: (f) => { secondary(f, ctl('SECONDARY_EXEC_ENABLE_VPID')); set(f, 'VIRTUAL_PROCESSOR_ID', 0); }, expect: 'fail7' },
  { id: 'B24', what: 'VM-function control bit 1 (IA32_VMX_VMFUNC allows bit 0 only)', mutate: (f) => { ept(f); vmfunc(f, 3n, 0x4C000n); }, expect: 'fail7' },
  { id: 'B24', what: 'VM-function control bit 63', mutate: (f) => { ept(f); vmfunc(f, 1n << 63n, 0x4C000n); }, expect: 'fail7' },
  { id: 'B24', what: 'EPTP switching with "enable EPT" = 0', mutate: (f) => vmfunc(f, 1n, 0x4C000n), expect: 'fail7' },
  { id: 'B24', what: 'EPTP-list address not 4-KiB aligned', mutate: (f) => { ept(f); vmfunc(f, 1n, 0x4C008n); }, expect: 'fail7' },
  { id: 'B24', what: 'EPTP-list address beyond MAXPHYADDR', mutate: (f) => { ept(f); vmfunc(f, 1n, 2n ** 39n); }, expect: 'fail7' },
  { id: 'B25', what: 'VMREAD-bitmap address not 4-KiB aligned', mutate: (f) => shadowing(f, 0x4D008, 0x4E000), expect: 'fail7' },
  { id: 'B25', what: 'VMWRITE-bitmap address not 4-KiB aligned', mutate: (f) => shadowing(f, 0x4D000, 0x4E800), expect: 'fail7' },
  { id: 'B25', what: 'VMREAD-bitmap address beyond MAXPHYADDR', mutate: (f) => shadowing(f, 2n ** 40n, 0x4E000), expect: 'fail7' },
  { id: 'B25', what: 'VMWRITE-bitmap address beyond MAXPHYADDR', mutate: (f) => shadowing(f, 0x4D000, 2n ** 39n), expect: 'fail7' },
  { id: 'B31', what: 'exit default1 bit cleared', mutate: (f) => andNot(f, EXITC, 1), expect: 'fail7' },
  { id: 'B31', what: 'load PERF_GLOBAL_CTRL on exit (not supported)', mutate: (f) => or(f, EXITC, ctl('VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL')), expect: 'fail7' },
  { id: 'B33', what: 'save preemption timer without the timer', mutate: (f) => or(f, EXITC, ctl('VM_EXIT_SAVE_VMX_PREEMPTION_TIMER')), expect: 'fail7' },
  { id: 'B34', what: 'MSR-store address not 16-byte aligned', mutate: (f) => { set(f, 'VM_EXIT_MSR_STORE_COUNT', 1); set(f, 'VM_EXIT_MSR_STORE_ADDR', MSR_AREA + 8); }, expect: 'fail7' },
  { id: 'B35', what: 'exit MSR-load list beyond MAXPHYADDR', mutate: (f) => { set(f, 'VM_EXIT_MSR_LOAD_COUNT', 2); set(f, 'VM_EXIT_MSR_LOAD_ADDR', 2n ** 39n - 16n); }, expect: 'fail7' },
  { id: 'B37', what: 'entry default1 bit cleared', mutate: (f) => andNot(f, ENTRYC, 1), expect: 'fail7' },
  { id: 'B37', what: 'entry to SMM (not allowed)', mutate: (f) => or(f, ENTRYC, ctl('VM_ENTRY_SMM')), expect: 'fail7' },
  { id: 'B39', what: 'entry MSR-load address unaligned', mutate: (f) => { set(f, 'VM_ENTRY_MSR_LOAD_COUNT', 1); set(f, 'VM_ENTRY_MSR_LOAD_ADDR', MSR_AREA + 4); }, expect: 'fail7' },
  { id: 'B40', what: 'reserved interruption type 1', mutate: (f) => inject(f, (1 << 8) | 32), expect: 'fail7' },
  { id: 'B40', what: 'type 7 without MTF support (core2)', mutate: (f) => inject(f, 7 << 8), expect: 'fail7', model: 'core2-no-ug' },
  { id: 'B41', what: 'NMI with vector 3', mutate: (f) => inject(f, (2 << 8) | 3), expect: 'fail7' },
  { id: 'B42', what: 'hardware exception vector 32', mutate: (f) => inject(f, (3 << 8) | 32), expect: 'fail7' },
  { id: 'B43', what: 'pending MTF VM exit (type 7) with vector 1', mutate: (f) => inject(f, (7 << 8) | 1), expect: 'fail7' },
  { id: 'B44', what: '#GP without deliver-error-code', mutate: (f) => inject(f, (3 << 8) | 13), expect: 'fail7' },
  { id: 'B44', what: '#UD with deliver-error-code', mutate: (f) => inject(f, (3 << 8) | 6 | 0x800), expect: 'fail7' },
  { id: 'B45', what: 'reserved bit 12 set', mutate: (f) => inject(f, 0x1000 | 32), expect: 'fail7' },
  { id: 'B46', what: 'error code bits 31:16', mutate: (f) => { inject(f, (3 << 8) | 13 | 0x800); set(f, 'VM_ENTRY_EXCEPTION_ERROR_CODE', 0x10000); }, expect: 'fail7' },
  { id: 'B47', what: 'software interrupt with length 16', mutate: (f) => { inject(f, (4 << 8) | 0x30); set(f, 'VM_ENTRY_INSTRUCTION_LEN', 16); }, expect: 'fail7' },
  { id: 'B47', what: 'software exception with length 0 (core2: MISC[30] = 0)', mutate: (f) => { inject(f, (6 << 8) | 3); set(f, 'VM_ENTRY_INSTRUCTION_LEN', 0); }, expect: 'fail7', model: 'core2-no-ug' },
  // ---- C: host state ----
  { id: 'C2', what: 'host address-space size 0 in IA-32e mode', mutate: (f) => { andNot(f, EXITC, ctl('VM_EXIT_HOST_ADDR_SPACE_SIZE')); andNot(f, ENTRYC, ctl('VM_ENTRY_IA32E_MODE')); }, expect: 'fail8' },
  { id: 'C4', what: 'HOST_CR4.PAE = 0', mutate: (f) => andNot(f, 'HOST_CR4', 0x20), expect: 'fail8' },
  { id: 'C4', what: 'HOST_RIP not canonical', mutate: (f) => set(f, 'HOST_RIP', 0x0000800000000000n), expect: 'fail8' },
  { id: 'C5', what: 'HOST_CR0.NE = 0', mutate: (f) => andNot(f, 'HOST_CR0', 0x20), expect: 'fail8' },
  { id: 'C6', what: 'HOST_CR4.VMXE = 0', mutate: (f) => andNot(f, 'HOST_CR4', 0x2000), expect: 'fail8' },
  { id: 'C7', what: 'HOST_CR3 beyond MAXPHYADDR', mutate: (f) => set(f, 'HOST_CR3', 2n ** 40n), expect: 'fail8' },
  { id: 'C8', what: 'HOST_IA32_SYSENTER_EIP not canonical', mutate: (f) => set(f, 'HOST_IA32_SYSENTER_EIP', 0x8000000000000000n), expect: 'fail8' },
  { id: 'C10', what: 'host PAT memory type 2', mutate: (f) => { or(f, EXITC, ctl('VM_EXIT_LOAD_IA32_PAT')); set(f, 'HOST_IA32_PAT', 0x0007040600070402n); }, expect: 'fail8' },
  { id: 'C11', what: 'host EFER.LMA = 0 with a 64-bit host', mutate: (f) => { or(f, EXITC, ctl('VM_EXIT_LOAD_IA32_EFER')); set(f, 'HOST_IA32_EFER', 0x100); }, expect: 'fail8' },
  { id: 'C17', what: 'HOST_DS_SELECTOR with RPL 3', mutate: (f) => set(f, 'HOST_DS_SELECTOR', 0x13), expect: 'fail8' },
  { id: 'C18', what: 'null HOST_CS_SELECTOR', mutate: (f) => set(f, 'HOST_CS_SELECTOR', 0), expect: 'fail8' },
  { id: 'C19', what: 'null HOST_TR_SELECTOR', mutate: (f) => set(f, 'HOST_TR_SELECTOR', 0), expect: 'fail8' },
  { id: 'C21', what: 'HOST_GS_BASE not canonical', mutate: (f) => set(f, 'HOST_GS_BASE', 0x0001000000000000n), expect: 'fail8' },
  // ---- D: guest state ----
  { id: 'D1', what: 'GUEST_CR0.PG = 0 (not exempt without unrestricted guest)', mutate: (f) => andNot(f, 'GUEST_CR0', 0x80000000), expect: 'exit33:0' },
  { id: 'D3', what: 'GUEST_CR4.VMXE = 0', mutate: (f) => andNot(f, 'GUEST_CR4', 0x2000), expect: 'exit33:0' },
  { id: 'D4', what: 'IA-32e guest without CR4.PAE', mutate: (f) => andNot(f, 'GUEST_CR4', 0x20), expect: 'exit33:0' },
  { id: 'D5', what: 'CR4.PCIDE outside IA-32e mode', mutate: (f) => { andNot(f, ENTRYC, ctl('VM_ENTRY_IA32E_MODE')); or(f, 'GUEST_CR4', 0x20000); }, expect: 'exit33:0' },
  { id: 'D6', what: 'GUEST_CR3 beyond MAXPHYADDR', mutate: (f) => set(f, 'GUEST_CR3', 2n ** 41n), expect: 'exit33:0' },
  { id: 'D8', what: 'GUEST_DR7 bits 63:32', mutate: (f) => { or(f, ENTRYC, ctl('VM_ENTRY_LOAD_DEBUG_CONTROLS')); set(f, 'GUEST_DR7', 2n ** 32n + 0x400n); }, expect: 'exit33:0' },
  { id: 'D9', what: 'GUEST_SYSENTER_ESP not canonical', mutate: (f) => set(f, 'GUEST_SYSENTER_ESP', 0x0000800000000000n), expect: 'exit33:0' },
  { id: 'D11', what: 'guest PAT memory type 3', mutate: (f) => { or(f, ENTRYC, ctl('VM_ENTRY_LOAD_IA32_PAT')); set(f, 'GUEST_IA32_PAT', 0x03n); }, expect: 'exit33:0' },
  { id: 'D12', what: 'guest EFER.LMA differs from IA-32e mode guest', mutate: (f) => { or(f, ENTRYC, ctl('VM_ENTRY_LOAD_IA32_EFER')); set(f, 'GUEST_IA32_EFER', 0x100); }, expect: 'exit33:0' },
  { id: 'D20', what: 'TR selector with TI', mutate: (f) => set(f, 'GUEST_TR_SELECTOR', 0x1C), expect: 'exit33:0' },
  { id: 'D21', what: 'usable LDTR with TI', mutate: (f) => { set(f, 'GUEST_LDTR_SELECTOR', 0x24); set(f, 'GUEST_LDTR_AR_BYTES', 0x82); set(f, 'GUEST_LDTR_LIMIT', 0xFF); }, expect: 'exit33:0' },
  { id: 'D22', what: 'SS.RPL != CS.RPL', mutate: (f) => set(f, 'GUEST_SS_SELECTOR', 0x13), expect: 'exit33:0' },
  { id: 'D26', what: 'FS base not canonical', mutate: (f) => set(f, 'GUEST_FS_BASE', 0x0000800000000000n), expect: 'exit33:0' },
  { id: 'D27', what: 'DS base bits 63:32', mutate: (f) => set(f, 'GUEST_DS_BASE', 2n ** 32n), expect: 'exit33:0' },
  { id: 'D28', what: 'CS type 10 (not accessed)', mutate: (f) => set(f, 'GUEST_CS_AR_BYTES', 0xA09A), expect: 'exit33:0' },
  { id: 'D29', what: 'SS type 1 (read-only)', mutate: (f) => set(f, 'GUEST_SS_AR_BYTES', 0xC091), expect: 'exit33:0' },
  { id: 'D30', what: 'DS not accessed', mutate: (f) => set(f, 'GUEST_DS_AR_BYTES', 0xC092), expect: 'exit33:0' },
  { id: 'D31', what: 'ES with S = 0', mutate: (f) => set(f, 'GUEST_ES_AR_BYTES', 0xC083), expect: 'exit33:0' },
  { id: 'D32', what: 'non-conforming CS DPL 3 with SS DPL 0', mutate: (f) => { set(f, 'GUEST_CS_AR_BYTES', 0xA0FB); set(f, 'GUEST_CS_SELECTOR', 0xB); set(f, 'GUEST_SS_SELECTOR', 0x13); }, expect: 'exit33:0' },
  { id: 'D33', what: 'SS.DPL != SS.RPL', mutate: (f) => { set(f, 'GUEST_SS_AR_BYTES', 0xC0F3); set(f, 'GUEST_CS_AR_BYTES', 0xA0FF); }, expect: 'exit33:0' },
  { id: 'D34', what: 'DS.DPL below its RPL', mutate: (f) => set(f, 'GUEST_DS_SELECTOR', 0x13), expect: 'exit33:0' },
  { id: 'D35', what: 'GS not present', mutate: (f) => set(f, 'GUEST_GS_AR_BYTES', 0xC013), expect: 'exit33:0' },
  { id: 'D36', what: 'CS reserved AR bit 8', mutate: (f) => set(f, 'GUEST_CS_AR_BYTES', 0xA19B), expect: 'exit33:0' },
  { id: 'D37', what: 'CS.L and CS.D both 1', mutate: (f) => set(f, 'GUEST_CS_AR_BYTES', 0xE09B), expect: 'exit33:0' },
  { id: 'D38', what: 'limit 0xFFFFF with G = 0 ... bits 31:20 set needs G', mutate: (f) => set(f, 'GUEST_DS_AR_BYTES', 0x4093), expect: 'exit33:0' },
  { id: 'D39', what: 'TR type 9 (available TSS)', mutate: (f) => set(f, 'GUEST_TR_AR_BYTES', 0x89), expect: 'exit33:0' },
  { id: 'D39', what: 'TR unusable', mutate: (f) => set(f, 'GUEST_TR_AR_BYTES', 0x1008B), expect: 'exit33:0' },
  { id: 'D40', what: 'usable LDTR of type 3', mutate: (f) => { set(f, 'GUEST_LDTR_SELECTOR', 0x20); set(f, 'GUEST_LDTR_AR_BYTES', 0x83); set(f, 'GUEST_LDTR_LIMIT', 0xFF); }, expect: 'exit33:0' },
  { id: 'D42', what: 'IDTR base not canonical', mutate: (f) => set(f, 'GUEST_IDTR_BASE', 0x0000800000000000n), expect: 'exit33:0' },
  { id: 'D43', what: 'GDTR limit bits 31:16', mutate: (f) => set(f, 'GUEST_GDTR_LIMIT', 0x10000), expect: 'exit33:0' },
  { id: 'D45', what: 'GUEST_RIP not canonical in 64-bit mode', mutate: (f) => set(f, 'GUEST_RIP', 0x0000800000000000n), expect: 'exit33:0' },
  { id: 'D46', what: 'RFLAGS bit 1 clear', mutate: (f) => set(f, 'GUEST_RFLAGS', 0), expect: 'exit33:0' },
  { id: 'D46', what: 'RFLAGS reserved bit 15', mutate: (f) => set(f, 'GUEST_RFLAGS', 0x8002), expect: 'exit33:0' },
  { id: 'D47', what: 'RFLAGS.VM in an IA-32e guest', mutate: (f) => {
      // segments as a virtual-8086 guest needs them, so only RFLAGS.VM vs IA-32e mode is wrong
      for (const s of ['ES', 'CS', 'SS', 'DS', 'FS', 'GS']) { set(f, `GUEST_${s}_SELECTOR`, 0x1000); set(f, `GUEST_${s}_BASE`, 0x10000); set(f, `GUEST_${s}_LIMIT`, 0xFFFF); set(f, `GUEST_${s}_AR_BYTES`, 0xF3); }
      set(f, 'GUEST_RFLAGS', 0x20002);
    }, expect: 'exit33:0' },
  { id: 'D48', what: 'external interrupt injected with IF = 0', mutate: (f) => inject(f, 0x30), expect: 'exit33:0' },
  { id: 'D49', what: 'activity state 4', mutate: (f) => set(f, 'GUEST_ACTIVITY_STATE', 4), expect: 'exit33:0' },
  { id: 'D49', what: 'shutdown activity on core2-no-ug', mutate: (f) => set(f, 'GUEST_ACTIVITY_STATE', 2), expect: 'exit33:0', model: 'core2-no-ug' },
  { id: 'D51', what: 'STI blocking in HLT', mutate: (f) => { set(f, 'GUEST_ACTIVITY_STATE', 1); set(f, 'GUEST_RFLAGS', 0x202); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 1); }, expect: 'exit33:0' },
  { id: 'D52', what: 'software interrupt injected in HLT', mutate: (f) => { set(f, 'GUEST_ACTIVITY_STATE', 1); inject(f, (4 << 8) | 0x30); set(f, 'VM_ENTRY_INSTRUCTION_LEN', 2); }, expect: 'exit33:0' },
  { id: 'D54', what: 'interruptibility bit 5', mutate: (f) => set(f, 'GUEST_INTERRUPTIBILITY_INFO', 0x20), expect: 'exit33:0' },
  { id: 'D55', what: 'STI and MOV SS blocking', mutate: (f) => { set(f, 'GUEST_RFLAGS', 0x202); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 3); }, expect: 'exit33:0' },
  { id: 'D56', what: 'STI blocking with IF = 0', mutate: (f) => set(f, 'GUEST_INTERRUPTIBILITY_INFO', 1), expect: 'exit33:0' },
  { id: 'D57', what: 'external interrupt under MOV SS blocking', mutate: (f) => { set(f, 'GUEST_RFLAGS', 0x202); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 2); inject(f, 0x30); }, expect: 'exit33:0' },
  { id: 'D58', what: 'NMI under MOV SS blocking', mutate: (f) => { set(f, 'GUEST_INTERRUPTIBILITY_INFO', 2); inject(f, (2 << 8) | 2); }, expect: 'exit33:0' },
  { id: 'D58', what: 'NMI under STI blocking (qualification 3)', mutate: (f) => { set(f, 'GUEST_RFLAGS', 0x202); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 1); inject(f, (2 << 8) | 2); }, expect: 'exit33:3' },
  { id: 'D59', what: 'NMI with virtual-NMI blocking', mutate: (f) => { or(f, PIN, ctl('PIN_BASED_NMI_EXITING') | ctl('PIN_BASED_VIRTUAL_NMIS')); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 8); inject(f, (2 << 8) | 2); }, expect: 'exit33:0' },
  { id: 'D60', what: 'SMI blocking outside SMM', mutate: (f) => set(f, 'GUEST_INTERRUPTIBILITY_INFO', 4), expect: 'exit33:0' },
  { id: 'D63', what: 'pending debug exceptions bit 4', mutate: (f) => set(f, 'GUEST_PENDING_DBG_EXCEPTIONS', 0x10), expect: 'exit33:0' },
  { id: 'D64', what: 'TF = 1 under STI blocking without BS', mutate: (f) => { set(f, 'GUEST_RFLAGS', 0x302); set(f, 'GUEST_INTERRUPTIBILITY_INFO', 1); }, expect: 'exit33:0' },
  { id: 'D65', what: 'RTM bit without RTM', mutate: (f) => set(f, 'GUEST_PENDING_DBG_EXCEPTIONS', 0x11000), expect: 'exit33:0' },
  { id: 'D66', what: 'VMCS link pointer unaligned', mutate: (f) => set(f, 'VMCS_LINK_POINTER', 0x42008), expect: 'exit33:4' },
  { id: 'D67', what: 'VMCS link pointer to a region with the wrong revision', mutate: (f, h) => { h.revision(0x48000, 0x77); set(f, 'VMCS_LINK_POINTER', 0x48000); }, expect: 'exit33:4' },
  { id: 'D67', what: '"VMCS shadowing" = 1, link pointer to an ordinary VMCS (shadow-VMCS indicator 0)', mutate: (f, h) => { shadowing(f, 0x4D000, 0x4E000); h.revision(0x48000); set(f, 'VMCS_LINK_POINTER', 0x48000); }, expect: 'exit33:4' },
  { id: 'D67', what: '"VMCS shadowing" = 0, link pointer to a shadow VMCS (shadow-VMCS indicator 1)', mutate: (f, h) => { h.revision(0x48000, (h.v.caps.revisionId | 0x80000000) | 0); set(f, 'VMCS_LINK_POINTER', 0x48000); }, expect: 'exit33:4' },
  { id: 'D67', what: '"VMCS shadowing" = 1, shadow VMCS with the wrong revision', mutate: (f, h) => { shadowing(f, 0x4D000, 0x4E000); h.revision(0x48000, (0x77 | 0x80000000) | 0); set(f, 'VMCS_LINK_POINTER', 0x48000); }, expect: 'exit33:4' },
  { id: 'D68', what: 'VMCS link pointer = current VMCS', mutate: (f) => set(f, 'VMCS_LINK_POINTER', 0x41000), expect: 'exit33:4' },
  // ---- E: PDPTEs (32-bit PAE guest) ----
  {
    id: 'E3', what: 'PAE guest with a reserved bit in PDPTE 1',
    mutate: (f, h) => {
      andNot(f, ENTRYC, ctl('VM_ENTRY_IA32E_MODE'));
      set(f, 'GUEST_CS_AR_BYTES', 0xC09B);
      set(f, 'GUEST_CR3', 0x49000);
      h.poke64(0x49000, 0x4A001n);
      h.poke64(0x49008, 0x4B001n | 0x20n);
    },
    expect: 'exit33:2',
  },
  // ---- F: VM-entry MSR-load list ----
  { id: 'F', what: 'entry 2 loads IA32_FS_BASE', mutate: (f, h) => { msrList(h, [[0x277, 0x0007040600070406n], [0xC0000100, 0n]]); set(f, 'VM_ENTRY_MSR_LOAD_COUNT', 2); set(f, 'VM_ENTRY_MSR_LOAD_ADDR', MSR_AREA); }, expect: 'exit34:2' },
  { id: 'F', what: 'entry 1 has reserved bits', mutate: (f, h) => { msrList(h, [[0x277, 0n]]); h.cpu.physWrite(MSR_AREA + 4, 4, 1); set(f, 'VM_ENTRY_MSR_LOAD_COUNT', 1); set(f, 'VM_ENTRY_MSR_LOAD_ADDR', MSR_AREA); }, expect: 'exit34:1' },
  { id: 'F', what: 'entry 1 in the x2APIC range', mutate: (f, h) => { msrList(h, [[0x808, 0n]]); set(f, 'VM_ENTRY_MSR_LOAD_COUNT', 1); set(f, 'VM_ENTRY_MSR_LOAD_ADDR', MSR_AREA); }, expect: 'exit34:1' },
  { id: 'F', what: 'entry 3 would #GP (unknown MSR)', mutate: (f, h) => { msrList(h, [[0x277, 0x0007040600070406n], [0x174, 8n], [0x12345, 0n]]); set(f, 'VM_ENTRY_MSR_LOAD_COUNT', 3); set(f, 'VM_ENTRY_MSR_LOAD_ADDR', MSR_AREA); }, expect: 'exit34:3' },
];

function msrList(h: VmxHost, entries: [number, bigint][]): void {
  entries.forEach(([index, value], k) => {
    h.cpu.physWrite(MSR_AREA + k * 16, 4, index | 0);
    h.cpu.physWrite(MSR_AREA + k * 16 + 4, 4, 0);
    h.poke64(MSR_AREA + k * 16 + 8, value);
  });
}

describe('VMX: VM-entry checks (one violation each)', () => {
  it('the valid VMCS enters the guest', () => {
    for (const model of ['default', 'core2-no-ug']) {
      const h = new VmxHost({ model });
      h.guest([0x0F, 0xA2]);
      h.launch();
      assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
      assert.ok(h.atHostExit(), model);
      assert.equal(h.exitReason(), 10);
    }
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.what} -> ${c.expect}`, () => {
      const h = new VmxHost({ model: c.model });
      h.guest([0x0F, 0xA2]);
      const f = h.validFields();
      c.mutate(f, h);
      h.launch(f);
      assert.equal(h.exception, undefined, `host exception ${h.exception}`);
      const fail = h.v.lastEntryFailure;
      assert.ok(fail, 'an entry failure is recorded');
      assert.equal(fail.check, c.id, `failed check ${fail.check} (${fail.detail})`);
      assert.ok(fail.section.startsWith('SDM 27.'), fail.section);
      if (c.expect === 'fail7' || c.expect === 'fail8') {
        assert.equal(h.outcome(), `failValid(${c.expect === 'fail7' ? 7 : 8})`);
        assert.equal(h.cpu.rip, 0x10000 + h.setupCode(f).length + 1, 'RIP after VMLAUNCH (then HLT)');
        assert.ok(!h.cpu.nonRoot);
      } else {
        const [kind, q] = c.expect.split(':');
        assert.ok(h.atHostExit(), 'the failed entry lands at HOST_RIP');
        assert.equal(h.exitReason() >>> 0, (0x80000000 | (kind === 'exit33' ? 33 : 34)) >>> 0);
        assert.equal(h.qualification(), BigInt(q));
        assert.equal(h.v.vmcs.launch, 0, 'launch state stays clear');
        assert.ok(h.cpu.rip !== GUEST_CODE);
      }
    });
  }
});
