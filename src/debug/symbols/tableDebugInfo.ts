import type { LineTable } from './lineTable';
import type { SymbolTable } from './symbolTable';
import type { DebugInfo, LineRange, SourceLocation, SymbolEntry, SymbolLocation } from './types';

/** A function's code range, used to pick one breakpoint address per function for a line. */
export interface FunctionRange {
  name: string;
  start: bigint;
  /** Exclusive. */
  end: bigint;
}

/** Sorted, possibly nested ranges with an innermost-containing lookup. */
class RangeIndex {
  private readonly ranges: FunctionRange[];
  private readonly prefixMaxEnd: bigint[] = [];

  constructor(ranges: readonly FunctionRange[]) {
    this.ranges = ranges.filter((r) => r.end > r.start).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let max = -1n;
    for (const r of this.ranges) {
      if (r.end > max) max = r.end;
      this.prefixMaxEnd.push(max);
    }
  }

  /** Index of the innermost range containing `address`, or -1. */
  find(address: bigint): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].start <= address) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && this.prefixMaxEnd[i] > address; i--) {
      if (address < this.ranges[i].end) return i;
    }
    return -1;
  }
}

function sortedUnique(values: bigint[]): bigint[] {
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

/**
 * DebugInfo over a decoded line table, a symbol table and (optionally) function ranges: what both
 * the ELF/DWARF reader and the NASM listing reader produce.
 */
export class TableDebugInfo implements DebugInfo {
  private readonly functionIndex: RangeIndex;

  constructor(
    readonly lineTable: LineTable,
    private readonly symbolTable: SymbolTable,
    functions: readonly FunctionRange[],
    readonly warnings: readonly string[],
  ) {
    this.functionIndex = new RangeIndex(functions);
  }

  lineForAddress(address: bigint): SourceLocation | undefined {
    const hit = this.lineTable.find(address);
    return hit === undefined ? undefined : this.lineTable.location(hit.row);
  }

  lineRangeForAddress(address: bigint): LineRange | undefined {
    const hit = this.lineTable.find(address);
    if (hit === undefined) return undefined;
    const location = this.lineTable.location(hit.row);
    if (location === undefined) return undefined;
    return { start: hit.start, end: hit.end, location, isStmt: this.lineTable.isStmt(hit.row) };
  }

  /**
   * Where a breakpoint on `line` binds: within one function, the lowest address where the line
   * begins (a `for` line has several is_stmt rows; the debugger stops once, at entry, as gdb does);
   * outside any known function (assembly without sized symbols), every place a run of that line
   * begins (a NASM macro body line expanded twice gives two addresses).
   */
  addressesForLine(file: string, line: number): bigint[] {
    const out: bigint[] = [];
    const perFunction = new Map<number, bigint>();
    for (const fileId of this.lineTable.filesMatching(file)) {
      for (const row of this.lineTable.stmtRows(fileId, line)) {
        const fn = this.functionIndex.find(row.address);
        if (fn < 0) {
          if (row.runStart) out.push(row.address);
          continue;
        }
        const prev = perFunction.get(fn);
        if (prev === undefined || row.address < prev) perFunction.set(fn, row.address);
      }
      for (const alias of this.lineTable.aliases) {
        if (alias.file === fileId && alias.line === line) out.push(alias.address);
      }
    }
    out.push(...perFunction.values());
    return sortedUnique(out);
  }

  linesWithCode(file: string): number[] {
    const ids = this.lineTable.filesMatching(file);
    if (ids.length === 1) return this.lineTable.linesOf(ids[0]);
    const set = new Set<number>();
    for (const id of ids) for (const l of this.lineTable.linesOf(id)) set.add(l);
    return [...set].sort((a, b) => a - b);
  }

  symbolForAddress(address: bigint): SymbolLocation | undefined {
    return this.symbolTable.lookup(address);
  }

  addressOfSymbol(name: string): bigint | undefined {
    return this.symbolTable.addressOf(name);
  }

  files(): string[] {
    return this.lineTable.files.filter((f) => !f.startsWith('<unknown file '));
  }

  symbols(): readonly SymbolEntry[] {
    return this.symbolTable.all;
  }
}
