/**
 * Bit-field layouts as data, and the generic decode/encode over them. The MSR layouts, exit
 * qualifications, interruption-information and instruction-information formats are all described
 * with these.
 */

export interface BitField {
  /** camelCase identifier, stable for code and views. */
  readonly name: string;
  /** Lowest bit. */
  readonly lo: number;
  /** Highest bit (inclusive). */
  readonly hi: number;
  readonly description: string;
  /** Names for enumerated values. */
  readonly values?: Readonly<Record<number, string>>;
  /** How to show the value: 'flag' (1-bit default), 'dec', 'hex' (multi-bit default). */
  readonly format?: 'flag' | 'dec' | 'hex';
  /** Reserved bits (should be 0): decoded only when non-zero, never encoded. */
  readonly reserved?: true;
  /** Undefined bits (may hold anything): never decoded or encoded. */
  readonly ignored?: true;
}

export interface DecodedField {
  readonly name: string;
  /** number for fields up to 32 bits wide, bigint for wider ones. */
  readonly value: number | bigint;
  readonly text: string;
  readonly description?: string;
}

export function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
}

/** Bits hi..lo of value (unsigned). */
export function bitsOf(value: number | bigint, lo: number, hi: number): bigint {
  const width = BigInt(hi - lo + 1);
  return (BigInt.asUintN(64, toBigInt(value)) >> BigInt(lo)) & ((1n << width) - 1n);
}

export function fieldWidth(f: BitField): number {
  return f.hi - f.lo + 1;
}

/** The field's value, as a number when it is at most 32 bits wide and a bigint otherwise. */
export function fieldValue(f: BitField, value: number | bigint): number | bigint {
  const v = bitsOf(value, f.lo, f.hi);
  return fieldWidth(f) <= 32 ? Number(v) : v;
}

export function hex(value: number | bigint, pad = 0): string {
  const v = toBigInt(value);
  const s = (v < 0n ? -v : v).toString(16).toUpperCase().padStart(pad, '0');
  return (v < 0n ? '-0x' : '0x') + s;
}

/** Text for one field value according to its layout entry. */
export function formatFieldValue(f: BitField, v: number | bigint): string {
  if (f.values) {
    const label = f.values[Number(v)];
    return label !== undefined ? `${v} (${label})` : `${v} (unknown)`;
  }
  const format = f.format ?? (fieldWidth(f) === 1 ? 'flag' : 'hex');
  if (format === 'flag') return toBigInt(v) !== 0n ? 'yes' : 'no';
  if (format === 'dec') return String(v);
  return hex(v);
}

/**
 * Decodes every non-reserved field of `layout`; reserved fields appear only when non-zero (text notes
 * it). Order follows the layout.
 */
export function decodeBitFields(layout: readonly BitField[], value: number | bigint): DecodedField[] {
  const out: DecodedField[] = [];
  for (const f of layout) {
    if (f.ignored) continue;
    const v = fieldValue(f, value);
    if (f.reserved) {
      if (toBigInt(v) !== 0n) out.push({ name: f.name, value: v, text: `${hex(v)} (reserved bits ${f.hi}:${f.lo} set)`, description: f.description });
      continue;
    }
    out.push({ name: f.name, value: v, text: formatFieldValue(f, v), description: f.description });
  }
  return out;
}

/** Builds a value from named field values (booleans are 1/0). Unknown names throw. */
export function encodeBitFields(layout: readonly BitField[], values: Readonly<Record<string, number | bigint | boolean | undefined>>): bigint {
  let out = 0n;
  for (const [name, raw] of Object.entries(values)) {
    if (raw === undefined) continue;
    const f = layout.find((l) => l.name === name && !l.reserved && !l.ignored);
    if (!f) throw new Error(`no field ${name} in layout`);
    const v = typeof raw === 'boolean' ? (raw ? 1n : 0n) : toBigInt(raw);
    const mask = (1n << BigInt(fieldWidth(f))) - 1n;
    if (v < 0n || v > mask) throw new RangeError(`value ${v} does not fit field ${name} (bits ${f.hi}:${f.lo})`);
    out |= v << BigInt(f.lo);
  }
  return out;
}

/** Looks a field up by name in a layout. */
export function layoutField(layout: readonly BitField[], name: string): BitField | undefined {
  return layout.find((f) => f.name === name);
}

/** Checks that fields do not overlap and lie within `bits` (used on the static layouts at load). */
export function checkLayout(what: string, layout: readonly BitField[], bits = 64): void {
  let used = 0n;
  for (const f of layout) {
    if (f.lo < 0 || f.hi < f.lo || f.hi >= bits) throw new Error(`${what}: bad bit range ${f.hi}:${f.lo} for ${f.name}`);
    const mask = ((1n << BigInt(fieldWidth(f))) - 1n) << BigInt(f.lo);
    if ((used & mask) !== 0n) throw new Error(`${what}: field ${f.name} overlaps another`);
    used |= mask;
  }
}
