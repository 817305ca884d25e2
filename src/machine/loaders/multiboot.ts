import { ByteReader } from './bytes';
import { elfLoadRegions, materialiseRegion, parseElf, physicalEntry } from './elf';
import { hasElfMagic } from './elfLayout';
import { hex, LoadChunk, LoadError, LoadPlan, SymbolInfo } from './loadPlan';
import { buildMultibootInfo, multibootInfoSize } from './multibootInfo';
import { alignUp, checkRamBytes, describeBytes } from './ram';

/**
 * Multiboot v1 (specification 0.6.96): the kernel's header says how to load it, and the loader
 * starts it in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the physical address of
 * the boot information block.
 *
 * Placement: the kernel where its header (address fields) or ELF program headers say; modules
 * after it, each on a 4 KiB boundary (so flag 0 is always met); the information block at 0x9000,
 * in conventional memory below the EBDA where GRUB legacy also kept it and where kernels loaded at
 * 1 MiB never look. If the kernel or a module occupies that spot, or the block outgrows
 * 0x9000-0x9FBFF, it goes on the next 4 KiB boundary after the last module instead (with a note).
 */

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie entirely within the first 8 KiB, 4-byte aligned. */
export const MULTIBOOT_SEARCH_BYTES = 8192;
export const MULTIBOOT_BOOT_LOADER_NAME = 'vmx-debug';

const FLAG_PAGE_ALIGN = 1 << 0;
const FLAG_MEMORY_INFO = 1 << 1;
const FLAG_VIDEO_MODE = 1 << 2;
const FLAG_ADDRESS_FIELDS = 1 << 16;
/** Bits 0-15 are requirements: the spec says a loader that doesn't understand one must refuse. */
const UNKNOWN_REQUIREMENTS = 0xffff & ~(FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE);

const INFO_LOW_BASE = 0x9000;
const INFO_LOW_END = 0x9fc00;
const PAGE = 4096;
const FOUR_GIB = 2 ** 32;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  checksum: number;
}

export interface MultibootModule {
  /** Becomes the module's string (its command line) in the module list. */
  name: string;
  bytes: Uint8Array;
}

export interface MultibootOptions {
  ramBytes: number;
  cmdline?: string;
  modules?: MultibootModule[];
}

interface Scan {
  header?: MultibootHeader;
  /** The first magic whose checksum failed, reported when no valid header exists. */
  badChecksum?: { offset: number; sum: number };
}

function scan(bytes: Uint8Array): Scan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length, MULTIBOOT_SEARCH_BYTES) - 12;
  const result: Scan = {};
  for (let offset = 0; offset <= limit; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    const sum = (MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0;
    if (sum === 0) return { header: { offset, flags, checksum } };
    result.badChecksum ??= { offset, sum };
  }
  return result;
}

/** The first valid multiboot header (magic, 4-aligned, in the first 8 KiB, checksum 0), if any. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | undefined {
  return scan(bytes).header;
}

/** A kernel piece whose bytes are produced only after the RAM checks pass. */
interface PendingChunk {
  label: string;
  phys: number;
  size: number;
  fill(): Uint8Array;
}

interface Kernel {
  pieces: PendingChunk[];
  entry: bigint;
  symbols: SymbolInfo[];
}

/** Plans a multiboot boot: kernel, modules and the information block, all checked against RAM. */
export function multibootLoadPlan(bytes: Uint8Array, opts: MultibootOptions): LoadPlan {
  const ramBytes = opts.ramBytes;
  checkRamBytes(ramBytes);
  if (ramBytes <= 0x100000) {
    throw new LoadError(`multiboot needs RAM above 1 MiB; ramBytes is ${describeBytes(ramBytes)}`);
  }
  const header = requireHeader(bytes);
  const notes = [`multiboot header at file offset ${hex(header.offset)}, flags ${hex(header.flags)}`];
  checkFlags(bytes, header, notes);

  const tooBig = (detail: string): LoadError =>
    new LoadError(`image larger than RAM: ${detail}, but RAM is ${describeBytes(ramBytes)}`);

  const kernel =
    header.flags & FLAG_ADDRESS_FIELDS
      ? addressFieldKernel(bytes, header, notes)
      : elfKernel(bytes, ramBytes, notes, tooBig);
  let kernelEnd = 0;
  let kernelBytes = 0;
  for (const piece of kernel.pieces) {
    if (piece.phys + piece.size > ramBytes) {
      throw tooBig(kernelTooBig(piece.label, piece.phys, piece.size));
    }
    kernelEnd = Math.max(kernelEnd, piece.phys + piece.size);
    kernelBytes += piece.size;
  }

  const modules = opts.modules ?? [];
  const placed = placeModules(modules, kernelEnd);
  const modulesEnd = placed.length > 0 ? placed[placed.length - 1].end : kernelEnd;
  const moduleBytes = modules.reduce((sum, m) => sum + m.bytes.length, 0);

  const infoInput = {
    ramBytes,
    cmdline: opts.cmdline ?? '',
    bootLoaderName: MULTIBOOT_BOOT_LOADER_NAME,
    modules: placed.map((p) => ({ start: p.start, end: p.end, string: p.module.name })),
  };
  const infoSize = multibootInfoSize(infoInput);
  const occupied: [number, number][] = [
    ...kernel.pieces.map((p): [number, number] => [p.phys, p.phys + p.size]),
    ...placed.map((p): [number, number] => [p.start, p.end]),
  ];
  const infoAddr = placeInfo(occupied, infoSize, Math.max(kernelEnd, modulesEnd), notes);

  const end = Math.max(kernelEnd, modulesEnd, infoAddr + infoSize);
  if (end > ramBytes) {
    throw tooBig(
      `kernel (${hex(kernelBytes)} bytes, up to ${hex(kernelEnd)}), ${modules.length} module(s) ` +
        `(${hex(moduleBytes)} bytes) and the multiboot information (${hex(infoSize)} bytes) need RAM up to ${hex(end)}`,
    );
  }
  if (end > FOUR_GIB) {
    throw new LoadError(`multiboot layout reaches ${hex(end)}: the information block holds only 32-bit addresses`);
  }

  const chunks: LoadChunk[] = kernel.pieces.map((p) => ({ phys: p.phys, data: p.fill(), label: p.label }));
  for (const p of placed) {
    if (p.module.bytes.length > 0) {
      chunks.push({ phys: p.start, data: p.module.bytes.slice(), label: `module ${p.i}: ${p.module.name}` });
    }
  }
  chunks.push({ phys: infoAddr, data: buildMultibootInfo(infoAddr, infoInput), label: 'multiboot information' });
  notes.push(`multiboot information at ${hex(infoAddr)} (${hex(infoSize)} bytes)`);

  if (kernel.entry >= BigInt(FOUR_GIB)) {
    throw new LoadError(`multiboot entry point ${hex(kernel.entry)} is above 4 GiB, out of reach of protected mode`);
  }
  return {
    format: 'multiboot',
    chunks,
    entry: { kind: 'protected', eip: Number(kernel.entry), regs: { eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: infoAddr } },
    symbols: kernel.symbols,
    notes,
  };
}

/** Modules follow the kernel, each on a 4 KiB boundary (which satisfies flag 0 whether set or not). */
function placeModules(modules: MultibootModule[], kernelEnd: number) {
  let next = alignUp(kernelEnd, PAGE);
  return modules.map((module, i) => {
    const start = next;
    next = alignUp(start + module.bytes.length, PAGE);
    return { module, i, start, end: start + module.bytes.length };
  });
}

/** 0x9000 when it is free and big enough (see the file comment), else the next page after `lastEnd`. */
function placeInfo(occupied: [number, number][], size: number, lastEnd: number, notes: string[]): number {
  const clash = occupied.some(([start, end]) => start < INFO_LOW_BASE + size && end > INFO_LOW_BASE);
  if (!clash && INFO_LOW_BASE + size <= INFO_LOW_END) return INFO_LOW_BASE;
  const addr = alignUp(lastEnd, PAGE);
  notes.push(`multiboot information does not fit at ${hex(INFO_LOW_BASE)}; placed after the modules at ${hex(addr)}`);
  return addr;
}

function kernelTooBig(label: string, phys: number | bigint, size: number | bigint): string {
  return `kernel ${label} at ${hex(phys)} needs ${hex(size)} bytes (up to ${hex(BigInt(phys) + BigInt(size))})`;
}

function requireHeader(bytes: Uint8Array): MultibootHeader {
  const found = scan(bytes);
  if (found.header) return found.header;
  if (found.badChecksum) {
    const { offset, sum } = found.badChecksum;
    throw new LoadError(
      `multiboot header at file offset ${hex(offset)} has a bad checksum: ` +
        `magic + flags + checksum = ${hex(sum)}, must be 0`,
    );
  }
  throw new LoadError('no multiboot header: magic 0x1badb002 not found 4-aligned in the first 8192 bytes');
}

function checkFlags(bytes: Uint8Array, header: MultibootHeader, notes: string[]): void {
  const unknown = header.flags & UNKNOWN_REQUIREMENTS;
  if (unknown !== 0) {
    const bits = [...Array(16).keys()].filter((b) => unknown & (1 << b));
    throw new LoadError(
      `multiboot header at file offset ${hex(header.offset)}: flags ${hex(header.flags)} require features ` +
        `this loader does not know (bit ${bits.join(', ')}), and the specification says to refuse such a kernel`,
    );
  }
  if (header.flags & FLAG_VIDEO_MODE) {
    const reader = new ByteReader(bytes);
    let wanted = '';
    if (reader.contains(header.offset + 32, 16)) {
      const [type, width, height, depth] = [32, 36, 40, 44].map((o) => reader.u32(header.offset + o, 'video fields'));
      wanted = type === 1 ? ' (text mode' : ` (graphics ${width}x${height}x${depth}`;
      wanted += width === 0 && height === 0 ? ', no preference)' : ')';
    }
    notes.push(
      `the kernel asks for a video mode (flag 2${wanted}); vmx-debug has no display, so no framebuffer ` +
        'information is passed and the console stays in text mode',
    );
  }
}

/** Flag 16: the header's address fields say where the file's bytes go (the "a.out kludge"). */
function addressFieldKernel(bytes: Uint8Array, header: MultibootHeader, notes: string[]): Kernel {
  const reader = new ByteReader(bytes);
  const at = header.offset;
  const where = `multiboot header at file offset ${hex(at)}`;
  reader.require(at, 32, `${where}: address fields (flag 16)`);
  const [headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr] = [12, 16, 20, 24, 28].map((o) =>
    reader.u32(at + o, where),
  );
  if (loadAddr > headerAddr) {
    throw new LoadError(`${where}: load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  }
  const fileStart = at - (headerAddr - loadAddr);
  if (fileStart < 0) {
    throw new LoadError(
      `${where}: header_addr ${hex(headerAddr)} - load_addr ${hex(loadAddr)} reaches before the start of the file`,
    );
  }
  let loadSize = bytes.length - fileStart;
  if (loadEndAddr !== 0) {
    if (loadEndAddr <= loadAddr) {
      throw new LoadError(`${where}: load_end_addr ${hex(loadEndAddr)} is not above load_addr ${hex(loadAddr)}`);
    }
    loadSize = loadEndAddr - loadAddr;
    if (fileStart + loadSize > bytes.length) {
      throw new LoadError(
        `${where}: load_end_addr ${hex(loadEndAddr)} asks for ${hex(loadSize)} bytes from file offset ` +
          `${hex(fileStart)}, past the end of the file (${hex(bytes.length)} bytes)`,
      );
    }
  }
  let memSize = loadSize;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadAddr + loadSize) {
      throw new LoadError(
        `${where}: bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded bytes ${hex(loadAddr + loadSize)}`,
      );
    }
    memSize = bssEndAddr - loadAddr;
  }
  if (entryAddr < loadAddr || entryAddr >= loadAddr + memSize) {
    notes.push(`entry_addr ${hex(entryAddr)} lies outside the loaded kernel`);
  }

  let symbols: SymbolInfo[] = [];
  if (hasElfMagic(bytes)) {
    // The address fields decide the load, but an ELF file can still name its symbols.
    notes.push('ELF image with multiboot address fields: the address fields decide the load');
    try {
      symbols = parseElf(bytes).symbols;
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      notes.push(`ELF symbols unavailable: ${e.message}`);
    }
  }
  const fill = (): Uint8Array => {
    const data = new Uint8Array(memSize);
    data.set(bytes.subarray(fileStart, fileStart + loadSize));
    return data;
  };
  return { pieces: [{ label: 'image', phys: loadAddr, size: memSize, fill }], entry: BigInt(entryAddr), symbols };
}

/** Flag 16 clear: the kernel is an ELF file, loaded by its program headers. */
function elfKernel(bytes: Uint8Array, ramBytes: number, notes: string[], tooBig: (d: string) => LoadError): Kernel {
  if (!hasElfMagic(bytes)) {
    throw new LoadError(
      'multiboot header flag 16 (address fields) is clear, so the kernel must be ELF, but the image has no ELF magic',
    );
  }
  const file = parseElf(bytes);
  notes.push(...file.notes);
  const regions = elfLoadRegions(file, notes);
  const pieces = regions.map((region): PendingChunk => {
    const { segment, phys } = region;
    const label = `segment ${segment.index}`;
    if (phys + segment.memsz > BigInt(ramBytes)) {
      throw tooBig(kernelTooBig(label, phys, segment.memsz));
    }
    const fill = (): Uint8Array => materialiseRegion(bytes, region, label).data;
    return { label, phys: Number(phys), size: Number(segment.memsz), fill };
  });
  return { pieces, entry: physicalEntry(file, regions, notes), symbols: file.symbols };
}
