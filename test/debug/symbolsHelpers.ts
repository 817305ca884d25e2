import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugInfoError } from '../../src/debug/symbols';

/**
 * Shared by the symbols tests: the prebuilt fixtures (test/fixtures/symbols, see build.sh), the
 * rows `objdump --dwarf=decodedline` printed for them when they were built, and a little DWARF
 * assembler for hand-made line programs.
 */

/** Where build.sh builds, so every DW_AT_comp_dir and path in the fixtures starts with it. */
export const BUILD_DIR = '/tmp/vmx-debug-symbols';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export const FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'symbols');

export function fixture(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(FIXTURES, name)));
}

export function fixtureText(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

export interface DumpRow {
  /** The name objdump printed (as recorded, e.g. "inc/macros.inc" or "prog.c"). */
  file: string;
  line: number;
  address: bigint;
  isStmt: boolean;
}

export interface DumpSequence {
  rows: DumpRow[];
  end: bigint;
}

/** The sequences of NAME.decodedline.txt (objdump --dwarf=decodedline), in the order objdump printed them. */
export function decodedLine(name: string): DumpSequence[] {
  const seqs: DumpSequence[] = [];
  let rows: DumpRow[] = [];
  for (const text of fixtureText(`${name}.decodedline.txt`).split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+|0)\s*(\d+)?\s*(x)?\s*$/.exec(text);
    if (m === null) continue;
    const address = BigInt(m[3]);
    if (m[2] === '-') {
      seqs.push({ rows, end: address });
      rows = [];
    } else {
      rows.push({ file: m[1], line: Number(m[2]), address, isStmt: m[5] === 'x' });
    }
  }
  return seqs;
}

/** Asserts `fn` throws a DebugInfoError (never a RangeError or anything else) whose message matches. */
export function throwsDebugInfoError(fn: () => unknown, ...patterns: RegExp[]): DebugInfoError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DebugInfoError, `expected a DebugInfoError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

export const hex = (v: bigint | undefined): string => (v === undefined ? 'undefined' : '0x' + v.toString(16));

/** A growable little-endian byte buffer for hand-assembled DWARF. */
export class Bytes {
  readonly data: number[] = [];

  get length(): number {
    return this.data.length;
  }

  u8(...values: number[]): this {
    for (const v of values) this.data.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v, v >> 8);
  }

  u32(v: number): this {
    return this.u8(v, v >>> 8, v >>> 16, v >>> 24);
  }

  u64(v: bigint): this {
    for (let i = 0n; i < 8n; i++) this.u8(Number((v >> (8n * i)) & 0xffn));
    return this;
  }

  uint(v: bigint | number, size: number): this {
    const b = BigInt(v);
    for (let i = 0; i < size; i++) this.u8(Number((b >> BigInt(8 * i)) & 0xffn));
    return this;
  }

  uleb(v: number): this {
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) byte |= 0x80;
      this.u8(byte);
    } while (v > 0);
    return this;
  }

  sleb(v: number): this {
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && !(byte & 0x40)) || (v === -1 && byte & 0x40);
      this.u8(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }

  str(s: string): this {
    for (const ch of Buffer.from(s, 'utf8')) this.u8(ch);
    return this.u8(0);
  }

  append(other: Bytes | Uint8Array | number[]): this {
    const src = other instanceof Bytes ? other.data : Array.from(other);
    for (const b of src) this.data.push(b);
    return this;
  }

  setU32(at: number, v: number): void {
    for (let i = 0; i < 4; i++) this.data[at + i] = (v >>> (8 * i)) & 0xff;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.data);
  }
}

export interface ProgramOptions {
  version: 2 | 3 | 4 | 5;
  format64?: boolean;
  addressSize?: number;
  minInstLength?: number;
  maxOps?: number;
  defaultIsStmt?: boolean;
  lineBase?: number;
  lineRange?: number;
  opcodeBase?: number;
  /** Include directories (v2-4), or directories 1.. after `compDir` (v5). */
  dirs?: string[];
  /** v5 directory 0. */
  compDir?: string;
  files: { name: string; dir: number; md5?: string }[];
  /** v5: put paths in .debug_line_str (returned) instead of inline strings. */
  lineStrp?: boolean;
}

/** Encodes one line program; `body` writes the opcodes. Returns the program and any .debug_line_str. */
export function lineProgram(
  o: ProgramOptions, body: (b: Bytes, op: OpWriter) => void,
): { program: Uint8Array; lineStr: Uint8Array } {
  const opcodeBase = o.opcodeBase ?? 13;
  const lineBase = o.lineBase ?? -5;
  const lineRange = o.lineRange ?? 14;
  const lineStr = new Bytes();
  const header = new Bytes();
  header.u8(o.minInstLength ?? 1);
  if (o.version >= 4) header.u8(o.maxOps ?? 1);
  header.u8(o.defaultIsStmt === false ? 0 : 1).u8(lineBase & 0xff).u8(lineRange).u8(opcodeBase);
  const std = [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1];
  for (let i = 1; i < opcodeBase; i++) header.u8(i <= 12 ? std[i - 1] : 2); // opcodes past 12: two operands
  const path = (s: string) => {
    if (o.lineStrp) {
      (o.format64 ? header.u64(BigInt(lineStr.length)) : header.u32(lineStr.length));
      lineStr.str(s);
    } else {
      header.str(s);
    }
  };
  if (o.version < 5) {
    for (const d of o.dirs ?? []) header.str(d);
    header.u8(0);
    for (const f of o.files) header.str(f.name).uleb(f.dir).uleb(0).uleb(0);
    header.u8(0);
  } else {
    const pathForm = o.lineStrp ? 0x1f : 0x08;
    header.u8(1).uleb(1).uleb(pathForm); // directory format: DW_LNCT_path
    const dirs = [o.compDir ?? '/comp', ...(o.dirs ?? [])];
    header.uleb(dirs.length);
    for (const d of dirs) path(d);
    const md5 = o.files.some((f) => f.md5 !== undefined);
    header.u8(md5 ? 3 : 2).uleb(1).uleb(pathForm).uleb(2).uleb(0x0b); // path, directory_index (data1)
    if (md5) header.uleb(5).uleb(0x1e); // MD5, data16
    header.uleb(o.files.length);
    for (const f of o.files) {
      path(f.name);
      header.u8(f.dir);
      if (md5) {
        const hexs = f.md5 ?? '00'.repeat(16);
        for (let i = 0; i < 16; i++) header.u8(parseInt(hexs.slice(2 * i, 2 * i + 2), 16));
      }
    }
  }
  const ops = new Bytes();
  body(ops, new OpWriter(ops, { lineBase, lineRange, opcodeBase, addressSize: o.addressSize ?? 4 }));

  const afterLength = new Bytes();
  afterLength.u16(o.version);
  if (o.version >= 5) afterLength.u8(o.addressSize ?? 4).u8(0);
  if (o.format64) afterLength.u64(BigInt(header.length));
  else afterLength.u32(header.length);
  afterLength.append(header).append(ops);
  const out = new Bytes();
  if (o.format64) out.u32(0xffffffff).u64(BigInt(afterLength.length));
  else out.u32(afterLength.length);
  out.append(afterLength);
  return { program: out.bytes(), lineStr: lineStr.bytes() };
}

/** Writes line-program opcodes. */
export class OpWriter {
  constructor(
    private readonly b: Bytes,
    private readonly p: { lineBase: number; lineRange: number; opcodeBase: number; addressSize: number },
  ) {}

  setAddress(address: bigint | number, size = this.p.addressSize): this {
    this.b.u8(0).uleb(size + 1).u8(2).uint(address, size);
    return this;
  }

  endSequence(): this {
    this.b.u8(0, 1, 1);
    return this;
  }

  /** A special opcode; throws when the advance does not fit one. */
  special(addressAdvance: number, lineAdvance: number): this {
    const { lineBase, lineRange, opcodeBase } = this.p;
    const op = lineAdvance - lineBase + lineRange * addressAdvance + opcodeBase;
    if (lineAdvance < lineBase || lineAdvance >= lineBase + lineRange || op > 255) {
      throw new Error(`no special opcode for +${addressAdvance}, ${lineAdvance}`);
    }
    this.b.u8(op);
    return this;
  }

  copy(): this {
    this.b.u8(1);
    return this;
  }

  advancePc(n: number): this {
    this.b.u8(2).uleb(n);
    return this;
  }

  advanceLine(n: number): this {
    this.b.u8(3).sleb(n);
    return this;
  }

  setFile(n: number): this {
    this.b.u8(4).uleb(n);
    return this;
  }

  setColumn(n: number): this {
    this.b.u8(5).uleb(n);
    return this;
  }

  negateStmt(): this {
    this.b.u8(6);
    return this;
  }

  raw(...bytes: number[]): this {
    this.b.u8(...bytes);
    return this;
  }
}
