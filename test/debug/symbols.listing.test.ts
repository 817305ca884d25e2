import { strict as assert } from 'assert';
import * as path from 'path';
import { DebugInfoError, loadNasmListing, SourceLocation } from '../../src/debug/symbols';
import { fixtureText, FIXTURES, hex, throwsDebugInfoError } from './symbolsHelpers';

/**
 * NASM listings (`nasm -f bin -l`) for flat images without DWARF. flat.lst is built by
 * test/fixtures/symbols/build.sh; MIXED_LISTING below is `nasm -f bin -l` output pasted verbatim
 * (its source is in the comment above it). Addresses were checked against the listing and the
 * bytes of the images (xxd).
 */

const addrs = (list: bigint[]): string[] => list.map((a) => hex(a));
const at = (loc: SourceLocation | undefined): string | undefined =>
  loc === undefined ? undefined : `${path.basename(loc.file)}:${loc.line}`;

/*
        bits 32
%macro QUIET 0.nolist
        nop
        nop
%endmacro
%macro LOUD 1
        mov eax, %1
%endmacro
struc pt
  .x: resd 1
endstruc
top:    times 3 mov eax, 1
        QUIET
        incbin "two.bin"
        resb 2
after:  LOUD 7
%if 0
never:  nop
%endif
        mov dword [0x11223344], 0x55667788
        section .data
dat:    dd 0x12345678, top
        section .text
tail:   ret
*/
const MIXED_LISTING = [
  '     1                                          bits 32',
  '     2                                  %macro QUIET 0.nolist',
  '     3                                          nop',
  '     4                                          nop',
  '     5                                  %endmacro',
  '     6                                  %macro LOUD 1',
  '     7                                          mov eax, %1',
  '     8                                  %endmacro',
  '     9                                  struc pt',
  '    10 00000000 ????????                  .x: resd 1',
  '    11                                  endstruc',
  '    12 00000000 B801000000<rep 3h>      top:    times 3 mov eax, 1',
  '    13 0000000F 9090                            QUIET',
  '    14 00000011 <bin 2h>                        incbin \"two.bin\"',
  '    15 00000013 ????                            resb 2',
  '    15          ******************       warning: uninitialized space declared in .text section: zeroing [-w+zeroing]',
  '    16                                  after:  LOUD 7',
  '    16                              <1> after: ',
  '     7 00000015 B807000000          <1>  mov eax, %1',
  '    17                                  %if 0',
  '    18                                  never:  nop',
  '    19                                  %endif',
  '    20 0000001A C70544332211887766-             mov dword [0x11223344], 0x55667788',
  '    20 00000023 55                 ',
  '    21                                          section .data',
  '    22 00000000 78563412[00000000]      dat:    dd 0x12345678, top',
  '    23                                          section .text',
  '    24 00000024 C3                      tail:   ret',
].join('\n');

describe('symbols: NASM listings', () => {
  describe('flat.lst: a boot sector with an include, nested macros and %rep', () => {
    const asm = path.join(FIXTURES, 'flat.asm');
    const inc = path.join(FIXTURES, 'inc', 'macros.inc');
    const text = fixtureText('flat.lst');
    const info = loadNasmListing(text, { asmPath: asm, loadAddress: 0x7c00 });

    it('covers exactly the image, in one sequence', () => {
      const seqs = info.lineTable.sequences();
      assert.deepEqual(seqs.map((s) => [hex(s.start), hex(s.end)]), [['0x7c00', '0x7e00']]); // flat.bin is 512 bytes
      assert.deepEqual(info.files(), [asm, inc]);
      assert.deepEqual(info.warnings, []);
    });

    it('maps addresses to the source line, the included file and macro bodies', () => {
      assert.equal(at(info.lineForAddress(0x7c00n)), 'macros.inc:8'); // inc_routine, in the include
      assert.equal(at(info.lineForAddress(0x7c03n)), 'macros.inc:9');
      assert.equal(at(info.lineForAddress(0x7c04n)), 'flat.asm:22');
      assert.equal(at(info.lineForAddress(0x7c06n)), 'flat.asm:23');
      // TWICE_POST 1, 2 expands to POST %1 / POST %2, which expand to the body in macros.inc.
      assert.equal(at(info.lineForAddress(0x7c07n)), 'macros.inc:3');
      assert.equal(at(info.lineForAddress(0x7c0dn)), 'macros.inc:4');
      assert.equal(at(info.lineForAddress(0x7c15n)), 'flat.asm:29'); // %rep body, first copy
      assert.equal(at(info.lineForAddress(0x7c16n)), 'flat.asm:29'); // second copy
      assert.equal(at(info.lineForAddress(0x7c1an)), 'flat.asm:15'); // ROUTINE 7: its body lines
      assert.equal(at(info.lineForAddress(0x7c2an)), 'flat.asm:35'); // msg, continued on a second listing line
      assert.deepEqual(info.lineRangeForAddress(0x7c30n), {
        start: 0x7c2en, end: 0x7dfen, location: { file: asm, line: 36 }, isStmt: true, // times 510 - ($ - $$) db 0
      });
      assert.equal(at(info.lineForAddress(0x7dffn)), 'flat.asm:37');
      assert.equal(info.lineForAddress(0x7e00n), undefined);
      assert.equal(info.lineForAddress(0x7bffn), undefined);
    });

    it('binds breakpoints on macro calls to the first byte of their expansion', () => {
      assert.deepEqual(addrs(info.addressesForLine(asm, 22)), ['0x7c04']);
      assert.deepEqual(addrs(info.addressesForLine(asm, 25)), ['0x7c07']); // TWICE_POST 1, 2
      assert.deepEqual(addrs(info.addressesForLine(asm, 9)), ['0x7c07']); // POST %1 inside TWICE_POST
      assert.deepEqual(addrs(info.addressesForLine(asm, 10)), ['0x7c0b']); // POST %2
      assert.deepEqual(addrs(info.addressesForLine(inc, 3)), ['0x7c07', '0x7c0b']); // the body, expanded twice
      assert.deepEqual(addrs(info.addressesForLine(asm, 34)), ['0x7c1a']); // ROUTINE 7
      assert.deepEqual(addrs(info.addressesForLine(asm, 16)), ['0x7c1c']);
      assert.deepEqual(addrs(info.addressesForLine(asm, 29)), ['0x7c15']);
      assert.deepEqual(info.addressesForLine(asm, 24), []); // blank
      assert.deepEqual(info.addressesForLine(asm, 8), []); // %macro line
      assert.deepEqual(addrs(info.addressesForLine('inc/macros.inc', 8)), ['0x7c00']);
      assert.deepEqual(addrs(info.addressesForLine('/elsewhere/flat.asm', 22)), ['0x7c04']);
    });

    it('lists the lines with code', () => {
      assert.deepEqual(info.linesWithCode(asm), [9, 10, 15, 16, 17, 18, 22, 23, 25, 26, 27, 29, 31, 32, 34, 35, 36, 37]);
      assert.deepEqual(info.linesWithCode(inc), [3, 4, 8, 9]);
    });

    it('takes labels as symbols, local ones and those a macro spells with its arguments', () => {
      assert.deepEqual(
        info.symbols().map((s) => `${s.name}=${hex(s.address)}`),
        ['inc_routine=0x7c00', 'start=0x7c04', 'start.halt=0x7c17', 'put7=0x7c1a', 'put7.again=0x7c1c', 'msg=0x7c21'],
      );
      assert.deepEqual(info.symbolForAddress(0x7c1fn), { name: 'put7.again', address: 0x7c1cn, offset: 3 });
      assert.deepEqual(info.symbolForAddress(0x7c05n), { name: 'start', address: 0x7c04n, offset: 1 });
      assert.deepEqual(info.symbolForAddress(0x7dffn), { name: 'msg', address: 0x7c21n, offset: 0x1de });
      assert.equal(info.symbolForAddress(0x7e00n), undefined);
      assert.equal(info.addressOfSymbol('put7'), 0x7c1an);
    });

    it("macroLines: 'invocation' steps over a macro as one line", () => {
      const inv = loadNasmListing(text, { asmPath: asm, loadAddress: 0x7c00n, macroLines: 'invocation' });
      assert.equal(at(inv.lineForAddress(0x7c07n)), 'flat.asm:25');
      assert.equal(at(inv.lineForAddress(0x7c0dn)), 'flat.asm:25');
      assert.equal(at(inv.lineForAddress(0x7c1cn)), 'flat.asm:34');
      assert.equal(at(inv.lineForAddress(0x7c16n)), 'flat.asm:29'); // %rep bodies keep their lines
      assert.deepEqual(addrs(inv.addressesForLine(asm, 25)), ['0x7c07']);
      assert.deepEqual(inv.addressesForLine(inc, 3), []);
      assert.deepEqual(inv.linesWithCode(inc), [8, 9]);
    });

    it('loads anywhere: the offsets are relative to the load address', () => {
      const high = loadNasmListing(text, { asmPath: asm, loadAddress: 0xffff0000n });
      assert.equal(at(high.lineForAddress(0xffff0004n)), 'flat.asm:22');
      assert.equal(high.addressOfSymbol('msg'), 0xffff0021n);
    });
  });

  describe('times, incbin, .nolist macros, reserved space, warnings, continuation lines and sections', () => {
    const asm = '/src/d.asm';
    const info = loadNasmListing(MIXED_LISTING, { asmPath: asm, loadAddress: 0x1000 });

    it('sizes each line from its data column', () => {
      const seqs = info.lineTable.sequences().map((s) => [hex(s.start), hex(s.end), s.rows.map((r) => r.line)]);
      assert.deepEqual(seqs, [
        ['0x1000', '0x1013', [12, 13, 14]], // times 3 x 5 bytes, QUIET (listed on its call), incbin 2 bytes
        // resb 2 is reserved space, not code: a gap
        ['0x1015', '0x1025', [7, 20, 24]], // LOUD 7's body, the 10-byte mov over two listing lines, tail
      ]);
      assert.equal(at(info.lineForAddress(0x100en)), 'd.asm:12');
      assert.equal(at(info.lineForAddress(0x1023n)), 'd.asm:20');
      assert.equal(info.lineForAddress(0x1013n), undefined);
      assert.deepEqual(addrs(info.addressesForLine(asm, 16)), ['0x1015']); // after: LOUD 7
    });

    it('leaves struc members, labels in false %if branches and unmapped sections out', () => {
      assert.deepEqual(info.symbols().map((s) => `${s.name}=${hex(s.address)}`), ['top=0x1000', 'after=0x1015', 'tail=0x1024']);
      assert.deepEqual(info.linesWithCode(asm), [7, 12, 13, 14, 16, 20, 24]); // 7: the body of LOUD
      assert.equal(info.warnings.length, 1);
      assert.match(info.warnings[0], /section \.data has no address/);
      assert.deepEqual(info.sections.get('.data'), { start: 0n, end: 8n, mapped: false });
    });

    it('maps other sections given their addresses', () => {
      const mapped = loadNasmListing(MIXED_LISTING, { asmPath: asm, loadAddress: 0x1000, sectionAddresses: { '.data': 0x1028 } });
      assert.deepEqual(mapped.warnings, []);
      assert.equal(at(mapped.lineForAddress(0x102cn)), 'd.asm:22');
      assert.equal(mapped.addressOfSymbol('dat'), 0x1028n);
    });

    it('reads -Ld listings (decimal counts) and CRLF line ends', () => {
      const decimal = MIXED_LISTING.replace('B801000000<rep 3h>', 'B801000000<rep 3> ').replace(/\n/g, '\r\n');
      const d = loadNasmListing(decimal, { asmPath: asm, loadAddress: 0x1000 });
      assert.deepEqual(d.lineTable.sequences().map((s) => [hex(s.start), hex(s.end)]), [['0x1000', '0x1013'], ['0x1015', '0x1025']]);
    });
  });

  it('survives random damage: a DebugInfo or a DebugInfoError, nothing else', () => {
    const text = fixtureText('flat.lst');
    const alphabet = ' \n<>%:;.0123456789ABCDEFabcdef[]()?-*';
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let i = 0; i < 500; i++) {
      const chars = text.split('');
      for (let k = 1 + rand(20); k > 0; k--) chars[rand(chars.length)] = alphabet[rand(alphabet.length)];
      try {
        const info = loadNasmListing(chars.join(''), { asmPath: '/f/flat.asm', loadAddress: 0x7c00 });
        for (let a = 0x7c00n; a < 0x7c40n; a++) info.lineForAddress(a);
        info.linesWithCode('/f/flat.asm').forEach((l) => info.addressesForLine('/f/flat.asm', l));
      } catch (e) {
        assert.ok(e instanceof DebugInfoError, String(e));
      }
    }
  });

  describe('what is not a listing', () => {
    it('is a DebugInfoError naming the listing', () => {
      const e = throwsDebugInfoError(
        () => loadNasmListing('mov eax, 1\nret\n', { asmPath: '/src/x.asm', loadAddress: 0 }),
        /NASM listing of \/src\/x\.asm/, /not a NASM listing/,
      );
      assert.ok(e instanceof DebugInfoError);
    });

    it('a load address that is no address is a DebugInfoError', () => {
      for (const loadAddress of [-1, 1.5, Number.NaN, 1n << 64n]) {
        throwsDebugInfoError(() => loadNasmListing('', { asmPath: '/x.asm', loadAddress }), /loadAddress .* is not an address/);
      }
      throwsDebugInfoError(
        () => loadNasmListing('', { asmPath: '/x.asm', loadAddress: 0, sectionAddresses: { '.data': -5 } }),
        /sectionAddresses\['\.data'\] -5 is not an address/,
      );
    });

    it('an empty listing is an empty DebugInfo; stray lines are warnings', () => {
      const empty = loadNasmListing('', { asmPath: '/src/x.asm', loadAddress: 0 });
      assert.deepEqual(empty.files(), ['/src/x.asm']);
      assert.equal(empty.lineForAddress(0n), undefined);
      const stray = loadNasmListing(`garbage\n${MIXED_LISTING}`, { asmPath: '/src/d.asm', loadAddress: 0x1000 });
      assert.match(stray.warnings[0], /line 1 is not a listing line/);
      assert.equal(at(stray.lineForAddress(0x1000n)), 'd.asm:12');
    });
  });
});
