import { Cpu } from '../../src/cpu/cpu';
import * as K from '../../src/cpu/constants';
import { loadPdptes } from '../../src/cpu/paging';
import { RecordingPorts, SimpleBus } from '../support/simpleBus';

/**
 * A small protected-mode / long-mode machine for system-level CPU tests: descriptor tables, TSSs,
 * IDT gates and page tables are built in guest memory from the host, and the CPU state is loaded
 * from them the way firmware would have left it. The run then goes through the real instruction,
 * event-delivery and task-switch paths.
 */

export const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));

export const GDT = 0x1000;
export const IDT = 0x2000;
export const TSS_A = 0x3000;
export const TSS_B = 0x4000;
export const TSS_C = 0x5000;
/** Ring-0 code, ring-3 code, more handlers. */
export const CODE0 = 0x10000;
export const CODE3 = 0x11000;
export const CODE_X = 0x12000;
/** Exception stubs: vector v has a HLT at VEC_STUBS + 16 * v. */
export const VEC_STUBS = 0x8000;
export const STACK0 = 0x80000;
export const STACK3 = 0x70000;
export const STACK1 = 0x60000;

/** Selectors of the standard tables (legacy: 32-bit segments; long: 64-bit code at 0x08 and 0x28). */
export const S = {
  CODE0: 0x08, DATA0: 0x10, CODE3: 0x1B, DATA3: 0x23,
  /** legacy: TSS A/B/C; free slots start at 0x40 */
  TSSA: 0x28, TSSB: 0x30, TSSC: 0x38,
  /** long mode: 64-bit user code and the 16-byte TSS descriptor */
  CODE3_64: 0x2B, TSS64: 0x30,
};

export interface SegOpts { s?: boolean; p?: boolean; db?: boolean; l?: boolean; avl?: boolean }

export class Machine {
  readonly bus = new SimpleBus();
  readonly ports = new RecordingPorts();
  readonly cpu: Cpu;
  readonly dv: DataView;
  /** Bump allocator for page-table pages. */
  private nextTable = 0x200000;

  constructor() {
    this.cpu = new Cpu(this.bus, this.ports);
    this.dv = new DataView(this.bus.backing.buffer, this.bus.backing.byteOffset, this.bus.backing.byteLength);
  }

  // ---- physical memory ----
  w8(a: number, v: number): void { this.dv.setUint8(a, v & 0xFF); }
  w16(a: number, v: number): void { this.dv.setUint16(a, v & 0xFFFF, true); }
  w32(a: number, v: number): void { this.dv.setUint32(a, v >>> 0, true); }
  w64(a: number, v: bigint): void { this.dv.setBigUint64(a, BigInt.asUintN(64, v), true); }
  r8(a: number): number { return this.dv.getUint8(a); }
  r16(a: number): number { return this.dv.getUint16(a, true); }
  r32(a: number): number { return this.dv.getUint32(a, true); }
  r64(a: number): bigint { return this.dv.getBigUint64(a, true); }
  /** Writes bytes through the CPU's physical path, so decoded code for them is dropped. */
  put(a: number, bytes: Uint8Array): void { for (let k = 0; k < bytes.length; k++) this.cpu.physWrite(a + k, 1, bytes[k]); }

  // ---- descriptors ----
  /** Code/data descriptor; `limit` in bytes (a limit above 1 MiB is page-granular). */
  seg(index: number, base: number, limit: number, type: number, dpl: number, o: SegOpts = {}): void {
    const g = limit > 0xFFFFF;
    const lim = g ? Math.floor(limit / 4096) : limit;
    const s = o.s ?? true;
    const lo = ((base & 0xFFFF) << 16) | (lim & 0xFFFF);
    const hi = ((base >>> 16) & 0xFF) | (type << 8) | (s ? 1 << 12 : 0) | (dpl << 13) | ((o.p ?? true) ? 1 << 15 : 0) |
      (lim & 0xF0000) | (o.avl ? 1 << 20 : 0) | (o.l ? 1 << 21 : 0) | ((o.db ?? !o.l) ? 1 << 22 : 0) | (g ? 1 << 23 : 0) | (base & 0xFF000000);
    this.w32(GDT + index * 8, lo);
    this.w32(GDT + index * 8 + 4, hi);
  }
  /** System descriptor (TSS, LDT) in legacy format. */
  sys(index: number, base: number, limit: number, type: number, dpl = 0, p = true): void {
    this.seg(index, base, limit, type, dpl, { s: false, p, db: false });
  }
  /** 16-byte system descriptor for IA-32e mode. */
  sys64(index: number, base: number, limit: number, type: number, dpl = 0): void {
    this.sys(index, base % 0x100000000, limit, type, dpl);
    this.w32(GDT + index * 8 + 8, Math.floor(base / 0x100000000));
    this.w32(GDT + index * 8 + 12, 0);
  }
  /** Call gate (type 0xC 32-bit, 4 16-bit) in the GDT. */
  callGate(index: number, sel: number, off: number, dpl: number, params = 0, type = 0xC, p = true): void {
    this.w32(GDT + index * 8, (sel << 16) | (off & 0xFFFF));
    this.w32(GDT + index * 8 + 4, (off & 0xFFFF0000) | (p ? 0x8000 : 0) | (dpl << 13) | (type << 8) | (params & 0x1F));
  }
  callGate64(index: number, sel: number, off: number, dpl: number): void {
    this.callGate(index, sel, off, dpl, 0, 0xC);
    this.w32(GDT + index * 8 + 8, Math.floor(off / 0x100000000));
    this.w32(GDT + index * 8 + 12, 0);
  }
  /** Legacy IDT gate: type 0xE/0xF (32-bit interrupt/trap), 6/7 (16-bit), 5 (task gate, sel = TSS). */
  gate(vec: number, sel: number, off: number, type = 0xE, dpl = 0, p = true): void {
    this.w32(IDT + vec * 8, (sel << 16) | (off & 0xFFFF));
    this.w32(IDT + vec * 8 + 4, (off & 0xFFFF0000) | (p ? 0x8000 : 0) | (dpl << 13) | (type << 8));
  }
  gate64(vec: number, sel: number, off: number, type = 0xE, dpl = 0, ist = 0): void {
    this.w32(IDT + vec * 16, (sel << 16) | (off & 0xFFFF));
    this.w32(IDT + vec * 16 + 4, (off & 0xFFFF0000) | 0x8000 | (dpl << 13) | (type << 8) | ist);
    this.w32(IDT + vec * 16 + 8, Math.floor(off / 0x100000000));
    this.w32(IDT + vec * 16 + 12, 0);
  }

  /** Descriptor dwords of a GDT entry. */
  descHi(index: number): number { return this.r32(GDT + index * 8 + 4); }

  /** Loads a segment register's cache from the descriptor in memory, as a real load would. */
  loadSeg(s: number, sel: number): void {
    const c = this.cpu;
    if ((sel & 0xFFFC) === 0) { c.loadSegRaw(s, sel, 0, 0, K.AR_UNUSABLE); return; }
    const a = GDT + (sel & 0xFFF8);
    const lo = this.r32(a);
    let hi = this.r32(a + 4);
    if (hi & 0x1000) { hi |= 0x100; this.w32(a + 4, hi); } // accessed bit of code/data descriptors
    let limit = (lo & 0xFFFF) | (hi & 0xF0000);
    if (hi & (1 << 23)) limit = limit * 4096 + 0xFFF;
    let base = ((lo >>> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)) >>> 0;
    if (s === K.SEG_TR && c.efer & K.EFER_LMA) base += this.r32(a + 8) * 0x100000000;
    c.loadSegRaw(s, sel, base, limit, (hi >>> 8) & 0xF0FF);
  }

  /** Loads TR (marking the TSS busy in the GDT, as LTR does). */
  loadTr(sel: number): void {
    const a = GDT + (sel & 0xFFF8) + 4;
    this.w32(a, this.r32(a) | 0x200);
    this.loadSeg(K.SEG_TR, sel);
  }

  // ---- TSS images ----
  /** A 32-bit TSS: ring stacks, and optionally a full task state. */
  tss32(base: number, f: { esp0?: number; ss0?: number; esp1?: number; ss1?: number; cr3?: number; eip?: number; eflags?: number;
    regs?: number[]; es?: number; cs?: number; ss?: number; ds?: number; fs?: number; gs?: number; ldt?: number; trap?: boolean; iomap?: number } = {}): void {
    for (let k = 0; k < 0x68; k++) this.w8(base + k, 0);
    this.w32(base + 4, f.esp0 ?? STACK0);
    this.w32(base + 8, f.ss0 ?? S.DATA0);
    this.w32(base + 0xC, f.esp1 ?? 0);
    this.w32(base + 0x10, f.ss1 ?? 0);
    this.w32(base + 0x1C, f.cr3 ?? 0);
    this.w32(base + 0x20, f.eip ?? 0);
    this.w32(base + 0x24, f.eflags ?? 2);
    const regs = f.regs ?? [];
    for (let k = 0; k < 8; k++) this.w32(base + 0x28 + 4 * k, regs[k] ?? 0);
    this.w32(base + 0x48, f.es ?? S.DATA0);
    this.w32(base + 0x4C, f.cs ?? S.CODE0);
    this.w32(base + 0x50, f.ss ?? S.DATA0);
    this.w32(base + 0x54, f.ds ?? S.DATA0);
    this.w32(base + 0x58, f.fs ?? S.DATA0);
    this.w32(base + 0x5C, f.gs ?? S.DATA0);
    this.w32(base + 0x60, f.ldt ?? 0);
    this.w16(base + 0x64, f.trap ? 1 : 0);
    this.w16(base + 0x66, f.iomap ?? 0x68);
  }

  // ---- machine set-ups ----
  /** Flat 32-bit protected mode at CPL 0 with the standard GDT, an IDT of HLT stubs and TSS A in TR. */
  protected32(): this {
    const c = this.cpu;
    this.seg(1, 0, 0xFFFFFFFF, 0xB, 0);
    this.seg(2, 0, 0xFFFFFFFF, 0x3, 0);
    this.seg(3, 0, 0xFFFFFFFF, 0xB, 3);
    this.seg(4, 0, 0xFFFFFFFF, 0x3, 3);
    this.tss32(TSS_A);
    this.sys(5, TSS_A, 0x67, 0x9);
    for (let v = 0; v < 256; v++) {
      this.w8(VEC_STUBS + 16 * v, 0xF4);
      this.gate(v, S.CODE0, VEC_STUBS + 16 * v);
    }
    c.cr0 |= K.CR0_PE;
    c.gdtrBase = GDT; c.gdtrLimit = 0x1FF;
    c.idtrBase = IDT; c.idtrLimit = 0x7FF;
    this.loadSeg(K.SEG_CS, S.CODE0);
    for (const s of [K.SEG_SS, K.SEG_DS, K.SEG_ES, K.SEG_FS, K.SEG_GS]) this.loadSeg(s, S.DATA0);
    this.loadTr(S.TSSA);
    c.loadSegRaw(K.SEG_LDTR, 0, 0, 0, K.AR_UNUSABLE);
    c.updateMode();
    c.flushTlb(true);
    c.rip = CODE0;
    c.r[4] = STACK0;
    return this;
  }

  /**
   * IA-32e mode at CPL 0 in 64-bit code: the first 1 GiB identity-mapped with 2 MiB user pages,
   * GDT 0x08 code64/0 0x10 data/0 0x18 code32/3 0x20 data/3 0x28 code64/3 0x30 TSS64, IDT of stubs.
   */
  long64(): this {
    const c = this.cpu;
    const pml4 = this.table(), pdpt = this.table(), pd = this.table();
    this.w64(pml4, BigInt(pdpt | 7));
    this.w64(pdpt, BigInt(pd | 7));
    for (let k = 0; k < 512; k++) this.w64(pd + 8 * k, BigInt(k * 0x200000 + 0x87));
    this.seg(1, 0, 0xFFFFFFFF, 0xB, 0, { l: true });
    this.seg(2, 0, 0xFFFFFFFF, 0x3, 0);
    this.seg(3, 0, 0xFFFFFFFF, 0xB, 3);
    this.seg(4, 0, 0xFFFFFFFF, 0x3, 3);
    this.seg(5, 0, 0xFFFFFFFF, 0xB, 3, { l: true });
    for (let k = 0; k < 0x68; k++) this.w8(TSS_A + k, 0);
    this.w64(TSS_A + 4, BigInt(STACK0));
    this.w16(TSS_A + 0x66, 0x68);
    this.sys64(6, TSS_A, 0x67, 0x9);
    for (let v = 0; v < 256; v++) {
      this.w8(VEC_STUBS + 16 * v, 0xF4);
      this.gate64(v, S.CODE0, VEC_STUBS + 16 * v);
    }
    c.cr3 = pml4;
    c.cr4 |= K.CR4_PAE;
    c.efer |= K.EFER_LME | K.EFER_LMA;
    c.cr0 |= K.CR0_PE | K.CR0_PG;
    c.gdtrBase = GDT; c.gdtrLimit = 0x1FF;
    c.idtrBase = IDT; c.idtrLimit = 0xFFF;
    this.loadSeg(K.SEG_CS, S.CODE0);
    for (const s of [K.SEG_SS, K.SEG_DS, K.SEG_ES, K.SEG_FS, K.SEG_GS]) this.loadSeg(s, S.DATA0);
    this.loadTr(S.TSS64);
    c.loadSegRaw(K.SEG_LDTR, 0, 0, 0, K.AR_UNUSABLE);
    c.updateMode();
    c.flushTlb(true);
    c.rip = CODE0;
    c.r[4] = STACK0;
    return this;
  }

  /** Switches to CPL 3 with the standard user segments (legacy, or 64-bit code in long mode). */
  ring3(eip: number, esp = STACK3, eflags = 0x202): void {
    const c = this.cpu;
    this.loadSeg(K.SEG_CS, c.efer & K.EFER_LMA ? S.CODE3_64 : S.CODE3);
    for (const s of [K.SEG_SS, K.SEG_DS, K.SEG_ES, K.SEG_FS, K.SEG_GS]) this.loadSeg(s, S.DATA3);
    c.setFlags(eflags, 0x3F7FD5);
    c.updateMode();
    c.rip = eip;
    c.r[4] = esp;
    c.rh[4] = 0;
  }

  // ---- page tables ----
  /** A zeroed 4 KiB page for paging structures. */
  table(): number {
    const t = this.nextTable;
    this.nextTable += 0x1000;
    this.bus.backing.fill(0, t, t + 0x1000);
    return t;
  }

  /** 32-bit paging: maps one 4 KiB page (creating the page table; the PDE gets P|RW|US). */
  map32(pd: number, lin: number, phys: number, flags: number): void {
    const pdi = lin >>> 22;
    let pde = this.r32(pd + pdi * 4);
    if (!(pde & 1)) { pde = this.table() | 7; this.w32(pd + pdi * 4, pde); }
    this.w32(((pde & ~0xFFF) >>> 0) + ((lin >>> 12) & 0x3FF) * 4, phys | flags);
  }

  /** PAE / 4-level: maps one 4 KiB page below `top` (PDPT for PAE, PML4 for 4-level). */
  map64(top: number, levels: 2 | 3, lin: number, phys: number, flags: bigint): void {
    const idx = levels === 3
      ? [Math.floor(lin / 2 ** 39) & 0x1FF, Math.floor(lin / 2 ** 30) & 0x1FF, Math.floor(lin / 2 ** 21) & 0x1FF]
      : [Math.floor(lin / 2 ** 30) & 3, Math.floor(lin / 2 ** 21) & 0x1FF];
    let t = top;
    for (let k = 0; k < idx.length; k++) {
      const a = t + idx[k] * 8;
      let e = this.r64(a);
      // PAE PDPTEs have no R/W or U/S bits
      const upper = levels === 2 && k === 0 ? 1n : 7n;
      if (!(e & 1n)) { e = BigInt(this.table()) | upper; this.w64(a, e); }
      t = Number(e & 0xFFFFFFFFF000n);
    }
    this.w64(t + (Math.floor(lin / 4096) & 0x1FF) * 8, BigInt(phys) | flags);
  }

  // ---- running ----
  run(n = 10000): K.StopReason {
    return this.cpu.run(this.cpu.icount + n);
  }
  /** Vector whose HLT stub the CPU stopped in, or -1. */
  haltedVector(): number {
    const r = this.cpu.rip - 1 - VEC_STUBS;
    if (!this.cpu.halted || r < 0 || r % 16 !== 0 || r >= 16 * 256) return -1;
    return r / 16;
  }
  /** Dword at SS:ESP + k*4 (legacy stacks). */
  stack32(k: number): number {
    const c = this.cpu;
    return this.r32((c.segBase[K.SEG_SS] + (c.r[4] >>> 0) + 4 * k) >>> 0);
  }
  /** Qword at RSP + k*8. */
  stack64(k: number): bigint {
    return this.r64(this.cpu.rsp64 + 8 * k);
  }
  /** Stops the run at the first exception (not delivered) and records it. */
  catchExceptions(): { vec: number; err: number; n: number } {
    const rec = { vec: -1, err: -1, n: 0 };
    this.cpu.onException = (vec, err) => { rec.vec = vec; rec.err = err; rec.n++; return true; };
    return rec;
  }
}

/** PAE paging set-up helper: enables PAE paging with `pdpt` and loads the PDPTEs. */
export function enablePae(m: Machine, pdpt: number): void {
  const c = m.cpu;
  c.cr3 = pdpt;
  c.cr4 |= K.CR4_PAE;
  c.cr0 |= K.CR0_PG;
  loadPdptes(c);
  c.updateMode();
  c.flushTlb(true);
}
