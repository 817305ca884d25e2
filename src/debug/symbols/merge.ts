import type { DebugInfo, LineRange, SourceLocation, SymbolEntry, SymbolLocation } from './types';

function sortedUniqueBig(values: bigint[]): bigint[] {
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

/**
 * Several DebugInfo as one: the program's own plus the extra symbol files of the launch
 * configuration. Works with any DebugInfo, using the optional extras where each part has them.
 *
 * - lineForAddress / lineRangeForAddress: the most specific row (the one starting closest below
 *   the address) when the parts can say, else the first part that knows the address.
 * - addressesForLine, linesWithCode, files, symbols: the union.
 * - symbolForAddress: the nearest symbol (smallest offset) any part reports.
 * - addressOfSymbol: the first part that knows the name, in the order given.
 */
export function mergeDebugInfo(parts: readonly DebugInfo[]): DebugInfo {
  const list = parts.slice();
  if (list.length === 1) return list[0];

  const rangeFor = (address: bigint): LineRange | undefined => {
    let best: LineRange | undefined;
    for (const p of list) {
      const r = p.lineRangeForAddress?.(address);
      if (r !== undefined && (best === undefined || r.start > best.start)) best = r;
    }
    return best;
  };
  const warnings = list.flatMap((p) => p.warnings ?? []);

  const merged: DebugInfo = {
    warnings,
    lineForAddress(address: bigint): SourceLocation | undefined {
      const r = rangeFor(address);
      if (r !== undefined) return r.location;
      for (const p of list) {
        // Parts with ranges already answered above; the rest are asked in order.
        if (p.lineRangeForAddress !== undefined) continue;
        const loc = p.lineForAddress(address);
        if (loc !== undefined) return loc;
      }
      return undefined;
    },
    lineRangeForAddress: rangeFor,
    addressesForLine(file: string, line: number): bigint[] {
      return sortedUniqueBig(list.flatMap((p) => p.addressesForLine(file, line)));
    },
    linesWithCode(file: string): number[] {
      const set = new Set<number>();
      for (const p of list) for (const l of p.linesWithCode(file)) set.add(l);
      return [...set].sort((a, b) => a - b);
    },
    symbolForAddress(address: bigint): SymbolLocation | undefined {
      let best: SymbolLocation | undefined;
      for (const p of list) {
        const s = p.symbolForAddress(address);
        if (s !== undefined && (best === undefined || s.offset < best.offset)) best = s;
      }
      return best;
    },
    addressOfSymbol(name: string): bigint | undefined {
      for (const p of list) {
        const a = p.addressOfSymbol(name);
        if (a !== undefined) return a;
      }
      return undefined;
    },
    files(): string[] {
      return [...new Set(list.flatMap((p) => p.files()))];
    },
    symbols(): readonly SymbolEntry[] {
      return list
        .flatMap((p) => p.symbols?.() ?? [])
        .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    },
  };
  return merged;
}
