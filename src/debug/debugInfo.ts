import type { SymbolInfo } from '../machine/loaders/loadPlan';
import type { DebugInfo, SourceLocation, SymbolLocation } from './symbols/types';

/**
 * Debug information from several files (the program, extra ELF/DWARF files, NASM listings) seen
 * as one DebugInfo, plus a symbols-only DebugInfo made from a loader's symbol table, so function
 * breakpoints and symbol names work for any ELF even without line tables.
 */

export class CombinedDebugInfo implements DebugInfo {
  constructor(readonly parts: DebugInfo[] = []) {}

  add(part: DebugInfo): void {
    this.parts.push(part);
  }

  hasLines(): boolean {
    return this.parts.some((p) => p.files().length > 0);
  }

  lineForAddress(address: bigint): SourceLocation | undefined {
    for (const p of this.parts) {
      const l = p.lineForAddress(address);
      if (l) return l;
    }
    return undefined;
  }

  addressesForLine(file: string, line: number): bigint[] {
    const out = new Set<bigint>();
    for (const p of this.parts) for (const a of p.addressesForLine(file, line)) out.add(a);
    return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  linesWithCode(file: string): number[] {
    const out = new Set<number>();
    for (const p of this.parts) for (const l of p.linesWithCode(file)) out.add(l);
    return [...out].sort((a, b) => a - b);
  }

  symbolForAddress(address: bigint): SymbolLocation | undefined {
    let best: SymbolLocation | undefined;
    for (const p of this.parts) {
      const s = p.symbolForAddress(address);
      if (s && (!best || s.offset < best.offset)) best = s;
    }
    return best;
  }

  addressOfSymbol(name: string): bigint | undefined {
    for (const p of this.parts) {
      const a = p.addressOfSymbol(name);
      if (a !== undefined) return a;
    }
    return undefined;
  }

  files(): string[] {
    const out = new Set<string>();
    for (const p of this.parts) for (const f of p.files()) out.add(f);
    return [...out];
  }
}

/** Symbol names for completion: every DebugInfo part that can list them. */
export interface SymbolLister {
  symbolNames(): string[];
}

/** A DebugInfo with symbols only (no lines), from an ELF symbol table as the loaders read it. */
export class SymbolTableInfo implements DebugInfo, SymbolLister {
  private readonly sorted: SymbolInfo[];
  private readonly byName = new Map<string, bigint>();

  constructor(symbols: SymbolInfo[]) {
    this.sorted = symbols.filter((s) => s.name && s.kind !== 'other' || (s.name && !s.name.startsWith('$')))
      .slice().sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const s of this.sorted) if (!this.byName.has(s.name)) this.byName.set(s.name, s.address);
  }

  lineForAddress(): SourceLocation | undefined {
    return undefined;
  }

  addressesForLine(): bigint[] {
    return [];
  }

  linesWithCode(): number[] {
    return [];
  }

  symbolForAddress(address: bigint): SymbolLocation | undefined {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid].address <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const s = this.sorted[found];
    const offset = Number(address - s.address);
    if (s.size > 0 && offset >= s.size && offset > 0x10000) return undefined;
    if (offset > 0x100000) return undefined;
    return { name: s.name, address: s.address, offset };
  }

  addressOfSymbol(name: string): bigint | undefined {
    return this.byName.get(name);
  }

  files(): string[] {
    return [];
  }

  symbolNames(): string[] {
    return [...this.byName.keys()];
  }
}
