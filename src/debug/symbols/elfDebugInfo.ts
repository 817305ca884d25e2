import { elfSectionData, parseElf } from '../../machine/loaders/elf';
import type { ElfFile, ElfSection } from '../../machine/loaders/elf';
import { parseDebugInfo } from './dwarfInfo';
import type { CompileUnit, DwarfSections, Subprogram } from './dwarfInfo';
import { parseLinePrograms } from './dwarfLine';
import type { LineProgramHeader } from './dwarfLine';
import { DebugInfoError, hex } from './errors';
import { LineTableBuilder } from './lineTable';
import { DwarfReader } from './reader';
import { SymbolTable } from './symbolTable';
import { FunctionRange, TableDebugInfo } from './tableDebugInfo';
import type { SymbolEntry } from './types';

const SHF_ALLOC = 0x2n;
const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;

export interface LoadDebugInfoOptions {
  /** The image's file name, for error messages. */
  path?: string;
  /**
   * Added to every address (line tables, symbols, functions): for an image that runs somewhere
   * other than where it was linked (a position-independent image, a relocated copy).
   */
  bias?: bigint | number;
}

/** What an ELF image's debug information holds, beyond the DebugInfo lookups. */
export class ElfDebugInfo extends TableDebugInfo {
  constructor(
    table: ConstructorParameters<typeof TableDebugInfo>[0],
    symbols: SymbolTable,
    functions: FunctionRange[],
    warnings: string[],
    /** The compile units of .debug_info. */
    readonly units: readonly CompileUnit[],
    /** Functions with code, from DW_TAG_subprogram. */
    readonly subprograms: readonly Subprogram[],
    /** The headers of the line programs of .debug_line. */
    readonly linePrograms: readonly LineProgramHeader[],
    readonly path: string | undefined,
  ) {
    super(table, symbols, functions, warnings);
  }
}

const SECTION_KEYS: Record<string, keyof DwarfSections> = {
  '.debug_info': 'info',
  '.debug_abbrev': 'abbrev',
  '.debug_line': 'line',
  '.debug_str': 'str',
  '.debug_line_str': 'lineStr',
  '.debug_str_offsets': 'strOffsets',
  '.debug_addr': 'addr',
  '.debug_ranges': 'ranges',
  '.debug_rnglists': 'rnglists',
};

/**
 * Reads the symbols (.symtab/.dynsym) and DWARF line tables (versions 2 to 5, 32- and 64-bit
 * DWARF, 32- and 64-bit images) of an ELF image. A damaged image or debug section throws a
 * DebugInfoError naming the section and the offset; an image without debug sections gives
 * symbols only.
 */
export function loadDebugInfo(elfBytes: Uint8Array, options: LoadDebugInfoOptions = {}): ElfDebugInfo {
  const label = options.path ?? 'ELF image';
  let elf: ElfFile;
  try {
    elf = parseElf(elfBytes);
  } catch (e) {
    if (e instanceof Error && e.name === 'LoadError') throw new DebugInfoError(label, undefined, e.message, { cause: e });
    throw e;
  }
  const rawBias = options.bias ?? 0;
  if (typeof rawBias === 'number' && !Number.isSafeInteger(rawBias)) {
    throw new DebugInfoError(label, undefined, `bias ${rawBias} is not an integer`);
  }
  const bias = BigInt(rawBias);
  const warnings: string[] = [];
  const sections = dwarfSections(elfBytes, elf);

  const { units, subprograms } = parseDebugInfo(sections, warnings);
  const byStmtList = new Map<number, CompileUnit>();
  for (const u of units) if (u.stmtList !== undefined && !byStmtList.has(u.stmtList)) byStmtList.set(u.stmtList, u);
  const builder = new LineTableBuilder();
  const linePrograms = parseLinePrograms(sections, builder, byStmtList, warnings);

  // Code of sections the linker discarded keeps its line rows, at address 0 or wherever the
  // unrelocated offsets point: only sequences inside a section the image loads are kept.
  const alloc = elf.sections
    .filter((s) => (s.flags & SHF_ALLOC) !== 0n && s.size > 0)
    .map((s) => ({ start: s.addr, end: s.addr + BigInt(s.size) }));
  const inImage = (a: bigint) => alloc.some((r) => a >= r.start && a < r.end);
  let dropped = 0;
  const table = builder.build({
    bias,
    keep: (start) => {
      const ok = alloc.length === 0 || inImage(start);
      if (!ok) dropped++;
      return ok;
    },
  });
  if (dropped > 0) warnings.push(`${dropped} line-table sequence(s) lie outside every loaded section (discarded code) and were dropped`);

  // NASM's DWARF output types a label by the first data or instruction after it and gives it that
  // element's size (`msg: db "hello"` becomes a 1-byte object): its sizes say nothing about extent.
  const nasm = units.some((u) => /^NASM\b/.test(u.producer ?? ''));
  const symbols: SymbolEntry[] = elf.symbols.map((s) => {
    const unsized = nasm && s.kind !== 'func';
    const entry: SymbolEntry = {
      name: s.name, address: s.address + bias, size: unsized ? 0 : s.size, kind: unsized ? 'other' : s.kind,
    };
    if (entry.size === 0) {
      const section = alloc.find((r) => s.address >= r.start && s.address < r.end);
      if (section !== undefined) entry.end = section.end + bias;
      // A label just past its section (stack_top, _end) names that one address.
      else if (alloc.length > 0) entry.end = entry.address + 1n;
    }
    return entry;
  });
  const functions: FunctionRange[] = [];
  for (const sp of subprograms) {
    for (const r of sp.ranges) functions.push({ name: sp.name, start: r.start + bias, end: r.end + bias });
  }
  for (const s of symbols) {
    if (s.kind === 'func' && s.size > 0) functions.push({ name: s.name, start: s.address, end: s.address + BigInt(s.size) });
  }
  return new ElfDebugInfo(
    table, new SymbolTable(symbols), functions, warnings, units, subprograms, linePrograms, options.path,
  );
}

/** The DWARF sections of an image, decompressed when the linker compressed them. */
function dwarfSections(bytes: Uint8Array, elf: ElfFile): DwarfSections {
  const out: DwarfSections = {};
  for (const section of elf.sections) {
    let name = section.name;
    let gnuCompressed = false;
    if (name.startsWith('.zdebug_')) {
      name = '.debug_' + name.slice('.zdebug_'.length);
      gnuCompressed = true;
    }
    const key = SECTION_KEYS[name];
    if (key === undefined || out[key] !== undefined) continue;
    let data = elfSectionData(bytes, section);
    if ((section.flags & SHF_COMPRESSED) !== 0n) data = decompressElf(data, section, elf.header.elfClass);
    else if (gnuCompressed) data = decompressGnu(data, section);
    out[key] = data;
  }
  return out;
}

function inflate(data: Uint8Array, expected: number, section: ElfSection, at: number): Uint8Array {
  let zlib: typeof import('zlib');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    zlib = require('zlib');
  } catch {
    throw new DebugInfoError(section.name, 0, 'the section is zlib-compressed and zlib is not available here');
  }
  let out: Uint8Array;
  try {
    out = new Uint8Array(zlib.inflateSync(data.subarray(at)));
  } catch (e) {
    throw new DebugInfoError(section.name, at, `zlib data is damaged: ${(e as Error).message}`, { cause: e });
  }
  if (out.length !== expected) {
    throw new DebugInfoError(section.name, 0, `decompressed to ${hex(out.length)} bytes, the header says ${hex(expected)}`);
  }
  return out;
}

/** SHF_COMPRESSED: an Elf32_Chdr/Elf64_Chdr, then the compressed bytes. */
function decompressElf(data: Uint8Array, section: ElfSection, elfClass: 32 | 64): Uint8Array {
  const r = new DwarfReader(data, section.name);
  const type = r.u32('compression header ch_type');
  if (elfClass === 64) r.skip(4, 'compression header ch_reserved');
  const size = elfClass === 64 ? r.u64n('compression header ch_size') : r.u32('compression header ch_size');
  r.skip(elfClass === 64 ? 8 : 4, 'compression header ch_addralign');
  if (type !== ELFCOMPRESS_ZLIB) {
    throw new DebugInfoError(
      section.name, 0,
      `compressed with ch_type ${type}${type === 2 ? ' (zstd)' : ''}; only zlib is supported ` +
        '(relink with --compress-debug-sections=none or =zlib)',
    );
  }
  return inflate(data, size, section, r.pos);
}

/** The older GNU .zdebug_* form: "ZLIB", a big-endian 64-bit size, the compressed bytes. */
function decompressGnu(data: Uint8Array, section: ElfSection): Uint8Array {
  if (data.length < 12 || String.fromCharCode(...data.subarray(0, 4)) !== 'ZLIB') {
    throw new DebugInfoError(section.name, 0, 'a .zdebug section without its "ZLIB" header');
  }
  let size = 0;
  for (let i = 4; i < 12; i++) size = size * 256 + data[i];
  return inflate(data, size, section, 12);
}
