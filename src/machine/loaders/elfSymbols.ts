import { ByteReader } from './bytes';
import type { ElfSection } from './elf';
import {
  ElfClass, readStruct, SHN_ABS, SHN_COMMON, SHN_UNDEF, SHT_DYNSYM, SHT_STRTAB, SHT_SYMTAB, STT_FILE, STT_FUNC,
  STT_GNU_IFUNC,  STT_OBJECT, STT_SECTION, STT_TLS, SYM,
} from './elfLayout';
import { hex, LoadError, SymbolInfo } from './loadPlan';

/**
 * Symbols from .symtab and .dynsym, sorted by address, without the entries that name no code or data
 * location: undefined and common symbols, absolute ones (NASM emits every `equ` constant as one, and
 * MB_FLAGS = 3 must not name address 3), section and file symbols, TLS offsets, and nameless ones. NASM labels
 * carry no type (STT_NOTYPE); they are kept as kind 'other' because they are what NASM users break on.
 */
export function readElfSymbols(reader: ByteReader, elfClass: ElfClass, sections: ElfSection[]): SymbolInfo[] {
  const seen = new Set<string>();
  const symbols: SymbolInfo[] = [];
  for (const table of sections) {
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) continue;
    for (const symbol of readTable(reader, elfClass, sections, table)) {
      // .dynsym repeats exported .symtab entries; one copy is enough.
      const key = `${symbol.name}@${symbol.address}`;
      if (seen.has(key)) continue;
      seen.add(key);
      symbols.push(symbol);
    }
  }
  symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.name.localeCompare(b.name)));
  return symbols;
}

function readTable(reader: ByteReader, elfClass: ElfClass, sections: ElfSection[], table: ElfSection): SymbolInfo[] {
  const where = `ELF section header ${table.index} (${table.name || 'symbol table'})`;
  const layout = SYM[elfClass];
  const entsize = table.entsize === 0 ? layout.size : table.entsize;
  if (entsize < layout.size) {
    throw new LoadError(
      `${where}: sh_entsize ${entsize} is smaller than an ELF${elfClass} symbol (${layout.size} bytes)`,
    );
  }
  if (table.size % entsize !== 0) {
    throw new LoadError(`${where}: sh_size ${hex(table.size)} is not a multiple of sh_entsize ${entsize}`);
  }
  const strings = sections[table.link];
  if (strings === undefined || table.link === SHN_UNDEF || strings.type !== SHT_STRTAB) {
    throw new LoadError(`${where}: sh_link ${table.link} does not name a string table`);
  }

  const out: SymbolInfo[] = [];
  const count = table.size / entsize;
  for (let i = 1; i < count; i++) {
    // Entry 0 is the reserved null symbol.
    const s = readStruct(reader, table.offset + i * entsize, layout, `${where} symbol ${i}`);
    const type = Number(s.st_info & 0xfn);
    const shndx = Number(s.st_shndx);
    if (shndx === SHN_UNDEF || shndx === SHN_ABS || shndx === SHN_COMMON) continue;
    if (type === STT_SECTION || type === STT_FILE || type === STT_TLS) continue;
    if (s.st_name === 0n) continue;
    const name = reader.cstring(
      strings.offset + Number(s.st_name), strings.offset + strings.size, `${where} symbol ${i} st_name`,
    );
    if (name === '') continue;
    if (s.st_size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new LoadError(`${where} symbol ${i} (${name}): st_size ${hex(s.st_size)} is implausibly large`);
    }
    const kind = type === STT_FUNC || type === STT_GNU_IFUNC ? 'func' : type === STT_OBJECT ? 'object' : 'other';
    out.push({ name, address: s.st_value, size: Number(s.st_size), kind });
  }
  return out;
}
