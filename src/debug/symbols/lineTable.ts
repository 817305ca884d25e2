import { matchPath, pathKey } from './paths';
import type { SourceLocation } from './types';

/** Row flags. */
export const ROW_STMT = 1;
export const ROW_PROLOGUE_END = 2;
export const ROW_EPILOGUE_BEGIN = 4;
export const ROW_BASIC_BLOCK = 8;

interface SequenceDraft {
  base: bigint;
  first: number;
  count: number;
  /** Offset of the end of the sequence from `base` (the end_sequence row's address). */
  end: number;
  monotonic: boolean;
}

/**
 * Collects line-table rows as they are decoded, sequence by sequence. An address is kept as a
 * bigint base per sequence plus a JS-number offset per row, so decoding does no bigint arithmetic
 * per row and 64-bit (higher-half) addresses stay exact.
 */
export class LineTableBuilder {
  readonly files: string[] = [];
  private readonly fileIds = new Map<string, number>();
  private deltas: number[] = [];
  private fileIdx: number[] = [];
  private lines: number[] = [];
  private columns: number[] = [];
  private flags: number[] = [];
  private readonly sequences: SequenceDraft[] = [];
  private current: SequenceDraft | undefined;
  private readonly aliases: { file: number; line: number; address: bigint }[] = [];

  /** The id of a source file (a path as it should be shown), registering it on first use. */
  addFile(path: string): number {
    const key = pathKey(path);
    let id = this.fileIds.get(key);
    if (id === undefined) {
      id = this.files.length;
      this.files.push(path);
      this.fileIds.set(key, id);
    }
    return id;
  }

  get inSequence(): boolean {
    return this.current !== undefined;
  }

  beginSequence(base: bigint): void {
    if (this.current !== undefined) this.endSequence(this.lastDelta());
    this.current = { base, first: this.deltas.length, count: 0, end: 0, monotonic: true };
  }

  private lastDelta(): number {
    const c = this.current;
    return c === undefined || c.count === 0 ? 0 : this.deltas[this.deltas.length - 1];
  }

  /** Appends a row to the open sequence (opening one at base 0 if needed). */
  addRow(delta: number, file: number, line: number, column: number, flags: number): void {
    let c = this.current;
    if (c === undefined) {
      this.beginSequence(0n);
      c = this.current!;
    }
    if (c.count > 0 && delta < this.deltas[this.deltas.length - 1]) c.monotonic = false;
    this.deltas.push(delta);
    this.fileIdx.push(file);
    this.lines.push(line);
    this.columns.push(column);
    this.flags.push(flags);
    c.count++;
  }

  /** Closes the open sequence; `endDelta` is the address just past it, relative to its base. */
  endSequence(endDelta: number): void {
    const c = this.current;
    if (c === undefined) return;
    this.current = undefined;
    if (c.count === 0) return;
    let max = 0;
    for (let i = c.first; i < c.first + c.count; i++) if (this.deltas[i] > max) max = this.deltas[i];
    c.end = Math.max(endDelta, max);
    this.sequences.push(c);
  }

  /**
   * A line that has no row of its own but where a breakpoint can bind (a NASM macro invocation
   * whose expansion is attributed to the macro's definition): addressesForLine and linesWithCode
   * report it, lineForAddress does not.
   */
  addBreakpointAlias(file: number, line: number, address: bigint): void {
    this.aliases.push({ file, line, address });
  }

  /**
   * Freezes the table. `keep` may drop sequences (the linker leaves the code of discarded sections
   * at address 0); it sees the addresses as decoded. Then `bias` is added to every address.
   */
  build(options: { keep?: (start: bigint, end: bigint) => boolean; bias?: bigint } = {}): LineTable {
    if (this.current !== undefined) this.endSequence(this.lastDelta());
    const bias = options.bias ?? 0n;
    const keep = options.keep;
    const kept = keep ? this.sequences.filter((s) => keep(s.base, s.base + BigInt(s.end))) : this.sequences;
    const seqs = kept.map((s) => ({ ...s, base: s.base + bias }));
    seqs.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.first - b.first));

    let total = 0;
    for (const s of seqs) total += s.count;
    const deltas = new Float64Array(total);
    const files = new Int32Array(total);
    const lines = new Int32Array(total);
    const columns = new Int32Array(total);
    const flags = new Uint8Array(total);
    const rowSeq = new Int32Array(total);
    const seqBase: bigint[] = [];
    const seqFirst = new Int32Array(seqs.length);
    const seqCount = new Int32Array(seqs.length);
    const seqEnd: bigint[] = [];
    const seqEndDelta = new Float64Array(seqs.length);
    let at = 0;
    seqs.forEach((s, si) => {
      let order: number[] | undefined;
      if (!s.monotonic) {
        order = Array.from({ length: s.count }, (_, k) => s.first + k);
        order.sort((x, y) => this.deltas[x] - this.deltas[y] || x - y);
      }
      seqBase.push(s.base);
      seqFirst[si] = at;
      seqCount[si] = s.count;
      seqEnd.push(s.base + BigInt(s.end));
      seqEndDelta[si] = s.end;
      for (let k = 0; k < s.count; k++, at++) {
        const src = order ? order[k] : s.first + k;
        deltas[at] = this.deltas[src];
        files[at] = this.fileIdx[src];
        lines[at] = this.lines[src];
        columns[at] = this.columns[src];
        flags[at] = this.flags[src];
        rowSeq[at] = si;
      }
    });
    const aliases = this.aliases.map((a) => ({ ...a, address: a.address + bias }));
    return new LineTable(
      [...this.files], { deltas, files, lines, columns, flags, rowSeq },
      { seqBase, seqFirst, seqCount, seqEnd, seqEndDelta }, aliases,
    );
  }
}

interface Rows {
  deltas: Float64Array;
  files: Int32Array;
  lines: Int32Array;
  columns: Int32Array;
  flags: Uint8Array;
  rowSeq: Int32Array;
}

interface Sequences {
  seqBase: bigint[];
  seqFirst: Int32Array;
  seqCount: Int32Array;
  seqEnd: bigint[];
  seqEndDelta: Float64Array;
}

/** A row found for an address, with the range of addresses it covers. */
export interface RowHit {
  row: number;
  start: bigint;
  end: bigint;
}

/**
 * The decoded rows of every line program, sorted by address: sequences by start, rows by offset
 * within their sequence, so an address lookup is two binary searches.
 */
export class LineTable {
  readonly fileKeys: string[];
  private readonly prefixMaxEnd: bigint[];
  private byFileLine: Map<number, Map<number, number[]>> | undefined;
  private readonly matchCache = new Map<string, number[]>();

  constructor(
    readonly files: string[],
    private readonly rows: Rows,
    private readonly seqs: Sequences,
    readonly aliases: { file: number; line: number; address: bigint }[],
  ) {
    this.fileKeys = files.map(pathKey);
    this.prefixMaxEnd = [];
    let max = -1n;
    for (const end of seqs.seqEnd) {
      if (end > max) max = end;
      this.prefixMaxEnd.push(max);
    }
  }

  get rowCount(): number {
    return this.rows.deltas.length;
  }

  get sequenceCount(): number {
    return this.seqs.seqBase.length;
  }

  /** Every sequence with its rows, by address: for tests, dumps and cross-checks. */
  sequences(): { start: bigint; end: bigint; rows: { address: bigint; file: string; line: number; column: number; isStmt: boolean }[] }[] {
    const out = [];
    for (let s = 0; s < this.seqs.seqBase.length; s++) {
      const rows = [];
      const first = this.seqs.seqFirst[s];
      for (let r = first; r < first + this.seqs.seqCount[s]; r++) {
        rows.push({
          address: this.address(r), file: this.files[this.rows.files[r]], line: this.rows.lines[r],
          column: this.rows.columns[r], isStmt: this.isStmt(r),
        });
      }
      out.push({ start: this.seqs.seqBase[s], end: this.seqs.seqEnd[s], rows });
    }
    return out;
  }

  /** The row in effect at `address`: the last is_stmt row at the greatest address <= it, in its sequence. */
  find(address: bigint): RowHit | undefined {
    const { seqBase, seqEnd } = this.seqs;
    // Last sequence starting at or before the address.
    let lo = 0;
    let hi = seqBase.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqBase[mid] <= address) lo = mid + 1;
      else hi = mid;
    }
    for (let s = lo - 1; s >= 0 && this.prefixMaxEnd[s] > address; s--) {
      if (address < seqEnd[s]) return this.findInSequence(s, address);
    }
    return undefined;
  }

  private findInSequence(s: number, address: bigint): RowHit | undefined {
    const { deltas, flags } = this.rows;
    const base = this.seqs.seqBase[s];
    const first = this.seqs.seqFirst[s];
    const last = first + this.seqs.seqCount[s];
    const off = Number(address - base);
    let lo = first;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (deltas[mid] <= off) lo = mid + 1;
      else hi = mid;
    }
    const idx = lo - 1;
    if (idx < first) return undefined;
    const at = deltas[idx];
    let row = idx;
    if (!(flags[idx] & ROW_STMT)) {
      for (let j = idx - 1; j >= first && deltas[j] === at; j--) {
        if (flags[j] & ROW_STMT) {
          row = j;
          break;
        }
      }
    }
    const endDelta = lo < last ? deltas[lo] : this.seqs.seqEndDelta[s];
    return { row, start: base + BigInt(at), end: base + BigInt(endDelta) };
  }

  location(row: number): SourceLocation | undefined {
    const line = this.rows.lines[row];
    if (line <= 0) return undefined;
    const column = this.rows.columns[row];
    const loc: SourceLocation = { file: this.files[this.rows.files[row]], line };
    if (column > 0) loc.column = column;
    return loc;
  }

  isStmt(row: number): boolean {
    return (this.rows.flags[row] & ROW_STMT) !== 0;
  }

  address(row: number): bigint {
    return this.seqs.seqBase[this.rows.rowSeq[row]] + BigInt(this.rows.deltas[row]);
  }

  /** The ids of the files a user-given path means (see matchPath). */
  filesMatching(file: string): number[] {
    let ids = this.matchCache.get(file);
    if (ids === undefined) {
      ids = matchPath(file, this.fileKeys);
      this.matchCache.set(file, ids);
    }
    return ids;
  }

  private index(): Map<number, Map<number, number[]>> {
    if (this.byFileLine === undefined) {
      const map = new Map<number, Map<number, number[]>>();
      const { files, lines, flags } = this.rows;
      for (let i = 0; i < lines.length; i++) {
        if (!(flags[i] & ROW_STMT) || lines[i] <= 0) continue;
        let byLine = map.get(files[i]);
        if (byLine === undefined) map.set(files[i], (byLine = new Map()));
        const list = byLine.get(lines[i]);
        if (list === undefined) byLine.set(lines[i], [i]);
        else list.push(i);
      }
      this.byFileLine = map;
    }
    return this.byFileLine;
  }

  /** The is_stmt rows of `line` in file `fileId`, each flagged with whether it starts a run of that line. */
  stmtRows(fileId: number, line: number): { row: number; address: bigint; runStart: boolean }[] {
    const rows = this.index().get(fileId)?.get(line);
    if (rows === undefined) return [];
    const { files, lines, rowSeq } = this.rows;
    return rows.map((r) => {
      const runStart = r === this.seqs.seqFirst[rowSeq[r]] || lines[r - 1] !== line || files[r - 1] !== fileId;
      return { row: r, address: this.address(r), runStart };
    });
  }

  /** Lines of `fileId` with an is_stmt row, ascending (aliases included). */
  linesOf(fileId: number): number[] {
    const byLine = this.index().get(fileId);
    const set = new Set<number>(byLine ? byLine.keys() : []);
    for (const a of this.aliases) if (a.file === fileId) set.add(a.line);
    return [...set].sort((a, b) => a - b);
  }
}
