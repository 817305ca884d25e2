import { strict as assert } from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DebugInfoError, ElfDebugInfo, loadDebugInfo, SourceLocation } from '../../src/debug/symbols';
import { BUILD_DIR, decodedLine, DumpSequence, fixture, FIXTURES, hex, throwsDebugInfoError } from './symbolsHelpers';

/**
 * ELF symbols and DWARF line tables from the producers users have (see
 * test/fixtures/symbols/build.sh). Line numbers and addresses below were read off
 * `objdump --dwarf=decodedline`, `readelf --debug-dump=line,info` and `nm -nS` of the fixtures; the
 * whole of each objdump dump is also compared row by row.
 */

const load = (name: string): ElfDebugInfo => loadDebugInfo(fixture(`${name}.elf`), { path: `${name}.elf` });
const src = (name: string): string => `${BUILD_DIR}/${name}`;
const addrs = (list: bigint[]): string[] => list.map((a) => hex(a));
/** File and line of a location (GCC records columns too; NASM and GNU as don't). */
const fl = (loc: SourceLocation | undefined) => (loc === undefined ? undefined : { file: loc.file, line: loc.line });

/** Every fixture, with the DWARF versions readelf reports for its line programs and units. */
const FIXTURE_VERSIONS: Record<string, { line: number[]; info: number[]; addressSize: number; format64?: boolean }> = {
  nasm32: { line: [2], info: [2], addressSize: 4 },
  nasm64: { line: [3], info: [3], addressSize: 8 },
  'gas32-dwarf2': { line: [3], info: [2], addressSize: 4 },
  'gas32-dwarf4': { line: [4], info: [4], addressSize: 4 },
  'gas64-dwarf3': { line: [3], info: [3], addressSize: 8 },
  'gas64-dwarf5': { line: [5], info: [5], addressSize: 8 },
  'gcc32-dwarf2': { line: [3, 3], info: [2, 2], addressSize: 4 },
  'gcc32-dwarf4': { line: [4, 4], info: [4, 4], addressSize: 4 },
  'gcc64-dwarf3': { line: [3, 3], info: [3, 3], addressSize: 8 },
  'gcc64-dwarf5': { line: [5, 5], info: [5, 5], addressSize: 8 },
  'gcc64-dwarf5-O2': { line: [5, 5], info: [5, 5], addressSize: 8 },
  'gcc64-dwarf4-64bit': { line: [4, 4], info: [4, 4], addressSize: 8, format64: true },
  'llvm64-dwarf64': { line: [5], info: [5], addressSize: 8, format64: true },
};

/** The row objdump's table says is in effect at `a`: the last is_stmt row at the greatest address <= a. */
function expectedAt(seqs: DumpSequence[], a: bigint): { file: string; line: number } | undefined {
  for (const s of seqs) {
    if (s.rows.length === 0 || a < s.rows[0].address || a >= s.end) continue;
    let best = -1;
    for (let i = 0; i < s.rows.length; i++) if (s.rows[i].address <= a) best = i;
    const at = s.rows[best].address;
    let pick = best;
    if (!s.rows[best].isStmt) {
      for (let j = best - 1; j >= 0 && s.rows[j].address === at; j--) {
        if (s.rows[j].isStmt) {
          pick = j;
          break;
        }
      }
    }
    return s.rows[pick];
  }
  return undefined;
}

describe('symbols: ELF + DWARF', () => {
  describe('every fixture against objdump --dwarf=decodedline', () => {
    for (const [name, v] of Object.entries(FIXTURE_VERSIONS)) {
      it(`${name}: versions, formats and every row`, () => {
        const info = load(name);
        assert.deepEqual(info.linePrograms.map((p) => p.version), v.line, 'line program versions');
        assert.deepEqual(info.units.map((u) => u.version), v.info, 'unit versions');
        for (const u of info.units) {
          assert.equal(u.addressSize, v.addressSize);
          assert.equal(u.format64, v.format64 ?? false);
          assert.equal(u.compDir?.replace(/\/$/, ''), BUILD_DIR);
        }

        // objdump lists discarded code too; the reader drops sequences outside the loaded sections.
        const dump = decodedLine(name);
        const kept = dump.filter((s) => s.rows[0].address !== 0n);
        kept.sort((a, b) => (a.rows[0].address < b.rows[0].address ? -1 : a.rows[0].address > b.rows[0].address ? 1 : 0));
        const mine = info.lineTable.sequences();
        assert.equal(mine.length, kept.length, 'sequence count');
        mine.forEach((seq, i) => {
          const theirs = kept[i];
          assert.equal(hex(seq.end), hex(theirs.end), `sequence ${i} end`);
          assert.equal(seq.rows.length, theirs.rows.length, `sequence ${i} row count`);
          seq.rows.forEach((row, j) => {
            const t = theirs.rows[j];
            const where = `${name} sequence ${i} row ${j}`;
            assert.equal(hex(row.address), hex(t.address), `${where} address`);
            assert.equal(row.line, t.line, `${where} line`);
            assert.equal(row.isStmt, t.isStmt, `${where} is_stmt`);
            assert.ok(row.file === src(t.file) || row.file.endsWith('/' + t.file), `${where}: ${row.file} vs ${t.file}`);
          });
        });

        // lineForAddress at every address each sequence covers, and just past its end.
        for (const s of kept) {
          for (let a = s.rows[0].address; a <= s.end; a++) {
            const want = expectedAt(kept, a);
            const got = info.lineForAddress(a);
            if (want === undefined) {
              assert.equal(got, undefined, `${hex(a)} is past the code`);
              continue;
            }
            assert.ok(got !== undefined, `${name} ${hex(a)}`);
            assert.equal(got.line, want.line, `${name} line at ${hex(a)}`);
            assert.ok(got.file.endsWith('/' + want.file) || got.file === src(want.file), `${name} file at ${hex(a)}`);
          }
        }
        if (dump.length !== kept.length) {
          assert.ok(info.warnings.some((w) => /dropped/.test(w)), 'a warning names the dropped sequences');
        }
      });
    }
  });

  describe('NASM -f elf32 -g -F dwarf (DWARF 2)', () => {
    const info = load('nasm32');
    const asm = src('nasm32.asm');
    const inc = src('inc/macros.inc');

    it('lists the files with absolute paths built from DW_AT_comp_dir', () => {
      assert.deepEqual(info.files(), [inc, asm]);
      assert.equal(info.units[0].producer, 'NASM 2.16.01');
      assert.equal(info.units[0].name, 'nasm32.asm');
    });

    it('maps addresses to lines, macro expansions to the macro body in the include', () => {
      assert.deepEqual(fl(info.lineForAddress(0x100003n)), { file: asm, line: 8 });
      assert.deepEqual(fl(info.lineForAddress(0x100007n)), { file: asm, line: 8 });
      assert.deepEqual(fl(info.lineForAddress(0x10000dn)), { file: inc, line: 3 }); // POST 0x11 expands here
      assert.deepEqual(fl(info.lineForAddress(0x10000fn)), { file: inc, line: 4 });
      assert.deepEqual(fl(info.lineForAddress(0x100000n)), { file: inc, line: 8 }); // inc_routine
      assert.deepEqual(fl(info.lineForAddress(0x100021n)), { file: asm, line: 19 });
      assert.equal(info.lineForAddress(0x100022n), undefined); // end_sequence
      assert.equal(info.lineForAddress(0xfffffn), undefined);
    });

    it('gives the row ranges for stepping', () => {
      assert.deepEqual(info.lineRangeForAddress(0x100005n), {
        start: 0x100003n, end: 0x100008n, location: { file: asm, line: 8 }, isStmt: true,
      });
    });

    it('finds breakpoint addresses; a line without code has none', () => {
      assert.deepEqual(addrs(info.addressesForLine(asm, 8)), ['0x100003']);
      assert.deepEqual(addrs(info.addressesForLine(asm, 17)), ['0x10001e']);
      assert.deepEqual(info.addressesForLine(asm, 18), []); // blank line inside add_two
      assert.deepEqual(info.addressesForLine(asm, 10), []); // the macro call: NASM's DWARF gives it no row
      assert.deepEqual(info.addressesForLine(asm, 1000), []);
      assert.deepEqual(addrs(info.addressesForLine(inc, 3)), ['0x10000d']);
    });

    it('matches a file given relative, absolute, from another checkout or with another case', () => {
      for (const f of ['nasm32.asm', asm, path.join(FIXTURES, 'nasm32.asm'), '/home/someone/proj/nasm32.asm', 'C:\\proj\\NASM32.ASM']) {
        assert.deepEqual(addrs(info.addressesForLine(f, 8)), ['0x100003'], f);
      }
      for (const f of ['inc/macros.inc', 'macros.inc', path.join(FIXTURES, 'inc', 'macros.inc')]) {
        assert.deepEqual(info.linesWithCode(f), [3, 4, 8, 9], f);
      }
      assert.deepEqual(info.linesWithCode('other/macros.inc'), [], 'a relative name must match all its components');
      assert.deepEqual(info.linesWithCode('missing.asm'), []);
    });

    it('lists lines with code', () => {
      assert.deepEqual(info.linesWithCode(asm), [8, 9, 11, 12, 13, 14, 17, 19]);
    });

    it('finds symbols, labels and NASM local labels', () => {
      assert.deepEqual(info.symbolForAddress(0x100000n), { name: 'inc_routine', address: 0x100000n, offset: 0 });
      assert.deepEqual(info.symbolForAddress(0x100005n), { name: '_start', address: 0x100003n, offset: 2 });
      assert.deepEqual(info.symbolForAddress(0x10001cn), { name: '_start.spin', address: 0x10001bn, offset: 1 });
      assert.deepEqual(info.symbolForAddress(0x100021n), { name: 'add_two', address: 0x10001en, offset: 3 });
      // Labels without a size end with their section: .text ends at 0x100022, .bss starts at 0x100024.
      assert.equal(info.symbolForAddress(0x100022n), undefined);
      assert.equal(info.symbolForAddress(0xfffffn), undefined);
      // stack_top sits just past .bss: it names its own address only.
      assert.deepEqual(info.symbolForAddress(0x100124n), { name: 'stack_top', address: 0x100124n, offset: 0 });
      assert.equal(info.symbolForAddress(0x100125n), undefined);
      assert.equal(info.addressOfSymbol('_start'), 0x100003n);
      assert.equal(info.addressOfSymbol('_start.spin'), 0x10001bn);
      assert.equal(info.addressOfSymbol('stack_top'), 0x100124n);
      assert.equal(info.addressOfSymbol('nope'), undefined);
    });
  });

  describe('NASM -f elf64 in the higher half (DWARF 3, addresses above 2^53)', () => {
    const info = load('nasm64');
    const asm = src('nasm64.asm');

    it('keeps 64-bit addresses exact', () => {
      assert.deepEqual(fl(info.lineForAddress(0xffffffff80100003n)), { file: asm, line: 8 });
      assert.deepEqual(fl(info.lineForAddress(0xffffffff8010000an)), { file: asm, line: 8 });
      assert.deepEqual(fl(info.lineForAddress(0xffffffff8010000dn)), { file: asm, line: 9 });
      assert.deepEqual(addrs(info.addressesForLine(asm, 9)), ['0xffffffff8010000d']);
      assert.deepEqual(info.symbolForAddress(0xffffffff80100021n), {
        name: '_start.spin', address: 0xffffffff80100020n, offset: 1,
      });
      assert.equal(info.addressOfSymbol('add_two'), 0xffffffff80100023n);
      assert.equal(info.lineForAddress(0x80100003n), undefined);
    });
  });

  describe('GNU as --gdwarf-2/3/4/5', () => {
    for (const name of ['gas32-dwarf2', 'gas32-dwarf4', 'gas64-dwarf3', 'gas64-dwarf5']) {
      it(`${name}: lines, the .include'd file, the macro call and function symbols`, () => {
        const info = load(name);
        const base = name.startsWith('gas32') ? 0x100000n : 0x200000n;
        const s = src('gas.s');
        const m = src('inc/gasmacros.s');
        assert.deepEqual(new Set(info.files()), new Set([s, m]));
        assert.deepEqual(fl(info.lineForAddress(base)), { file: m, line: 10 });
        assert.deepEqual(fl(info.lineForAddress(base + 3n)), { file: s, line: 8 });
        // GNU as attributes a macro expansion to the line that calls it.
        assert.deepEqual(fl(info.lineForAddress(base + 8n)), { file: s, line: 9 });
        assert.deepEqual(fl(info.lineForAddress(base + 0xbn)), { file: s, line: 9 });
        assert.deepEqual(addrs(info.addressesForLine(s, 9)), [hex(base + 8n)]);
        assert.deepEqual(info.addressesForLine(s, 19), []);
        assert.deepEqual(info.linesWithCode(s), [8, 9, 10, 11, 12, 13, 18, 20]);
        assert.deepEqual(info.linesWithCode('gasmacros.s'), [10, 11]);
        assert.deepEqual(info.symbolForAddress(base + 0x1cn), { name: 'add_two', address: base + 0x19n, offset: 3 });
        assert.equal(info.addressOfSymbol('gas_routine'), base);
        // GNU as describes its functions in .debug_info (from .type/.size).
        assert.deepEqual(info.subprograms.map((p) => p.name), ['gas_routine', '_start', 'add_two']);
      });
    }

    it('DWARF 5: directory and file tables with DW_FORM_line_strp', () => {
      const info = load('gas64-dwarf5');
      const p = info.linePrograms[0];
      assert.deepEqual(p.directories, [BUILD_DIR, src('inc')]);
      assert.deepEqual(p.files.map((f) => [f.name, f.dirIndex, f.path]), [
        ['gasmacros.s', 1, src('inc/gasmacros.s')],
        ['gasmacros.s', 1, src('inc/gasmacros.s')],
        ['gas.s', 0, src('gas.s')],
      ]);
    });
  });

  describe('GCC, two compilation units and an inline function in a header', () => {
    const variants: [string, bigint][] = [
      ['gcc32-dwarf2', 0x100000n], ['gcc32-dwarf4', 0x100000n], ['gcc64-dwarf5', 0x200000n], ['gcc64-dwarf4-64bit', 0x200000n],
    ];
    for (const [name, base] of variants) {
      it(`${name} (-O0): lines, breakpoints, a for loop, files and functions`, () => {
        const info = load(name);
        const prog = src('prog.c');
        const util = src('util.c');
        const h = src('include/util.h');
        assert.deepEqual(new Set(info.files()), new Set([prog, util, h]));
        assert.deepEqual(info.units.map((u) => u.name), ['prog.c', 'util.c']);
        assert.match(info.units[0].producer ?? '', /^GNU C17 12\.2\.0 /);
        assert.deepEqual(info.linesWithCode(prog), [7, 8, 9, 10, 11, 12, 15, 16, 18, 20]);
        assert.deepEqual(info.linesWithCode('util.c'), [5, 6, 7, 10, 11, 12]);
        assert.deepEqual(info.linesWithCode('include/util.h'), [3, 4, 5]);
        assert.deepEqual(info.linesWithCode('util.h'), [3, 4, 5]);

        const scale = info.addressOfSymbol('scale')!;
        const start = info.addressOfSymbol('_start')!;
        assert.equal(info.addressOfSymbol('twice'), base);
        assert.deepEqual(fl(info.lineForAddress(base)), { file: h, line: 3 });
        assert.deepEqual(fl(info.lineForAddress(scale)), { file: prog, line: 7 });
        assert.deepEqual(fl(info.lineForAddress(start)), { file: prog, line: 15 });
        const line8 = decodedLine(name).flatMap((q) => q.rows).find((r) => r.file === 'prog.c' && r.line === 8)!;
        assert.deepEqual(info.lineForAddress(line8.address + 1n), { file: prog, line: 8, column: 6 }); // int total = 0;
        // The for line has four is_stmt rows in scale (init, condition twice, increment): one breakpoint.
        const forRows = decodedLine(name).flatMap((s) => s.rows).filter((r) => r.file === 'prog.c' && r.line === 9);
        assert.equal(forRows.length, 4);
        assert.deepEqual(addrs(info.addressesForLine(prog, 9)), [hex(forRows[0].address)]);
        assert.deepEqual(addrs(info.addressesForLine(prog, 7)), [hex(scale)]);
        assert.deepEqual(addrs(info.addressesForLine(prog, 15)), [hex(start)]);
        assert.deepEqual(info.addressesForLine(prog, 17), []); // blank
        assert.deepEqual(info.addressesForLine(prog, 13), []); // between functions
        assert.deepEqual(info.addressesForLine(prog, 1), []); // comment
        const line6 = decodedLine(name).flatMap((q) => q.rows).filter((r) => r.file === 'util.c' && r.line === 6);
        assert.equal(line6.length, 1);
        assert.deepEqual(addrs(info.addressesForLine('util.c', 6)), [hex(line6[0].address)]);

        assert.deepEqual(info.symbolForAddress(scale + 0x16n), { name: 'scale', address: scale, offset: 0x16 });
        assert.deepEqual(info.symbolForAddress(base + 2n), { name: 'twice', address: base, offset: 2 });
        const sink = info.addressOfSymbol('sink')!;
        assert.deepEqual(info.symbolForAddress(sink + 3n), { name: 'sink', address: sink, offset: 3 });
        assert.equal(info.symbolForAddress(sink + 4n), undefined, 'sink is 4 bytes');
        assert.deepEqual(
          info.subprograms.map((p) => p.name).sort(), ['_start', 'add', 'scale', 'twice', 'unused_helper'],
        );
      });
    }

    it('gcc64-dwarf3 (-O1 -ffunction-sections): DW_AT_ranges from .debug_ranges', () => {
      const info = load('gcc64-dwarf3');
      assert.deepEqual(info.units.map((u) => u.ranges.map((r) => `${hex(r.start)}-${hex(r.end)}`)), [
        ['0x200000-0x200023', '0x200023-0x20005a'],
        ['0x20005a-0x20005e', '0x20005e-0x200063'],
      ]);
      assert.equal(info.units[0].stmtList, 0);
      assert.equal(info.units[1].stmtList, 0xc7);
    });

    it('gcc64-dwarf5-O2: inlining, is_stmt changes, .debug_rnglists, discarded functions, the higher half', () => {
      const info = load('gcc64-dwarf5-O2');
      const prog = src('prog.c');
      // DW_AT_ranges from .debug_rnglists; scale and unused_helper were garbage-collected to 0.
      assert.deepEqual(info.units[0].ranges.map((r) => `${hex(r.start)}-${hex(r.end)}`), [
        '0x0-0x25', '0xffffffff80100000-0xffffffff80100033',
      ]);
      assert.ok(info.warnings.some((w) => /2 line-table sequence\(s\) lie outside/.test(w)));
      assert.equal(info.lineForAddress(0n), undefined, 'rows of discarded code are dropped');
      assert.equal(info.lineForAddress(0x10n), undefined);
      assert.deepEqual(info.addressesForLine('util.c', 11), [], 'unused_helper was discarded');
      // Three rows at _start: lines 15, 16 (is_stmt) and 15 (not): the statement line wins.
      assert.deepEqual(fl(info.lineForAddress(0xffffffff80100000n)), { file: prog, line: 16 });
      // 0x...04 is covered by a row that is not a statement start: it still names its line.
      assert.deepEqual(info.lineRangeForAddress(0xffffffff80100004n), {
        start: 0xffffffff80100004n, end: 0xffffffff80100009n, location: { file: prog, line: 18, column: 10 }, isStmt: false,
      });
      assert.deepEqual(addrs(info.addressesForLine(prog, 18)), ['0xffffffff80100013']);
      assert.deepEqual(info.linesWithCode(prog), [15, 16, 18, 19, 20]);
      assert.deepEqual(info.symbolForAddress(0xffffffff80100041n), {
        name: 'add', address: 0xffffffff80100040n, offset: 1,
      });
    });
  });

  describe('64-bit DWARF and MD5 checksums (llvm-mc -dwarf64, DWARF 5)', () => {
    it('reads the 64-bit unit headers and the MD5 of the source', () => {
      const info = load('llvm64-dwarf64');
      const p = info.linePrograms[0];
      assert.equal(p.format64, true);
      assert.equal(p.addressSize, 8);
      const md5 = createHash('md5').update(fs.readFileSync(path.join(FIXTURES, 'gas.s'))).digest('hex');
      assert.equal(p.files[0].md5, md5);
      assert.deepEqual(fl(info.lineForAddress(0x200008n)), { file: src('gas.s'), line: 9 });
    });
  });

  describe('options and images without debug information', () => {
    it('bias moves every address', () => {
      const plain = load('gcc32-dwarf4');
      const moved = loadDebugInfo(fixture('gcc32-dwarf4.elf'), { bias: 0x1000 });
      assert.deepEqual(moved.lineForAddress(0x101020n), plain.lineForAddress(0x100020n));
      assert.equal(moved.addressOfSymbol('scale'), plain.addressOfSymbol('scale')! + 0x1000n);
      assert.deepEqual(addrs(moved.addressesForLine('prog.c', 9)), addrs(plain.addressesForLine('prog.c', 9).map((a) => a + 0x1000n)));
      assert.deepEqual(moved.symbolForAddress(0x101020n)?.name, 'scale');
      const down = loadDebugInfo(fixture('gcc32-dwarf4.elf'), { bias: -0x100000n });
      assert.deepEqual(down.lineForAddress(0x20n), plain.lineForAddress(0x100020n));
      throwsDebugInfoError(() => loadDebugInfo(fixture('gcc32-dwarf4.elf'), { bias: 0.5 }), /bias 0\.5 is not an integer/);
    });

    it('compressed debug sections: SHF_COMPRESSED zlib and GNU .zdebug; zstd is refused by name', () => {
      const plain = load('gcc32-dwarf4');
      for (const name of ['gcc32-dwarf4-zlib', 'gcc32-dwarf4-zlib-gnu']) {
        const info = load(name);
        assert.deepEqual(info.lineTable.sequences(), plain.lineTable.sequences(), name);
        assert.deepEqual(info.units.map((u) => u.name), ['prog.c', 'util.c']);
      }
      throwsDebugInfoError(() => load('gcc32-dwarf4-zstd'), /^\.debug_\w+ at offset 0x0: compressed with ch_type 2 \(zstd\); only zlib/);
    });

    it('an ELF without DWARF gives symbols only', () => {
      const loaders = path.join(FIXTURES, '..', 'loaders', 'elf32.elf');
      const info = loadDebugInfo(new Uint8Array(fs.readFileSync(loaders)));
      assert.deepEqual(info.files(), []);
      assert.equal(info.lineForAddress(0x100000n), undefined);
      assert.ok(info.symbols().length > 0);
      assert.equal(info.symbolForAddress(info.symbols()[0].address)?.name, info.symbols()[0].name);
    });

    it('what is not an ELF image is a DebugInfoError naming the file', () => {
      const e = throwsDebugInfoError(() => loadDebugInfo(new Uint8Array([1, 2, 3, 4, 5]), { path: 'x.bin' }), /^x\.bin: /, /not an ELF/);
      assert.ok(e instanceof DebugInfoError);
      throwsDebugInfoError(() => loadDebugInfo(fixture('gcc32-dwarf4.elf').subarray(0, 40)), /truncated/);
    });
  });
});
