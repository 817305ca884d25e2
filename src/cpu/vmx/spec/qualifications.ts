/**
 * Exit-qualification formats (EXIT_QUALIFICATION 0x6400; SDM vol. 3C 28.2.1, Tables 28-1 to 28-7) as
 * layouts, with decoders (value -> [{name, value, text}]) and encoders for the code that writes them.
 */

import { BitField, DecodedField, bitsOf, checkLayout, decodeBitFields, encodeBitFields, hex, toBigInt } from './bits';
import { GPR_NAMES, GPR_VALUES } from './operands';

// ---------------------------------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------------------------------

/** I/O instructions (exit 30). */
export const IO_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'size', lo: 0, hi: 2, description: 'Size of access', values: { 0: '1 byte', 1: '2 bytes', 3: '4 bytes' } },
  { name: 'direction', lo: 3, hi: 3, description: 'Direction of the attempted access', values: { 0: 'OUT', 1: 'IN' } },
  { name: 'string', lo: 4, hi: 4, description: 'String instruction (INS/OUTS)' },
  { name: 'rep', lo: 5, hi: 5, description: 'REP prefixed' },
  { name: 'operandEncoding', lo: 6, hi: 6, description: 'Port operand', values: { 0: 'DX', 1: 'immediate' } },
  { name: 'reserved7', lo: 7, hi: 15, description: 'Reserved (0)', reserved: true },
  { name: 'port', lo: 16, hi: 31, description: 'Port number' },
  { name: 'reserved32', lo: 32, hi: 63, description: 'Reserved (0)', reserved: true },
];

export const CR_ACCESS_TYPE = { MOV_TO_CR: 0, MOV_FROM_CR: 1, CLTS: 2, LMSW: 3 } as const;

/** Control-register accesses (exit 28). */
export const CR_ACCESS_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'controlRegister', lo: 0, hi: 3, description: 'Number of the control register (0 for CLTS and LMSW)', values: { 0: 'CR0', 3: 'CR3', 4: 'CR4', 8: 'CR8' } },
  { name: 'accessType', lo: 4, hi: 5, description: 'Access type', values: { 0: 'MOV to CR', 1: 'MOV from CR', 2: 'CLTS', 3: 'LMSW' } },
  { name: 'lmswOperandType', lo: 6, hi: 6, description: 'LMSW operand type', values: { 0: 'register', 1: 'memory' } },
  { name: 'reserved7', lo: 7, hi: 7, description: 'Reserved (0)', reserved: true },
  { name: 'gpr', lo: 8, hi: 11, description: 'General-purpose register of MOV CR (0 for CLTS and LMSW)', values: GPR_VALUES },
  { name: 'reserved12', lo: 12, hi: 15, description: 'Reserved (0)', reserved: true },
  { name: 'lmswSourceData', lo: 16, hi: 31, description: 'LMSW source data (0 for other access types)' },
  { name: 'reserved32', lo: 32, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** MOV DR (exit 29). */
export const MOV_DR_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'debugRegister', lo: 0, hi: 2, description: 'Number of the debug register', format: 'dec' },
  { name: 'reserved3', lo: 3, hi: 3, description: 'Reserved (0)', reserved: true },
  { name: 'direction', lo: 4, hi: 4, description: 'Direction of access', values: { 0: 'MOV to DR', 1: 'MOV from DR' } },
  { name: 'reserved5', lo: 5, hi: 7, description: 'Reserved (0)', reserved: true },
  { name: 'gpr', lo: 8, hi: 11, description: 'General-purpose register', values: GPR_VALUES },
  { name: 'reserved12', lo: 12, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** EPT violations (exit 48). Bits 9-11 need IA32_VMX_EPT_VPID_CAP bit 22 and bits 7, 8 set. */
export const EPT_VIOLATION_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'read', lo: 0, hi: 0, description: 'The access was a data read' },
  { name: 'write', lo: 1, hi: 1, description: 'The access was a data write' },
  { name: 'fetch', lo: 2, hi: 2, description: 'The access was an instruction fetch' },
  { name: 'readable', lo: 3, hi: 3, description: 'The guest-physical address was readable (AND of EPT bit 0)' },
  { name: 'writable', lo: 4, hi: 4, description: 'The guest-physical address was writable (AND of EPT bit 1)' },
  { name: 'executable', lo: 5, hi: 5, description: 'The guest-physical address was executable (AND of EPT bit 2; supervisor-mode with mode-based control)' },
  { name: 'userExecutable', lo: 6, hi: 6, description: 'User-mode executable (AND of EPT bit 10; mode-based execute control only)' },
  { name: 'linearAddressValid', lo: 7, hi: 7, description: 'GUEST_LINEAR_ADDRESS is valid' },
  { name: 'translatedAccess', lo: 8, hi: 8, description: 'Access kind (valid when bit 7 = 1)', values: { 0: 'access to a guest paging-structure entry', 1: 'access to the translated linear address' } },
  { name: 'userModeLinear', lo: 9, hi: 9, description: 'Advanced info: the linear address is user-mode (U/S)' },
  { name: 'writableLinear', lo: 10, hi: 10, description: 'Advanced info: the linear address is writable in guest paging (R/W)' },
  { name: 'executeDisabledLinear', lo: 11, hi: 11, description: 'Advanced info: the linear address is execute-disabled in guest paging (XD)' },
  { name: 'nmiUnblocking', lo: 12, hi: 12, description: 'NMI unblocking due to IRET' },
  { name: 'shadowStackAccess', lo: 13, hi: 13, description: 'The access was a shadow-stack access' },
  { name: 'supervisorShadowStack', lo: 14, hi: 14, description: 'Supervisor shadow-stack page (AND of EPT bit 60; EPTP bit 7 = 1)' },
  { name: 'guestPagingVerification', lo: 15, hi: 15, description: 'Caused by guest-paging verification' },
  { name: 'asynchronous', lo: 16, hi: 16, description: 'The access was asynchronous to instruction execution' },
  { name: 'reserved17', lo: 17, hi: 63, description: 'Reserved (0)', reserved: true },
];

export const TASK_SWITCH_SOURCE = { CALL: 0, IRET: 1, JMP: 2, TASK_GATE: 3 } as const;

/** Task switch (exit 9). */
export const TASK_SWITCH_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'selector', lo: 0, hi: 15, description: 'Selector of the task-state segment' },
  { name: 'reserved16', lo: 16, hi: 29, description: 'Reserved (0)', reserved: true },
  { name: 'source', lo: 30, hi: 31, description: 'Source of the task switch', values: { 0: 'CALL instruction', 1: 'IRET instruction', 2: 'JMP instruction', 3: 'task gate in the IDT' } },
  { name: 'reserved32', lo: 32, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** APIC access (exit 44). */
export const APIC_ACCESS_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'offset', lo: 0, hi: 11, description: 'Offset of the access within the APIC page (linear accesses only)' },
  {
    name: 'accessType', lo: 12, hi: 15, description: 'Access type',
    values: {
      0: 'linear access for a data read during instruction execution',
      1: 'linear access for a data write during instruction execution',
      2: 'linear access for an instruction fetch',
      3: 'linear access (read or write) during event delivery',
      10: 'guest-physical access during event delivery',
      15: 'guest-physical access for an instruction fetch or during instruction execution',
    },
  },
  { name: 'asynchronous', lo: 16, hi: 16, description: 'The access was asynchronous to instruction execution' },
  { name: 'reserved17', lo: 17, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** Debug exceptions (exit 0 with vector 1): DR6-like; DR6 itself is not updated. */
export const DEBUG_EXCEPTION_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'b0', lo: 0, hi: 0, description: 'B0: breakpoint condition 0 met' },
  { name: 'b1', lo: 1, hi: 1, description: 'B1: breakpoint condition 1 met' },
  { name: 'b2', lo: 2, hi: 2, description: 'B2: breakpoint condition 2 met' },
  { name: 'b3', lo: 3, hi: 3, description: 'B3: breakpoint condition 3 met' },
  { name: 'reserved4', lo: 4, hi: 12, description: 'Reserved (0)', reserved: true },
  { name: 'bd', lo: 13, hi: 13, description: 'BD: debug-register access detected (DR7.GD)' },
  { name: 'bs', lo: 14, hi: 14, description: 'BS: single step (RFLAGS.TF)' },
  { name: 'reserved15', lo: 15, hi: 15, description: 'Reserved (0)', reserved: true },
  { name: 'rtm', lo: 16, hi: 16, description: 'RTM: #DB or #BP inside an RTM region' },
  { name: 'reserved17', lo: 17, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** VM-entry failure (exit 33 with bit 31): Linux enum vm_entry_failure_code. */
export const ENTRY_FAILURE_QUALIFICATIONS: Readonly<Record<number, string>> = {
  0: 'no additional information',
  2: 'PDPTE loading failed',
  3: 'NMI injection while blocking by STI is in effect',
  4: 'invalid VMCS link pointer',
};

export const ENTRY_FAILURE_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'code', lo: 0, hi: 63, description: 'VM-entry failure detail', values: ENTRY_FAILURE_QUALIFICATIONS },
];

/** Instruction timeout / notify (exit 75). */
export const NOTIFY_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'contextInvalid', lo: 0, hi: 0, description: 'VM context invalid: the guest cannot be resumed safely' },
  { name: 'reserved1', lo: 1, hi: 11, description: 'Reserved (0)', reserved: true },
  { name: 'nmiUnblocking', lo: 12, hi: 12, description: 'NMI unblocking due to IRET' },
  { name: 'reserved13', lo: 13, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** Page-modification log full (exit 62). */
export const PML_FULL_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'reserved0', lo: 0, hi: 11, description: 'Reserved (0)', reserved: true },
  { name: 'nmiUnblocking', lo: 12, hi: 12, description: 'NMI unblocking due to IRET' },
  { name: 'reserved13', lo: 13, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** APIC write (exit 56): offset of the write in the virtual-APIC page. */
export const APIC_WRITE_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'offset', lo: 0, hi: 11, description: 'Page offset of the write access' },
  { name: 'reserved12', lo: 12, hi: 63, description: 'Reserved (0)', reserved: true },
];

/** Virtualized EOI (exit 45). */
export const EOI_INDUCED_QUALIFICATION_LAYOUT: readonly BitField[] = [
  { name: 'vector', lo: 0, hi: 7, description: 'Vector of the EOI-induced VM exit' },
  { name: 'reserved8', lo: 8, hi: 63, description: 'Reserved (0)', reserved: true },
];

for (const [name, layout] of Object.entries({
  IO_QUALIFICATION_LAYOUT, CR_ACCESS_QUALIFICATION_LAYOUT, MOV_DR_QUALIFICATION_LAYOUT, EPT_VIOLATION_QUALIFICATION_LAYOUT,
  TASK_SWITCH_QUALIFICATION_LAYOUT, APIC_ACCESS_QUALIFICATION_LAYOUT, DEBUG_EXCEPTION_QUALIFICATION_LAYOUT,
  NOTIFY_QUALIFICATION_LAYOUT, PML_FULL_QUALIFICATION_LAYOUT, APIC_WRITE_QUALIFICATION_LAYOUT, EOI_INDUCED_QUALIFICATION_LAYOUT,
})) {
  checkLayout(name, layout);
}

// ---------------------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------------------

export function decodeIoQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(IO_QUALIFICATION_LAYOUT, q);
}

export function decodeCrAccessQualification(q: number | bigint): DecodedField[] {
  const fields = decodeBitFields(CR_ACCESS_QUALIFICATION_LAYOUT, q);
  const type = Number(bitsOf(q, 4, 5));
  // Only the fields meaningful for the access type are shown (the others are architecturally 0).
  const keep = type === CR_ACCESS_TYPE.LMSW
    ? ['accessType', 'lmswOperandType', 'lmswSourceData']
    : type === CR_ACCESS_TYPE.CLTS
      ? ['accessType']
      : ['controlRegister', 'accessType', 'gpr'];
  return fields.filter((f) => keep.includes(f.name) || toBigInt(f.value) !== 0n);
}

export function decodeMovDrQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(MOV_DR_QUALIFICATION_LAYOUT, q);
}

export function decodeEptViolationQualification(q: number | bigint): DecodedField[] {
  const fields = decodeBitFields(EPT_VIOLATION_QUALIFICATION_LAYOUT, q);
  const linearValid = bitsOf(q, 7, 7) !== 0n;
  // Bits 8-11 are only defined when bit 7 is set; hide them when clear unless they are (wrongly) set.
  return fields.filter((f) => linearValid || !['translatedAccess', 'userModeLinear', 'writableLinear', 'executeDisabledLinear'].includes(f.name) || toBigInt(f.value) !== 0n);
}

export function decodeTaskSwitchQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(TASK_SWITCH_QUALIFICATION_LAYOUT, q);
}

export function decodeApicAccessQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(APIC_ACCESS_QUALIFICATION_LAYOUT, q);
}

export function decodeDebugExceptionQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(DEBUG_EXCEPTION_QUALIFICATION_LAYOUT, q);
}

export function decodeEntryFailureQualification(q: number | bigint): DecodedField[] {
  return decodeBitFields(ENTRY_FAILURE_QUALIFICATION_LAYOUT, q);
}

/**
 * Qualifications that hold a linear address: INVLPG (exit 14; the operand's linear address) and
 * #PF exits (exit 0, vector 14; the faulting address, CR2 is not written).
 */
export function decodeLinearAddressQualification(q: number | bigint): DecodedField[] {
  const v = BigInt.asUintN(64, toBigInt(q));
  return [{ name: 'linearAddress', value: v, text: hex(v), description: 'Linear address' }];
}

/**
 * Qualifications that hold the displacement of a memory operand, sign-extended: INVEPT, INVVPID,
 * INVPCID, LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR, VMCLEAR/VMPTRLD/VMPTRST/VMREAD/VMWRITE/VMXON,
 * XSAVES/XRSTORS. (Undefined for register operands.)
 */
export function decodeDisplacementQualification(q: number | bigint): DecodedField[] {
  const v = BigInt.asIntN(64, toBigInt(q));
  return [{ name: 'displacement', value: v, text: (v < 0n ? '-' : '+') + hex(v < 0n ? -v : v), description: 'Displacement of the memory operand' }];
}

/** VM-entry failure due to MSR loading (exit 34): 1-based index of the failing MSR-load entry. */
export function decodeMsrLoadFailQualification(q: number | bigint): DecodedField[] {
  const v = Number(BigInt.asUintN(32, toBigInt(q)));
  return [{ name: 'entryIndex', value: v, text: String(v), description: 'Index (from 1) of the MSR-load entry that failed' }];
}

/** Immediate-form RDMSR/WRMSRNS (exits 84, 85): the MSR index. */
export function decodeMsrIndexQualification(q: number | bigint): DecodedField[] {
  const v = Number(BigInt.asUintN(32, toBigInt(q)));
  return [{ name: 'msr', value: v, text: hex(v), description: 'MSR index (immediate operand)' }];
}

export interface ExitQualificationContext {
  /** VM_EXIT_INTR_INFO vector, needed for exit reason 0 (#PF / #DB qualifications). */
  readonly vector?: number;
}

/**
 * Decodes the exit qualification of a basic exit reason. Reasons whose qualification is undefined or
 * always 0 give [] (or, if the value is non-zero, one raw 'qualification' entry).
 */
export function decodeExitQualification(basicReason: number, q: number | bigint, ctx: ExitQualificationContext = {}): DecodedField[] {
  switch (basicReason & 0xffff) {
    case 0:
      if (ctx.vector === 14) return decodeLinearAddressQualification(q);
      if (ctx.vector === 1) return decodeDebugExceptionQualification(q);
      break;
    case 9: return decodeTaskSwitchQualification(q);
    case 14: return decodeLinearAddressQualification(q);
    case 28: return decodeCrAccessQualification(q);
    case 29: return decodeMovDrQualification(q);
    case 30: return decodeIoQualification(q);
    case 33: return decodeEntryFailureQualification(q);
    case 34: return decodeMsrLoadFailQualification(q);
    case 44: return decodeApicAccessQualification(q);
    case 45: return decodeBitFields(EOI_INDUCED_QUALIFICATION_LAYOUT, q);
    case 48: return decodeEptViolationQualification(q);
    case 56: return decodeBitFields(APIC_WRITE_QUALIFICATION_LAYOUT, q);
    case 62: return decodeBitFields(PML_FULL_QUALIFICATION_LAYOUT, q);
    case 75: return decodeBitFields(NOTIFY_QUALIFICATION_LAYOUT, q);
    case 84: case 85: return decodeMsrIndexQualification(q);
    case 19: case 21: case 22: case 23: case 25: case 27:
    case 46: case 47: case 50: case 53: case 58: case 63: case 64:
      return decodeDisplacementQualification(q);
  }
  const v = BigInt.asUintN(64, toBigInt(q));
  return v === 0n ? [] : [{ name: 'qualification', value: v, text: hex(v), description: 'Exit qualification (no format defined for this exit)' }];
}

// ---------------------------------------------------------------------------------------------
// Structured views, mnemonics and encoders
// ---------------------------------------------------------------------------------------------

export interface IoQualification {
  /** 1, 2 or 4. */
  readonly size: 1 | 2 | 4;
  readonly direction: 'in' | 'out';
  readonly string: boolean;
  readonly rep: boolean;
  readonly immediate: boolean;
  readonly port: number;
}

export function parseIoQualification(q: number | bigint): IoQualification {
  const sizeCode = Number(bitsOf(q, 0, 2));
  return {
    size: sizeCode === 0 ? 1 : sizeCode === 1 ? 2 : 4,
    direction: bitsOf(q, 3, 3) !== 0n ? 'in' : 'out',
    string: bitsOf(q, 4, 4) !== 0n,
    rep: bitsOf(q, 5, 5) !== 0n,
    immediate: bitsOf(q, 6, 6) !== 0n,
    port: Number(bitsOf(q, 16, 31)),
  };
}

export function makeIoQualification(io: IoQualification): number {
  return Number(encodeBitFields(IO_QUALIFICATION_LAYOUT, {
    size: io.size === 1 ? 0 : io.size === 2 ? 1 : 3,
    direction: io.direction === 'in',
    string: io.string,
    rep: io.rep,
    operandEncoding: io.immediate,
    port: io.port,
  }));
}

/** Assembly-style text, e.g. "out dx, al", "in eax, 0x60", "rep outsb". */
export function ioQualificationMnemonic(q: number | bigint): string {
  const io = parseIoQualification(q);
  if (io.string) {
    const suffix = io.size === 1 ? 'b' : io.size === 2 ? 'w' : 'd';
    return `${io.rep ? 'rep ' : ''}${io.direction === 'in' ? 'ins' : 'outs'}${suffix}`;
  }
  const acc = io.size === 1 ? 'al' : io.size === 2 ? 'ax' : 'eax';
  const port = io.immediate ? hex(io.port, 2) : 'dx';
  return io.direction === 'in' ? `in ${acc}, ${port}` : `out ${port}, ${acc}`;
}

export interface CrAccessQualification {
  readonly controlRegister: number;
  readonly accessType: number;
  readonly lmswMemory: boolean;
  readonly gpr: number;
  readonly lmswSourceData: number;
}

export function parseCrAccessQualification(q: number | bigint): CrAccessQualification {
  return {
    controlRegister: Number(bitsOf(q, 0, 3)),
    accessType: Number(bitsOf(q, 4, 5)),
    lmswMemory: bitsOf(q, 6, 6) !== 0n,
    gpr: Number(bitsOf(q, 8, 11)),
    lmswSourceData: Number(bitsOf(q, 16, 31)),
  };
}

export function makeCrAccessQualification(cr: Partial<CrAccessQualification> & { accessType: number }): number {
  return Number(encodeBitFields(CR_ACCESS_QUALIFICATION_LAYOUT, {
    controlRegister: cr.controlRegister ?? 0,
    accessType: cr.accessType,
    lmswOperandType: cr.lmswMemory ?? false,
    gpr: cr.gpr ?? 0,
    lmswSourceData: cr.lmswSourceData ?? 0,
  }));
}

/** e.g. "mov cr0, rax", "mov rbx, cr3", "clts", "lmsw 0x0001 (memory operand)". */
export function crAccessMnemonic(q: number | bigint): string {
  const c = parseCrAccessQualification(q);
  const reg = GPR_NAMES[c.gpr].toLowerCase();
  switch (c.accessType) {
    case CR_ACCESS_TYPE.MOV_TO_CR: return `mov cr${c.controlRegister}, ${reg}`;
    case CR_ACCESS_TYPE.MOV_FROM_CR: return `mov ${reg}, cr${c.controlRegister}`;
    case CR_ACCESS_TYPE.CLTS: return 'clts';
    default: return `lmsw ${hex(c.lmswSourceData, 4)} (${c.lmswMemory ? 'memory' : 'register'} operand)`;
  }
}

export function makeMovDrQualification(dr: { debugRegister: number; direction: 'to' | 'from'; gpr: number }): number {
  return Number(encodeBitFields(MOV_DR_QUALIFICATION_LAYOUT, { debugRegister: dr.debugRegister, direction: dr.direction === 'from', gpr: dr.gpr }));
}

/** e.g. "mov dr7, rax" or "mov rcx, dr6". */
export function movDrMnemonic(q: number | bigint): string {
  const dr = Number(bitsOf(q, 0, 2));
  const reg = GPR_NAMES[Number(bitsOf(q, 8, 11))].toLowerCase();
  return bitsOf(q, 4, 4) !== 0n ? `mov ${reg}, dr${dr}` : `mov dr${dr}, ${reg}`;
}

export function makeTaskSwitchQualification(selector: number, source: number): number {
  return Number(encodeBitFields(TASK_SWITCH_QUALIFICATION_LAYOUT, { selector, source }));
}

/** Builds an EPT-violation qualification from named bits (names of EPT_VIOLATION_QUALIFICATION_LAYOUT). */
export function makeEptViolationQualification(bits: Readonly<Record<string, boolean | number | undefined>>): number {
  return Number(encodeBitFields(EPT_VIOLATION_QUALIFICATION_LAYOUT, bits));
}

/** e.g. "data write to a readable, executable page (linear address valid, translated access)". */
export function eptViolationSummary(q: number | bigint): string {
  const bit = (n: number): boolean => bitsOf(q, n, n) !== 0n;
  const access = [bit(0) ? 'data read' : '', bit(1) ? 'data write' : '', bit(2) ? 'instruction fetch' : ''].filter((s) => s).join(' + ') || 'access';
  const perms = [bit(3) ? 'readable' : '', bit(4) ? 'writable' : '', bit(5) ? 'executable' : ''].filter((s) => s);
  const page = perms.length ? `a ${perms.join(', ')} page` : 'a not-present page';
  const extra: string[] = [];
  if (bit(7)) extra.push('linear address valid', bit(8) ? 'translated access' : 'paging-structure access');
  if (bit(12)) extra.push('NMI unblocking due to IRET');
  if (bit(13)) extra.push('shadow-stack access');
  return `${access} to ${page}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

/** A short, human one-liner for a stop description; falls back to "name=text" pairs. */
export function describeExitQualification(basicReason: number, q: number | bigint, ctx: ExitQualificationContext = {}): string {
  switch (basicReason & 0xffff) {
    case 28: return crAccessMnemonic(q);
    case 29: return movDrMnemonic(q);
    case 30: {
      const io = parseIoQualification(q);
      return `${ioQualificationMnemonic(q)} (port ${hex(io.port, 4)}, ${io.size} byte${io.size > 1 ? 's' : ''})`;
    }
    case 48: return eptViolationSummary(q);
  }
  return decodeExitQualification(basicReason, q, ctx).map((f) => `${f.name}=${f.text}`).join(', ');
}
