/**
 * Event-information formats (SDM vol. 3C 25.8.3 and 25.9.2-25.9.3):
 * VM-exit interruption information (VM_EXIT_INTR_INFO 0x4404), IDT-vectoring information
 * (IDT_VECTORING_INFO_FIELD 0x4408) and VM-entry interruption information (VM_ENTRY_INTR_INFO_FIELD 0x4016).
 * All three share bits 7:0 vector, 10:8 type, 11 error-code valid, 31 valid.
 */

import { BitField, DecodedField, checkLayout, decodeBitFields, encodeBitFields, hex } from './bits';
import { EXCEPTION_NAMES } from './operands';

export type InterruptionInfoKind = 'exit' | 'idt-vectoring' | 'entry';

/** Interruption types (bits 10:8). */
export const INTR_TYPE = {
  EXTERNAL_INTERRUPT: 0,
  RESERVED: 1,
  NMI: 2,
  HARDWARE_EXCEPTION: 3,
  SOFTWARE_INTERRUPT: 4,
  PRIVILEGED_SOFTWARE_EXCEPTION: 5,
  SOFTWARE_EXCEPTION: 6,
  OTHER_EVENT: 7,
} as const;

export const INTR_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'external interrupt',
  1: 'reserved',
  2: 'NMI',
  3: 'hardware exception',
  4: 'software interrupt',
  5: 'privileged software exception',
  6: 'software exception',
  7: 'other event',
};

/** Masks (same values as Linux INTR_INFO_*). */
export const INTR_INFO_VECTOR_MASK = 0x000000ff;
export const INTR_INFO_TYPE_MASK = 0x00000700;
export const INTR_INFO_TYPE_SHIFT = 8;
export const INTR_INFO_DELIVER_CODE_MASK = 0x00000800;
export const INTR_INFO_UNBLOCK_NMI = 0x00001000;
export const INTR_INFO_NESTED_EXCEPTION = 0x00002000;
export const INTR_INFO_VALID_MASK = 0x80000000;

/** Types that can appear in each kind of field. */
const EXIT_TYPES: Readonly<Record<number, string>> = { 0: 'external interrupt', 2: 'NMI', 3: 'hardware exception', 5: 'privileged software exception', 6: 'software exception' };
const IDT_TYPES: Readonly<Record<number, string>> = { 0: 'external interrupt', 2: 'NMI', 3: 'hardware exception', 4: 'software interrupt', 5: 'privileged software exception', 6: 'software exception' };
const ENTRY_TYPES: Readonly<Record<number, string>> = { ...IDT_TYPES, 7: 'other event' };

export const EXIT_INTERRUPTION_INFO_LAYOUT: readonly BitField[] = [
  { name: 'vector', lo: 0, hi: 7, description: 'Vector of the interrupt or exception (2 for NMI)' },
  { name: 'type', lo: 8, hi: 10, description: 'Interruption type', values: EXIT_TYPES },
  { name: 'errorCodeValid', lo: 11, hi: 11, description: 'Error code valid (in VM_EXIT_INTR_ERROR_CODE)' },
  { name: 'nmiUnblocking', lo: 12, hi: 12, description: 'NMI unblocking due to IRET' },
  { name: 'nestedException', lo: 13, hi: 13, description: 'Nested exception (FRED)' },
  { name: 'reserved', lo: 14, hi: 30, description: 'Reserved (0)', reserved: true },
  { name: 'valid', lo: 31, hi: 31, description: 'Valid' },
];

export const IDT_VECTORING_INFO_LAYOUT: readonly BitField[] = [
  { name: 'vector', lo: 0, hi: 7, description: 'Vector of the event being delivered' },
  { name: 'type', lo: 8, hi: 10, description: 'Interruption type', values: IDT_TYPES },
  { name: 'errorCodeValid', lo: 11, hi: 11, description: 'Error code valid (in IDT_VECTORING_ERROR_CODE)' },
  { name: 'undefined12', lo: 12, hi: 12, description: 'Undefined', ignored: true },
  { name: 'nestedException', lo: 13, hi: 13, description: 'Nested exception (FRED)' },
  { name: 'reserved', lo: 14, hi: 30, description: 'Reserved (0)', reserved: true },
  { name: 'valid', lo: 31, hi: 31, description: 'Valid' },
];

export const ENTRY_INTERRUPTION_INFO_LAYOUT: readonly BitField[] = [
  { name: 'vector', lo: 0, hi: 7, description: 'Vector to inject (for type 7: 0 = pending MTF VM exit)' },
  { name: 'type', lo: 8, hi: 10, description: 'Interruption type', values: ENTRY_TYPES },
  { name: 'deliverErrorCode', lo: 11, hi: 11, description: 'Deliver error code (VM_ENTRY_EXCEPTION_ERROR_CODE)' },
  { name: 'reserved12', lo: 12, hi: 12, description: 'Reserved (0)', reserved: true },
  { name: 'nestedException', lo: 13, hi: 13, description: 'Nested exception (FRED)' },
  { name: 'reserved', lo: 14, hi: 30, description: 'Reserved (0)', reserved: true },
  { name: 'valid', lo: 31, hi: 31, description: 'Valid' },
];

export const INTERRUPTION_INFO_LAYOUTS: Readonly<Record<InterruptionInfoKind, readonly BitField[]>> = {
  exit: EXIT_INTERRUPTION_INFO_LAYOUT,
  'idt-vectoring': IDT_VECTORING_INFO_LAYOUT,
  entry: ENTRY_INTERRUPTION_INFO_LAYOUT,
};

for (const [k, l] of Object.entries(INTERRUPTION_INFO_LAYOUTS)) checkLayout(`${k} interruption information`, l, 32);

/** Text for a vector given the interruption type: exceptions get their mnemonic. */
export function vectorText(vector: number, type: number): string {
  if (type === INTR_TYPE.NMI) return `${vector} (NMI)`;
  if (type === INTR_TYPE.HARDWARE_EXCEPTION || type === INTR_TYPE.SOFTWARE_EXCEPTION || type === INTR_TYPE.PRIVILEGED_SOFTWARE_EXCEPTION) {
    const name = EXCEPTION_NAMES[vector];
    return name ? `${vector} (${name})` : String(vector);
  }
  if (type === INTR_TYPE.OTHER_EVENT) return vector === 0 ? '0 (pending MTF VM exit)' : String(vector);
  return hex(vector, 2);
}

/** Decodes an interruption-information value; vector text depends on the type. */
export function decodeInterruptionInfo(kind: InterruptionInfoKind, value: number | bigint): DecodedField[] {
  const fields = decodeBitFields(INTERRUPTION_INFO_LAYOUTS[kind], value);
  const v = Number(BigInt.asUintN(32, BigInt(value)));
  const vector = v & INTR_INFO_VECTOR_MASK;
  const type = (v & INTR_INFO_TYPE_MASK) >>> INTR_INFO_TYPE_SHIFT;
  return fields.map((f) => (f.name === 'vector' ? { ...f, text: vectorText(vector, type) } : f));
}

export interface InterruptionInfo {
  readonly vector: number;
  readonly type: number;
  readonly errorCodeValid: boolean;
  /** Exit info only: NMI unblocking due to IRET. */
  readonly nmiUnblocking: boolean;
  readonly nestedException: boolean;
  readonly valid: boolean;
}

/** Structured view of any of the three fields (bit 12 is only meaningful for the exit kind). */
export function parseInterruptionInfo(value: number | bigint): InterruptionInfo {
  const v = Number(BigInt.asUintN(32, BigInt(value)));
  return {
    vector: v & INTR_INFO_VECTOR_MASK,
    type: (v & INTR_INFO_TYPE_MASK) >>> INTR_INFO_TYPE_SHIFT,
    errorCodeValid: (v & INTR_INFO_DELIVER_CODE_MASK) !== 0,
    nmiUnblocking: (v & INTR_INFO_UNBLOCK_NMI) !== 0,
    nestedException: (v & INTR_INFO_NESTED_EXCEPTION) !== 0,
    valid: (v & INTR_INFO_VALID_MASK) !== 0,
  };
}

/** Builds an interruption-information value (valid defaults to true). */
export function makeInterruptionInfo(info: {
  vector: number;
  type: number;
  errorCodeValid?: boolean;
  nmiUnblocking?: boolean;
  nestedException?: boolean;
  valid?: boolean;
}): number {
  const v = encodeBitFields(EXIT_INTERRUPTION_INFO_LAYOUT, {
    vector: info.vector,
    type: info.type,
    errorCodeValid: info.errorCodeValid ?? false,
    nmiUnblocking: info.nmiUnblocking ?? false,
    nestedException: info.nestedException ?? false,
    valid: info.valid ?? true,
  });
  return Number(v);
}

/** One-line text, e.g. "hardware exception 14 (#PF), error code valid". */
export function formatInterruptionInfo(kind: InterruptionInfoKind, value: number | bigint): string {
  const i = parseInterruptionInfo(value);
  if (!i.valid) return 'not valid';
  const parts = [`${INTR_TYPE_NAMES[i.type]} ${vectorText(i.vector, i.type)}`];
  if (i.errorCodeValid) parts.push(kind === 'entry' ? 'deliver error code' : 'error code valid');
  if (kind === 'exit' && i.nmiUnblocking) parts.push('NMI unblocking due to IRET');
  if (i.nestedException) parts.push('nested exception');
  return parts.join(', ');
}
