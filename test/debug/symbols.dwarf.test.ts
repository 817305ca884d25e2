import { strict as assert } from 'assert';
import {
  CompileUnit, DebugInfoError, DwarfSections, LineTableBuilder, loadDebugInfo, parseLinePrograms, SymbolTable,
  TableDebugInfo,
} from '../../src/debug/symbols';
import { elfSectionData, parseElf } from '../../src/machine/loaders/elf';
import { Bytes, fixture, hex, lineProgram, ProgramOptions, throwsDebugInfoError } from './symbolsHelpers';
import type { OpWriter } from './symbolsHelpers';

/**
 * Hand-assembled line programs for what the producers at hand don't emit (every opcode, DWARF 2
 * opcode bases, VLIW op_index, 64-bit DWARF in versions 3 and 4, define_file, missing
 * end_sequence) and malformed debug sections, built or patched byte by byte.
 */

interface Decoded {
  info: TableDebugInfo;
  warnings: string[];
  headers: ReturnType<typeof parseLinePrograms>;
}

function decode(sections: DwarfSections, units: Map<number, CompileUnit> = new Map()): Decoded {
  const builder = new LineTableBuilder();
  const warnings: string[] = [];
  const headers = parseLinePrograms(sections, builder, units, warnings);
  return { info: new TableDebugInfo(builder.build(), new SymbolTable([]), [], warnings), warnings, headers };
}

function program(o: ProgramOptions, body: (b: Bytes, op: OpWriter) => void): Decoded {
  const { program: line, lineStr } = lineProgram(o, body);
  return decode({ line, lineStr });
}

/** The rows of every sequence as "address file:line[:column][ !stmt]" and each end as "end address". */
function rows(d: Decoded): string[] {
  const out: string[] = [];
  for (const s of d.info.lineTable.sequences()) {
    for (const r of s.rows) {
      out.push(`${hex(r.address)} ${r.file}:${r.line}${r.column ? ':' + r.column : ''}${r.isStmt ? '' : ' !stmt'}`);
    }
    out.push(`end ${hex(s.end)}`);
  }
  return out;
}

const unitWithCompDir = (compDir: string): CompileUnit => ({
  offset: 0, version: 2, unitType: 1, addressSize: 4, format64: false, compDir, ranges: [],
});

describe('symbols: DWARF line programs, opcode by opcode', () => {
  it('DWARF 2 with opcode_base 10: opcodes 10-12 are special; include directories; define_file', () => {
    const { program: line } = lineProgram(
      {
        version: 2, lineBase: -3, lineRange: 12, opcodeBase: 10, dirs: ['include', '/abs/inc'],
        files: [{ name: 'a.c', dir: 0 }, { name: 'b.h', dir: 1 }, { name: 'c.h', dir: 2 }, { name: '/x/d.h', dir: 1 }],
      },
      (b, op) => {
        op.setAddress(0x1000).special(0, 1).special(3, 2);
        op.raw(10); // special: +0 address, line_base (-3) lines
        op.advancePc(5).endSequence();
        op.setAddress(0x2000).setFile(2).advanceLine(9).copy();
        op.raw(0, 8, 3, 0x65, 0x2e, 0x68, 0, 1, 0, 0); // DW_LNE_define_file "e.h", directory 1
        op.setFile(5).special(2, 0);
        op.setFile(9).special(1, 1); // no such file
        op.advancePc(1).endSequence();
      },
    );
    const d = decode({ line }, new Map([[0, unitWithCompDir('/build')]]));
    assert.deepEqual(rows(d), [
      '0x1000 /build/a.c:2', '0x1003 /build/a.c:4', '0x1003 /build/a.c:1', 'end 0x1008',
      '0x2000 /build/include/b.h:10', '0x2002 /build/include/e.h:10', '0x2003 <unknown file 9>:11', 'end 0x2004',
    ]);
    assert.deepEqual(d.info.files(), ['/build/a.c', '/build/include/b.h', '/abs/inc/c.h', '/x/d.h', '/build/include/e.h']);
    assert.match(d.warnings.join('\n'), /a row names file 9, but the file table has 5 entries/);
    // Two rows at 0x1003: the later one is in effect.
    assert.deepEqual(d.info.lineForAddress(0x1004n), { file: '/build/a.c', line: 1 });
    assert.deepEqual(d.info.linesWithCode('a.c'), [1, 2, 4]);
    assert.equal(d.headers[0].opcodeBase, 10);
    assert.deepEqual(d.headers[0].directories, ['/build', '/build/include', '/abs/inc']);

    // Without a compile unit the names stay as recorded.
    const bare = decode({ line });
    assert.deepEqual(bare.info.files().slice(0, 4), ['a.c', 'include/b.h', '/abs/inc/c.h', '/x/d.h']);
  });

  it('DWARF 3: every standard opcode, an unknown standard opcode, discriminators and unknown extended opcodes', () => {
    const d = program({ version: 3, opcodeBase: 14, files: [{ name: 'f.s', dir: 0 }] }, (b, op) => {
      op.setAddress(0x400000).setColumn(7).copy();
      op.raw(13, 0x81, 0x01, 0x05); // opcode 13, declared with two LEB128 operands: skipped
      op.advancePc(4).advanceLine(9).negateStmt().raw(7).copy(); // basic_block
      op.negateStmt().raw(8); // const_add_pc: (255 - 14) / 14 = 17
      op.raw(10).raw(11).raw(12, 0x05).special(0, 1); // prologue_end, epilogue_begin, set_isa 5
      op.raw(9, 0x10, 0x00); // fixed_advance_pc 16
      op.raw(0, 2, 4, 3); // set_discriminator 3
      op.raw(0, 3, 0x80, 0xaa, 0xbb); // DW_LNE_lo_user with two bytes of payload
      op.advanceLine(-11).copy(); // line 0: no source line
      op.advancePc(3).endSequence();
    });
    assert.deepEqual(rows(d), [
      '0x400000 f.s:1:7', '0x400004 f.s:10:7 !stmt', '0x400015 f.s:11:7', '0x400025 f.s:0:7', 'end 0x400028',
    ]);
    assert.deepEqual(d.info.lineForAddress(0x400010n), { file: 'f.s', line: 10, column: 7 });
    assert.deepEqual(d.info.lineRangeForAddress(0x400010n), {
      start: 0x400004n, end: 0x400015n, location: { file: 'f.s', line: 10, column: 7 }, isStmt: false,
    });
    assert.equal(d.info.lineForAddress(0x400026n), undefined, 'line 0 is no line');
    assert.deepEqual(d.info.addressesForLine('f.s', 10), [], 'no is_stmt row');
    assert.deepEqual(d.info.linesWithCode('f.s'), [1, 11]);
    assert.deepEqual(d.warnings, []);
  });

  it('DWARF 4: minimum_instruction_length, several sequences and two programs in one section', () => {
    const a = lineProgram({ version: 4, minInstLength: 4, files: [{ name: 'a.c', dir: 0 }] }, (b, op) => {
      op.setAddress(0x8000).special(0, 0).special(2, 1).advancePc(3).endSequence();
      op.setAddress(0x7000).special(0, 4).advancePc(1).endSequence();
    });
    const b = lineProgram({ version: 4, files: [{ name: 'b.c', dir: 0 }] }, (bb, op) => {
      op.setAddress(0x9000).special(0, 2).advancePc(2).endSequence();
    });
    const d = decode({ line: new Bytes().append(a.program).append(b.program).bytes() });
    assert.equal(d.headers.length, 2);
    assert.deepEqual(d.headers.map((h) => h.offset), [0, a.program.length]);
    assert.deepEqual(rows(d), [
      '0x7000 a.c:5', 'end 0x7004', '0x8000 a.c:1', '0x8008 a.c:2', 'end 0x8014', '0x9000 b.c:3', 'end 0x9002',
    ]);
    assert.deepEqual(d.info.lineForAddress(0x8010n), { file: 'a.c', line: 2 });
    assert.equal(d.info.lineForAddress(0x7004n), undefined);
    assert.deepEqual(d.info.lineForAddress(0x9001n), { file: 'b.c', line: 3 });
    assert.deepEqual(d.info.addressesForLine('a.c', 2), [0x8008n]);
  });

  it('DWARF 5 in 64-bit DWARF: address size 8, DW_FORM_line_strp, directory indexes, MD5, file 0', () => {
    const md5a = '00112233445566778899aabbccddeeff';
    const md5b = 'ffeeddccbbaa99887766554433221100';
    const d = program(
      {
        version: 5, format64: true, addressSize: 8, lineStrp: true, compDir: '/work', dirs: ['inc'],
        files: [{ name: 'main.s', dir: 0, md5: md5a }, { name: 'x.inc', dir: 1, md5: md5b }],
      },
      (b, op) => {
        op.setAddress(0xffffffff80000000n).setFile(0).special(0, 2).setFile(1).special(5, 1).advancePc(1).endSequence();
      },
    );
    const h = d.headers[0];
    assert.equal(h.format64, true);
    assert.equal(h.addressSize, 8);
    assert.deepEqual(h.directories, ['/work', '/work/inc']);
    assert.deepEqual(h.files.map((f) => [f.path, f.md5]), [['/work/main.s', md5a], ['/work/inc/x.inc', md5b]]);
    assert.deepEqual(rows(d), ['0xffffffff80000000 /work/main.s:3', '0xffffffff80000005 /work/inc/x.inc:4', 'end 0xffffffff80000006']);
  });

  for (const version of [2, 3, 4] as const) {
    it(`DWARF ${version} in 64-bit DWARF (unit_length escape 0xffffffff)`, () => {
      const d = program({ version, format64: true, files: [{ name: 'w.s', dir: 0 }] }, (b, op) => {
        op.setAddress(0x1234).special(0, 4).special(6, 2).advancePc(2).endSequence();
      });
      assert.equal(d.headers[0].format64, true);
      assert.deepEqual(rows(d), ['0x1234 w.s:5', '0x123a w.s:7', 'end 0x123c']);
    });
  }

  it('VLIW op_index (maximum_operations_per_instruction 3)', () => {
    const d = program({ version: 4, minInstLength: 8, maxOps: 3, files: [{ name: 'v.s', dir: 0 }] }, (b, op) => {
      op.setAddress(0x100).special(1, 1).special(2, 1).advancePc(4).copy().endSequence();
    });
    assert.deepEqual(rows(d), ['0x100 v.s:2', '0x108 v.s:3', '0x110 v.s:3', 'end 0x110']);
  });

  it('a program without DW_LNE_end_sequence keeps its rows, with a warning', () => {
    const d = program({ version: 3, files: [{ name: 'n.s', dir: 0 }] }, (b, op) => {
      op.setAddress(0x500).special(1, 1).special(2, 1);
    });
    assert.deepEqual(rows(d), ['0x501 n.s:2', '0x503 n.s:3', 'end 0x503']);
    assert.match(d.warnings[0], /no DW_LNE_end_sequence/);
    assert.deepEqual(d.info.lineForAddress(0x502n), { file: 'n.s', line: 2 });
  });

  it('DW_LNE_set_address going backwards starts a new sequence', () => {
    const d = program({ version: 3, files: [{ name: 'n.s', dir: 0 }] }, (b, op) => {
      op.setAddress(0x600).copy().special(4, 1).setAddress(0x580).copy().special(2, 1).advancePc(2).endSequence();
    });
    assert.deepEqual(rows(d), ['0x580 n.s:2', '0x582 n.s:3', 'end 0x584', '0x600 n.s:1', '0x604 n.s:2', 'end 0x604']);
    assert.deepEqual(d.info.lineForAddress(0x583n), { file: 'n.s', line: 3 });
    assert.deepEqual(d.info.lineForAddress(0x603n), { file: 'n.s', line: 1 });
  });

  it('overlapping sequences: the innermost one that contains the address answers', () => {
    const d = program({ version: 3, files: [{ name: 'o.s', dir: 0 }] }, (b, op) => {
      op.setAddress(0x1000).copy().advancePc(0x100).endSequence();
      op.setAddress(0x1010).advanceLine(49).copy().advancePc(0x10).endSequence();
    });
    assert.equal(d.info.lineForAddress(0x1015n)?.line, 50);
    assert.equal(d.info.lineForAddress(0x1050n)?.line, 1);
    assert.equal(d.info.lineForAddress(0x1100n), undefined);
    assert.equal(d.info.lineForAddress(0xfffn), undefined);
  });

  it('address sizes 2, 4 and 8 in DW_LNE_set_address', () => {
    for (const size of [2, 4, 8]) {
      const d = program({ version: 3, files: [{ name: 's.s', dir: 0 }] }, (b, op) => {
        op.setAddress(0x7c00, size).copy().advancePc(1).endSequence();
      });
      assert.deepEqual(rows(d), ['0x7c00 s.s:1', 'end 0x7c01'], `size ${size}`);
    }
  });
});

describe('symbols: malformed input gives a DebugInfoError, never a RangeError or a hang', () => {
  const good = lineProgram({ version: 3, opcodeBase: 14, files: [{ name: 'f.s', dir: 0 }] }, (b, op) => {
    op.setAddress(0x400000).setColumn(7).copy().raw(13, 0x81, 0x01, 0x05).advancePc(4).advanceLine(9).copy();
    op.raw(8).special(0, 1).raw(9, 0x10, 0x00).raw(0, 2, 4, 3).advancePc(3).endSequence();
  }).program;

  it('a line program cut anywhere', () => {
    for (let len = 1; len < good.length; len++) {
      throwsDebugInfoError(() => decode({ line: good.subarray(0, len) }), /^\.debug_line at offset 0x[0-9a-f]+: /);
    }
  });

  it('a line program whose unit_length is cut to any size', () => {
    for (let len = 0; len < good.length - 4; len++) {
      const copy = new Bytes().append(good);
      copy.setU32(0, len);
      try {
        decode({ line: copy.bytes() });
      } catch (e) {
        assert.ok(e instanceof DebugInfoError, `unit_length ${len}: ${String(e)}`);
      }
    }
  });

  it('bad header fields name the field and the offset', () => {
    const patch = (at: number, ...bytes: number[]) => {
      const b = Array.from(good);
      b.splice(at, bytes.length, ...bytes);
      return Uint8Array.from(b);
    };
    throwsDebugInfoError(() => decode({ line: patch(4, 1, 0) }), /offset 0x4: unsupported line program version 1/);
    throwsDebugInfoError(() => decode({ line: patch(4, 6, 0) }), /unsupported line program version 6/);
    throwsDebugInfoError(() => decode({ line: patch(6, 0xff, 0xff, 0, 0) }), /header_length 0xffff runs past the end/);
    throwsDebugInfoError(() => decode({ line: patch(0, 0xf0, 0xff, 0xff, 0xff) }), /offset 0x0: .*unit_length 0xfffffff0 is a reserved value/);
    throwsDebugInfoError(() => decode({ line: patch(0, 0xff, 0xff, 0xff, 0xff) }), /64-bit DWARF/);
    // minimum_instruction_length is at 10, then default_is_stmt, line_base, line_range (13), opcode_base (14).
    throwsDebugInfoError(() => decode({ line: patch(13, 0) }), /offset 0xd: line_range is 0/);
    throwsDebugInfoError(() => decode({ line: patch(14, 0) }), /opcode_base is 0/);
    const wrong = lineProgram({ version: 3, files: [{ name: 'f.s', dir: 0 }] }, (b, op) => op.raw(0, 4, 2, 0, 0, 0));
    throwsDebugInfoError(() => decode({ line: wrong.program }), /DW_LNE_set_address with a 3-byte operand/);
    const long = lineProgram({ version: 3, files: [{ name: 'f.s', dir: 0 }] }, (b, op) => op.raw(0, 0x7f, 2));
    throwsDebugInfoError(() => decode({ line: long.program }), /extended opcode length 127 runs past the end/);
  });

  it('a DWARF 5 file count larger than the program', () => {
    const b = new Bytes();
    b.u16(5).u8(4, 0);
    const header = new Bytes().u8(1, 1, 1, 0xfb, 14, 13).u8(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1);
    header.u8(1).uleb(1).uleb(0x08).uleb(1).str('/d'); // one directory
    header.u8(1).uleb(1).uleb(0x08).uleb(1000000); // a million files in a few bytes
    b.u32(header.length).append(header);
    const line = new Bytes().u32(b.length).append(b).bytes();
    throwsDebugInfoError(() => decode({ line }), /file names_count 1000000 is larger than the line program/);
  });

  it('strings outside .debug_line_str', () => {
    const { program: line } = lineProgram(
      { version: 5, lineStrp: true, files: [{ name: 'a.s', dir: 0 }] }, (b, op) => op.setAddress(0).copy().endSequence(),
    );
    throwsDebugInfoError(() => decode({ line }), /no \.debug_line_str/);
    throwsDebugInfoError(() => decode({ line, lineStr: new Uint8Array([0x41]) }), /^\.debug_line_str at offset 0x0: .*no terminating NUL/);
    throwsDebugInfoError(() => decode({ line, lineStr: new Uint8Array([0]) }), /^\.debug_line_str at offset 0x6: .*string offset 0x6 is outside the section \(0x1 bytes\)/);
  });

  describe('damaged fixtures', () => {
    /** A copy of a fixture and where its sections are. */
    function open(name: string) {
      const bytes = fixture(name);
      const elf = parseElf(bytes);
      const section = (n: string) => elf.sections.find((s) => s.name === n)!;
      const shdr = (n: string) => elf.header.shoff + section(n).index * elf.header.shentsize;
      return { bytes, elf, section, shdr, view: new DataView(bytes.buffer) };
    }

    it('a .debug_line truncated to any length', () => {
      const { bytes, section, shdr, view } = open('nasm32.elf');
      const size = section('.debug_line').size;
      for (let len = 0; len < size; len++) {
        view.setUint32(shdr('.debug_line') + 20, len, true); // ELF32 sh_size
        try {
          loadDebugInfo(bytes);
        } catch (e) {
          assert.ok(e instanceof DebugInfoError, `length ${len}: ${String(e)}`);
          assert.match(e.message, /^\.debug_line at offset 0x[0-9a-f]+: |^\.debug_info at offset 0x0: DW_AT_stmt_list 0x0 .* is outside \.debug_line \(0x0 bytes\)/);
        }
      }
    });

    it('DW_AT_stmt_list past the end of .debug_line', () => {
      const { bytes, section, view } = open('nasm32.elf');
      view.setUint32(section('.debug_info').offset + 0x14, 0x1000, true); // readelf: <14> DW_AT_stmt_list
      throwsDebugInfoError(() => loadDebugInfo(bytes), /^\.debug_info at offset 0x0: DW_AT_stmt_list 0x1000 .* is outside \.debug_line/);
    });

    it('a debug_abbrev_offset past the end of .debug_abbrev', () => {
      const { bytes, section, view } = open('nasm32.elf');
      view.setUint32(section('.debug_info').offset + 6, 0x5000, true);
      throwsDebugInfoError(() => loadDebugInfo(bytes), /^\.debug_abbrev at offset 0x5000: abbreviation table offset 0x5000 is outside/);
    });

    it('a DW_FORM_strp offset past the end of .debug_str', () => {
      const { bytes, section, view } = open('gas32-dwarf2.elf');
      view.setUint32(section('.debug_info').offset + 0x18, 0xffff, true); // <18> DW_AT_name (strp)
      throwsDebugInfoError(() => loadDebugInfo(bytes), /^\.debug_str at offset 0xffff: DW_AT_name of a compile unit/);
    });

    it('an unknown form and an unknown abbreviation code', () => {
      const a = open('nasm32.elf');
      // .debug_abbrev: code 1, tag 0x11, children 1, then (low_pc 0x11, form addr 0x01): make the form 0x7f.
      a.bytes[a.section('.debug_abbrev').offset + 4] = 0x7f;
      throwsDebugInfoError(() => loadDebugInfo(a.bytes), /^\.debug_info at offset 0x[0-9a-f]+: .*unknown attribute form DW_FORM 0x7f/);
      const b = open('nasm32.elf');
      b.bytes[b.section('.debug_info').offset + 11] = 9; // the first DIE's abbreviation code
      throwsDebugInfoError(() => loadDebugInfo(b.bytes), /^\.debug_info at offset 0xb: DIE abbreviation code 9 is not in the abbreviation table/);
    });

    it('a unit version the reader does not know', () => {
      const { bytes, section, view } = open('gcc64-dwarf5.elf');
      view.setUint16(section('.debug_info').offset + 4, 7, true);
      throwsDebugInfoError(() => loadDebugInfo(bytes), /^\.debug_info at offset 0x0: unsupported DWARF version 7/);
    });

    it('random damage to the debug sections of every kind of fixture', function () {
      this.timeout(60000);
      let seed = 0x2545f491;
      const rand = (n: number) => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const started = Date.now();
      let failures = 0;
      let loads = 0;
      for (const name of ['nasm32.elf', 'gas64-dwarf5.elf', 'gcc32-dwarf4.elf', 'gcc64-dwarf5-O2.elf', 'gcc64-dwarf3.elf', 'llvm64-dwarf64.elf']) {
        const pristine = fixture(name);
        const elf = parseElf(pristine);
        const debug = elf.sections.filter((s) => s.name.startsWith('.debug_'));
        for (let i = 0; i < 300; i++) {
          const bytes = pristine.slice();
          for (let k = 1 + rand(6); k > 0; k--) {
            const s = debug[rand(debug.length)];
            if (s.size === 0) continue;
            bytes[s.offset + rand(s.size)] = rand(256);
          }
          try {
            const info = loadDebugInfo(bytes);
            loads++;
            for (const f of info.files()) info.linesWithCode(f).slice(0, 3).forEach((l) => info.addressesForLine(f, l));
            info.lineForAddress(elf.header.entry);
            info.symbolForAddress(elf.header.entry);
          } catch (e) {
            failures++;
            assert.ok(e instanceof DebugInfoError, `${name} iteration ${i}: ${(e as Error).stack}`);
          }
        }
      }
      assert.ok(loads > 0 && failures > 0, `${loads} loaded, ${failures} refused`);
      assert.ok(Date.now() - started < 20000, 'fuzzing took too long');
    });
  });

  it('sections read through elfSectionData stay views of the image (no copies)', () => {
    const bytes = fixture('nasm32.elf');
    const s = parseElf(bytes).sections.find((x) => x.name === '.debug_line')!;
    assert.equal(elfSectionData(bytes, s).buffer, bytes.buffer);
  });
});

describe('symbols: performance', () => {
  it('decodes a 3 MB .debug_line well under a second and answers lookups in microseconds', () => {
    const seqCount = 2000;
    const rowsPerSeq = 500;
    const parts: Uint8Array[] = [];
    for (let p = 0; p < 4; p++) {
      parts.push(lineProgram({ version: 4, files: [{ name: `p${p}.c`, dir: 0 }, { name: 'h.h', dir: 0 }] }, (b, op) => {
        for (let s = p; s < seqCount; s += 4) {
          op.setAddress(0x100000 + s * 0x1000);
          for (let r = 0; r < rowsPerSeq; r++) {
            if (r % 50 === 0) op.setFile(1 + ((r / 50) & 1));
            op.setColumn(1 + (r % 9)).special(1 + (r % 5), r % 7 === 6 ? -3 : 1);
          }
          op.advancePc(4).endSequence();
        }
      }).program);
    }
    const line = new Bytes();
    for (const p of parts) line.append(p);
    const bytes = line.bytes();
    assert.ok(bytes.length > 3_000_000, `${bytes.length} bytes`);

    const t0 = process.hrtime.bigint();
    const d = decode({ line: bytes });
    const parseMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(d.info.lineTable.rowCount, seqCount * rowsPerSeq);
    assert.equal(d.info.lineTable.sequenceCount, seqCount);
    assert.ok(parseMs < 1000, `decoding took ${parseMs.toFixed(0)} ms`);

    const t1 = process.hrtime.bigint();
    let found = 0;
    for (let i = 0; i < 100_000; i++) {
      const a = 0x100000n + BigInt((i * 7919) % (seqCount * 0x1000));
      if (d.info.lineForAddress(a) !== undefined) found++;
    }
    const lookupMs = Number(process.hrtime.bigint() - t1) / 1e6;
    assert.ok(found > 20_000, `${found} found`);
    assert.ok(lookupMs < 1000, `100k lookups took ${lookupMs.toFixed(0)} ms`);

    const t2 = process.hrtime.bigint();
    const lines = d.info.linesWithCode('p0.c');
    for (const l of lines.slice(0, 200)) d.info.addressesForLine('p0.c', l);
    const lineMs = Number(process.hrtime.bigint() - t2) / 1e6;
    assert.ok(lines.length > 100);
    assert.ok(lineMs < 1000, `line index and 200 addressesForLine took ${lineMs.toFixed(0)} ms`);
    console.log(`      (3 MB .debug_line: decode ${parseMs.toFixed(0)} ms, 100k lookups ${lookupMs.toFixed(0)} ms, line index ${lineMs.toFixed(0)} ms)`);
  });
});
