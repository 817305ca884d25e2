/**
 * The physical address space of a PC-like machine: RAM, a firmware ROM at the top of the 4 GiB space
 * (aliased below 1 MiB), MMIO regions and holes.
 *
 * All directly addressable bytes (RAM, then ROM) live in ONE Uint8Array, `backing`, so the CPU's TLB
 * can cache a plain offset per page. Node allocates large typed arrays with calloc, so pages the guest
 * never touches cost no host memory; that is what makes a multi-GiB guest cheap.
 *
 * Layout (mirrors QEMU's "pc" machine, which firmware written for PCs expects):
 *   [0, lowRam)                       RAM, lowRam = min(ramSize, 0xE0000000)
 *   [0xE0000000, 4 GiB - romSize)     PCI hole: MMIO or unmapped
 *   [4 GiB - romSize, 4 GiB)          ROM, read-only, its last byte at 0xFFFFFFFF
 *   [0xE0000, 0x100000)               the last 128 KiB of the ROM again (legacy BIOS alias), read-only,
 *                                     shadowing the RAM underneath
 *   [4 GiB, 4 GiB + ramSize - lowRam) the rest of RAM
 * MMIO regions take priority over all of that; unmapped reads return all ones and writes vanish.
 */
import type { PhysicalBus } from '../cpu/interfaces';

/** A device model behind an MMIO window. offset is relative to the window base; size is 1, 2 or 4. */
export interface MmioHandler {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

/** Returned by `mapMmio`, so a relocatable window (the local APIC) can move. */
export interface MmioMapping {
  readonly base: number;
  readonly length: number;
  unmap(): void;
}

/** Who wants to hear about memory changes the CPU did not make itself. */
export interface MemoryListener {
  /** The page map changed (ROM mapped, MMIO added or removed, A20 toggled): flush TLBs. */
  layoutChanged?(): void;
  /** Bytes were written by a loader or debugger: drop decoded instructions cached for them. */
  bytesWritten?(phys: number, length: number): void;
}

export interface PhysicalMemoryOptions {
  /** Bytes of RAM; a multiple of 4 KiB. Default 256 MiB. */
  ramSize?: number;
  /** Bytes reserved after RAM for ROM images; a multiple of 4 KiB. Default 16 MiB. */
  romCapacity?: number;
}

const PAGE = 4096;
const PAGE_SHIFT = 12;
const FOUR_GIB = 0x1_0000_0000;
const PCI_HOLE_START = 0xe000_0000;
const LEGACY_BIOS_END = 0x10_0000;
const LEGACY_BIOS_MAX = 0x2_0000;
/** V8 refuses typed arrays longer than this, so RAM plus ROM capacity must fit in it. */
const MAX_BACKING = FOUR_GIB;
const LOW_PAGES = FOUR_GIB / PAGE;

const FLAG_READ_ONLY = 1;

interface MmioRegion {
  base: number;
  end: number; // exclusive
  handler: MmioHandler;
}

export class PhysicalMemory implements PhysicalBus {
  readonly backing: Uint8Array;
  readonly ramSize: number;
  readonly romCapacity: number;
  /** RAM below the PCI hole; the rest starts at 4 GiB. */
  readonly lowRamSize: number;
  readonly highRamSize: number;

  /**
   * Page number in `backing` for each 4 KiB page below 4 GiB, or -1 when the page is not direct
   * (MMIO, partly MMIO, or unmapped). 4 MiB of table buys hostOffset a single load.
   */
  private readonly pageMap = new Int32Array(LOW_PAGES);
  private readonly pageFlags = new Uint8Array(LOW_PAGES);

  private romSize = 0; // padded to whole pages
  private aliasSize = 0;
  private readonly mmio: MmioRegion[] = [];
  private highMmio = false; // any MMIO at or above 4 GiB: hostOffset must look there too
  private a20 = true;
  private readonly listeners: MemoryListener[] = [];

  constructor(options: PhysicalMemoryOptions = {}) {
    const ramSize = options.ramSize ?? 256 * 1024 * 1024;
    const romCapacity = options.romCapacity ?? 16 * 1024 * 1024;
    if (ramSize < 0 || ramSize % PAGE !== 0) throw new RangeError(`ramSize ${ramSize} is not a multiple of 4 KiB`);
    if (romCapacity < 0 || romCapacity % PAGE !== 0)
      throw new RangeError(`romCapacity ${romCapacity} is not a multiple of 4 KiB`);
    if (ramSize + romCapacity > MAX_BACKING)
      throw new RangeError(
        `RAM (${ramSize}) + ROM capacity (${romCapacity}) exceeds 4 GiB, the largest Uint8Array V8 allows`,
      );
    this.ramSize = ramSize;
    this.romCapacity = romCapacity;
    this.lowRamSize = Math.min(ramSize, PCI_HOLE_START);
    this.highRamSize = ramSize - this.lowRamSize;
    this.backing = new Uint8Array(ramSize + romCapacity);
    // No ROM or MMIO yet: low RAM pages map to themselves, everything else is a hole.
    this.pageMap.fill(-1);
    const lowRamPages = this.lowRamSize / PAGE;
    for (let page = 0; page < lowRamPages; page++) this.pageMap[page] = page;
  }

  // ---- PhysicalBus (the CPU's view) ----

  hostOffset(phys: number): number {
    if (!this.a20) phys = clearA20(phys);
    if (phys < FOUR_GIB) {
      const page = this.pageMap[phys >>> PAGE_SHIFT];
      return page < 0 ? -1 : page * PAGE;
    }
    if (this.highMmio && this.findMmioOverlap(phys - (phys % PAGE), PAGE)) return -1;
    const off = this.layoutOffset(phys);
    return off < 0 ? -1 : off - (off % PAGE);
  }

  isReadOnly(phys: number): boolean {
    if (!this.a20) phys = clearA20(phys);
    return phys < FOUR_GIB && (this.pageFlags[phys >>> PAGE_SHIFT] & FLAG_READ_ONLY) !== 0;
  }

  readSlow(phys: number, size: number): number {
    return this.busRead(this.a20 ? phys : clearA20(phys), size);
  }

  writeSlow(phys: number, size: number, value: number): void {
    this.busWrite(this.a20 ? phys : clearA20(phys), size, value);
  }

  // ---- platform configuration ----

  /**
   * Place a ROM image so its last byte lands at 0xFFFFFFFF and alias its last 128 KiB (all of it if
   * smaller) so it ends at 0xFFFFF, where the reset vector's real-mode code and the legacy BIOS
   * entry points live. An image that is not a whole number of pages is padded in front with 0xFF,
   * as erased flash reads. Replaces any previous ROM.
   */
  mapRom(image: Uint8Array): void {
    const padded = roundUp(image.length, PAGE);
    if (padded > this.romCapacity)
      throw new RangeError(`ROM image of ${image.length} bytes exceeds the ROM capacity of ${this.romCapacity}`);
    const oldRomBase = FOUR_GIB - this.romSize;
    const oldAliasBase = LEGACY_BIOS_END - this.aliasSize;
    const romStart = this.ramSize;
    this.backing.fill(0xff, romStart, romStart + padded - image.length);
    this.backing.set(image, romStart + padded - image.length);
    this.romSize = padded;
    this.aliasSize = Math.min(padded, LEGACY_BIOS_MAX);
    const newRomBase = FOUR_GIB - this.romSize;
    const newAliasBase = LEGACY_BIOS_END - this.aliasSize;
    this.refreshPages(Math.min(oldRomBase, newRomBase) / PAGE, LOW_PAGES);
    this.refreshPages(Math.min(oldAliasBase, newAliasBase) / PAGE, LEGACY_BIOS_END / PAGE);
    this.notifyLayout();
    this.notifyWritten(newRomBase, padded);
    this.notifyWritten(newAliasBase, this.aliasSize);
  }

  /** Physical address of the first ROM byte, or 4 GiB when no ROM is mapped. */
  get romBase(): number {
    return FOUR_GIB - this.romSize;
  }

  /** Map a device window. It takes priority over RAM and ROM; windows may not overlap each other. */
  mapMmio(base: number, length: number, handler: MmioHandler): MmioMapping {
    if (length <= 0 || base < 0 || !Number.isSafeInteger(base + length))
      throw new RangeError(`bad MMIO window ${hex(base)}+${hex(length)}`);
    if (this.findMmioOverlap(base, length))
      throw new RangeError(`MMIO window ${hex(base)}+${hex(length)} overlaps another window`);
    const region: MmioRegion = { base, end: base + length, handler };
    this.mmio.push(region);
    this.afterMmioChange(region);
    return {
      base,
      length,
      unmap: () => {
        const i = this.mmio.indexOf(region);
        if (i < 0) return;
        this.mmio.splice(i, 1);
        this.afterMmioChange(region);
      },
    };
  }

  /**
   * Gate A20. When off, address bit 20 is forced to 0 on every CPU access (hostOffset, readSlow,
   * writeSlow), the 8086 wrap-around that real-mode code may rely on. Loader and debugger accessors
   * below address memory as it is and ignore A20. CPUs must flush their TLB: listeners are told.
   */
  setA20(enabled: boolean): void {
    if (this.a20 === enabled) return;
    this.a20 = enabled;
    this.notifyLayout();
  }

  get a20Enabled(): boolean {
    return this.a20;
  }

  addListener(listener: MemoryListener): void {
    this.listeners.push(listener);
  }

  // ---- loader and debugger accessors (no A20 masking) ----

  /** Copy bytes out of the address space; MMIO is read byte by byte, holes read 0xFF. */
  readBytes(phys: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const addr = phys + done;
      const chunk = Math.min(length - done, PAGE - (addr % PAGE));
      const off = this.directOffset(addr);
      if (off >= 0) {
        out.set(this.backing.subarray(off, off + chunk), done);
      } else {
        for (let i = 0; i < chunk; i++) out[done + i] = this.busRead(addr + i, 1);
      }
      done += chunk;
    }
    return out;
  }

  /**
   * Store bytes into the address space the way a loader or a debugger does: ROM IS written (that is
   * how images get there), MMIO receives byte writes, holes drop them.
   */
  writeBytes(phys: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const addr = phys + done;
      const chunk = Math.min(bytes.length - done, PAGE - (addr % PAGE));
      const off = this.directOffset(addr);
      if (off >= 0) {
        this.backing.set(bytes.subarray(done, done + chunk), off);
      } else {
        for (let i = 0; i < chunk; i++) this.busWrite(addr + i, 1, bytes[done + i]);
      }
      done += chunk;
    }
    this.notifyWritten(phys, bytes.length);
  }

  read8(phys: number): number {
    return this.busRead(phys, 1);
  }
  read16(phys: number): number {
    return this.busRead(phys, 2);
  }
  read32(phys: number): number {
    return this.busRead(phys, 4);
  }
  read64(phys: number): bigint {
    const low = this.busRead(phys, 4); // low half first, as a CPU splitting the access would
    return (BigInt(this.busRead(phys + 4, 4)) << 32n) | BigInt(low);
  }

  /** Stores as the CPU would do them: ROM stays unchanged, MMIO sees the access at its size. */
  write8(phys: number, value: number): void {
    this.busWrite(phys, 1, value);
    this.notifyWritten(phys, 1);
  }
  write16(phys: number, value: number): void {
    this.busWrite(phys, 2, value);
    this.notifyWritten(phys, 2);
  }
  write32(phys: number, value: number): void {
    this.busWrite(phys, 4, value);
    this.notifyWritten(phys, 4);
  }
  write64(phys: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.busWrite(phys, 4, Number(v & 0xffff_ffffn));
    this.busWrite(phys + 4, 4, Number(v >> 32n));
    this.notifyWritten(phys, 8);
  }

  // ---- internals ----

  /**
   * One access at its full size: an MMIO window containing the first byte gets it whole; otherwise
   * it is assembled from bytes, each of which may be RAM, ROM, MMIO or a hole.
   */
  private busRead(phys: number, size: number): number {
    const region = this.findMmio(phys);
    if (region) return region.handler.read(phys - region.base, size) >>> 0;
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.byteRead(phys + i);
    return value;
  }

  private byteRead(phys: number): number {
    const region = this.findMmio(phys);
    if (region) return region.handler.read(phys - region.base, 1) & 0xff;
    const off = this.layoutOffset(phys);
    return off >= 0 ? this.backing[off] : 0xff;
  }

  private busWrite(phys: number, size: number, value: number): void {
    const region = this.findMmio(phys);
    if (region) {
      region.handler.write(phys - region.base, size, value >>> 0);
      return;
    }
    for (let i = 0; i < size; i++) {
      const addr = phys + i;
      const byte = (value >>> (8 * i)) & 0xff;
      if (i !== 0) {
        const r = this.findMmio(addr);
        if (r) {
          r.handler.write(addr - r.base, 1, byte);
          continue;
        }
      }
      const off = this.layoutOffset(addr);
      if (off >= 0 && !this.isRomAddress(addr)) this.backing[off] = byte;
    }
  }

  /** Offset of one byte in `backing` ignoring MMIO (RAM, ROM, alias), or -1 for a hole. */
  private layoutOffset(phys: number): number {
    if (phys < LEGACY_BIOS_END && phys >= LEGACY_BIOS_END - this.aliasSize)
      return this.ramSize + this.romSize - (LEGACY_BIOS_END - phys);
    if (phys < this.lowRamSize) return phys;
    if (phys < FOUR_GIB) {
      if (phys >= FOUR_GIB - this.romSize) return this.ramSize + this.romSize - (FOUR_GIB - phys);
      return -1;
    }
    const high = phys - FOUR_GIB;
    return high < this.highRamSize ? this.lowRamSize + high : -1;
  }

  /** Byte offset when the byte is direct (not behind MMIO), else -1. */
  private directOffset(phys: number): number {
    if (this.findMmio(phys)) return -1;
    return this.layoutOffset(phys);
  }

  private isRomAddress(phys: number): boolean {
    return (
      (phys < LEGACY_BIOS_END && phys >= LEGACY_BIOS_END - this.aliasSize) ||
      (phys < FOUR_GIB && phys >= FOUR_GIB - this.romSize)
    );
  }

  private findMmio(phys: number): MmioRegion | undefined {
    const list = this.mmio;
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      if (phys >= r.base && phys < r.end) return r;
    }
    return undefined;
  }

  private findMmioOverlap(base: number, length: number): boolean {
    const end = base + length;
    return this.mmio.some((r) => base < r.end && r.base < end);
  }

  private afterMmioChange(region: MmioRegion): void {
    this.highMmio = this.mmio.some((r) => r.end > FOUR_GIB);
    if (region.base < FOUR_GIB) {
      const first = Math.floor(region.base / PAGE);
      const last = Math.min(LOW_PAGES, Math.ceil(region.end / PAGE));
      this.refreshPages(first, last);
    }
    this.notifyLayout();
  }

  /** Recompute the page map for low pages [first, last). */
  private refreshPages(first: number, last: number): void {
    for (let page = first; page < last; page++) {
      const phys = page * PAGE;
      const off = this.findMmioOverlap(phys, PAGE) ? -1 : this.layoutOffset(phys);
      this.pageMap[page] = off < 0 ? -1 : off / PAGE;
      this.pageFlags[page] = this.isRomAddress(phys) ? FLAG_READ_ONLY : 0;
    }
  }

  private notifyLayout(): void {
    for (const l of this.listeners) l.layoutChanged?.();
  }

  private notifyWritten(phys: number, length: number): void {
    for (const l of this.listeners) l.bytesWritten?.(phys, length);
  }
}

function clearA20(phys: number): number {
  // Bitwise operators would truncate addresses above 4 GiB, so subtract instead.
  return Math.floor(phys / 0x20_0000) * 0x20_0000 + (phys % 0x10_0000);
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}
