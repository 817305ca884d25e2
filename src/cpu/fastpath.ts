import type { Instr } from './block';
import { handlers } from './ops/registry';

/**
 * The forms the run loop executes inline instead of calling their handler: register ALU operations,
 * INC/DEC and MOV at 16/32/64 bits, 8-bit register MOV, and JZ/JNZ/JB/JAE, which make up most of a
 * tight loop. Each kind's inline code in Cpu.run (generated, see the case labels) must behave
 * exactly like its handler; test/cpu/fastpath.test.ts runs programs both ways and compares.
 */
export const KIND_ADD32_RR = 1;
export const KIND_OR32_RR = 2;
export const KIND_AND32_RR = 3;
export const KIND_SUB32_RR = 4;
export const KIND_XOR32_RR = 5;
export const KIND_CMP32_RR = 6;
export const KIND_ADD32_RI = 7;
export const KIND_OR32_RI = 8;
export const KIND_AND32_RI = 9;
export const KIND_SUB32_RI = 10;
export const KIND_XOR32_RI = 11;
export const KIND_CMP32_RI = 12;
export const KIND_INC32 = 13;
export const KIND_DEC32 = 14;
export const KIND_MOV32_RR = 15;
export const KIND_ADD16_RR = 16;
export const KIND_OR16_RR = 17;
export const KIND_AND16_RR = 18;
export const KIND_SUB16_RR = 19;
export const KIND_XOR16_RR = 20;
export const KIND_CMP16_RR = 21;
export const KIND_ADD16_RI = 22;
export const KIND_OR16_RI = 23;
export const KIND_AND16_RI = 24;
export const KIND_SUB16_RI = 25;
export const KIND_XOR16_RI = 26;
export const KIND_CMP16_RI = 27;
export const KIND_INC16 = 28;
export const KIND_DEC16 = 29;
export const KIND_MOV16_RR = 30;
export const KIND_ADD64_RR = 31;
export const KIND_OR64_RR = 32;
export const KIND_AND64_RR = 33;
export const KIND_SUB64_RR = 34;
export const KIND_XOR64_RR = 35;
export const KIND_CMP64_RR = 36;
export const KIND_ADD64_RI = 37;
export const KIND_OR64_RI = 38;
export const KIND_AND64_RI = 39;
export const KIND_SUB64_RI = 40;
export const KIND_XOR64_RI = 41;
export const KIND_CMP64_RI = 42;
export const KIND_INC64 = 43;
export const KIND_DEC64 = 44;
export const KIND_MOV64_RR = 45;
export const KIND_MOV8_RR = 46;
export const KIND_JZ = 47;
export const KIND_JNZ = 48;
export const KIND_JB = 49;
export const KIND_JAE = 50;
export const KIND_PUSH_R = 51;
export const KIND_POP_R = 52;
export const KIND_CALL_REL = 53;
export const KIND_RET = 54;

const ALU = ['ADD', 'OR', '', '', 'AND', 'SUB', 'XOR', 'CMP'];
const KIND_BY_NAME: Record<string, number> = {
  ADD32_RR: 1,
  OR32_RR: 2,
  AND32_RR: 3,
  SUB32_RR: 4,
  XOR32_RR: 5,
  CMP32_RR: 6,
  ADD32_RI: 7,
  OR32_RI: 8,
  AND32_RI: 9,
  SUB32_RI: 10,
  XOR32_RI: 11,
  CMP32_RI: 12,
  INC32: 13,
  DEC32: 14,
  MOV32_RR: 15,
  ADD16_RR: 16,
  OR16_RR: 17,
  AND16_RR: 18,
  SUB16_RR: 19,
  XOR16_RR: 20,
  CMP16_RR: 21,
  ADD16_RI: 22,
  OR16_RI: 23,
  AND16_RI: 24,
  SUB16_RI: 25,
  XOR16_RI: 26,
  CMP16_RI: 27,
  INC16: 28,
  DEC16: 29,
  MOV16_RR: 30,
  ADD64_RR: 31,
  OR64_RR: 32,
  AND64_RR: 33,
  SUB64_RR: 34,
  XOR64_RR: 35,
  CMP64_RR: 36,
  ADD64_RI: 37,
  OR64_RI: 38,
  AND64_RI: 39,
  SUB64_RI: 40,
  XOR64_RI: 41,
  CMP64_RI: 42,
  INC64: 43,
  DEC64: 44,
  MOV64_RR: 45,
  MOV8_RR: 46,
  JZ: 47,
  JNZ: 48,
  JB: 49,
  JAE: 50
};

/** Disables inline execution (tests compare both paths). */
export const fastPathControl = { enabled: true };

function is(i: Instr, name: string): boolean {
  return i.fn === handlers[name];
}

/** The inline kind for a decoded instruction, 0 when it has none. */
export function kindOf(i: Instr): number {
  if (!fastPathControl.enabled || i.isMem) return 0;
  const sz = i.size === 4 ? '32' : i.size === 2 ? '16' : i.size === 8 ? '64' : '8';
  const alu = ALU[i.cc] ?? '';
  if (is(i, 'alu_EG') || /^alu32rr_\d$/.test(nameOf(i))) return alu && sz !== '8' ? KIND_BY_NAME[`${alu}${sz}_RR`] ?? 0 : 0;
  if (is(i, 'alu_EI') || /^alu32ri_\d$/.test(nameOf(i))) return alu && sz !== '8' ? KIND_BY_NAME[`${alu}${sz}_RI`] ?? 0 : 0;
  if (is(i, 'inc32r') || is(i, 'inc_E')) return KIND_BY_NAME[`INC${sz}`] ?? 0;
  if (is(i, 'dec32r') || is(i, 'dec_E')) return KIND_BY_NAME[`DEC${sz}`] ?? 0;
  if (is(i, 'mov32rr') || is(i, 'mov_EG')) return KIND_BY_NAME[sz === '8' ? 'MOV8_RR' : `MOV${sz}_RR`] ?? 0;
  if (is(i, 'jcc_4')) return KIND_JZ;
  if (is(i, 'jcc_5')) return KIND_JNZ;
  if (is(i, 'jcc') && i.cc === 2) return KIND_JB;
  if (is(i, 'jcc') && i.cc === 3) return KIND_JAE;
  // stack and near calls with 16/32-bit operands (64-bit ones keep their handlers)
  if (i.size === 2 || i.size === 4) {
    if (is(i, 'push_R')) return KIND_PUSH_R;
    if (is(i, 'pop_R')) return KIND_POP_R;
    if (is(i, 'call_rel')) return KIND_CALL_REL;
    if (is(i, 'ret_near') && i.imm === 0) return KIND_RET;
  }
  return 0;
}

let names: Map<unknown, string> | null = null;
function nameOf(i: Instr): string {
  if (names === null) {
    names = new Map();
    for (const [k, v] of Object.entries(handlers)) names.set(v, k);
  }
  return names.get(i.fn) ?? '';
}
