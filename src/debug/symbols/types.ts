/**
 * What the debugger knows about a program's source: line tables and symbols, from ELF/DWARF or a
 * NASM listing. Addresses are the guest's linear addresses (bigint, so 64-bit code is exact).
 */

export interface SourceLocation {
  /** Absolute path when the producer recorded enough to build one, else the name as recorded. */
  file: string;
  line: number;
  column?: number;
}

export interface SymbolLocation {
  name: string;
  /** Start of the symbol. */
  address: bigint;
  /** Bytes from the symbol's start. */
  offset: number;
}

export interface DebugInfo {
  /** The statement line containing `address` (the row with the greatest address <= it in its sequence). */
  lineForAddress(address: bigint): SourceLocation | undefined;
  /**
   * Addresses where `line` of `file` begins (is_stmt rows), for breakpoints. `file` may be an
   * absolute path or a name relative to the compilation directory; matching tolerates both.
   */
  addressesForLine(file: string, line: number): bigint[];
  /** Lines of `file` that have code (for breakpointLocations), ascending. */
  linesWithCode(file: string): number[];
  /** The symbol (function or label) covering `address`. */
  symbolForAddress(address: bigint): SymbolLocation | undefined;
  /** Address of a symbol by exact name. */
  addressOfSymbol(name: string): bigint | undefined;
  /** Every source file the line tables mention. */
  files(): string[];

  // Optional extras. The implementations in this folder provide them all; code that accepts any
  // DebugInfo (a test double, a merged set) must cope with their absence.

  /** The line-table row in effect at `address` and the addresses it covers, for line stepping. */
  lineRangeForAddress?(address: bigint): LineRange | undefined;
  /** Every symbol, sorted by address (for completions and function breakpoints). */
  symbols?(): readonly SymbolEntry[];
  /** Oddities found while reading that did not stop it (an out-of-range file index, a missing end_sequence). */
  readonly warnings?: readonly string[];
}

/** A row of a line table: `location` holds for addresses [start, end). */
export interface LineRange {
  start: bigint;
  end: bigint;
  location: SourceLocation;
  /** False for rows the producer marked as not the beginning of a statement. */
  isStmt: boolean;
}

export interface SymbolEntry {
  name: string;
  address: bigint;
  /** Size in bytes; 0 when unknown (assembler labels). */
  size: number;
  kind: 'func' | 'object' | 'other';
  /** For a symbol without a size: where its coverage stops (the end of its section), when known. */
  end?: bigint;
}
