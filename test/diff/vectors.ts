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
  /**
   * The form's vectors: a lazy read-only array view (length known, each element converted from
   * the file when read, a new object on every read), so that all files fit in memory. Iterate
   * it, index it, or copy it (`[...form.vectors]`) to keep the converted objects.
   */
  vectors: DiffVector[];
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
  /** one string per vector: space-separated fields (README "File format") */
  v: string[];
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
  const buf = Buffer.from(h, 'hex'); // stops at the first non-hex pair: checked below
  if (buf.length * 2 !== h.length) throw new Error(`bad hex string: ${h}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length); // a view of Node's buffer pool
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

/*
 * The files hold millions of vectors; converted all at once they would need gigabytes of heap.
 * So a form's `vectors` is a lazy, read-only array view: its length is known up front, and each
 * element is converted from the parsed file when it is read. Parsed files are kept in a small
 * cache (the two most recently used), so reading the forms of one file after another, as the
 * tests do, parses each file once more and keeps at most two in memory.
 */
const RAW_CACHE_SIZE = 2;
const rawCache = new Map<string, RawFile>();
function cachedRaw(file: string): RawFile {
  let raw = rawCache.get(file);
  if (raw) {
    rawCache.delete(file); // re-insert: most recently used last
  } else {
    raw = readRaw(file);
    while (rawCache.size >= RAW_CACHE_SIZE) rawCache.delete(rawCache.keys().next().value as string);
  }
  rawCache.set(file, raw);
  return raw;
}

/**
 * One vector from its row: `[imm] in_1 .. in_n rflags [mem]` followed by `x<vector>` (exception)
 * or `out_1 .. out_n rflags [mem] [u<mask>] [r<reg,...>]`, where an output (or the buffer after)
 * written as "=" equals the input.
 */
function convertRow(raw: RawFile, f: RawForm, code: Uint8Array, row: string): DiffVector {
  const t = row.split(' ');
  let p = 0;
  const next = (): string => {
    if (p >= t.length) throw new Error(`${f.asm}: short row "${row}"`);
    return t[p++];
  };
  const ptr = f.ptr ?? [];
  const immBytes = f.imm ?? 0;
  const imText = immBytes ? next() : undefined;
  const regsIn: Record<string, bigint> = {};
  for (const r of f.regs) regsIn[r] = big(next());
  regsIn.rflags = big(next());
  const miText = f.msz ? next() : undefined;
  let vcode = code;
  let asm = f.asm;
  let imm: bigint | undefined;
  if (imText !== undefined) {
    imm = big(imText);
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
    out: regsIn, // replaced below (a faulting vector gets a copy of `in`)
    flagsMask: CHECKED_FLAGS,
    undefMask: 0,
  };
  if (imm !== undefined) v.imm = imm;
  let before: Uint8Array | undefined;
  if (miText !== undefined) {
    before = hexBytes(miText);
    if (before.length !== f.msz) throw new Error(`${f.asm}: memory size ${before.length} != ${f.msz}`);
    v.mem = { size: before.length, before, after: before.slice(), ptrRegs: ptr };
  }
  if (t[p]?.startsWith('x')) {
    v.exc = parseInt(next().slice(1), 10);
    v.out = { ...regsIn };
  } else {
    const regsOut: Record<string, bigint> = {};
    for (const r of f.regs) {
      const o = next();
      regsOut[r] = o === '=' ? regsIn[r] : big(o);
    }
    const fo = next();
    regsOut.rflags = fo === '=' ? regsIn.rflags : big(fo);
    v.out = regsOut;
    if (v.mem) {
      const mo = next();
      if (mo !== '=') v.mem.after = hexBytes(mo);
      if (v.mem.after.length !== v.mem.size) throw new Error(`${f.asm}: bad memory after in "${row}"`);
    }
    while (p < t.length) {
      const e = next();
      if (e[0] === 'u') v.undefMask = parseInt(e.slice(1), 16);
      else if (e[0] === 'r') v.undefRegs = e.slice(1).split(',');
      else throw new Error(`${f.asm}: unexpected field "${e}" in "${row}"`);
    }
    v.flagsMask = CHECKED_FLAGS & ~v.undefMask;
  }
  if (p !== t.length) throw new Error(`${f.asm}: extra fields in "${row}"`);
  return v;
}

const isIndex = (p: string | symbol, n: number): p is string =>
  typeof p === 'string' && /^(0|[1-9][0-9]*)$/.test(p) && Number(p) < n;

/** The lazy `vectors` view of form number `index` of `file` (see above). */
function lazyVectors(file: string, index: number, n: number, code: Uint8Array): DiffVector[] {
  const convert = (i: number): DiffVector => {
    const raw = cachedRaw(file);
    const f = raw.forms[index];
    return convertRow(raw, f, code, f.v[i]);
  };
  const readOnly = (): never => {
    throw new TypeError('DiffForm.vectors is read-only');
  };
  return new Proxy(new Array<DiffVector>(n), {
    get: (target, p, receiver) => (isIndex(p, n) ? convert(Number(p)) : Reflect.get(target, p, receiver)),
    has: (target, p) => isIndex(p, n) || Reflect.has(target, p),
    getOwnPropertyDescriptor: (target, p) =>
      isIndex(p, n) ? { value: convert(Number(p)), writable: false, enumerable: true, configurable: true } : Reflect.getOwnPropertyDescriptor(target, p),
    ownKeys: (target) => [...Array.from({ length: n }, (_, i) => String(i)), ...Reflect.ownKeys(target)],
    set: readOnly,
    defineProperty: readOnly,
    deleteProperty: readOnly,
  });
}

function makeForm(file: string, raw: RawFile, index: number): DiffForm {
  const f = raw.forms[index];
  const code = hexBytes(f.code);
  return {
    bits: raw.bits,
    group: raw.group,
    asmTemplate: f.asm,
    code,
    regs: f.regs.slice(),
    vectors: lazyVectors(file, index, f.v.length, code),
  };
}

/** Every form of one file. */
export function loadVectorFile(file: string): DiffForm[] {
  const raw = cachedRaw(file);
  return raw.forms.map((_, k) => makeForm(file, raw, k));
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
    const raw = cachedRaw(file);
    raw.forms.forEach((f, k) => {
      const sel = opts.form;
      if (sel instanceof RegExp ? !sel.test(f.asm) : sel ? !sel(f.asm) : false) return;
      out.push(makeForm(file, raw, k));
    });
  }
  return out;
}

/** All matching vectors, flattened and converted (an ordinary array: select with bits/groups/form). */
export function loadVectors(opts: LoadOptions = {}): DiffVector[] {
  const out: DiffVector[] = [];
  for (const f of loadForms(opts)) for (const v of f.vectors) out.push(v);
  return out;
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
