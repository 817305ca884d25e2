import { handlers } from './ops/registry';
import type { Handler } from './block';

/**
 * The forms the run loop executes inline instead of calling their handler: 32-bit register ALU
 * operations, INC/DEC, MOV and JZ/JNZ, which make up most of a tight loop. Each kind's inline code
 * in Cpu.run must do exactly what its handler does (test/cpu/fastpath.test.ts runs programs both
 * ways and compares).
 */
export const KIND_ADD_RR = 1;
export const KIND_OR_RR = 2;
export const KIND_AND_RR = 3;
export const KIND_SUB_RR = 4;
export const KIND_XOR_RR = 5;
export const KIND_CMP_RR = 6;
export const KIND_ADD_RI = 7;
export const KIND_OR_RI = 8;
export const KIND_AND_RI = 9;
export const KIND_SUB_RI = 10;
export const KIND_XOR_RI = 11;
export const KIND_CMP_RI = 12;
export const KIND_INC = 13;
export const KIND_DEC = 14;
export const KIND_MOV_RR = 15;
export const KIND_JZ = 16;
export const KIND_JNZ = 17;

const byName: [string, number][] = [
  ['alu32rr_0', KIND_ADD_RR], ['alu32rr_1', KIND_OR_RR], ['alu32rr_4', KIND_AND_RR], ['alu32rr_5', KIND_SUB_RR],
  ['alu32rr_6', KIND_XOR_RR], ['alu32rr_7', KIND_CMP_RR],
  ['alu32ri_0', KIND_ADD_RI], ['alu32ri_1', KIND_OR_RI], ['alu32ri_4', KIND_AND_RI], ['alu32ri_5', KIND_SUB_RI],
  ['alu32ri_6', KIND_XOR_RI], ['alu32ri_7', KIND_CMP_RI],
  ['inc32r', KIND_INC], ['dec32r', KIND_DEC], ['mov32rr', KIND_MOV_RR], ['jcc_4', KIND_JZ], ['jcc_5', KIND_JNZ],
];

let table: Map<Handler, number> | null = null;

/** The inline kind for a handler, 0 when it has none. */
export function kindOf(fn: Handler): number {
  if (table === null) {
    table = new Map();
    for (const [name, kind] of byName) {
      const h = handlers[name];
      if (h) table.set(h, kind);
    }
  }
  return table.get(fn) ?? 0;
}

/** Disables inline execution (tests compare both paths). */
export const fastPathControl = { enabled: true };
