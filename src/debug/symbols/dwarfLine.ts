import * as C from './dwarfConstants';
import type { CompileUnit, DwarfSections } from './dwarfInfo';
import { strOffset } from './dwarfInfo';
import { DebugInfoError, hex } from './errors';
import { FormContext, FormValue, readForm } from './forms';
import { LineTableBuilder, ROW_BASIC_BLOCK, ROW_EPILOGUE_BEGIN, ROW_PROLOGUE_END, ROW_STMT } from './lineTable';
import { isAbsolutePath, joinPath } from './paths';
import { DwarfReader, readUnitLength, stringAt } from './reader';

/** An entry of a line program's file table. */
export interface LineFileEntry {
  /** The name as recorded. */
  name: string;
  dirIndex: number;
  /** The name resolved against its directory and the compilation directory. */
  path: string;
  /** DWARF 5 DW_LNCT_MD5, as 32 lowercase hex digits. */
  md5?: string;
}

/** The header of one line program (one per compilation unit). */
export interface LineProgramHeader {
  /** Offset of the program in .debug_line. */
  offset: number;
  version: number;
  format64: boolean;
  /** DWARF 5 only: the address size the header declares. */
  addressSize?: number;
  minInstLength: number;
  maxOpsPerInst: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  /** Operand counts of the standard opcodes, indexed by opcode (entry 0 unused). */
  standardOpcodeLengths: number[];
  /** Directories, resolved (index 0 is the compilation directory, when known). */
  directories: string[];
  /** File entries in file-register order: index 0 is file register 1 before DWARF 5, file 0 in DWARF 5. */
  files: LineFileEntry[];
}

/**
 * Decodes every line program of .debug_line into `builder`. `units` maps a program's offset to
 * the compile unit that owns it (for DW_AT_comp_dir and the string bases); programs no unit claims
 * are decoded too, with file names left as recorded when nothing makes them absolute.
 */
export function parseLinePrograms(
  sections: DwarfSections, builder: LineTableBuilder, units: ReadonlyMap<number, CompileUnit>, warnings: string[],
): LineProgramHeader[] {
  const section = sections.line;
  if (section === undefined) return [];
  const headers: LineProgramHeader[] = [];
  const seen = new Set<number>();
  let offset = 0;
  while (offset < section.length) {
    // Some linkers pad between contributions with zeros: a zero unit_length is four bytes of padding.
    const next = decodeProgram(section, offset, sections, builder, units.get(offset), warnings, headers);
    seen.add(offset);
    offset = next;
  }
  for (const [stmtList, unit] of units) {
    if (seen.has(stmtList)) continue;
    if (stmtList >= section.length) {
      throw new DebugInfoError(
        '.debug_info', unit.offset,
        `DW_AT_stmt_list ${hex(stmtList)} of compile unit ${unit.name ?? ''} is outside .debug_line (${hex(section.length)} bytes)`,
      );
    }
    warnings.push(
      `DW_AT_stmt_list ${hex(stmtList)} of compile unit ${unit.name ?? hex(unit.offset)} is inside another line program`,
    );
    decodeProgram(section, stmtList, sections, builder, unit, warnings, headers);
  }
  return headers;
}

/** Decodes the program at `offset`; returns the offset just past it. */
function decodeProgram(
  section: Uint8Array, offset: number, sections: DwarfSections, builder: LineTableBuilder,
  unit: CompileUnit | undefined, warnings: string[], headers: LineProgramHeader[],
): number {
  const r = new DwarfReader(section, '.debug_line', offset);
  const { length, format64 } = readUnitLength(r, 'line program header');
  const unitEnd = r.pos + length;
  if (unitEnd > section.length) {
    r.fail(`unit_length ${hex(length)} runs past the end of the section (${hex(section.length)} bytes)`, offset);
  }
  if (length === 0) return unitEnd;
  r.end = unitEnd;
  const header = readHeader(r, offset, format64, unit, sections, warnings);
  headers.push(header);
  // Every file the table mentions is a source of the program, with rows or not (a header of
  // declarations only); rows get their ids from the same registry.
  for (const f of header.files) builder.addFile(f.path);
  runProgram(r, header, builder, warnings);
  return unitEnd;
}

function readHeader(
  r: DwarfReader, offset: number, format64: boolean, unit: CompileUnit | undefined, sections: DwarfSections,
  warnings: string[],
): LineProgramHeader {
  const version = r.u16('line program version');
  if (version < 2 || version > 5) r.fail(`unsupported line program version ${version}`, r.pos - 2);
  let addressSize: number | undefined;
  if (version >= 5) {
    addressSize = r.u8('address_size');
    const segSel = r.u8('segment_selector_size');
    if (segSel !== 0) r.fail(`segment_selector_size ${segSel} is not supported (x86 uses flat addresses)`, r.pos - 1);
  }
  const headerLength = r.offset(format64, 'header_length');
  const programStart = r.pos + headerLength;
  if (programStart > r.end) {
    r.fail(`header_length ${hex(headerLength)} runs past the end of the line program at ${hex(r.end)}`, r.pos - (format64 ? 8 : 4));
  }
  const minInstLength = r.u8('minimum_instruction_length');
  const maxOpsPerInst = version >= 4 ? r.u8('maximum_operations_per_instruction') : 1;
  const defaultIsStmt = r.u8('default_is_stmt') !== 0;
  const lineBase = r.i8('line_base');
  const lineRangeAt = r.pos;
  const lineRange = r.u8('line_range');
  if (lineRange === 0) r.fail('line_range is 0 (special opcodes would divide by zero)', lineRangeAt);
  const opcodeBase = r.u8('opcode_base');
  if (opcodeBase === 0) r.fail('opcode_base is 0', r.pos - 1);
  const standardLengths = [0];
  for (let i = 1; i < opcodeBase; i++) standardLengths.push(r.u8('standard_opcode_lengths'));

  const header: LineProgramHeader = {
    offset, version, format64, addressSize, minInstLength, maxOpsPerInst: maxOpsPerInst || 1, defaultIsStmt,
    lineBase, lineRange, opcodeBase, standardOpcodeLengths: standardLengths, directories: [], files: [],
  };
  if (maxOpsPerInst === 0) warnings.push(`.debug_line at offset ${hex(offset)}: maximum_operations_per_instruction is 0, taken as 1`);

  const compDir = unit?.compDir;
  if (version < 5) {
    header.directories.push(compDir ?? '');
    for (;;) {
      const dir = r.cstring('include_directories entry');
      if (dir === '') break;
      header.directories.push(joinPath(compDir, dir));
    }
    for (;;) {
      const name = r.cstring('file_names entry');
      if (name === '') break;
      const dirIndex = r.uleb('file entry directory index');
      r.skipLeb('file entry modification time');
      r.skipLeb('file entry length');
      header.files.push(fileEntry(header, name, dirIndex, undefined, warnings));
    }
  } else {
    const ctx: FormContext & { unit?: CompileUnit } = {
      addressSize: addressSize ?? unit?.addressSize ?? 8, format64, version, unit,
    };
    const dirs = readEntryTable(r, ctx, sections, 'directory');
    dirs.forEach((d, i) => {
      const path = d.path ?? '';
      // Directory 0 is the compilation directory; the others are relative to it unless absolute.
      if (i === 0) header.directories.push(isAbsolutePath(path) || !compDir ? path : joinPath(compDir, path));
      else header.directories.push(joinPath(header.directories[0] || compDir, path));
    });
    for (const f of readEntryTable(r, ctx, sections, 'file name')) {
      header.files.push(fileEntry(header, f.path ?? '', f.dirIndex ?? 0, f.md5, warnings));
    }
  }
  if (r.pos > programStart) {
    r.fail(`the line program header (${hex(r.pos - offset)} bytes so far) is longer than header_length says`, offset);
  }
  r.pos = programStart;
  return header;
}

function fileEntry(
  header: LineProgramHeader, name: string, dirIndex: number, md5: string | undefined, warnings: string[],
): LineFileEntry {
  let dir = header.directories[dirIndex];
  if (dir === undefined) {
    warnings.push(
      `.debug_line at offset ${hex(header.offset)}: file ${name} names directory ${dirIndex}, ` +
        `but there are ${header.directories.length}`,
    );
    dir = header.directories[0];
  }
  const entry: LineFileEntry = { name, dirIndex, path: joinPath(dir, name) };
  if (md5 !== undefined) entry.md5 = md5;
  return entry;
}

interface EntryFields {
  path?: string;
  dirIndex?: number;
  md5?: string;
}

/** A DWARF 5 directory or file-name table: a format description, then entries in that format. */
function readEntryTable(
  r: DwarfReader, ctx: FormContext & { unit?: CompileUnit }, sections: DwarfSections, kind: string,
): EntryFields[] {
  const formatCount = r.u8(`${kind}_entry_format_count`);
  const format: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) {
    const type = r.uleb(`${kind} entry content type`);
    format.push([type, r.uleb(`${kind} entry form`)]);
  }
  const countAt = r.pos;
  const count = r.uleb(`${kind}s_count`);
  // An entry takes at least one byte (an empty format describes nothing): a count beyond the unit is garbage.
  if (count > r.remaining) r.fail(`${kind}s_count ${count} is larger than the line program`, countAt);
  const out: EntryFields[] = [];
  for (let i = 0; i < count; i++) {
    const e: EntryFields = {};
    for (const [type, form] of format) {
      const what = `${kind} entry ${i}`;
      const at = r.pos;
      const v = readForm(r, form, ctx, what);
      switch (type) {
        case C.DW_LNCT_path:
          e.path = entryString(v, ctx, sections, what, r, at);
          break;
        case C.DW_LNCT_directory_index:
          if (v.kind === 'uint') e.dirIndex = Number(v.value);
          else r.fail(`${what}: DW_LNCT_directory_index has a non-constant form`, at);
          break;
        case C.DW_LNCT_MD5:
          if (v.kind === 'block' && v.bytes.length === 16) {
            e.md5 = Array.from(v.bytes, (b) => b.toString(16).padStart(2, '0')).join('');
          }
          break;
        default:
          break; // timestamps, sizes and vendor content are read past
      }
    }
    out.push(e);
  }
  return out;
}

function entryString(
  v: FormValue, ctx: FormContext & { unit?: CompileUnit }, sections: DwarfSections, what: string,
  r: DwarfReader, at: number,
): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'strp':
      return stringAt(v.section === '.debug_str' ? sections.str : sections.lineStr, v.section, v.offset, `.debug_line ${what}`);
    case 'strx':
      if (ctx.unit === undefined) r.fail(`${what}: DW_FORM_strx in a line program that no compile unit claims`, at);
      return stringAt(sections.str, '.debug_str', strOffset(v.index, ctx, sections, what), `.debug_line ${what}`);
    default:
      return r.fail(`${what}: DW_LNCT_path has a form that is not a string`, at);
  }
}

/** Runs the line-number state machine over the opcodes of one program. */
function runProgram(r: DwarfReader, header: LineProgramHeader, builder: LineTableBuilder, warnings: string[]): void {
  const { minInstLength, lineBase, lineRange, opcodeBase, version, defaultIsStmt } = header;
  const maxOps = header.maxOpsPerInst;
  const standardLengths = header.standardOpcodeLengths;
  const files = header.files;
  const fileIds: number[] = [];
  const fileBias = version >= 5 ? 0 : 1;
  const bytes = r.bytes;
  const end = r.end;
  let badFileWarned = false;

  const fileId = (file: number): number => {
    let id = fileIds[file];
    if (id === undefined) {
      const entry = files[file - fileBias];
      if (entry === undefined) {
        if (!badFileWarned) {
          badFileWarned = true;
          warnings.push(
            `.debug_line at offset ${hex(header.offset)}: a row names file ${file}, but the file table has ${files.length} entries`,
          );
        }
        id = builder.addFile(`<unknown file ${file}>`);
      } else {
        id = builder.addFile(entry.path);
      }
      fileIds[file] = id;
    }
    return id;
  };

  // State machine registers. The address is `base` (bigint, set by DW_LNE_set_address) + `delta`.
  let base = 0n;
  let delta = 0;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = defaultIsStmt;
  let basicBlock = false;
  let prologueEnd = false;
  let epilogueBegin = false;
  let open = false;

  const reset = () => {
    base = 0n;
    delta = 0;
    opIndex = 0;
    file = 1;
    line = 1;
    column = 0;
    isStmt = defaultIsStmt;
    basicBlock = false;
    prologueEnd = false;
    epilogueBegin = false;
    open = false;
  };
  const emit = () => {
    if (!open) {
      builder.beginSequence(base);
      open = true;
    }
    const flags =
      (isStmt ? ROW_STMT : 0) | (prologueEnd ? ROW_PROLOGUE_END : 0) | (epilogueBegin ? ROW_EPILOGUE_BEGIN : 0) |
      (basicBlock ? ROW_BASIC_BLOCK : 0);
    builder.addRow(delta, fileId(file), line, column, flags);
    basicBlock = false;
    prologueEnd = false;
    epilogueBegin = false;
  };
  const advance = (operationAdvance: number) => {
    if (maxOps === 1) {
      delta += minInstLength * operationAdvance;
    } else {
      const t = opIndex + operationAdvance;
      delta += minInstLength * Math.floor(t / maxOps);
      opIndex = t % maxOps;
    }
  };
  const constAddPc = Math.floor((255 - opcodeBase) / lineRange);

  while (r.pos < end) {
    const opAt = r.pos;
    const op = bytes[r.pos++];
    if (op >= opcodeBase) {
      const adjusted = op - opcodeBase;
      advance(Math.floor(adjusted / lineRange));
      line += lineBase + (adjusted % lineRange);
      emit();
      continue;
    }
    switch (op) {
      case 0: {
        const len = r.uleb('extended opcode length');
        if (len === 0) continue;
        const start = r.pos;
        if (start + len > end) r.fail(`extended opcode length ${len} runs past the end of the line program`, opAt);
        const sub = r.u8('extended opcode');
        switch (sub) {
          case C.DW_LNE_end_sequence:
            if (!open) builder.beginSequence(base);
            builder.endSequence(delta);
            reset();
            break;
          case C.DW_LNE_set_address: {
            const size = len - 1;
            if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
              r.fail(`DW_LNE_set_address with a ${size}-byte operand`, opAt);
            }
            const address = r.address(size, 'DW_LNE_set_address operand');
            if (!open) {
              base = address;
              delta = 0;
            } else {
              const diff = address - base;
              if (diff >= BigInt(delta) && diff <= BigInt(Number.MAX_SAFE_INTEGER)) {
                delta = Number(diff);
              } else {
                // Backwards (or absurdly far): close this run of rows and start a new sequence there.
                builder.endSequence(delta);
                open = false;
                base = address;
                delta = 0;
              }
            }
            opIndex = 0;
            break;
          }
          case C.DW_LNE_define_file: {
            const name = r.cstring('DW_LNE_define_file name');
            const dirIndex = r.uleb('DW_LNE_define_file directory');
            files.push(fileEntry(header, name, dirIndex, undefined, warnings));
            break;
          }
          default:
            break; // DW_LNE_set_discriminator and vendor extensions carry nothing we use
        }
        r.pos = start + len;
        break;
      }
      case C.DW_LNS_copy:
        emit();
        break;
      case C.DW_LNS_advance_pc:
        advance(r.uleb('DW_LNS_advance_pc operand'));
        break;
      case C.DW_LNS_advance_line:
        line += r.sleb('DW_LNS_advance_line operand');
        break;
      case C.DW_LNS_set_file:
        file = r.uleb('DW_LNS_set_file operand');
        break;
      case C.DW_LNS_set_column:
        column = r.uleb('DW_LNS_set_column operand');
        break;
      case C.DW_LNS_negate_stmt:
        isStmt = !isStmt;
        break;
      case C.DW_LNS_set_basic_block:
        basicBlock = true;
        break;
      case C.DW_LNS_const_add_pc:
        advance(constAddPc);
        break;
      case C.DW_LNS_fixed_advance_pc:
        delta += r.u16('DW_LNS_fixed_advance_pc operand');
        opIndex = 0;
        break;
      case C.DW_LNS_set_prologue_end:
        prologueEnd = true;
        break;
      case C.DW_LNS_set_epilogue_begin:
        epilogueBegin = true;
        break;
      case C.DW_LNS_set_isa:
        r.skipLeb('DW_LNS_set_isa operand');
        break;
      default:
        // A standard opcode this reader does not know: skip its declared number of LEB128 operands.
        for (let i = 0; i < standardLengths[op]; i++) r.skipLeb(`opcode ${op} operand`);
        break;
    }
  }
  if (open) {
    warnings.push(`.debug_line at offset ${hex(header.offset)}: the last sequence has no DW_LNE_end_sequence`);
    builder.endSequence(delta);
  }
}
