import { DebugInfoError, hex } from './errors';

const utf8 = new TextDecoder('utf-8');
const TWO_32 = 2 ** 32;

/**
 * A little-endian cursor over one debug section. Every read checks the bounds first ([pos, end),
 * where `end` may be narrowed to the current unit), so malformed input becomes a DebugInfoError
 * naming the section, the offset and what was being read.
 */
export class DwarfReader {
  private readonly view: DataView;
  pos: number;
  end: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly section: string,
    start = 0,
    end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = Math.min(end, bytes.length);
  }

  fail(detail: string, offset: number = this.pos): never {
    throw new DebugInfoError(this.section, offset, detail);
  }

  /** Throws unless `n` more bytes are available before `end`. */
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end || this.pos < 0) {
      const limit = this.end === this.bytes.length ? 'the end of the section' : 'the end of its unit';
      this.fail(`${what} truncated: needs ${n} byte(s) but ${limit} is at ${hex(this.end)}`);
    }
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.bytes[this.pos++];
  }

  i8(what: string): number {
    const v = this.u8(what);
    return v >= 0x80 ? v - 0x100 : v;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u24(what: string): number {
    this.need(3, what);
    const v = this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8) | (this.bytes[this.pos + 2] << 16);
    this.pos += 3;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A 64-bit field that must fit a JS number (a length or an offset). */
  u64n(what: string): number {
    const at = this.pos;
    const lo = this.u32(what);
    const hi = this.u32(what);
    if (hi >= 0x200000) this.fail(`${what} ${hex((BigInt(hi) << 32n) | BigInt(lo))} is implausibly large`, at);
    return hi * TWO_32 + lo;
  }

  /** A section offset: 4 bytes in 32-bit DWARF, 8 in 64-bit DWARF. */
  offset(format64: boolean, what: string): number {
    return format64 ? this.u64n(what) : this.u32(what);
  }

  /** A target address of `size` bytes (1, 2, 4 or 8). */
  address(size: number, what: string): bigint {
    switch (size) {
      case 8:
        return this.u64(what);
      case 4:
        return BigInt(this.u32(what));
      case 2:
        return BigInt(this.u16(what));
      case 1:
        return BigInt(this.u8(what));
      default:
        return this.fail(`${what}: unsupported address size ${size}`);
    }
  }

  /** An unsigned LEB128 that must fit a JS number. */
  uleb(what: string): number {
    const at = this.pos;
    let byte = this.u8(what);
    if (byte < 0x80) return byte;
    let result = byte & 0x7f;
    let mul = 0x80;
    for (;;) {
      byte = this.u8(what);
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 56) this.fail(`${what}: LEB128 value is too long`, at);
    }
    if (result > Number.MAX_SAFE_INTEGER) this.fail(`${what}: LEB128 value is implausibly large`, at);
    return result;
  }

  /** An unsigned LEB128 of any size, as a bigint (addresses in range lists). */
  ulebBig(what: string): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.u8(what);
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
    }
  }

  /** A signed LEB128 that must fit a JS number. */
  sleb(what: string): number {
    const at = this.pos;
    let byte = this.u8(what);
    if (byte < 0x80) return byte >= 0x40 ? byte - 0x80 : byte;
    let result = byte & 0x7f;
    let mul = 0x80;
    for (;;) {
      byte = this.u8(what);
      result += (byte & 0x7f) * mul;
      mul *= 0x80;
      if (byte < 0x80) break;
      if (mul > 2 ** 56) this.fail(`${what}: LEB128 value is too long`, at);
    }
    if (byte & 0x40) result -= mul;
    if (!Number.isSafeInteger(result)) this.fail(`${what}: LEB128 value is implausibly large`, at);
    return result;
  }

  /** Skips a LEB128 of any length. */
  skipLeb(what: string): void {
    while (this.u8(what) & 0x80) {
      /* continue */
    }
  }

  /** A NUL-terminated UTF-8 string that must end before `end`. */
  cstring(what: string): string {
    const start = this.pos;
    if (start >= this.end) this.need(1, what);
    const nul = this.bytes.indexOf(0, start);
    if (nul < 0 || nul >= this.end) this.fail(`${what}: string has no terminating NUL before ${hex(this.end)}`, start);
    this.pos = nul + 1;
    return nul === start ? '' : utf8.decode(this.bytes.subarray(start, nul));
  }

  bytesOf(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/**
 * Reads the NUL-terminated string at `offset` of a string section (.debug_str, .debug_line_str),
 * for the *strp forms. `from` names what held the offset, for the error message.
 */
export function stringAt(section: Uint8Array | undefined, name: string, offset: number, from: string): string {
  if (section === undefined) {
    throw new DebugInfoError(name, undefined, `${from} refers to offset ${hex(offset)} but the image has no ${name}`);
  }
  if (offset < 0 || offset >= section.length) {
    throw new DebugInfoError(
      name, offset, `${from}: string offset ${hex(offset)} is outside the section (${hex(section.length)} bytes)`,
    );
  }
  const reader = new DwarfReader(section, name, offset);
  return reader.cstring(`string referenced by ${from}`);
}

/** Reads a unit length (the first field of every DWARF unit): its size and whether it is 64-bit DWARF. */
export function readUnitLength(reader: DwarfReader, what: string): { length: number; format64: boolean } {
  const at = reader.pos;
  const first = reader.u32(`${what} unit_length`);
  if (first === 0xffffffff) return { length: reader.u64n(`${what} unit_length (64-bit DWARF)`), format64: true };
  if (first >= 0xfffffff0) reader.fail(`${what} unit_length ${hex(first)} is a reserved value`, at);
  return { length: first, format64: false };
}
