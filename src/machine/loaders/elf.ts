import { ByteReader } from './bytes';
import {
  EHDR, EI_CLASS, EI_DATA, EI_NIDENT, EI_VERSION, ElfClass, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, EM_386,
  EM_X86_64, ET_CORE, ET_DYN, ET_EXEC, ET_REL, EV_CURRENT, hasElfMagic, PHDR, PN_XNUM, PT_LOAD, readStruct,
  SHDR, SHN_UNDEF, SHN_XINDEX, SHT_NOBITS, SHT_STRTAB,
} from './elfLayout';
import { readElfSymbols } from './elfSymbols';
import { entryState, toAddress } from './entry';
import { CpuMode, hex, LoadChunk, LoadError, LoadPlan, SymbolInfo } from './loadPlan';
import { assertFitsInRam } from './ram';

export interface ElfHeader {
  elfClass: ElfClass;
  /** ET_EXEC or ET_DYN (anything else is refused). */
  type: number;
  /** EM_386 or EM_X86_64 (anything else is refused). */
  machine: number;
  entry: bigint;
  flags: number;
  phoff: number;
  phentsize: number;
  /** The real count, after resolving the PN_XNUM escape. */
  phnum: number;
  shoff: number;
  shentsize: number;
  /** The real count, after resolving the extended-numbering escape. */
  shnum: number;
  /** The real index, after resolving SHN_XINDEX; 0 when there is no section name table. */
  shstrndx: number;
}

export interface ElfSegment {
  /** Index in the program header table, the number error messages and chunk labels use. */
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: bigint;
  align: bigint;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  /** File offset of the contents (meaningless for SHT_NOBITS, which has none). */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: bigint;
  entsize: number;
}

export interface ElfFile {
  header: ElfHeader;
  segments: ElfSegment[];
  sections: ElfSection[];
  symbols: SymbolInfo[];
  /** Oddities that don't stop loading (ET_DYN, an unusual e_version, ...). */
  notes: string[];
}

/** A bigint from a header that must fit a JS number; garbage beyond 2^53 is a LoadError, not a rounding. */
function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new LoadError(`${what} ${hex(value)} is implausibly large`);
  return Number(value);
}

/**
 * Parses and validates an ELF32 or ELF64 little-endian x86 image. Every offset and size in the
 * headers is checked against the file before use, so a damaged file always gives a LoadError that
 * names the header and field.
 */
export function parseElf(bytes: Uint8Array): ElfFile {
  const reader = new ByteReader(bytes);
  const notes: string[] = [];
  const elfClass = readIdent(reader);
  const header = readHeader(reader, elfClass, notes);
  const sections = readSections(reader, header);
  const segments = readSegments(reader, header);
  const symbols = readElfSymbols(reader, elfClass, sections);
  return { header, segments, sections, symbols, notes };
}

/** The contents of a section, for the debugger's .debug_line and friends; empty for SHT_NOBITS. */
export function elfSectionData(bytes: Uint8Array, section: ElfSection): Uint8Array {
  if (section.type === SHT_NOBITS) return new Uint8Array(0);
  return bytes.subarray(section.offset, section.offset + section.size);
}

function readIdent(reader: ByteReader): ElfClass {
  const bytes = reader.bytes;
  if (bytes.length >= 4 && !hasElfMagic(bytes)) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new LoadError(`not an ELF image: e_ident magic at file offset 0 is ${got}, expected 7f 45 4c 46`);
  }
  reader.require(0, EI_NIDENT, 'ELF header e_ident');
  const cls = bytes[EI_CLASS];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new LoadError(`ELF header e_ident[EI_CLASS] at file offset 4 is ${cls}: expected 1 (ELF32) or 2 (ELF64)`);
  }
  if (bytes[EI_DATA] !== ELFDATA2LSB) {
    throw new LoadError(
      `ELF header e_ident[EI_DATA] at file offset 5 is ${bytes[EI_DATA]}: only little-endian (1) images run on x86`,
    );
  }
  if (bytes[EI_VERSION] !== EV_CURRENT) {
    throw new LoadError(`ELF header e_ident[EI_VERSION] at file offset 6 is ${bytes[EI_VERSION]}: expected 1`);
  }
  return cls === ELFCLASS32 ? 32 : 64;
}

function readHeader(reader: ByteReader, elfClass: ElfClass, notes: string[]): ElfHeader {
  const h = readStruct(reader, 0, EHDR[elfClass], `ELF${elfClass} header`);
  const type = Number(h.e_type);
  if (type === ET_DYN) {
    notes.push('ELF type is ET_DYN (position-independent): loaded at its link addresses, without relocation');
  } else if (type !== ET_EXEC) {
    const why = type === ET_REL ? ' (a relocatable object: link it first)' : type === ET_CORE ? ' (a core dump)' : '';
    throw new LoadError(`ELF header e_type is ${type}${why}: expected ET_EXEC (2) or ET_DYN (3)`);
  }
  const machine = Number(h.e_machine);
  if (machine !== EM_386 && machine !== EM_X86_64) {
    throw new LoadError(`ELF header e_machine is ${machine}: expected EM_386 (3) or EM_X86_64 (62)`);
  }
  if (h.e_version !== BigInt(EV_CURRENT)) notes.push(`ELF header e_version is ${h.e_version}, expected 1`);
  if (Number(h.e_ehsize) < EHDR[elfClass].size) {
    const size = EHDR[elfClass].size;
    throw new LoadError(`ELF header e_ehsize is ${h.e_ehsize}: an ELF${elfClass} header is ${size} bytes`);
  }

  let phnum = Number(h.e_phnum);
  let shnum = Number(h.e_shnum);
  let shstrndx = Number(h.e_shstrndx);
  const shoff = h.e_shoff;
  // Extended numbering: counts that don't fit 16 bits live in section header 0.
  if (shoff !== 0n && (shnum === 0 || shstrndx === SHN_XINDEX || phnum === PN_XNUM)) {
    checkEntSize(Number(h.e_shentsize), SHDR[elfClass].size, 'e_shentsize', 'section');
    if (shoff > BigInt(reader.length)) {
      throw new LoadError(`ELF header e_shoff ${hex(shoff)} is past the end of the file`);
    }
    const s0 = readStruct(reader, Number(shoff), SHDR[elfClass], 'ELF section header 0');
    if (shnum === 0) shnum = safeNumber(s0.sh_size, 'ELF section header 0 sh_size (section count)');
    if (shstrndx === SHN_XINDEX) shstrndx = Number(s0.sh_link);
    if (phnum === PN_XNUM) phnum = Number(s0.sh_info);
  }
  if (shoff === 0n) shnum = 0;

  const phentsize = Number(h.e_phentsize);
  const shentsize = Number(h.e_shentsize);
  if (phnum > 0) checkEntSize(phentsize, PHDR[elfClass].size, 'e_phentsize', 'program');
  if (shnum > 0) checkEntSize(shentsize, SHDR[elfClass].size, 'e_shentsize', 'section');
  const phoff = checkTable(reader, h.e_phoff, phentsize, phnum, 'program header table', 'e_phoff', 'e_phnum');
  const shoffN = checkTable(reader, shoff, shentsize, shnum, 'section header table', 'e_shoff', 'e_shnum');
  if (shnum > 0 && shstrndx >= shnum) {
    throw new LoadError(`ELF header e_shstrndx ${shstrndx} is not a section (there are ${shnum})`);
  }
  return {
    elfClass, type, machine, entry: h.e_entry, flags: Number(h.e_flags),
    phoff, phentsize, phnum, shoff: shoffN, shentsize, shnum, shstrndx: shnum > 0 ? shstrndx : 0,
  };
}

function checkEntSize(entsize: number, needed: number, field: string, kind: string): void {
  if (entsize < needed) {
    throw new LoadError(`ELF header ${field} is ${entsize}: a ${kind} header is ${needed} bytes`);
  }
}

/** Checks a whole header table lies in the file; returns its offset as a number. */
function checkTable(
  reader: ByteReader, offset: bigint, entsize: number, count: number, what: string, offField: string, numField: string,
): number {
  if (count === 0) return 0;
  const size = BigInt(entsize) * BigInt(count);
  if (!reader.contains(offset, size)) {
    throw new LoadError(
      `ELF ${what} out of bounds: ${offField} ${hex(offset)} + ${numField} ${count} x ${entsize} bytes ` +
        `runs past the end of the file (${hex(reader.length)} bytes)`,
    );
  }
  return Number(offset);
}

function readSegments(reader: ByteReader, header: ElfHeader): ElfSegment[] {
  const segments: ElfSegment[] = [];
  for (let index = 0; index < header.phnum; index++) {
    const base = header.phoff + index * header.phentsize;
    const what = `ELF program header ${index}`;
    const p = readStruct(reader, base, PHDR[header.elfClass], what);
    if (p.p_filesz > 0n && !reader.contains(p.p_offset, p.p_filesz)) {
      throw new LoadError(
        `${what} (at file offset ${hex(base)}): p_offset ${hex(p.p_offset)} + p_filesz ${hex(p.p_filesz)} ` +
          `runs past the end of the file (${hex(reader.length)} bytes)`,
      );
    }
    const type = Number(p.p_type);
    if (type === PT_LOAD && p.p_filesz > p.p_memsz) {
      throw new LoadError(`${what}: p_filesz ${hex(p.p_filesz)} exceeds p_memsz ${hex(p.p_memsz)}`);
    }
    segments.push({
      index, type, flags: Number(p.p_flags),
      offset: safeNumber(p.p_offset, `${what} p_offset`),
      vaddr: p.p_vaddr, paddr: p.p_paddr,
      filesz: Number(p.p_filesz), // within the file, checked above
      memsz: p.p_memsz, align: p.p_align,
    });
  }
  return segments;
}

function readSections(reader: ByteReader, header: ElfHeader): ElfSection[] {
  const raw: (Omit<ElfSection, 'name'> & { nameOffset: number })[] = [];
  for (let index = 0; index < header.shnum; index++) {
    const base = header.shoff + index * header.shentsize;
    const what = `ELF section header ${index}`;
    const s = readStruct(reader, base, SHDR[header.elfClass], what);
    const type = Number(s.sh_type);
    if (type !== SHT_NOBITS && index !== 0 && !reader.contains(s.sh_offset, s.sh_size)) {
      throw new LoadError(
        `${what} (at file offset ${hex(base)}): sh_offset ${hex(s.sh_offset)} + sh_size ${hex(s.sh_size)} ` +
          `runs past the end of the file (${hex(reader.length)} bytes)`,
      );
    }
    raw.push({
      index, type, nameOffset: Number(s.sh_name), flags: s.sh_flags, addr: s.sh_addr,
      offset: safeNumber(s.sh_offset, `${what} sh_offset`),
      // Section 0 may hold the extended-numbering count in sh_size; it has no contents.
      size: index === 0 ? 0 : safeNumber(s.sh_size, `${what} sh_size`),
      link: Number(s.sh_link), info: Number(s.sh_info), addralign: s.sh_addralign,
      entsize: safeNumber(s.sh_entsize, `${what} sh_entsize`),
    });
  }
  const names = raw[header.shstrndx];
  if (names !== undefined && header.shstrndx !== SHN_UNDEF && names.type !== SHT_STRTAB) {
    throw new LoadError(
      `ELF header e_shstrndx ${header.shstrndx} names a section of type ${names.type}, not SHT_STRTAB (3)`,
    );
  }
  return raw.map(({ nameOffset, ...s }) => {
    let name = '';
    if (names !== undefined && header.shstrndx !== SHN_UNDEF && (nameOffset !== 0 || s.index !== 0)) {
      const what = `ELF section header ${s.index} sh_name`;
      name = reader.cstring(names.offset + nameOffset, names.offset + names.size, what);
    }
    return { ...s, name };
  });
}

/** A PT_LOAD segment resolved to where it goes in physical memory. */
export interface ElfLoadRegion {
  segment: ElfSegment;
  /** Physical load address: p_paddr, or p_vaddr when p_paddr is 0 and p_vaddr isn't. */
  phys: bigint;
}

/** The PT_LOAD segments with bytes to place, each resolved to its physical address. */
export function elfLoadRegions(file: ElfFile, notes: string[]): ElfLoadRegion[] {
  const regions: ElfLoadRegion[] = [];
  for (const segment of file.segments) {
    if (segment.type !== PT_LOAD || segment.memsz === 0n) continue;
    let phys = segment.paddr;
    if (phys === 0n && segment.vaddr !== 0n) {
      // Some linkers leave p_paddr zero; the link address is then the only placement information.
      phys = segment.vaddr;
      notes.push(`segment ${segment.index}: p_paddr is 0, loading at p_vaddr ${hex(segment.vaddr)}`);
    }
    regions.push({ segment, phys });
  }
  if (regions.length === 0) throw new LoadError('ELF image has no PT_LOAD segment with bytes to load');
  return regions;
}

/** Copies a region's file bytes into a buffer of p_memsz bytes, so the tail is the zero-filled bss. */
export function materialiseRegion(bytes: Uint8Array, region: ElfLoadRegion, label: string): LoadChunk {
  const { segment } = region;
  const data = new Uint8Array(Number(segment.memsz));
  data.set(bytes.subarray(segment.offset, segment.offset + segment.filesz));
  return { phys: Number(region.phys), data, label };
}

/**
 * The physical address execution starts at. With paging off (or identity-mapped) the CPU needs the
 * physical address, so an entry inside a segment loaded away from its link address is translated
 * (as GRUB does for higher-half kernels).
 */
export function physicalEntry(file: ElfFile, regions: ElfLoadRegion[], notes: string[]): bigint {
  const entry = file.header.entry;
  for (const { segment, phys } of regions) {
    if (entry >= segment.vaddr && entry < segment.vaddr + segment.memsz) {
      if (phys === segment.vaddr) return entry;
      const translated = entry - segment.vaddr + phys;
      notes.push(`entry point ${hex(entry)} is a link address; starting at its physical address ${hex(translated)}`);
      return translated;
    }
  }
  notes.push(`entry point ${hex(entry)} lies outside every PT_LOAD segment`);
  return entry;
}

export interface ElfPlanOptions {
  /** Start mode; by default long for EM_X86_64 images or entries above 4 GiB, else protected. */
  mode?: CpuMode;
  /** Overrides e_entry (a physical address). */
  entry?: number | bigint;
  /**
   * RAM size that every segment must fit in. The plan materialises each segment's zero fill, so an
   * absurd p_memsz must be refused before allocation; without ramBytes the limit is 4 GiB.
   */
  ramBytes?: number;
}

const DEFAULT_LIMIT = 2 ** 32;

/** Plans loading an ELF image: each PT_LOAD segment at its physical address, bss zero-filled. */
export function elfLoadPlan(bytes: Uint8Array, opts: ElfPlanOptions = {}): LoadPlan {
  const file = parseElf(bytes);
  const notes = [...file.notes];
  const regions = elfLoadRegions(file, notes);
  const limit = opts.ramBytes ?? DEFAULT_LIMIT;
  for (const r of regions) assertFitsInRam(`segment ${r.segment.index}`, r.phys, r.segment.memsz, limit);
  const chunks = regions.map((r) => materialiseRegion(bytes, r, `segment ${r.segment.index}`));

  const entry = opts.entry !== undefined ? toAddress(opts.entry, 'entry option') : physicalEntry(file, regions, notes);
  let mode = opts.mode;
  if (mode === undefined) {
    const x64 = file.header.machine === EM_X86_64;
    const high = entry >= 1n << 32n;
    mode = x64 || high ? 'long' : 'protected';
    const why = x64 ? 'EM_X86_64' : high ? 'entry above 4 GiB' : 'EM_386';
    notes.push(`starting in ${mode} mode (ELF${file.header.elfClass}, ${why}); set mode to override`);
  }
  return {
    format: 'elf',
    chunks,
    entry: entryState(mode, entry, 'ELF entry point'),
    symbols: file.symbols,
    notes,
  };
}
