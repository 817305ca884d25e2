import type { Machine } from '../machine/machine';
import { peekTranslate } from '../cpu/paging';
import * as K from '../cpu/constants';
import { parseNumberText } from './launchConfig';

/**
 * Guest memory as the debugger sees it, without side effects on the guest: linear addresses are
 * translated with the current paging structures by `peekTranslate` (no accessed/dirty bits, no
 * faults, no TLB fills); only RAM and ROM are read (MMIO registers can have read side effects, so
 * they read as unreadable). Writes go through PhysicalMemory.writeBytes, which tells the CPU to drop
 * decoded code on the pages written.
 *
 * Memory references (DAP `memoryReference`, readMemory/writeMemory, the memory view):
 *   "0x7c00" or "lin:0x7c00"   a linear address in the current address space (CR3, mode)
 *   "phys:0x1000"              a physical address
 */

export type AddressSpace = 'linear' | 'physical';

export interface MemoryRef {
  space: AddressSpace;
  address: bigint;
}

export function parseMemoryReference(ref: string): MemoryRef | undefined {
  const m = /^\s*(phys:|lin:)?\s*(.+?)\s*$/i.exec(ref);
  if (!m) return undefined;
  const address = parseNumberText(m[2]);
  if (address === undefined || address >> 64n !== 0n) return undefined;
  return { space: m[1]?.toLowerCase() === 'phys:' ? 'physical' : 'linear', address };
}

export function formatMemoryReference(r: MemoryRef): string {
  return (r.space === 'physical' ? 'phys:' : '') + hexAddr(r.address);
}

export function hexAddr(a: bigint | number): string {
  const v = typeof a === 'number' ? BigInt.asUintN(64, BigInt(a)) : BigInt.asUintN(64, a);
  return '0x' + v.toString(16);
}

export class GuestMemory {
  constructor(private readonly machine: Machine) {}

  /** The linear address as the CPU's number form, or undefined when it cannot exist in this mode. */
  linearKey(a: bigint): number | undefined {
    const cpu = this.machine.cpu;
    if (cpu.efer & K.EFER_LMA) {
      const s = BigInt.asIntN(64, a);
      if (s < -(1n << 47n) || s >= 1n << 47n) return undefined;
      return Number(s);
    }
    if (a > 0xFFFFFFFFn) return undefined;
    return Number(a);
  }

  /** Physical address of a linear address, or -1 when unmapped/non-canonical. */
  translate(lin: bigint): number {
    const key = this.linearKey(lin);
    if (key === undefined) return -1;
    return peekTranslate(this.machine.cpu, key);
  }

  /** Backing-store offset of a physical byte (RAM/ROM), or -1. */
  private host(phys: number): number {
    const bus = this.machine.cpu.bus;
    const page = phys - (phys % 4096);
    const off = bus.hostOffset(page);
    return off < 0 ? -1 : off + (phys % 4096);
  }

  /**
   * Reads up to `length` bytes; stops at the first byte that is not readable. Returns the bytes read
   * (possibly fewer than asked).
   */
  read(space: AddressSpace, address: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const mem = this.machine.cpu.mem;
    let done = 0;
    while (done < length) {
      const a = address + BigInt(done);
      const phys = space === 'physical' ? (a > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(a)) : this.translate(BigInt.asUintN(64, a));
      if (phys < 0) break;
      const chunk = Math.min(length - done, 4096 - (phys % 4096));
      const h = this.host(phys);
      if (h < 0) break;
      out.set(mem.subarray(h, h + chunk), done);
      done += chunk;
    }
    return out.subarray(0, done);
  }

  /** Writes bytes; returns how many were written before an unmapped page. */
  write(space: AddressSpace, address: bigint, bytes: Uint8Array): number {
    let done = 0;
    while (done < bytes.length) {
      const a = address + BigInt(done);
      const phys = space === 'physical' ? Number(a) : this.translate(BigInt.asUintN(64, a));
      if (phys < 0 || phys >= 2 ** K.MAXPHYADDR) break;
      const chunk = Math.min(bytes.length - done, 4096 - (phys % 4096));
      this.machine.memory.writeBytes(phys, bytes.subarray(done, done + chunk));
      done += chunk;
    }
    return done;
  }

  /** A little-endian value of `size` bytes; throws when any byte is unreadable. */
  readValue(space: AddressSpace, address: bigint, size: number): bigint {
    const b = this.read(space, address, size);
    if (b.length < size) throw new Error(`${space} address ${hexAddr(address + BigInt(b.length))} is not mapped to RAM or ROM`);
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
    return v;
  }

  writeValue(space: AddressSpace, address: bigint, size: number, value: bigint): void {
    const b = new Uint8Array(size);
    for (let k = 0; k < size; k++) b[k] = Number((value >> BigInt(8 * k)) & 0xFFn);
    const n = this.write(space, address, b);
    if (n < size) throw new Error(`${space} address ${hexAddr(address + BigInt(n))} is not mapped`);
  }
}
