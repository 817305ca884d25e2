/**
 * VMCS component encodings (SDM vol. 3C, "Field Encoding in VMCS", Table 25-21 / Appendix B).
 *
 * A field encoding is a 32-bit value:
 *   bit 0      access type: 0 = full, 1 = high (bits 63:32 of a 64-bit field; invalid for other widths)
 *   bits 9:1   index
 *   bits 11:10 type: 0 = control, 1 = VM-exit information (read-only data), 2 = guest state, 3 = host state
 *   bit 12     reserved, must be 0
 *   bits 14:13 width: 0 = 16-bit, 1 = 64-bit, 2 = 32-bit, 3 = natural width
 *   bits 31:15 reserved, must be 0
 */

export type VmcsFieldWidth = '16' | '32' | '64' | 'natural';
export type VmcsFieldType = 'control' | 'exit-info' | 'guest' | 'host';
export type VmcsAccessType = 'full' | 'high';

/** Width by the value of encoding bits 14:13. */
export const WIDTH_BY_CODE: readonly VmcsFieldWidth[] = ['16', '64', '32', 'natural'];
/** Type by the value of encoding bits 11:10. */
export const TYPE_BY_CODE: readonly VmcsFieldType[] = ['control', 'exit-info', 'guest', 'host'];

export const ENCODING_ACCESS_HIGH = 0x0001;
export const ENCODING_INDEX_MASK = 0x03fe;
export const ENCODING_TYPE_SHIFT = 10;
export const ENCODING_RESERVED_BIT12 = 0x1000;
export const ENCODING_WIDTH_SHIFT = 13;
/** Bits that may be set in a valid encoding (everything but 31:15 and 12). */
export const ENCODING_VALID_MASK = 0x6fff;

function low32(enc: number | bigint): number {
  return Number(BigInt.asUintN(32, BigInt(enc)));
}

/**
 * True when `enc` is a well-formed encoding: a non-negative integer below 2^32 with bits 31:15 and
 * bit 12 clear. (Whether a field with that encoding exists is a separate question: see
 * `fieldByEncoding`.) In 64-bit mode VMREAD/VMWRITE take the encoding from a 64-bit register; any
 * bit above 14 set, including bits 63:32, makes it unsupported, so bigint input is checked whole.
 */
export function isValidEncoding(enc: number | bigint): boolean {
  if (typeof enc === 'number') {
    if (!Number.isInteger(enc) || enc < 0) return false;
    return enc <= 0x7fff && (enc & ENCODING_RESERVED_BIT12) === 0;
  }
  if (enc < 0n) return false;
  return enc <= 0x7fffn && (enc & BigInt(ENCODING_RESERVED_BIT12)) === 0n;
}

/** Width from bits 14:13. */
export function encodingWidth(enc: number | bigint): VmcsFieldWidth {
  return WIDTH_BY_CODE[(low32(enc) >>> ENCODING_WIDTH_SHIFT) & 3];
}

/** Type from bits 11:10. */
export function encodingType(enc: number | bigint): VmcsFieldType {
  return TYPE_BY_CODE[(low32(enc) >>> ENCODING_TYPE_SHIFT) & 3];
}

/** Index from bits 9:1. */
export function encodingIndex(enc: number | bigint): number {
  return (low32(enc) & ENCODING_INDEX_MASK) >>> 1;
}

/** Access type from bit 0. */
export function encodingAccessType(enc: number | bigint): VmcsAccessType {
  return (low32(enc) & ENCODING_ACCESS_HIGH) !== 0 ? 'high' : 'full';
}

export interface DecodedEncoding {
  readonly encoding: number;
  readonly valid: boolean;
  readonly accessType: VmcsAccessType;
  readonly index: number;
  readonly type: VmcsFieldType;
  readonly width: VmcsFieldWidth;
}

/** Splits an encoding into its parts (the parts are taken from the low 32 bits). */
export function decodeEncoding(enc: number | bigint): DecodedEncoding {
  return {
    encoding: low32(enc),
    valid: isValidEncoding(enc),
    accessType: encodingAccessType(enc),
    index: encodingIndex(enc),
    type: encodingType(enc),
    width: encodingWidth(enc),
  };
}

/** Builds an encoding from its parts (inverse of decodeEncoding). */
export function makeEncoding(width: VmcsFieldWidth, type: VmcsFieldType, index: number, accessType: VmcsAccessType = 'full'): number {
  if (!Number.isInteger(index) || index < 0 || index > 0x1ff) throw new RangeError(`VMCS index out of range: ${index}`);
  return (
    (WIDTH_BY_CODE.indexOf(width) << ENCODING_WIDTH_SHIFT) |
    (TYPE_BY_CODE.indexOf(type) << ENCODING_TYPE_SHIFT) |
    (index << 1) |
    (accessType === 'high' ? ENCODING_ACCESS_HIGH : 0)
  );
}

/** Size in bytes of a field of the given width; natural width is 8 on a processor with Intel 64. */
export function widthBytes(width: VmcsFieldWidth): 2 | 4 | 8 {
  return width === '16' ? 2 : width === '32' ? 4 : 8;
}

/** "0x681E" style formatting used by the tables, dumps and messages. */
export function formatEncoding(enc: number): string {
  return '0x' + (enc >>> 0).toString(16).toUpperCase().padStart(4, '0');
}
