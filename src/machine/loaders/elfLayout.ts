import { ByteReader } from './bytes';

/**
 * ELF structure layouts (System V gABI) as data: each field's offset and width for ELF32 and ELF64.
 * Describing both classes as tables lets one reader serve both, instead of two hand-written parsers
 * that drift apart.
 */

export type ElfClass = 32 | 64;

/** [offset within the structure, width in bytes]. */
export type Field = readonly [offset: number, size: 1 | 2 | 4 | 8];

export interface Layout<K extends string> {
  readonly size: number;
  readonly fields: Readonly<Record<K, Field>>;
}

type EhdrField =
  | 'e_type' | 'e_machine' | 'e_version' | 'e_entry' | 'e_phoff' | 'e_shoff' | 'e_flags'
  | 'e_ehsize' | 'e_phentsize' | 'e_phnum' | 'e_shentsize' | 'e_shnum' | 'e_shstrndx';
type PhdrField = 'p_type' | 'p_flags' | 'p_offset' | 'p_vaddr' | 'p_paddr' | 'p_filesz' | 'p_memsz' | 'p_align';
type ShdrField =
  | 'sh_name' | 'sh_type' | 'sh_flags' | 'sh_addr' | 'sh_offset' | 'sh_size' | 'sh_link' | 'sh_info'
  | 'sh_addralign' | 'sh_entsize';
type SymField = 'st_name' | 'st_value' | 'st_size' | 'st_info' | 'st_other' | 'st_shndx';

export const EHDR: Record<ElfClass, Layout<EhdrField>> = {
  32: {
    size: 52,
    fields: {
      e_type: [16, 2], e_machine: [18, 2], e_version: [20, 4], e_entry: [24, 4], e_phoff: [28, 4],
      e_shoff: [32, 4], e_flags: [36, 4], e_ehsize: [40, 2], e_phentsize: [42, 2], e_phnum: [44, 2],
      e_shentsize: [46, 2], e_shnum: [48, 2], e_shstrndx: [50, 2],
    },
  },
  64: {
    size: 64,
    fields: {
      e_type: [16, 2], e_machine: [18, 2], e_version: [20, 4], e_entry: [24, 8], e_phoff: [32, 8],
      e_shoff: [40, 8], e_flags: [48, 4], e_ehsize: [52, 2], e_phentsize: [54, 2], e_phnum: [56, 2],
      e_shentsize: [58, 2], e_shnum: [60, 2], e_shstrndx: [62, 2],
    },
  },
};

export const PHDR: Record<ElfClass, Layout<PhdrField>> = {
  32: {
    size: 32,
    fields: {
      p_type: [0, 4], p_offset: [4, 4], p_vaddr: [8, 4], p_paddr: [12, 4], p_filesz: [16, 4],
      p_memsz: [20, 4], p_flags: [24, 4], p_align: [28, 4],
    },
  },
  64: {
    size: 56,
    fields: {
      p_type: [0, 4], p_flags: [4, 4], p_offset: [8, 8], p_vaddr: [16, 8], p_paddr: [24, 8],
      p_filesz: [32, 8], p_memsz: [40, 8], p_align: [48, 8],
    },
  },
};

export const SHDR: Record<ElfClass, Layout<ShdrField>> = {
  32: {
    size: 40,
    fields: {
      sh_name: [0, 4], sh_type: [4, 4], sh_flags: [8, 4], sh_addr: [12, 4], sh_offset: [16, 4],
      sh_size: [20, 4], sh_link: [24, 4], sh_info: [28, 4], sh_addralign: [32, 4], sh_entsize: [36, 4],
    },
  },
  64: {
    size: 64,
    fields: {
      sh_name: [0, 4], sh_type: [4, 4], sh_flags: [8, 8], sh_addr: [16, 8], sh_offset: [24, 8],
      sh_size: [32, 8], sh_link: [40, 4], sh_info: [44, 4], sh_addralign: [48, 8], sh_entsize: [56, 8],
    },
  },
};

export const SYM: Record<ElfClass, Layout<SymField>> = {
  32: {
    size: 16,
    fields: {
      st_name: [0, 4], st_value: [4, 4], st_size: [8, 4], st_info: [12, 1], st_other: [13, 1], st_shndx: [14, 2],
    },
  },
  64: {
    size: 24,
    fields: {
      st_name: [0, 4], st_info: [4, 1], st_other: [5, 1], st_shndx: [6, 2], st_value: [8, 8], st_size: [16, 8],
    },
  },
};

/**
 * Reads every field of one structure at `base`, after checking the whole structure is inside the
 * file so the error names the structure ("ELF program header 3") rather than a single field.
 */
export function readStruct<K extends string>(
  reader: ByteReader,
  base: number,
  layout: Layout<K>,
  what: string,
): Record<K, bigint> {
  reader.require(base, layout.size, what);
  const out = {} as Record<K, bigint>;
  for (const key of Object.keys(layout.fields) as K[]) {
    const [offset, size] = layout.fields[key];
    out[key] = reader.uint(base + offset, size, what);
  }
  return out;
}

// e_ident
export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_NIDENT = 16;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;

// e_type
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// e_machine
export const EM_386 = 3;
export const EM_X86_64 = 62;

// program headers
export const PT_LOAD = 1;
/** e_phnum value meaning "the real count is in section header 0's sh_info". */
export const PN_XNUM = 0xffff;

// section headers
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
/** e_shstrndx value meaning "the real index is in section header 0's sh_link". */
export const SHN_XINDEX = 0xffff;

// symbols
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

/** True when the image starts with the ELF magic, whatever else is wrong with it. */
export function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}
