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
}
