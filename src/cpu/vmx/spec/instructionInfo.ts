/**
 * VM-exit instruction-information layouts (VMX_INSTRUCTION_INFO 0x440E; SDM vol. 3C 28.2.5,
 * tables "Format of the VM-Exit Instruction-Information Field as Used for ...").
 */

import { BitField, DecodedField, checkLayout, decodeBitFields, encodeBitFields } from './bits';
import { ADDRESS_SIZE_NAMES, GPR_VALUES, SCALING_NAMES, SEGMENT_VALUES } from './operands';

export type InstructionInfoKind =
  /** INS/OUTS (exit 30; only when IA32_VMX_BASIC bit 54 = 1). */
  | 'ins-outs'
  /** INVEPT, INVPCID, INVVPID (exits 50, 58, 53). */
  | 'invalidate'
  /** LIDT, LGDT, SIDT, SGDT (exit 46). */
  | 'descriptor-table'
  /** LLDT, LTR, SLDT, STR (exit 47). */
  | 'ldtr-tr'
  /** VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS, XSAVES (memory operand only). */
  | 'vmx-memory'
  /** VMREAD, VMWRITE (exits 23, 25). */
  | 'vmread-vmwrite'
  /** RDRAND, RDSEED, TPAUSE, UMWAIT (exits 57, 61, 68, 67). */
  | 'rdrand-rdseed';

/** A field that only means something for one operand form (bit 10 of the mem/reg layouts). */
export interface InfoField extends BitField {
  readonly operand?: 'memory' | 'register';
}

const scaling: InfoField = { name: 'scaling', lo: 0, hi: 1, description: 'Scaling of the index register', values: SCALING_NAMES, operand: 'memory' };
const addressSize: InfoField = { name: 'addressSize', lo: 7, hi: 9, description: 'Address size', values: ADDRESS_SIZE_NAMES, operand: 'memory' };
const segment: InfoField = { name: 'segment', lo: 15, hi: 17, description: 'Segment register', values: SEGMENT_VALUES, operand: 'memory' };
const indexReg: InfoField = { name: 'indexReg', lo: 18, hi: 21, description: 'Index register', values: GPR_VALUES, operand: 'memory' };
const indexInvalid: InfoField = { name: 'indexInvalid', lo: 22, hi: 22, description: 'Index register invalid (no index)', operand: 'memory' };
const baseReg: InfoField = { name: 'baseReg', lo: 23, hi: 26, description: 'Base register', values: GPR_VALUES, operand: 'memory' };
const baseInvalid: InfoField = { name: 'baseInvalid', lo: 27, hi: 27, description: 'Base register invalid (no base)', operand: 'memory' };
const memReg: InfoField = { name: 'memReg', lo: 10, hi: 10, description: 'Operand form', values: { 0: 'memory', 1: 'register' } };
function undef(lo: number, hi: number): InfoField {
  return { name: `undefined${lo}`, lo, hi, description: 'Undefined', ignored: true };
}

export const INS_OUTS_INFO_LAYOUT: readonly InfoField[] = [
  undef(0, 6),
  { name: 'addressSize', lo: 7, hi: 9, description: 'Address size', values: ADDRESS_SIZE_NAMES },
  undef(10, 14),
  { name: 'segment', lo: 15, hi: 17, description: 'Segment register (always ES for INS)', values: SEGMENT_VALUES },
  undef(18, 31),
];

export const INVALIDATE_INFO_LAYOUT: readonly InfoField[] = [
  scaling, undef(2, 6), addressSize, undef(10, 14), segment, indexReg, indexInvalid, baseReg, baseInvalid,
  { name: 'reg2', lo: 28, hi: 31, description: 'Register operand (INVEPT/INVVPID/INVPCID type)', values: GPR_VALUES },
];

export const DESCRIPTOR_TABLE_INFO_LAYOUT: readonly InfoField[] = [
  scaling, undef(2, 6), addressSize, undef(10, 10),
  { name: 'operandSize', lo: 11, hi: 11, description: 'Operand size (ignored in 64-bit mode)', values: { 0: '16-bit', 1: '32-bit' } },
  undef(12, 14), segment, indexReg, indexInvalid, baseReg, baseInvalid,
  { name: 'instruction', lo: 28, hi: 29, description: 'Instruction identity', values: { 0: 'SGDT', 1: 'SIDT', 2: 'LGDT', 3: 'LIDT' } },
  undef(30, 31),
];

export const LDTR_TR_INFO_LAYOUT: readonly InfoField[] = [
  scaling, undef(2, 2),
  { name: 'reg1', lo: 3, hi: 6, description: 'Register operand', values: GPR_VALUES, operand: 'register' },
  addressSize, memReg, undef(11, 14), segment, indexReg, indexInvalid, baseReg, baseInvalid,
  { name: 'instruction', lo: 28, hi: 29, description: 'Instruction identity', values: { 0: 'SLDT', 1: 'STR', 2: 'LLDT', 3: 'LTR' } },
  undef(30, 31),
];

export const VMX_MEMORY_INFO_LAYOUT: readonly InfoField[] = [
  scaling, undef(2, 6), addressSize, undef(10, 14), segment, indexReg, indexInvalid, baseReg, baseInvalid, undef(28, 31),
];

export const VMREAD_VMWRITE_INFO_LAYOUT: readonly InfoField[] = [
  scaling, undef(2, 2),
  { name: 'reg1', lo: 3, hi: 6, description: 'Register operand (VMREAD destination / VMWRITE source)', values: GPR_VALUES, operand: 'register' },
  addressSize, memReg, undef(11, 14), segment, indexReg, indexInvalid, baseReg, baseInvalid,
  { name: 'reg2', lo: 28, hi: 31, description: 'Register holding the field encoding', values: GPR_VALUES },
];

export const RDRAND_RDSEED_INFO_LAYOUT: readonly InfoField[] = [
  undef(0, 2),
  { name: 'destination', lo: 3, hi: 6, description: 'Operand register', values: GPR_VALUES },
  undef(7, 10),
  { name: 'operandSize', lo: 11, hi: 12, description: 'Operand size', values: { 0: '16-bit', 1: '32-bit', 2: '64-bit' } },
  undef(13, 31),
];

export const INSTRUCTION_INFO_LAYOUTS: Readonly<Record<InstructionInfoKind, readonly InfoField[]>> = {
  'ins-outs': INS_OUTS_INFO_LAYOUT,
  invalidate: INVALIDATE_INFO_LAYOUT,
  'descriptor-table': DESCRIPTOR_TABLE_INFO_LAYOUT,
  'ldtr-tr': LDTR_TR_INFO_LAYOUT,
  'vmx-memory': VMX_MEMORY_INFO_LAYOUT,
  'vmread-vmwrite': VMREAD_VMWRITE_INFO_LAYOUT,
  'rdrand-rdseed': RDRAND_RDSEED_INFO_LAYOUT,
};

for (const [k, l] of Object.entries(INSTRUCTION_INFO_LAYOUTS)) {
  checkLayout(`${k} instruction information`, l, 32);
  // every layout covers all 32 bits, so reserved/undefined bits are accounted for
  const covered = l.reduce((n, f) => n + (f.hi - f.lo + 1), 0);
  if (covered !== 32) throw new Error(`${k} instruction information: layout covers ${covered} bits`);
}

/** Which layout VMX_INSTRUCTION_INFO uses for a basic exit reason (undefined: not used). */
export function instructionInfoKindForExit(basicReason: number): InstructionInfoKind | undefined {
  switch (basicReason) {
    case 30: return 'ins-outs';
    case 19: case 21: case 22: case 27: case 63: case 64: return 'vmx-memory';
    case 23: case 25: return 'vmread-vmwrite';
    case 50: case 53: case 58: return 'invalidate';
    case 46: return 'descriptor-table';
    case 47: return 'ldtr-tr';
    case 57: case 61: case 67: case 68: return 'rdrand-rdseed';
    default: return undefined;
  }
}

/**
 * Decodes instruction information. Fields that do not apply are left out: memory-operand fields
 * when bit 10 says register (and the register field when it says memory), the index register and
 * scaling when "index invalid", the base register when "base invalid".
 */
export function decodeInstructionInfo(kind: InstructionInfoKind, value: number | bigint): DecodedField[] {
  const layout = INSTRUCTION_INFO_LAYOUTS[kind];
  const v = Number(BigInt.asUintN(32, BigInt(value)));
  const hasMemReg = layout.some((f) => f.name === 'memReg');
  const form: 'memory' | 'register' = hasMemReg && (v & (1 << 10)) !== 0 ? 'register' : 'memory';
  const indexInvalidSet = (v & (1 << 22)) !== 0;
  const baseInvalidSet = (v & (1 << 27)) !== 0;
  const skip = new Set<string>();
  for (const f of layout) if (f.operand && f.operand !== form) skip.add(f.name);
  if (form === 'memory' && layout.includes(indexReg)) {
    if (indexInvalidSet) skip.add('indexReg').add('scaling');
    if (baseInvalidSet) skip.add('baseReg');
  }
  return decodeBitFields(layout, v).filter((d) => !skip.has(d.name));
}

/** Builds an instruction-information value from named fields. */
export function makeInstructionInfo(kind: InstructionInfoKind, values: Readonly<Record<string, number | boolean | undefined>>): number {
  return Number(encodeBitFields(INSTRUCTION_INFO_LAYOUTS[kind], values));
}
