/**
 * Validation for the VMCS tree's edit actions (edit a field, flip a control bit), pure TypeScript.
 * The adapter's `vmx/writeVmcs` validates again with the CPU's own checks; this catches mistakes before
 * the request and explains them with the model's knowledge (width, read-only, allowed settings).
 */
import { CONTROL_VECTORS, CONTROL_VECTOR_INFO, controlByBit, type ControlVector } from '../../cpu/vmx/spec';
import { parseValue, type ReadVmcsEntry, type ReadVmcsField } from './model';

export type FieldFormat = 'hex' | 'dec';

export function formatValue(v: bigint, format: FieldFormat): string {
  return format === 'dec' ? v.toString(10) : '0x' + v.toString(16);
}

export function widthBits(width: string): number {
  return width === 'natural' ? 64 : Number(width) || 64;
}

export function vectorOfField(name: string): ControlVector | undefined {
  return CONTROL_VECTORS.find((v) => CONTROL_VECTOR_INFO[v].field === name);
}

/** Parses what the user typed: 0x.., 0b.., 0o.., decimal, or NASM-style 1fh. Undefined when not a number. */
export function parseUserNumber(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '');
  if (!t) return undefined;
  try {
    if (/^0[xX][0-9a-fA-F]+$|^0[bB][01]+$|^0[oO][0-7]+$|^\d+$/.test(t)) return BigInt(t);
    if (/^[0-9][0-9a-fA-F]*[hH]$/.test(t)) return BigInt('0x' + t.slice(0, -1));
  } catch {
    return undefined;
  }
  return undefined;
}

/** Allowed settings of a control vector, when the response carries them. */
export function allowedSettings(entry: ReadVmcsEntry | undefined, vec: ControlVector): { must1: number; may1: number } | undefined {
  const c = entry?.controls?.[vec];
  if (!c) return undefined;
  const n = (v: number | string) => (typeof v === 'number' ? v >>> 0 : Number(parseValue(v) & 0xFFFFFFFFn));
  return { must1: n(c.must1), may1: n(c.may1) };
}

/** An error message for writing `value` to `field`, or undefined when it looks valid. */
export function checkFieldWrite(field: ReadVmcsField, value: bigint, entry?: ReadVmcsEntry): string | undefined {
  if (!field.supported) return `${field.name} is not supported by this CPU model`;
  if (field.readOnly) return `${field.name} is a read-only (VM-exit information) field`;
  if (value < 0n) return 'the value must not be negative';
  const bits = widthBits(field.width);
  if (value >> BigInt(bits) !== 0n) return `${field.name} is ${bits} bits wide: the value does not fit`;
  const vec = vectorOfField(field.name);
  const caps = vec ? allowedSettings(entry, vec) : undefined;
  if (vec && caps && bits <= 32) {
    const v = Number(value);
    const missing = caps.must1 & ~v;
    const forbidden = v & ~caps.may1;
    const names = (mask: number) => {
      const out: string[] = [];
      for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) out.push(controlByBit(vec, b)?.name ?? `bit ${b}`);
      return out.join(', ');
    };
    if (missing) return `the capability MSRs require these controls to be 1: ${names(missing >>> 0)}`;
    if (forbidden) return `the capability MSRs do not allow these controls to be 1: ${names(forbidden >>> 0)}`;
  }
  return undefined;
}

/** Validates the text of the edit box; returns the message VS Code shows, or undefined. */
export function validateFieldInput(field: ReadVmcsField, text: string, entry?: ReadVmcsEntry): string | undefined {
  const v = parseUserNumber(text);
  if (v === undefined) return 'Enter a number: 0x1f, 31, 0b11111 or 1fh';
  return checkFieldWrite(field, v, entry);
}

/** The control vector's value with `bit` flipped, or an error when the allowed settings fix that bit. */
export function flipBit(field: ReadVmcsField, value: bigint, bit: number, entry?: ReadVmcsEntry): { value: bigint } | { error: string } {
  const vec = vectorOfField(field.name);
  if (!vec) return { error: `${field.name} is not a control vector` };
  const caps = allowedSettings(entry, vec);
  const name = controlByBit(vec, bit)?.name ?? `bit ${bit}`;
  if (caps && bit < 32) {
    if ((caps.must1 >>> bit) & 1) return { error: `${name} is fixed to 1 by the capability MSRs` };
    if (!((caps.may1 >>> bit) & 1)) return { error: `${name} is fixed to 0 by the capability MSRs` };
  }
  const next = value ^ (1n << BigInt(bit));
  const err = checkFieldWrite(field, next, entry);
  return err ? { error: err } : { value: next };
}

/** A data breakpoint as DAP's setDataBreakpoints takes it. */
export interface DataBp { dataId: string; accessType?: string; condition?: string; hitCondition?: string }

/** The data breakpoint id the adapter gives a VMCS field (dataBreakpointInfo on `vmcs.NAME`). */
export function vmcsDataId(field: string): string {
  return `vmcs:${field.toUpperCase()}`;
}

/**
 * VS Code 1.100 has no API to add a data breakpoint, so the tree's "break when this field changes" sends
 * setDataBreakpoints itself: the client's own list (the last one VS Code sent) plus the tree's fields.
 */
export function mergeDataBreakpoints(client: readonly DataBp[], fields: Iterable<string>): DataBp[] {
  const out = [...client];
  const have = new Set(client.map((b) => b.dataId));
  for (const f of fields) {
    const id = vmcsDataId(f);
    if (!have.has(id)) { out.push({ dataId: id, accessType: 'write' }); have.add(id); }
  }
  return out;
}
