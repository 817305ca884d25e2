/**
 * The Multiboot (v0.6.96) boot information structure that the kernel finds through EBX. This module
 * only lays out bytes; multiboot.ts decides where they go.
 *
 * Layout of the block we build, all in one chunk:
 *   +0    the information structure (116 bytes, padded to 120)
 *   +120  memory map: 24-byte entries (size=20, base_addr u64, length u64, type u32)
 *   then  module list: 16-byte entries (mod_start, mod_end, string, reserved)
 *   then  NUL-terminated strings: kernel command line, boot loader name, module strings
 */

/** Field offsets in the information structure (spec section 3.3). */
export const MBI = {
  flags: 0, memLower: 4, memUpper: 8, bootDevice: 12, cmdline: 16, modsCount: 20, modsAddr: 24,
  mmapLength: 44, mmapAddr: 48, bootLoaderName: 64,
} as const;

/** Bits of the `flags` field saying which fields are valid. */
export const MBI_FLAG = { mem: 1 << 0, cmdline: 1 << 2, mods: 1 << 3, mmap: 1 << 6, bootLoaderName: 1 << 9 } as const;

const STRUCT_BYTES = 120; // 116 defined by the spec, padded so the 64-bit map fields are 8-aligned
const MMAP_ENTRY_BYTES = 24;
const MOD_ENTRY_BYTES = 16;

export const E820_USABLE = 1;
export const E820_RESERVED = 2;

export interface MemoryRegion {
  base: number;
  length: number;
  type: typeof E820_USABLE | typeof E820_RESERVED;
}

/**
 * The PC memory map a BIOS would report for `ramBytes` of RAM (> 1 MiB): conventional memory up to
 * the EBDA, the EBDA, the BIOS area, and extended memory. 0xA0000-0xEFFFF (VGA, option ROMs) is
 * left out, which tells the kernel it is not RAM.
 */
export function pcMemoryMap(ramBytes: number): MemoryRegion[] {
  return [
    { base: 0, length: 0x9fc00, type: E820_USABLE },
    { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
    { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
    { base: 0x100000, length: ramBytes - 0x100000, type: E820_USABLE },
  ];
}

export interface ModuleEntry {
  start: number;
  /** One past the last byte, as GRUB reports it. */
  end: number;
  string: string;
}

export interface MultibootInfoInput {
  ramBytes: number;
  cmdline: string;
  bootLoaderName: string;
  modules: ModuleEntry[];
}

const encoder = new TextEncoder();

function cString(text: string): Uint8Array {
  const encoded = encoder.encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

interface Layout {
  map: MemoryRegion[];
  mmapOffset: number;
  modsOffset: number;
  strings: { offset: number; bytes: Uint8Array }[];
  size: number;
}

function layout(input: MultibootInfoInput): Layout {
  const map = pcMemoryMap(input.ramBytes);
  const mmapOffset = STRUCT_BYTES;
  const modsOffset = mmapOffset + map.length * MMAP_ENTRY_BYTES;
  let offset = modsOffset + input.modules.length * MOD_ENTRY_BYTES;
  const strings = [input.cmdline, input.bootLoaderName, ...input.modules.map((m) => m.string)].map((text) => {
    const bytes = cString(text);
    const placed = { offset, bytes };
    offset += bytes.length;
    return placed;
  });
  return { map, mmapOffset, modsOffset, strings, size: offset };
}

/** Size in bytes of the block `buildMultibootInfo` produces, for placing it before building it. */
export function multibootInfoSize(input: MultibootInfoInput): number {
  return layout(input).size;
}

/** The information block as it must appear at physical address `base`. */
export function buildMultibootInfo(base: number, input: MultibootInfoInput): Uint8Array {
  const l = layout(input);
  const out = new Uint8Array(l.size);
  const view = new DataView(out.buffer);
  const u32 = (offset: number, value: number): void => view.setUint32(offset, value >>> 0, true);
  const [cmdline, loaderName, ...moduleStrings] = l.strings;

  u32(MBI.flags, MBI_FLAG.mem | MBI_FLAG.cmdline | MBI_FLAG.mods | MBI_FLAG.mmap | MBI_FLAG.bootLoaderName);
  // mem_lower counts KiB from 0 up to the EBDA; mem_upper counts KiB from 1 MiB to the end of RAM.
  u32(MBI.memLower, 0x9fc00 / 1024);
  u32(MBI.memUpper, Math.min(Math.floor((input.ramBytes - 0x100000) / 1024), 0xffffffff));
  u32(MBI.cmdline, base + cmdline.offset);
  u32(MBI.modsCount, input.modules.length);
  u32(MBI.modsAddr, base + l.modsOffset);
  u32(MBI.mmapLength, l.map.length * MMAP_ENTRY_BYTES);
  u32(MBI.mmapAddr, base + l.mmapOffset);
  u32(MBI.bootLoaderName, base + loaderName.offset);

  l.map.forEach((region, i) => {
    const at = l.mmapOffset + i * MMAP_ENTRY_BYTES;
    u32(at, MMAP_ENTRY_BYTES - 4); // `size` excludes itself
    view.setBigUint64(at + 4, BigInt(region.base), true);
    view.setBigUint64(at + 12, BigInt(region.length), true);
    u32(at + 20, region.type);
  });
  input.modules.forEach((module, i) => {
    const at = l.modsOffset + i * MOD_ENTRY_BYTES;
    u32(at, module.start);
    u32(at + 4, module.end);
    u32(at + 8, base + moduleStrings[i].offset);
    u32(at + 12, 0);
  });
  for (const s of l.strings) out.set(s.bytes, s.offset);
  return out;
}
