import type { SymbolEntry, SymbolLocation } from './types';

const UNBOUNDED = 1n << 80n;
const RANK: Record<SymbolEntry['kind'], number> = { func: 0, other: 1, object: 2 };

/** NASM local labels (`func.loop`) rank after the label they belong to when both mark one address. */
function localness(s: SymbolEntry): number {
  return s.name.includes('.', 1) ? 1 : 0;
}

/**
 * Symbols sorted by address for "which function or label covers this address" and by name for
 * "where is this symbol". A symbol covers [address, address + size); one without a size (a NASM or
 * GNU as label) covers up to the next symbol or its `end` (the end of its section), whichever
 * comes first: the nearest preceding label wins, and an address past a sized symbol has none.
 */
export class SymbolTable {
  private readonly sorted: SymbolEntry[];
  private readonly ends: bigint[];
  private readonly prefixMaxEnd: bigint[];
  private readonly byName = new Map<string, SymbolEntry>();

  constructor(symbols: readonly SymbolEntry[]) {
    this.sorted = symbols
      .filter((s) => s.name !== '')
      .slice()
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : RANK[a.kind] - RANK[b.kind] || localness(a) - localness(b)));
    // A label without a size covers up to the next symbol (and at most to `end`), so an address
    // past the end of a sized symbol is not handed back to some earlier label.
    this.ends = new Array<bigint>(this.sorted.length);
    let next = UNBOUNDED;
    for (let i = this.sorted.length - 1; i >= 0; i--) {
      const s = this.sorted[i];
      const end = s.size > 0 ? s.address + BigInt(s.size) : s.end !== undefined && s.end < next ? s.end : next;
      this.ends[i] = end > s.address ? end : s.address + 1n;
      if (i === 0 || this.sorted[i - 1].address !== s.address) next = s.address;
    }
    this.prefixMaxEnd = [];
    let max = -1n;
    for (const e of this.ends) {
      if (e > max) max = e;
      this.prefixMaxEnd.push(max);
    }
    for (const s of this.sorted) {
      const prev = this.byName.get(s.name);
      if (prev === undefined || RANK[s.kind] < RANK[prev.kind]) this.byName.set(s.name, s);
    }
  }

  get all(): readonly SymbolEntry[] {
    return this.sorted;
  }

  /** The innermost symbol covering `address`; among several at one address, a function before a label before data. */
  lookup(address: bigint): SymbolLocation | undefined {
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid].address <= address) lo = mid + 1;
      else hi = mid;
    }
    let found = -1;
    for (let i = lo - 1; i >= 0 && this.prefixMaxEnd[i] > address; i--) {
      if (found >= 0 && s[i].address !== s[found].address) break;
      if (address < this.ends[i]) found = i;
    }
    if (found < 0) return undefined;
    const sym = s[found];
    return { name: sym.name, address: sym.address, offset: Number(address - sym.address) };
  }

  addressOf(name: string): bigint | undefined {
    return this.byName.get(name)?.address;
  }
}
