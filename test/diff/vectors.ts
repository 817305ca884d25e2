/**
 * Loader for the native differential-test vectors in test/diff/vectors/
 * (produced by test/diff/gen.c via test/diff/build.sh; the format is described
 * in test/diff/README.md).
 *
 * Typical use:
 *
 *   import { loadForms } from './vectors';
 *   for (const form of loadForms({ bits: 64, groups: ['alu'] })) {
 *     for (const v of form.vectors) {
 *       const { in: regsIn, out: regsOut } = placeAt(v, 0x10000n); // pointer regs -> absolute
 *       ... run v.code in the emulator with regsIn / v.mem.before at 0x10000 ...
 *       ... if v.exc !== undefined expect that exception, state unchanged ...
 *       ... compare every reg in regsOut except v.undefRegs, and
 *           (rflags & v.flagsMask) ...
 *     }
 *   }
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

/** The status flags (CF PF AF ZF SF OF) plus DF: what a vector can check. */
export const CHECKED_FLAGS = 0xcd5;

export interface DiffMem {
  /** buffer size in bytes; place it anywhere (see placeAt) */
  size: number;
  before: Uint8Array;
  /** buffer after the instruction (equal to `before` when exc is set) */
  after: Uint8Array;
  /** registers whose in/out values are byte offsets into this buffer, not addresses */
  ptrRegs: string[];
}

export interface DiffVector {
  bits: 32 | 64;
  /** file group: alu, shift, bit, muldiv, misc, cond, string, bcd */
  group: string;
  /** Intel-syntax text with the immediate filled in */
  asm: string;
  /** the instruction's machine code (one instruction, no trailing RET) */
  code: Uint8Array;
  /** input registers (64-bit names even in 32-bit mode) plus "rflags" */
  in: Record<string, bigint>;
  /** expected registers plus "rflags" (equal to `in` when exc is set) */
  out: Record<string, bigint>;
  /** flag bits that must match: CHECKED_FLAGS & ~undefMask */
  flagsMask: number;
  /** status flags architecturally undefined for this input (out.rflags still holds what this CPU did) */
  undefMask: number;
  /** exception vector raised instead of completing (0 = #DE) */
  exc?: number;
  mem?: DiffMem;
  /** registers whose result is architecturally undefined (out still holds this CPU's value) */
  undefRegs?: string[];
  /** the per-vector immediate, raw (zero-extended) encoded value */
  imm?: bigint;
}

export interface DiffForm {
  bits: 32 | 64;
  group: string;
  /** text with "{i}" where the per-vector immediate goes */
  asmTemplate: string;
  /** encoding as assembled (placeholder immediate) */
  code: Uint8Array;
  regs: string[];
  vectors: DiffVector[];
}

interface RawRow {
  im?: string;
  i: string[];
  o?: string[];
  mi?: string;
  mo?: string;
  u?: string;
  ur?: string[];
  x?: number;
}
interface RawForm {
  asm: string;
  code: string;
  regs: string[];
  ptr?: string[];
  imm?: number;
  isx?: number;
  msz?: number;
  seed: string;
  v: RawRow[];
}
interface RawFile {
  bits: 32 | 64;
  group: string;
  prng: string;
  forms: RawForm[];
}

/** Directory holding the *.json.gz files (works from test/diff/*.ts and from out/test/diff/*.js). */
export function vectorsDir(): string {
  const env = process.env.VMX_DIFF_VECTORS;
  const candidates = [
    ...(env ? [env] : []),
    path.join(__dirname, 'vectors'),
    path.resolve(__dirname, '../../../test/diff/vectors'),
    path.resolve(process.cwd(), 'test/diff/vectors'),
  ];
  for (const c of candidates) {
    if (fs.existsSync(c) && fs.statSync(c).isDirectory()) return c;
  }
  throw new Error(`test/diff/vectors not found (tried ${candidates.join(', ')})`);
}

/** All vector files, sorted: e.g. [".../alu32.json.gz", ".../alu64.json.gz", ...]. */
export function listVectorFiles(dir: string = vectorsDir()): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^[a-z]+(32|64)\.json(\.gz)?$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function hexBytes(h: string): Uint8Array {
  if (h.length % 2) throw new Error(`odd-length hex string: ${h}`);
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(i * 2, 2), 16);
  return b;
}
const big = (h: string): bigint => BigInt('0x' + h);

function formatImm(raw: bigint, immBytes: number, isx: boolean): string {
  if (isx) {
    const bits = BigInt(immBytes * 8);
    const sign = 1n << (bits - 1n);
    const v = raw & sign ? raw - (1n << bits) : raw;
    return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  }
  return `0x${raw.toString(16)}`;
}

function readRaw(file: string): RawFile {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  const raw = JSON.parse(buf.toString('utf8')) as RawFile;
  if ((raw.bits !== 32 && raw.bits !== 64) || !Array.isArray(raw.forms)) {
    throw new Error(`${file}: not a vector file`);
  }
  return raw;
}

function convertForm(raw: RawFile, f: RawForm): DiffForm {
  const code = hexBytes(f.code);
  const ptr = f.ptr ?? [];
  const immBytes = f.imm ?? 0;
  const nr = f.regs.length;
  const vectors: DiffVector[] = f.v.map((row) => {
    if (row.i.length !== nr + 1) throw new Error(`${f.asm}: row has ${row.i.length} inputs, want ${nr + 1}`);
    const regsIn: Record<string, bigint> = {};
    f.regs.forEach((r, k) => (regsIn[r] = big(row.i[k])));
    regsIn.rflags = big(row.i[nr]);
    let vcode = code;
    let asm = f.asm;
    let imm: bigint | undefined;
    if (immBytes) {
      if (row.im === undefined) throw new Error(`${f.asm}: row without immediate`);
      imm = big(row.im);
      vcode = code.slice();
      for (let k = 0; k < immBytes; k++) vcode[code.length - immBytes + k] = Number((imm >> BigInt(8 * k)) & 0xffn);
      asm = f.asm.replace('{i}', formatImm(imm, immBytes, f.isx === 1));
    }
    const v: DiffVector = {
      bits: raw.bits,
      group: raw.group,
      asm,
      code: vcode,
      in: regsIn,
      out: { ...regsIn },
      flagsMask: CHECKED_FLAGS,
      undefMask: 0,
    };
    if (imm !== undefined) v.imm = imm;
    if (f.msz) {
      const before = hexBytes(row.mi ?? '');
      if (before.length !== f.msz) throw new Error(`${f.asm}: memory size ${before.length} != ${f.msz}`);
      v.mem = { size: f.msz, before, after: row.mo !== undefined ? hexBytes(row.mo) : before.slice(), ptrRegs: ptr };
    }
    if (row.x !== undefined) {
      v.exc = row.x;
    } else {
      if (!row.o || row.o.length !== nr + 1) throw new Error(`${f.asm}: bad output row`);
      const o = row.o;
      const regsOut: Record<string, bigint> = {};
      f.regs.forEach((r, k) => (regsOut[r] = big(o[k])));
      regsOut.rflags = big(o[nr]);
      v.out = regsOut;
      v.undefMask = row.u ? parseInt(row.u, 16) : 0;
      v.flagsMask = CHECKED_FLAGS & ~v.undefMask;
      if (row.ur && row.ur.length) v.undefRegs = row.ur.slice();
    }
    return v;
  });
  return { bits: raw.bits, group: raw.group, asmTemplate: f.asm, code, regs: f.regs.slice(), vectors };
}

/** Every form of one file. */
export function loadVectorFile(file: string): DiffForm[] {
  const raw = readRaw(file);
  return raw.forms.map((f) => convertForm(raw, f));
}

export interface LoadOptions {
  bits?: 32 | 64;
  /** file groups to load, e.g. ['alu', 'shift']; default all */
  groups?: string[];
  /** keep only forms whose template matches */
  form?: RegExp | ((asmTemplate: string) => boolean);
  dir?: string;
}

/** Forms (each with its vectors) from every matching file. */
export function loadForms(opts: LoadOptions = {}): DiffForm[] {
  const out: DiffForm[] = [];
  for (const file of listVectorFiles(opts.dir)) {
    const m = /([a-z]+)(32|64)\.json(\.gz)?$/.exec(path.basename(file));
    if (!m) continue;
    if (opts.bits !== undefined && Number(m[2]) !== opts.bits) continue;
    if (opts.groups && !opts.groups.includes(m[1])) continue;
    const raw = readRaw(file);
    for (const f of raw.forms) {
      const sel = opts.form;
      if (sel instanceof RegExp ? !sel.test(f.asm) : sel ? !sel(f.asm) : false) continue;
      out.push(convertForm(raw, f));
    }
  }
  return out;
}

/** All matching vectors, flattened. */
export function loadVectors(opts: LoadOptions = {}): DiffVector[] {
  return loadForms(opts).flatMap((f) => f.vectors);
}

/**
 * Register values with the pointer registers (v.mem.ptrRegs) turned from
 * buffer offsets into addresses for a buffer placed at `base`:
 * in = (base + offset) mod 2^bits, and the same for out.
 */
export function placeAt(v: DiffVector, base: bigint): { in: Record<string, bigint>; out: Record<string, bigint> } {
  const m = (1n << BigInt(v.bits)) - 1n;
  const fix = (regs: Record<string, bigint>): Record<string, bigint> => {
    const r = { ...regs };
    for (const p of v.mem?.ptrRegs ?? []) if (r[p] !== undefined) r[p] = (base + r[p]) & m;
    return r;
  };
  return { in: fix(v.in), out: fix(v.out) };
}
