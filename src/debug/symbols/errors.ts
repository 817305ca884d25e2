/**
 * The one error type the debug-info readers throw. A damaged or unsupported debug section, a
 * truncated header or an offset that points outside its section gives a DebugInfoError naming the
 * section and the byte offset inside it, never a RangeError from a DataView, a silent garbage result
 * or a hang.
 */
export class DebugInfoError extends Error {
  override readonly name = 'DebugInfoError';

  constructor(
    /** What was being read: a section name (".debug_line"), "ELF" or a file name for listings. */
    readonly section: string,
    /** Byte offset inside `section` (for a listing: the line number), when there is one. */
    readonly offset: number | undefined,
    /** The problem, without the location prefix. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${section}${offset === undefined ? '' : ` at offset ${hex(offset)}`}: ${detail}`, options);
  }
}

/** Hexadecimal with a 0x prefix, as offsets and addresses appear in every message. */
export function hex(value: number | bigint): string {
  return (value < 0 ? '-0x' : '0x') + (value < 0 ? -value : value).toString(16);
}

/** An address option (number or bigint) checked to be a non-negative integer that fits 64 bits. */
export function toAddress(value: bigint | number, what: string, where: string): bigint {
  if (typeof value === 'number' ? Number.isSafeInteger(value) && value >= 0 : value >= 0n && value < 1n << 64n) {
    return BigInt(value);
  }
  throw new DebugInfoError(where, undefined, `${what} ${String(value)} is not an address`);
}
