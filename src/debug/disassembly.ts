import { disassemble } from './disassembler';
import type { GuestMemory } from './memory';
import { hexAddr } from './memory';
import type { DebugInfo, SourceLocation } from './symbols/types';

/**
 * Disassembly for the debugger: generated listings that serve as the source of a stack frame when
 * no line information covers it (DAP `sourceReference`, so VS Code opens them like a file and
 * focuses the top frame at once), and the instructions of the `disassemble` request.
 */

export interface Listing {
  ref: number;
  name: string;
  start: bigint;
  bits: 16 | 32 | 64;
  text: string;
  /** 1-based line of each instruction address. */
  lineOf: Map<bigint, number>;
  /** Address on each 1-based line (undefined for label lines). */
  addressOn: (bigint | undefined)[];
}

const LISTING_BYTES = 4096;
const LISTING_AFTER_PC = 200;

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

export class ListingCache {
  private readonly byRef = new Map<number, Listing>();
  private nextRef = 1;

  constructor(private readonly mem: GuestMemory, private readonly info: () => DebugInfo | undefined) {}

  clear(): void {
    this.byRef.clear();
  }

  get(ref: number): Listing | undefined {
    return this.byRef.get(ref);
  }

  /** A listing containing `pc` (an existing one when it still covers it), and pc's line in it. */
  forAddress(pc: bigint, bits: 16 | 32 | 64): { listing: Listing; line: number } | undefined {
    for (const l of this.byRef.values()) {
      const line = l.lineOf.get(pc);
      if (line !== undefined && l.bits === bits) return { listing: l, line };
    }
    const info = this.info();
    const sym = info?.symbolForAddress(pc);
    const starts = sym && sym.offset < LISTING_BYTES ? [sym.address, pc] : [pc];
    for (const start of starts) {
      const l = this.build(start, pc, bits);
      const line = l?.lineOf.get(pc);
      if (l && line !== undefined) {
        this.byRef.set(l.ref, l);
        return { listing: l, line };
      }
    }
    return undefined;
  }

  private build(start: bigint, pc: bigint, bits: 16 | 32 | 64): Listing | undefined {
    const bytes = this.mem.read('linear', start, Number(pc - start) + LISTING_BYTES);
    if (bytes.length === 0) return undefined;
    const info = this.info();
    const ins = disassemble(bytes, start, bits);
    const lines: string[] = [];
    const lineOf = new Map<bigint, number>();
    const addressOn: (bigint | undefined)[] = [undefined];
    let after = 0;
    const sym0 = info?.symbolForAddress(start);
    for (const i of ins) {
      const a = BigInt.asUintN(64, i.address);
      if (a + BigInt(i.length) > start + BigInt(bytes.length)) break;
      const s = info?.symbolForAddress(a);
      if (s && s.offset === 0) {
        lines.push(`${s.name}:`);
        addressOn.push(undefined);
      }
      lines.push(`  ${hexAddr(a).padEnd(bits === 64 ? 20 : 12)} ${hexBytes(i.bytes).padEnd(30)} ${i.text}`);
      addressOn.push(a);
      lineOf.set(a, lines.length);
      if (a > pc && ++after >= LISTING_AFTER_PC) break;
    }
    const name = `${sym0 && sym0.offset === 0 ? sym0.name : hexAddr(start)} (disassembly)`;
    return { ref: this.nextRef++, name, start, bits, text: lines.join('\n') + '\n', lineOf, addressOn };
  }
}

export interface DisassembledLine {
  address: bigint;
  bytes?: Uint8Array;
  text: string;
  symbol?: string;
  location?: SourceLocation;
  invalid?: boolean;
}

function decodeFrom(mem: GuestMemory, start: bigint, length: number, bits: 16 | 32 | 64): DisassembledLine[] {
  const bytes = mem.read('linear', start, length);
  const out: DisassembledLine[] = [];
  for (const i of disassemble(bytes, start, bits)) {
    const a = BigInt.asUintN(64, i.address);
    if (a + BigInt(i.length) > start + BigInt(bytes.length)) break;
    out.push({ address: a, bytes: i.bytes, text: i.text });
  }
  return out;
}

/**
 * The `disassemble` request: `count` instructions starting `offset` instructions away from
 * `address` (negative = before it). Backwards, x86 has no unique decoding: we try a few start
 * points before the address and keep one whose decoding lands exactly on it. Unreadable memory
 * gives placeholder lines, so the answer always has `count` entries.
 */
export function disassembleAround(mem: GuestMemory, info: DebugInfo | undefined, address: bigint, offset: number, count: number, bits: 16 | 32 | 64): DisassembledLine[] {
  count = Math.max(0, Math.min(count, 10_000));
  let before: DisassembledLine[] = [];
  if (offset < 0) {
    const back = -offset;
    const span = BigInt(back * 15);
    for (let k = 0n; k < 16n; k++) {
      const s = address >= span - k ? address - span + k : 0n;
      const list = decodeFrom(mem, s, Number(address - s), bits);
      const last = list[list.length - 1];
      if (last && last.address + BigInt(last.bytes!.length) === address) {
        before = list.slice(-back);
        break;
      }
    }
    while (before.length < back) {
      const first = before[0]?.address ?? address;
      before.unshift({ address: first > 0n ? first - 1n : 0n, text: '??', invalid: true });
    }
  }
  const forwardCount = offset < 0 ? Math.max(0, count - before.length) : offset + count;
  const fwd: DisassembledLine[] = [];
  let a = address;
  while (fwd.length < forwardCount) {
    const chunk = decodeFrom(mem, a, Math.min(4096, (forwardCount - fwd.length) * 15 + 15), bits);
    if (chunk.length === 0) {
      fwd.push({ address: a, text: '??', invalid: true });
      a += 1n;
      continue;
    }
    for (const c of chunk) {
      if (fwd.length >= forwardCount) break;
      fwd.push(c);
      a = c.address + BigInt(c.bytes!.length);
    }
  }
  const all = (offset < 0 ? before.concat(fwd) : fwd.slice(offset)).slice(0, count);
  for (const l of all) {
    if (l.invalid || !info) continue;
    const s = info.symbolForAddress(l.address);
    if (s && s.offset === 0) l.symbol = s.name;
    else if (s) l.symbol = `${s.name}+0x${s.offset.toString(16)}`;
    l.location = info.lineForAddress(l.address);
  }
  return all;
}
