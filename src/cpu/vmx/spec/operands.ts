/**
 * Operand encodings shared by exit qualifications and VM-exit instruction information
 * (SDM vol. 3C 28.2.1 and 28.2.5): general-purpose registers, segment registers, address sizes,
 * and the architectural exception vectors named in interruption information.
 */

/** GPR encoding 0-15 used by CR/DR qualifications and instruction information. */
export const GPR_NAMES: readonly string[] = [
  'RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI',
  'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15',
];

/** Segment-register encoding 0-5 used by instruction information. */
export const SEGMENT_NAMES: readonly string[] = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];

/** Address-size encoding in instruction information (bits 9:7). */
export const ADDRESS_SIZE_NAMES: Readonly<Record<number, string>> = { 0: '16-bit', 1: '32-bit', 2: '64-bit' };

/** Scaling encoding in instruction information (bits 1:0). */
export const SCALING_NAMES: Readonly<Record<number, string>> = { 0: 'no scaling', 1: 'scale by 2', 2: 'scale by 4', 3: 'scale by 8' };

/** Architectural exception vectors 0-31 that have a mnemonic. */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF',
  9: 'coprocessor segment overrun', 10: '#TS', 11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF',
  16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM', 20: '#VE', 21: '#CP',
};

export const GPR_VALUES: Readonly<Record<number, string>> = Object.freeze(Object.fromEntries(GPR_NAMES.map((n, i) => [i, n])));
export const SEGMENT_VALUES: Readonly<Record<number, string>> = Object.freeze(Object.fromEntries(SEGMENT_NAMES.map((n, i) => [i, n])));
