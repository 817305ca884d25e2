import * as C from './dwarfConstants';
import { DebugInfoError, hex } from './errors';
import { constantOf, FormContext, FormValue, readForm, skipForm } from './forms';
import { DwarfReader, readUnitLength, stringAt } from './reader';

/** The raw contents of the DWARF sections an image has (absent ones undefined). */
export interface DwarfSections {
  info?: Uint8Array;
  abbrev?: Uint8Array;
  line?: Uint8Array;
  str?: Uint8Array;
  lineStr?: Uint8Array;
  strOffsets?: Uint8Array;
  addr?: Uint8Array;
  ranges?: Uint8Array;
  rnglists?: Uint8Array;
}

export interface AddressRange {
  start: bigint;
  /** Exclusive. */
  end: bigint;
}

/** What a compile unit's DIE says about it: enough to resolve its line program's file names. */
export interface CompileUnit {
  /** Offset of the unit header in .debug_info. */
  offset: number;
  version: number;
  unitType: number;
  addressSize: number;
  format64: boolean;
  name?: string;
  compDir?: string;
  producer?: string;
  language?: number;
  lowPc?: bigint;
  /** From DW_AT_low_pc/DW_AT_high_pc or DW_AT_ranges; empty when the unit names no code. */
  ranges: AddressRange[];
  /** Offset of the unit's line program in .debug_line. */
  stmtList?: number;
  strOffsetsBase?: number;
  addrBase?: number;
  rnglistsBase?: number;
}

/** A function with code (DW_TAG_subprogram with DW_AT_low_pc or DW_AT_ranges). */
export interface Subprogram {
  /** "" when the DIE (and what it refers to) has no name. */
  name: string;
  ranges: AddressRange[];
  /** Offset of its compile unit in .debug_info. */
  unit: number;
}

interface AttrSpec {
  name: number;
  form: number;
  implicitConst: number;
}

interface Abbrev {
  tag: number;
  hasChildren: boolean;
  attrs: AttrSpec[];
  /** Total size of the attribute values when every form has a fixed size, else -1. */
  fixedSize: number;
}

function fixedFormSize(form: number, ctx: FormContext): number {
  switch (form) {
    case C.DW_FORM_flag_present:
    case C.DW_FORM_implicit_const:
      return 0;
    case C.DW_FORM_data1: case C.DW_FORM_ref1: case C.DW_FORM_flag: case C.DW_FORM_strx1: case C.DW_FORM_addrx1:
      return 1;
    case C.DW_FORM_data2: case C.DW_FORM_ref2: case C.DW_FORM_strx2: case C.DW_FORM_addrx2:
      return 2;
    case C.DW_FORM_strx3: case C.DW_FORM_addrx3:
      return 3;
    case C.DW_FORM_data4: case C.DW_FORM_ref4: case C.DW_FORM_ref_sup4: case C.DW_FORM_strx4: case C.DW_FORM_addrx4:
      return 4;
    case C.DW_FORM_data8: case C.DW_FORM_ref8: case C.DW_FORM_ref_sig8: case C.DW_FORM_ref_sup8:
      return 8;
    case C.DW_FORM_data16:
      return 16;
    case C.DW_FORM_addr:
      return ctx.addressSize;
    case C.DW_FORM_ref_addr:
      return ctx.version <= 2 ? ctx.addressSize : ctx.format64 ? 8 : 4;
    case C.DW_FORM_strp: case C.DW_FORM_line_strp: case C.DW_FORM_sec_offset: case C.DW_FORM_strp_sup:
    case C.DW_FORM_GNU_ref_alt: case C.DW_FORM_GNU_strp_alt:
      return ctx.format64 ? 8 : 4;
    default:
      return -1;
  }
}

/** Reads the abbreviation table at `offset` of .debug_abbrev. */
function parseAbbrevTable(section: Uint8Array, offset: number): Map<number, Omit<Abbrev, 'fixedSize'>> {
  if (offset >= section.length) {
    throw new DebugInfoError(
      '.debug_abbrev', offset, `abbreviation table offset ${hex(offset)} is outside the section (${hex(section.length)} bytes)`,
    );
  }
  const r = new DwarfReader(section, '.debug_abbrev', offset);
  const table = new Map<number, Omit<Abbrev, 'fixedSize'>>();
  for (;;) {
    const code = r.uleb('abbreviation code');
    if (code === 0) break;
    const tag = r.uleb(`abbreviation ${code} tag`);
    const hasChildren = r.u8(`abbreviation ${code} children flag`) !== 0;
    const attrs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb(`abbreviation ${code} attribute`);
      const form = r.uleb(`abbreviation ${code} form`);
      if (name === 0 && form === 0) break;
      const implicitConst = form === C.DW_FORM_implicit_const ? r.sleb(`abbreviation ${code} implicit constant`) : 0;
      attrs.push({ name, form, implicitConst });
    }
    table.set(code, { tag, hasChildren, attrs });
  }
  return table;
}

interface UnitContext extends FormContext {
  unitOffset: number;
  unit: CompileUnit;
}

/** Only the attributes the walk interprets are decoded; everything else is skipped. */
const CU_ATTRS = new Set([
  C.DW_AT_name, C.DW_AT_comp_dir, C.DW_AT_producer, C.DW_AT_language, C.DW_AT_low_pc, C.DW_AT_high_pc,
  C.DW_AT_ranges, C.DW_AT_stmt_list, C.DW_AT_str_offsets_base, C.DW_AT_addr_base, C.DW_AT_rnglists_base,
  C.DW_AT_GNU_addr_base, C.DW_AT_GNU_ranges_base,
]);
const SUBPROGRAM_ATTRS = new Set([
  C.DW_AT_name, C.DW_AT_linkage_name, C.DW_AT_MIPS_linkage_name, C.DW_AT_low_pc, C.DW_AT_high_pc, C.DW_AT_ranges,
  C.DW_AT_specification, C.DW_AT_abstract_origin, C.DW_AT_declaration,
]);

interface NameInfo {
  name?: string;
  ref?: number;
}

/**
 * Walks every unit of .debug_info (versions 2 to 5, 32- and 64-bit DWARF) for the compile units'
 * names, directories, line-program offsets and code ranges, and for the functions that have code.
 * Type units are skipped.
 */
export function parseDebugInfo(
  sections: DwarfSections, warnings: string[],
): { units: CompileUnit[]; subprograms: Subprogram[] } {
  const units: CompileUnit[] = [];
  const subprograms: (Subprogram & { die: number; ref?: number })[] = [];
  const names = new Map<number, NameInfo>();
  const info = sections.info;
  const abbrevSection = sections.abbrev;
  if (info === undefined || info.length === 0) return { units, subprograms: [] };
  if (abbrevSection === undefined) {
    throw new DebugInfoError('.debug_info', undefined, 'the image has .debug_info but no .debug_abbrev');
  }
  const abbrevCache = new Map<string, Map<number, Abbrev>>();

  let offset = 0;
  while (offset < info.length) {
    const r: DwarfReader = new DwarfReader(info, '.debug_info', offset);
    const { length, format64 } = readUnitLength(r, 'compilation unit header');
    const unitEnd = r.pos + length;
    if (unitEnd > info.length) {
      r.fail(`unit_length ${hex(length)} runs past the end of the section (${hex(info.length)} bytes)`, offset);
    }
    r.end = unitEnd;
    if (length === 0) {
      offset = unitEnd;
      continue;
    }
    const version = r.u16('unit version');
    if (version < 2 || version > 5) r.fail(`unsupported DWARF version ${version} in the unit header`, offset);
    let unitType = C.DW_UT_compile;
    let addressSize: number;
    let abbrevOffset: number;
    if (version >= 5) {
      unitType = r.u8('unit_type');
      addressSize = r.u8('address_size');
      abbrevOffset = r.offset(format64, 'debug_abbrev_offset');
      if (unitType === C.DW_UT_skeleton || unitType === C.DW_UT_split_compile) r.skip(8, 'dwo_id');
      if (unitType === C.DW_UT_type || unitType === C.DW_UT_split_type) {
        offset = unitEnd;
        continue;
      }
    } else {
      abbrevOffset = r.offset(format64, 'debug_abbrev_offset');
      addressSize = r.u8('address_size');
    }
    if (addressSize !== 2 && addressSize !== 4 && addressSize !== 8) {
      r.fail(`unsupported address_size ${addressSize} in the unit header`, r.pos - 1);
    }
    const key = `${abbrevOffset}:${addressSize}:${format64}:${version}`;
    const ctx: FormContext = { addressSize, format64, version };
    let table = abbrevCache.get(key);
    if (table === undefined) {
      table = new Map();
      for (const [code, a] of parseAbbrevTable(abbrevSection, abbrevOffset)) {
        let fixed = 0;
        for (const at of a.attrs) {
          const size = fixedFormSize(at.form, ctx);
          if (size < 0) {
            fixed = -1;
            break;
          }
          fixed += size;
        }
        table.set(code, { ...a, fixedSize: fixed });
      }
      abbrevCache.set(key, table);
    }

    const unit: CompileUnit = { offset, version, unitType, addressSize, format64, ranges: [] };
    const uctx: UnitContext = { ...ctx, unitOffset: offset, unit };
    let first = true;
    while (r.pos < unitEnd) {
      const die = r.pos;
      const code = r.uleb('DIE abbreviation code');
      if (code === 0) continue;
      const abbrev = table.get(code);
      if (abbrev === undefined) {
        r.fail(`DIE abbreviation code ${code} is not in the abbreviation table at .debug_abbrev ${hex(abbrevOffset)}`, die);
      }
      if (first) {
        first = false;
        readUnitDie(r, abbrev, uctx, sections, warnings);
        units.push(unit);
      } else if (abbrev.tag === C.DW_TAG_subprogram) {
        const attrs = readAttrs(r, abbrev, uctx, SUBPROGRAM_ATTRS);
        const nameInfo: NameInfo = {};
        const name = attrs.get(C.DW_AT_name) ?? attrs.get(C.DW_AT_linkage_name) ?? attrs.get(C.DW_AT_MIPS_linkage_name);
        if (name) nameInfo.name = stringValue(name, uctx, sections, 'DW_AT_name of a subprogram');
        const ref = attrs.get(C.DW_AT_specification) ?? attrs.get(C.DW_AT_abstract_origin);
        if (ref && ref.kind === 'ref') nameInfo.ref = ref.unitRelative ? offset + ref.offset : ref.offset;
        names.set(die, nameInfo);
        const ranges = codeRanges(attrs, uctx, sections, unit.lowPc ?? 0n, warnings);
        if (ranges.length > 0) {
          subprograms.push({ name: nameInfo.name ?? '', ranges, unit: offset, die, ref: nameInfo.ref });
        }
      } else if (abbrev.fixedSize >= 0) {
        r.skip(abbrev.fixedSize, 'DIE attributes');
      } else {
        for (const at of abbrev.attrs) skipForm(r, at.form, ctx, `DIE at ${hex(die)} attribute ${hex(at.name)}`);
      }
    }
    offset = unitEnd;
  }

  // Concrete instances and out-of-line definitions name their function through a reference.
  for (const sp of subprograms) {
    let ref = sp.ref;
    for (let hops = 0; sp.name === '' && ref !== undefined && hops < 8; hops++) {
      const target = names.get(ref);
      if (target === undefined) break;
      if (target.name !== undefined) sp.name = target.name;
      ref = target.ref;
    }
  }
  return { units, subprograms: subprograms.map(({ name, ranges, unit }) => ({ name, ranges, unit })) };
}

function readAttrs(r: DwarfReader, abbrev: Abbrev, ctx: UnitContext, wanted: Set<number>): Map<number, FormValue> {
  const attrs = new Map<number, FormValue>();
  for (const at of abbrev.attrs) {
    const what = `attribute ${hex(at.name)}`;
    if (wanted.has(at.name)) attrs.set(at.name, readForm(r, at.form, ctx, what, at.implicitConst));
    else skipForm(r, at.form, ctx, what);
  }
  return attrs;
}

function readUnitDie(
  r: DwarfReader, abbrev: Abbrev, ctx: UnitContext, sections: DwarfSections, warnings: string[],
): void {
  const unit = ctx.unit;
  const attrs = readAttrs(r, abbrev, ctx, CU_ATTRS);
  const num = (v: FormValue | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (v.kind === 'secoff') return v.value;
    const c = constantOf(v);
    return c === undefined || c > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(c);
  };
  // The bases first: strx and addrx values of the other attributes need them.
  unit.strOffsetsBase = num(attrs.get(C.DW_AT_str_offsets_base));
  unit.addrBase = num(attrs.get(C.DW_AT_addr_base) ?? attrs.get(C.DW_AT_GNU_addr_base));
  unit.rnglistsBase = num(attrs.get(C.DW_AT_rnglists_base) ?? attrs.get(C.DW_AT_GNU_ranges_base));
  const str = (at: number, label: string): string | undefined => {
    const v = attrs.get(at);
    return v === undefined ? undefined : stringValue(v, ctx, sections, label);
  };
  unit.name = str(C.DW_AT_name, 'DW_AT_name of a compile unit');
  unit.compDir = str(C.DW_AT_comp_dir, 'DW_AT_comp_dir');
  unit.producer = str(C.DW_AT_producer, 'DW_AT_producer');
  unit.language = num(attrs.get(C.DW_AT_language));
  unit.stmtList = num(attrs.get(C.DW_AT_stmt_list));
  const low = attrs.get(C.DW_AT_low_pc);
  if (low !== undefined) unit.lowPc = addressValue(low, ctx, sections, 'DW_AT_low_pc');
  unit.ranges = codeRanges(attrs, ctx, sections, unit.lowPc ?? 0n, warnings);
}

/** [low_pc, high_pc) or the DW_AT_ranges list of a DIE. */
function codeRanges(
  attrs: Map<number, FormValue>, ctx: UnitContext, sections: DwarfSections, base: bigint, warnings: string[],
): AddressRange[] {
  const rangesAttr = attrs.get(C.DW_AT_ranges);
  if (rangesAttr !== undefined) return readRanges(rangesAttr, ctx, sections, base, warnings);
  const lowAttr = attrs.get(C.DW_AT_low_pc);
  const highAttr = attrs.get(C.DW_AT_high_pc);
  if (lowAttr === undefined || highAttr === undefined) return [];
  const low = addressValue(lowAttr, ctx, sections, 'DW_AT_low_pc');
  let high: bigint;
  if (highAttr.kind === 'addr' || highAttr.kind === 'addrx') {
    high = addressValue(highAttr, ctx, sections, 'DW_AT_high_pc');
  } else {
    const c = constantOf(highAttr);
    if (c === undefined) return [];
    high = low + c; // DWARF 4+: an offset from low_pc
  }
  return high > low ? [{ start: low, end: high }] : [];
}

function stringValue(v: FormValue, ctx: UnitContext, sections: DwarfSections, what: string): string | undefined {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'strp':
      return stringAt(v.section === '.debug_str' ? sections.str : sections.lineStr, v.section, v.offset, what);
    case 'strx':
      return stringAt(sections.str, '.debug_str', strOffset(v.index, ctx, sections, what), what);
    default:
      return undefined;
  }
}

/** The .debug_str offset of string index `index` of a unit (DW_FORM_strx*). */
export function strOffset(
  index: number, ctx: FormContext & { unit?: { strOffsetsBase?: number } }, sections: DwarfSections, what: string,
): number {
  const table = sections.strOffsets;
  const size = ctx.format64 ? 8 : 4;
  const base = ctx.unit?.strOffsetsBase ?? size * 2; // just past the .debug_str_offsets header
  const at = base + index * size;
  if (table === undefined || at + size > table.length) {
    throw new DebugInfoError(
      '.debug_str_offsets', at,
      `${what}: string index ${index} (base ${hex(base)}) is outside the section (${hex(table?.length ?? 0)} bytes)`,
    );
  }
  const r = new DwarfReader(table, '.debug_str_offsets', at);
  return r.offset(ctx.format64, what);
}

function addressValue(v: FormValue, ctx: UnitContext, sections: DwarfSections, what: string): bigint {
  if (v.kind === 'addr') return v.value;
  if (v.kind === 'addrx') return indexedAddress(v.index, ctx, sections, what);
  const c = constantOf(v);
  if (c !== undefined) return c;
  throw new DebugInfoError('.debug_info', ctx.unitOffset, `${what} has a form that is not an address`);
}

function indexedAddress(index: number, ctx: UnitContext, sections: DwarfSections, what: string): bigint {
  const table = sections.addr;
  const base = ctx.unit.addrBase ?? 8;
  const at = base + index * ctx.addressSize;
  if (table === undefined || at + ctx.addressSize > table.length) {
    throw new DebugInfoError(
      '.debug_addr', at, `${what}: address index ${index} (base ${hex(base)}) is outside the section (${hex(table?.length ?? 0)} bytes)`,
    );
  }
  return new DwarfReader(table, '.debug_addr', at).address(ctx.addressSize, what);
}

/** Reads a range list: .debug_ranges for DWARF 2-4, .debug_rnglists for DWARF 5. */
function readRanges(
  v: FormValue, ctx: UnitContext, sections: DwarfSections, base: bigint, warnings: string[],
): AddressRange[] {
  const out: AddressRange[] = [];
  const push = (start: bigint, end: bigint) => {
    if (end > start) out.push({ start, end });
  };
  if (ctx.version < 5) {
    const offset = v.kind === 'secoff' ? v.value : Number(constantOf(v) ?? -1n);
    const section = sections.ranges;
    if (section === undefined || offset < 0 || offset >= section.length) {
      throw new DebugInfoError('.debug_ranges', offset, `DW_AT_ranges of the unit at .debug_info ${hex(ctx.unitOffset)} points outside the section`);
    }
    const r = new DwarfReader(section, '.debug_ranges', offset);
    const size = ctx.addressSize;
    const all = (1n << BigInt(size * 8)) - 1n;
    for (;;) {
      const start = r.address(size, 'range list entry');
      const end = r.address(size, 'range list entry');
      if (start === 0n && end === 0n) break;
      if (start === all) base = end;
      else push(base + start, base + end);
    }
    return out;
  }

  const section = sections.rnglists;
  let offset: number;
  if (v.kind === 'rnglistx') {
    const size = ctx.format64 ? 8 : 4;
    const tableBase = ctx.unit.rnglistsBase ?? size * 3; // just past the .debug_rnglists header
    const at = tableBase + v.index * size;
    if (section === undefined || at + size > section.length) {
      throw new DebugInfoError('.debug_rnglists', at, `range list index ${v.index} is outside the section`);
    }
    offset = tableBase + new DwarfReader(section, '.debug_rnglists', at).offset(ctx.format64, 'range list offset');
  } else {
    offset = v.kind === 'secoff' ? v.value : Number(constantOf(v) ?? -1n);
  }
  if (section === undefined || offset < 0 || offset >= section.length) {
    throw new DebugInfoError('.debug_rnglists', offset, `DW_AT_ranges of the unit at .debug_info ${hex(ctx.unitOffset)} points outside the section`);
  }
  const r = new DwarfReader(section, '.debug_rnglists', offset);
  const addrx = (what: string) => indexedAddress(r.uleb(what), ctx, sections, what);
  for (;;) {
    const kind = r.u8('range list entry kind');
    switch (kind) {
      case C.DW_RLE_end_of_list:
        return out;
      case C.DW_RLE_base_addressx:
        base = addrx('DW_RLE_base_addressx');
        break;
      case C.DW_RLE_startx_endx: {
        const s = addrx('DW_RLE_startx_endx');
        push(s, addrx('DW_RLE_startx_endx'));
        break;
      }
      case C.DW_RLE_startx_length: {
        const s = addrx('DW_RLE_startx_length');
        push(s, s + r.ulebBig('DW_RLE_startx_length'));
        break;
      }
      case C.DW_RLE_offset_pair: {
        const s = r.ulebBig('DW_RLE_offset_pair');
        push(base + s, base + r.ulebBig('DW_RLE_offset_pair'));
        break;
      }
      case C.DW_RLE_base_address:
        base = r.address(ctx.addressSize, 'DW_RLE_base_address');
        break;
      case C.DW_RLE_start_end: {
        const s = r.address(ctx.addressSize, 'DW_RLE_start_end');
        push(s, r.address(ctx.addressSize, 'DW_RLE_start_end'));
        break;
      }
      case C.DW_RLE_start_length: {
        const s = r.address(ctx.addressSize, 'DW_RLE_start_length');
        push(s, s + r.ulebBig('DW_RLE_start_length'));
        break;
      }
      default:
        warnings.push(`.debug_rnglists at offset ${hex(r.pos - 1)}: unknown range list entry kind ${kind}; list cut short`);
        return out;
    }
  }
}
