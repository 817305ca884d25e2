import { strict as assert } from 'assert';
import * as path from 'path';
import { DebugInfo, loadDebugInfo, loadNasmListing, mergeDebugInfo } from '../../src/debug/symbols';
import { BUILD_DIR, fixture, fixtureText, FIXTURES, hex } from './symbolsHelpers';

/** Several DebugInfo as one: a flat image's listing plus extra ELF symbol files. */
describe('symbols: mergeDebugInfo', () => {
  const flat = loadNasmListing(fixtureText('flat.lst'), { asmPath: path.join(FIXTURES, 'flat.asm'), loadAddress: 0x7c00 });
  const nasm = loadDebugInfo(fixture('nasm32.elf'));
  const gcc = loadDebugInfo(fixture('gcc64-dwarf5.elf'));
  const merged = mergeDebugInfo([flat, nasm, gcc]);

  it('answers address lookups from whichever part covers the address', () => {
    assert.deepEqual(merged.lineForAddress(0x7c04n), { file: path.join(FIXTURES, 'flat.asm'), line: 22 });
    assert.deepEqual(merged.lineForAddress(0x100003n), { file: `${BUILD_DIR}/nasm32.asm`, line: 8 });
    assert.equal(merged.lineForAddress(0x200000n)?.file, `${BUILD_DIR}/include/util.h`);
    assert.equal(merged.lineForAddress(0x50n), undefined);
    assert.deepEqual(merged.lineRangeForAddress?.(0x100005n), nasm.lineRangeForAddress(0x100005n));
    assert.deepEqual(merged.symbolForAddress(0x100005n), { name: '_start', address: 0x100003n, offset: 2 });
    assert.deepEqual(merged.symbolForAddress(0x7c05n), { name: 'start', address: 0x7c04n, offset: 1 });
    assert.equal(merged.symbolForAddress(0x10n), undefined);
  });

  it('unites breakpoint addresses, lines with code, files and symbols', () => {
    // inc/macros.inc is in both the listing and nasm32.elf.
    assert.deepEqual(merged.addressesForLine('inc/macros.inc', 3).map(hex), ['0x7c07', '0x7c0b', '0x10000d']);
    assert.deepEqual(merged.linesWithCode('macros.inc'), [3, 4, 8, 9]);
    assert.deepEqual(merged.addressesForLine('prog.c', 17), []);
    const files = merged.files();
    assert.equal(new Set(files).size, files.length);
    assert.ok(files.includes(`${BUILD_DIR}/prog.c`) && files.includes(path.join(FIXTURES, 'flat.asm')));
    const names = merged.symbols?.().map((s) => s.name) ?? [];
    assert.ok(names.includes('put7') && names.includes('add_two') && names.includes('scale'));
    const addresses = merged.symbols?.().map((s) => s.address) ?? [];
    assert.deepEqual(addresses, [...addresses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('finds a symbol in the first part that has it', () => {
    assert.equal(merged.addressOfSymbol('_start'), 0x100003n); // nasm32 comes before gcc64
    assert.equal(mergeDebugInfo([gcc, nasm]).addressOfSymbol('_start'), gcc.addressOfSymbol('_start'));
    assert.equal(merged.addressOfSymbol('msg'), 0x7c21n);
    assert.equal(merged.addressOfSymbol('missing'), undefined);
  });

  it('prefers the most specific row where parts overlap, and works with parts lacking the extras', () => {
    // The same listing at 0x100000 overlaps nasm32.elf: each row's start decides.
    const over = loadNasmListing(fixtureText('flat.lst'), { asmPath: '/o/flat.asm', loadAddress: 0x100000 });
    const both = mergeDebugInfo([over, nasm]);
    assert.equal(both.lineRangeForAddress?.(0x100004n)?.start, 0x100004n); // the listing's row (start:, cli)
    assert.equal(both.lineRangeForAddress?.(0x100008n)?.start, 0x100008n); // nasm32's row for line 9
    const plain: DebugInfo = {
      lineForAddress: (a) => (a === 0x42n ? { file: '/m.s', line: 7 } : undefined),
      addressesForLine: (f, l) => (l === 7 ? [0x42n] : []),
      linesWithCode: () => [7],
      symbolForAddress: (a) => (a >= 0x40n && a < 0x50n ? { name: 'm', address: 0x40n, offset: Number(a - 0x40n) } : undefined),
      addressOfSymbol: (n) => (n === 'm' ? 0x40n : undefined),
      files: () => ['/m.s'],
    };
    const m = mergeDebugInfo([nasm, plain]);
    assert.deepEqual(m.lineForAddress(0x42n), { file: '/m.s', line: 7 });
    assert.deepEqual(m.addressesForLine('/m.s', 7), [0x42n]);
    assert.deepEqual(m.symbolForAddress(0x44n), { name: 'm', address: 0x40n, offset: 4 });
    assert.ok(m.files().includes('/m.s'));
  });

  it('one part is itself; none is an empty DebugInfo', () => {
    assert.equal(mergeDebugInfo([nasm]), nasm);
    const none = mergeDebugInfo([]);
    assert.equal(none.lineForAddress(0x100003n), undefined);
    assert.deepEqual(none.files(), []);
    assert.deepEqual(none.addressesForLine('x', 1), []);
  });

  it('collects the warnings of its parts', () => {
    const withWarning = loadNasmListing('garbage\n     1                                          bits 32\n', { asmPath: '/x.asm', loadAddress: 0 });
    assert.equal(withWarning.warnings.length, 1);
    assert.deepEqual(mergeDebugInfo([nasm, withWarning]).warnings, withWarning.warnings);
  });
});
