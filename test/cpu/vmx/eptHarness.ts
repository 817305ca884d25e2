/**
 * EPT helpers on top of harness.ts: an EPT builder writing 4-level tables into the host's memory
 * (from EPT_POOL), the control bits that turn EPT and unrestricted guest on, a real-mode guest, and
 * a few 64-bit guest instructions with absolute addresses.
 */
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Fields, VmxHost } from './harness';

/** Host-physical pool for EPT paging structures (identity-mapped for the guest in most tests). */
export const EPT_POOL = 0x800000;

export const R = 1, W = 2, X = 4, RWX = 7;
export const PAGE_4K = 0x1000, PAGE_2M = 0x200000, PAGE_1G = 0x40000000;

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const le64 = (v: bigint) => { const u = BigInt.asUintN(64, v); return [...le32(Number(u & 0xFFFFFFFFn)), ...le32(Number(u >> 32n))]; };

export class Ept {
  private next: number;

  /** `root` starts the pool the tables come from (a second hierarchy needs a pool of its own). */
  constructor(readonly h: VmxHost, readonly root = EPT_POOL) {
    this.next = root + 0x1000;
    this.zero(this.root);
  }

  private zero(page: number): void {
    for (let k = 0; k < 0x1000; k += 4) this.h.cpu.physWrite(page + k, 4, 0);
  }

  private read(addr: number): bigint {
    const c = this.h.cpu;
    return (BigInt(c.physRead(addr + 4, 4) >>> 0) << 32n) | BigInt(c.physRead(addr, 4) >>> 0);
  }

  write(addr: number, v: bigint): void {
    this.h.poke64(addr, v);
  }

  /**
   * Maps [gpa, gpa + size) to hpa with a leaf of that size; returns the leaf entry's address.
   * `extra` is ORed into the leaf (e.g. reserved bits); memory type defaults to WB (6).
   */
  map(gpa: number, hpa: number, size = PAGE_4K, perms = RWX, memType = 6, extra = 0n): number {
    const g = BigInt(gpa);
    const leafLevel = size === PAGE_1G ? 3 : size === PAGE_2M ? 2 : 1;
    let table = this.root;
    for (let level = 4; level > leafLevel; level--) {
      const idx = Number((g >> BigInt(12 + 9 * (level - 1))) & 0x1FFn);
      const addr = table + idx * 8;
      const e = this.read(addr);
      if ((e & 7n) === 0n) {
        const t = this.next;
        this.next += 0x1000;
        this.zero(t);
        this.write(addr, BigInt(t) | 7n);
        table = t;
      } else table = Number(e & 0xFFFFFFFFF000n);
    }
    const idx = Number((g >> BigInt(12 + 9 * (leafLevel - 1))) & 0x1FFn);
    const addr = table + idx * 8;
    this.write(addr, BigInt(hpa) | BigInt(perms) | (BigInt(memType) << 3n) | (leafLevel > 1 ? 0x80n : 0n) | extra);
    return addr;
  }

  /** Identity map of [from, to) with 2 MiB pages. */
  identity2M(from: number, to: number, perms = RWX): void {
    for (let a = from; a < to; a += PAGE_2M) this.map(a, a, PAGE_2M, perms);
  }

  /** Identity map of [from, to) with 4 KiB pages. */
  identity4K(from: number, to: number, perms = RWX): void {
    for (let a = from; a < to; a += PAGE_4K) this.map(a, a, PAGE_4K, perms);
  }

  /** The entry at `level` (4 = PML4E .. 1 = PTE) on the path of gpa (its address). */
  entryAddr(gpa: number, level: number): number {
    const g = BigInt(gpa);
    let table = this.root;
    for (let l = 4; ; l--) {
      const addr = table + Number((g >> BigInt(12 + 9 * (l - 1))) & 0x1FFn) * 8;
      if (l === level) return addr;
      table = Number(this.read(addr) & 0xFFFFFFFFF000n);
    }
  }

  entry(addr: number): bigint {
    return this.read(addr);
  }

  /** EPTP: WB, 4-level walk, optional A/D enable. */
  eptp(ad = false): bigint {
    return BigInt(this.root) | 6n | (3n << 3n) | (ad ? 0x40n : 0n);
  }
}

export const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const or = (f: Fields, name: string, bits: bigint) => f.set(name, (f.get(name) ?? 0n) | bits);

/** Turns on "enable EPT" (and "unrestricted guest") with this EPTP. */
export function withEpt(f: Fields, eptp: bigint, ug = false): void {
  or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'));
  or(f, 'SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_ENABLE_EPT') | (ug ? ctl('SECONDARY_EXEC_UNRESTRICTED_GUEST') : 0n));
  f.set('EPT_POINTER', eptp);
}

/** A real-mode guest (CR0.PE = 0) at CS:IP = csSel:ip, flat 64 KiB data segments at 0. */
export function realModeGuest(f: Fields, csSel: number, ip: number): void {
  f.set('VM_ENTRY_CONTROLS', (f.get('VM_ENTRY_CONTROLS') ?? 0n) & ~ctl('VM_ENTRY_IA32E_MODE'));
  f.set('GUEST_CR0', 0x30n); // ET, NE: PE and PG clear (unrestricted guest)
  f.set('GUEST_CR3', 0n);
  f.set('GUEST_CR4', 0x2000n); // VMXE
  f.set('GUEST_CS_SELECTOR', BigInt(csSel));
  f.set('GUEST_CS_BASE', BigInt(csSel * 16));
  f.set('GUEST_CS_LIMIT', 0xFFFFn);
  f.set('GUEST_CS_AR_BYTES', 0x9Bn);
  for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) {
    f.set(`GUEST_${s}_SELECTOR`, 0n);
    f.set(`GUEST_${s}_BASE`, 0n);
    f.set(`GUEST_${s}_LIMIT`, 0xFFFFn);
    f.set(`GUEST_${s}_AR_BYTES`, 0x93n);
  }
  f.set('GUEST_TR_SELECTOR', 0n);
  f.set('GUEST_TR_LIMIT', 0xFFFFn);
  f.set('GUEST_IDTR_LIMIT', 0x3FFn);
  f.set('GUEST_RIP', BigInt(ip));
  f.set('GUEST_RSP', 0x7000n);
}

/** 64-bit guest instructions with absolute (disp32) operands. */
export const g64 = {
  /** mov r8/r9/r10, qword [abs] */
  loadR8: (a: number) => [0x4C, 0x8B, 0x04, 0x25, ...le32(a)],
  loadR9: (a: number) => [0x4C, 0x8B, 0x0C, 0x25, ...le32(a)],
  loadR10: (a: number) => [0x4C, 0x8B, 0x14, 0x25, ...le32(a)],
  /** mov qword [abs], r8 */
  storeR8: (a: number) => [0x4C, 0x89, 0x04, 0x25, ...le32(a)],
  /** mov qword [abs], rax */
  storeRax: (a: number) => [0x48, 0x89, 0x04, 0x25, ...le32(a)],
  movRax: (v: bigint) => [0x48, 0xB8, ...le64(v)],
  jmpRax: [0xFF, 0xE0],
  cpuid: [0x0F, 0xA2],
  /** INVEPT rax, [abs] */
  invept: (a: number) => [0x66, 0x0F, 0x38, 0x80, 0x04, 0x25, ...le32(a)],
};

export function u64(h: VmxHost, reg: number): bigint {
  return (BigInt(h.cpu.rh[reg] >>> 0) << 32n) | BigInt(h.cpu.r[reg] >>> 0);
}
