/** EFLAGS bits and the lazy-flag operation kinds. */

export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const IOPL = 3 << 12;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const VM = 1 << 17;
export const AC = 1 << 18;
export const VIF = 1 << 19;
export const VIP = 1 << 20;
export const ID = 1 << 21;

/** The six arithmetic status flags: the ones computed lazily. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of EFLAGS always reads as 1. */
export const FIXED1 = 1 << 1;
/** Every EFLAGS bit this CPU implements (the rest read as 0 and ignore writes). */
export const IMPLEMENTED = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

/**
 * Lazy-flag operation kinds. The last flag-setting ALU operation records its kind, operands and result;
 * the flags are derived from them only when something reads them.
 */
export const LZ_ADD = 1;
export const LZ_ADC = 2;
export const LZ_SUB = 3;
export const LZ_SBB = 4;
export const LZ_LOGIC = 5;
/** INC and DEC: like ADD/SUB of 1, but CF is the stored one. */
export const LZ_INC = 6;
export const LZ_DEC = 7;

/** PF: 1 when the low byte of the result has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b; b >>= 1) bits += b & 1;
  PARITY[i] = bits & 1 ? 0 : PF;
}

export const FLAG_NAMES: [number, string][] = [
  [CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [TF, 'TF'], [IF, 'IF'], [DF, 'DF'], [OF, 'OF'],
  [NT, 'NT'], [RF, 'RF'], [VM, 'VM'], [AC, 'AC'], [VIF, 'VIF'], [VIP, 'VIP'], [ID, 'ID'],
];
