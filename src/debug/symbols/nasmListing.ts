import { DebugInfoError, hex, toAddress } from './errors';
import { LineTableBuilder, ROW_STMT } from './lineTable';
import { dirName, joinPath } from './paths';
import { SymbolTable } from './symbolTable';
import { TableDebugInfo } from './tableDebugInfo';
import type { SymbolEntry } from './types';

export interface NasmListingOptions {
  /** The source file the listing was made from (`nasm -l file.lst file.asm`). */
  asmPath: string;
  /**
   * Where the listing's `.text` section sits in guest memory: the load address of a flat image
   * (for `-f bin`, the image's first byte; the listing's offsets count from the section start,
   * not from `org`).
   */
  loadAddress: bigint | number;
  /**
   * Addresses of other sections, by name (`{ '.data': 0x9000 }`). A section with neither an
   * address here nor the role of `.text` contributes no line rows (its name is in `warnings`).
   */
  sectionAddresses?: Record<string, bigint | number>;
  /**
   * Where the code of a macro expansion is attributed. 'definition' (the default, what NASM's
   * own DWARF does): to the lines of the %macro body, so stepping walks through the macro; the
   * invocation line still binds breakpoints, at the first byte of the expansion. 'invocation': to
   * the line that invoked the macro, so a macro steps as one line.
   */
  macroLines?: 'definition' | 'invocation';
  /**
   * The directory relative %include names are resolved against: NASM's working directory when it
   * ran (it searches there, then its -i paths). Default: the directory of `asmPath`.
   */
  includeDir?: string;
}

/** A NASM listing as DebugInfo, with what the listing said about itself. */
export class NasmListingDebugInfo extends TableDebugInfo {
  constructor(
    table: ConstructorParameters<typeof TableDebugInfo>[0],
    symbols: SymbolTable,
    warnings: string[],
    /** Address range of each section's listed bytes, as mapped. */
    readonly sections: ReadonlyMap<string, { start: bigint; end: bigint; mapped: boolean }>,
  ) {
    super(table, symbols, [], warnings);
  }
}

interface Loc {
  file: string;
  line: number;
}

/** One level of include/macro nesting, as the listing's `<n>` column counts them. */
interface Context {
  /** Listing line numbers at this level are lines of `file`... */
  file?: string;
  /** ...unless the level is attributed as a whole to one location. */
  fixed?: Loc;
  /** An invocation line still waiting for the address of the expansion's first byte. */
  alias?: Loc;
  /** Inside a macro expansion. */
  macro: boolean;
  /** The macro's arguments, to spell labels such as `putc%1` the way NASM defines them. */
  args?: string[];
}

interface Row {
  section: string;
  offset: number;
  length: number;
  loc: Loc;
}

interface PendingLabel {
  name: string;
  section: string;
  level: number;
  needsExpansion: boolean;
}

interface MacroDef {
  file?: string;
  line: number;
}

const LINE_RE = /^\s*(\d+) (.*)$/;
const DATA_RE = /^([0-9A-F]{8,16}) ((?:[0-9A-Fs?\[\]()-]|<[a-z]+ [0-9A-Fa-f]+h?>)+)(.*)$/;
const LEVEL_RE = /^\s*<(\d+)>(.*)$/;
const ERROR_RE = /^ {9}[-*X ]{18}/;
const TOKEN_RE = /<([a-z]+) ([0-9A-Fa-f]+)(h?)>|\[([0-9A-Fs]*)\]|\(([0-9A-Fs]*)\)|(\?+)|([0-9A-F]{2})|-/g;
const LABEL_COLON_RE = /^([A-Za-z_.?$@%][\w.$#@~?%{}]*)\s*:(.*)$/;
const LABEL_DATA_RE = /^([A-Za-z_.?][\w.$#@~?]*)\s+(?:d[bwdqtoyz]|res[bwdqtoyz]|times|incbin)\b/i;
const KEYWORDS = new Set(['times', 'section', 'segment', 'bits', 'org', 'align', 'alignb', 'global', 'extern', 'absolute', 'struc', 'endstruc', 'istruc', 'iend', 'at', 'use16', 'use32', 'use64', 'default', 'cpu']);

/** Bytes a listing data field stands for, and whether it is reserved space rather than contents. */
function dataLength(field: string): { length: number; reserved: boolean } {
  let length = 0;
  let lineBytes = 0;
  let reserved = false;
  let contents = false;
  TOKEN_RE.lastIndex = 0;
  for (let m = TOKEN_RE.exec(field); m !== null; m = TOKEN_RE.exec(field)) {
    if (m[1] !== undefined) {
      const n = parseInt(m[2], m[3] === 'h' ? 16 : 10);
      switch (m[1]) {
        case 'rep':
          // `times N insn`: the first copy's bytes, then the count.
          length += lineBytes * (n - 1);
          break;
        case 'res':
          reserved = true;
          length += n;
          break;
        default: // zero, bin, len
          contents = true;
          length += n;
      }
    } else if (m[4] !== undefined || m[5] !== undefined) {
      const n = (m[4] ?? m[5]).length >> 1;
      length += n;
      lineBytes += n;
      contents = true;
    } else if (m[6] !== undefined) {
      reserved = true;
      length += m[6].length >> 1;
    } else if (m[7] !== undefined) {
      length += 1;
      lineBytes += 1;
      contents = true;
    }
  }
  return { length, reserved: reserved && !contents };
}

/** Puts macro arguments into a label as written in the macro body: `putc%1` -> `putc16`. */
function substituteArgs(name: string, args: string[]): string {
  return name.replace(/%\{?(\d+)\}?/g, (all, n: string) => (n === '0' ? String(args.length) : (args[Number(n) - 1] ?? all)));
}

/** The comma-separated arguments of a macro call, commas inside brackets, braces or quotes included. */
function splitArgs(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (const ch of text.trim()) {
    if (quote !== '') {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    } else if (ch === '[' || ch === '(' || ch === '{') {
      depth++;
    } else if (ch === ']' || ch === ')' || ch === '}') {
      depth--;
    } else if (ch === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim() !== '' || args.length > 0) args.push(current.trim());
  return args.map((a) => (a.startsWith('{') && a.endsWith('}') ? a.slice(1, -1) : a));
}

/**
 * Reads a NASM listing (`nasm -l`) as DebugInfo for the image it was made with: each listed line
 * with bytes becomes a line-table row at its section's address plus the listed offset. %include'd
 * files keep their own names and line numbers; macro expansions follow `macroLines`. Labels become
 * symbols (those whose names NASM shows unexpanded, inside macros, are left out).
 */
export function loadNasmListing(listingText: string, options: NasmListingOptions): NasmListingDebugInfo {
  const asmPath = options.asmPath;
  const listingName = `NASM listing of ${asmPath}`;
  const definitionMode = (options.macroLines ?? 'definition') === 'definition';
  const loadAddress = toAddress(options.loadAddress, 'loadAddress', listingName);
  const warnings: string[] = [];
  const builder = new LineTableBuilder();
  builder.addFile(asmPath);

  const rows: Row[] = [];
  const aliases: { loc: Loc; section: string; offset: number }[] = [];
  const labels: { name: string; section: string; offset: number }[] = [];
  const macros = new Map<string, MacroDef>();
  const imacros = new Map<string, MacroDef>();
  const stack: Context[] = [{ file: asmPath, macro: false }];
  const lastAt: { text: string; loc: Loc | undefined }[] = [];
  let section: string | undefined = '.text';
  const sectionStack: (string | undefined)[] = [];
  let macroDepth = 0; // inside %macro ... %endmacro (the definition, listed as text)
  let lastNonLocal = '';
  let pending: PendingLabel[] = [];
  let prevData = ''; // the previous data field, to recognise continuation lines
  let prevRow: Row | undefined;
  let listed = 0;
  let unparsed = 0;

  const includeDir = options.includeDir ?? dirName(asmPath);
  const resolveInclude = (name: string): string => joinPath(includeDir || undefined, name);

  const lines = listingText.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li];
    if (raw.trim() === '') continue;
    const m = LINE_RE.exec(raw);
    if (m === null) {
      if (++unparsed <= 3) warnings.push(`${listingName}: line ${li + 1} is not a listing line: ${raw.slice(0, 60)}`);
      continue;
    }
    listed++;
    const lineno = Number(m[1]);
    let rest = m[2];
    if (ERROR_RE.test(rest) && /[-*X]/.test(rest.slice(9, 27))) continue; // an error or warning message

    let offset: number | undefined;
    let data = '';
    const d = DATA_RE.exec(rest);
    if (d !== null) {
      offset = parseInt(d[1], 16);
      data = d[2];
      rest = d[3];
    }
    let level = 0;
    let text: string;
    const lv = LEVEL_RE.exec(rest);
    if (lv !== null) {
      level = Number(lv[1]);
      text = lv[2].trim();
    } else {
      text = rest.trim();
    }

    // A data line without text continues the bytes of the line before it.
    if (offset !== undefined && text === '' && prevData.endsWith('-')) {
      const { length, reserved } = dataLength(data);
      if (prevRow !== undefined && !reserved && prevRow.offset + prevRow.length === offset) prevRow.length += length;
      prevData = data;
      continue;
    }
    prevData = data;

    // Nesting: leave deeper levels, enter new ones (the opener is the last line one level up).
    if (level < stack.length - 1) stack.length = level + 1;
    while (stack.length - 1 < level) {
      const parentLevel = stack.length - 1;
      const parent = stack[parentLevel];
      const opener = lastAt[parentLevel];
      stack.push(enterContext(parent, opener));
    }
    for (let l = level + 1; l < lastAt.length; l++) lastAt[l] = { text: '', loc: undefined };

    const ctx = stack[level];
    const loc: Loc | undefined = ctx.fixed ?? (ctx.file !== undefined ? { file: ctx.file, line: lineno } : undefined);
    lastAt[level] = { text, loc };

    // A label on a line with an instruction but no bytes was kept pending in case the line was a
    // macro call; when no expansion follows, the line was in a false %if branch.
    pending = pending.filter((p) => !p.needsExpansion || level > p.level);
    for (const p of pending) p.needsExpansion = false;

    const directive = /^%\s*(\w+)/.exec(text)?.[1]?.toLowerCase();
    if (macroDepth > 0) {
      if (directive === 'macro' || directive === 'imacro' || directive === 'rmacro' || directive === 'irmacro') macroDepth++;
      else if (directive === 'endmacro' || directive === 'endm') macroDepth--;
      continue;
    }
    if (directive !== undefined) {
      if (/^(i?r?macro)$/.test(directive)) {
        const name = /^%\s*\w+\s+([^\s]+)/.exec(text)?.[1];
        if (name !== undefined) {
          const def: MacroDef = { file: ctx.fixed === undefined ? ctx.file : undefined, line: lineno };
          if (directive.startsWith('i')) imacros.set(name.toLowerCase(), def);
          else macros.set(name, def);
        }
        macroDepth = 1;
      } else if (/^(if|elif|else|endif)/.test(directive)) {
        pending = pending.filter((p) => p.level < level);
      }
      continue;
    }

    // Sections.
    const sect = /^\[?\s*(?:section|segment)\s+([^\s\]]+)/i.exec(text);
    if (sect !== null) {
      section = sect[1] === '__SECT__' ? section : sect[1];
      pending = [];
    } else if (/^\[?\s*absolute\b/i.test(text)) {
      section = undefined;
      pending = [];
    } else if (/^struc\b/i.test(text)) {
      sectionStack.push(section);
      section = undefined;
    } else if (/^endstruc\b/i.test(text)) {
      section = sectionStack.pop();
    }

    // Labels, outside struc/absolute; in a macro expansion with the arguments put in.
    if (section !== undefined && (!ctx.macro || ctx.args !== undefined)) {
      const colon = LABEL_COLON_RE.exec(text);
      const label = colon ?? LABEL_DATA_RE.exec(text);
      let name = label?.[1] ?? '';
      if (ctx.macro && ctx.args !== undefined) name = substituteArgs(name, ctx.args);
      if (label !== null && !name.includes('%') && !KEYWORDS.has(name.toLowerCase())) {
        const after = colon !== null ? colon[2].trim() : 'data';
        if (!/^equ\b/i.test(after)) {
          // `.x` belongs to the last ordinary label; `..start` and `..@x` are special and change nothing.
          if (name.startsWith('.') && !name.startsWith('..')) name = lastNonLocal + name;
          else if (!name.startsWith('..')) lastNonLocal = name;
          if (offset !== undefined) {
            // Labels waiting for this line's bytes come first: they were defined first.
            for (const p of pending) if (p.section === section) labels.push({ name: p.name, section, offset });
            pending = [];
            labels.push({ name, section, offset });
          } else {
            const trailing = after.replace(/;.*$/, '').trim();
            const noBytes = trailing === '' || /^(istruc|align|alignb)\b/i.test(trailing);
            pending.push({ name, section, level, needsExpansion: !noBytes });
          }
        }
      }
    }

    if (offset === undefined || section === undefined) continue;
    const { length, reserved } = dataLength(data);
    if (reserved) {
      prevRow = undefined;
      continue;
    }
    for (const p of pending) if (p.section === section) labels.push({ name: p.name, section, offset });
    pending = [];
    for (const c of stack) {
      if (c.alias !== undefined) {
        aliases.push({ loc: c.alias, section, offset });
        c.alias = undefined;
      }
    }
    if (loc === undefined || length === 0) {
      prevRow = undefined;
      continue;
    }
    prevRow = { section, offset, length, loc };
    rows.push(prevRow);
  }

  if (listed === 0 && lines.some((l) => l.trim() !== '')) {
    throw new DebugInfoError(listingName, undefined, 'this is not a NASM listing (no line starts with a line number)');
  }

  /** Enters the level below `parent`: an included file, a %rep body or a macro expansion. */
  function enterContext(parent: Context, opener: { text: string; loc: Loc | undefined } | undefined): Context {
    const text = opener?.text ?? '';
    const openerLoc = opener?.loc;
    const inc = /^%\s*include\s+["'<]([^"'>]+)["'>]/i.exec(text);
    if (inc !== null) {
      const file = resolveInclude(inc[1]);
      builder.addFile(file);
      return { file, macro: parent.macro };
    }
    if (/^%\s*endrep\b/i.test(text)) {
      // A %rep body: the listed numbers are lines of wherever the body is.
      return { file: parent.file, fixed: parent.fixed, macro: parent.macro };
    }
    // A macro expansion: find the macro (the first word, or the second after a label).
    const call = /^(?:([A-Za-z_.?$@][\w.$#@~?]*):?\s+)?([A-Za-z_.?$@][\w.$#@~?]*)\b(.*)$/.exec(text.replace(/;.*$/, ''));
    let def: MacroDef | undefined;
    let args: string[] | undefined;
    const candidates = call ? [[call[1], call[2] + call[3]], [call[2], call[3]]] : [];
    for (const [name, tail] of candidates) {
      if (name === undefined) continue;
      def = macros.get(name) ?? imacros.get(name.toLowerCase());
      if (def !== undefined) {
        args = splitArgs(tail);
        break;
      }
    }
    if (definitionMode && def?.file !== undefined && parent.fixed === undefined) {
      return { file: def.file, macro: true, alias: openerLoc, args };
    }
    // Unknown macro (built in, or defined where the listing does not show) or invocation mode.
    return { fixed: parent.fixed ?? openerLoc, macro: true, args };
  }

  // Section addresses: .text (or else the first section with bytes) at loadAddress.
  const extents = new Map<string, { start: number; end: number }>();
  for (const r of rows) {
    const e = extents.get(r.section);
    if (e === undefined) extents.set(r.section, { start: r.offset, end: r.offset + r.length });
    else {
      e.start = Math.min(e.start, r.offset);
      e.end = Math.max(e.end, r.offset + r.length);
    }
  }
  const bases = new Map<string, bigint>();
  for (const [name, addr] of Object.entries(options.sectionAddresses ?? {})) {
    bases.set(name, toAddress(addr, `sectionAddresses['${name}']`, listingName));
  }
  const primary = extents.has('.text') ? '.text' : [...extents.keys()][0];
  if (primary !== undefined && !bases.has(primary)) bases.set(primary, loadAddress);
  const sectionInfo = new Map<string, { start: bigint; end: bigint; mapped: boolean }>();
  for (const [name, e] of extents) {
    const base = bases.get(name);
    if (base === undefined) {
      warnings.push(`${listingName}: section ${name} has no address (sectionAddresses); its ${hex(e.end - e.start)} bytes of lines are not mapped`);
    }
    sectionInfo.set(name, {
      start: (base ?? 0n) + BigInt(e.start), end: (base ?? 0n) + BigInt(e.end), mapped: base !== undefined,
    });
  }

  // Rows to sequences: one per contiguous run of bytes in a section.
  const bySection = new Map<string, Row[]>();
  for (const r of rows) {
    if (!bases.has(r.section)) continue;
    let list = bySection.get(r.section);
    if (list === undefined) bySection.set(r.section, (list = []));
    list.push(r);
  }
  for (const [name, list] of bySection) {
    const base = bases.get(name)!;
    list.sort((a, b) => a.offset - b.offset);
    let seqStart = -1;
    let end = -1;
    for (const r of list) {
      if (r.offset !== end || seqStart < 0) {
        if (seqStart >= 0) builder.endSequence(end - seqStart);
        seqStart = r.offset;
        builder.beginSequence(base + BigInt(seqStart));
      }
      builder.addRow(r.offset - seqStart, builder.addFile(r.loc.file), r.loc.line, 0, ROW_STMT);
      end = Math.max(end, r.offset + r.length);
    }
    if (seqStart >= 0) builder.endSequence(end - seqStart);
  }
  for (const a of aliases) {
    const base = bases.get(a.section);
    if (base !== undefined) builder.addBreakpointAlias(builder.addFile(a.loc.file), a.loc.line, base + BigInt(a.offset));
  }

  const symbols: SymbolEntry[] = [];
  const seenLabels = new Set<string>();
  for (const l of labels) {
    const base = bases.get(l.section);
    const key = `${l.name}@${l.section}:${l.offset}`;
    if (base === undefined || seenLabels.has(key)) continue;
    seenLabels.add(key);
    symbols.push({ name: l.name, address: base + BigInt(l.offset), size: 0, kind: 'other', end: sectionInfo.get(l.section)?.end });
  }
  return new NasmListingDebugInfo(builder.build(), new SymbolTable(symbols), warnings, sectionInfo);
}
