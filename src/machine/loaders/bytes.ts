import { hex, LoadError } from './loadPlan';

const utf8 = new TextDecoder('utf-8');

/**
 * Little-endian reads from an image that check bounds first, so a bad offset becomes a LoadError
 * naming what was being read instead of a RangeError from DataView or a silent undefined.
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** True when [offset, offset + size) lies inside the image. Takes bigints so huge values can't wrap. */
  contains(offset: number | bigint, size: number | bigint): boolean {
    const start = BigInt(offset);
    return start >= 0n && BigInt(size) >= 0n && start + BigInt(size) <= BigInt(this.bytes.length);
  }

  /** Throws a LoadError naming `what` unless [offset, offset + size) lies inside the image. */
  require(offset: number | bigint, size: number | bigint, what: string): void {
    if (!this.contains(offset, size)) {
      throw new LoadError(
        `${what} truncated: needs file bytes ${hex(offset)}..${hex(BigInt(offset) + BigInt(size))} ` +
          `but the file is only ${hex(this.bytes.length)} bytes`,
      );
    }
  }

  /** An unsigned field of 1, 2, 4 or 8 bytes, as a bigint so 32- and 64-bit layouts share one path. */
  uint(offset: number, size: 1 | 2 | 4 | 8, what: string): bigint {
    this.require(offset, size, what);
    switch (size) {
      case 1:
        return BigInt(this.view.getUint8(offset));
      case 2:
        return BigInt(this.view.getUint16(offset, true));
      case 4:
        return BigInt(this.view.getUint32(offset, true));
      case 8:
        return this.view.getBigUint64(offset, true);
    }
  }

  u32(offset: number, what: string): number {
    this.require(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /**
   * A NUL-terminated string starting at `offset` that must end before `end` (the end of the string
   * table it belongs to). Invalid UTF-8 is replaced rather than rejected: a mangled symbol name is
   * no reason to refuse an image.
   */
  cstring(offset: number, end: number, what: string): string {
    if (offset < 0 || offset >= end || end > this.bytes.length) {
      throw new LoadError(`${what}: string offset ${hex(offset)} lies outside its string table`);
    }
    const nul = this.bytes.indexOf(0, offset);
    if (nul < 0 || nul >= end) {
      throw new LoadError(`${what}: string at file offset ${hex(offset)} has no terminating NUL`);
    }
    return utf8.decode(this.bytes.subarray(offset, nul));
  }
}
