// Structural checks of the native vector files and their loader (no emulator involved).
import * as assert from 'assert';
import * as path from 'path';
import { CHECKED_FLAGS, listVectorFiles, loadVectorFile, placeAt } from './vectors';

describe('diff vectors (test/diff/vectors)', () => {
  const files = listVectorFiles();

  it('has the expected 64-bit and 32-bit groups', () => {
    const names = files.map((f) => path.basename(f).replace(/\.json(\.gz)?$/, ''));
    for (const g of ['alu', 'shift', 'bit', 'muldiv', 'misc', 'cond', 'string']) {
      assert.ok(names.includes(`${g}64`), `${g}64 missing`);
      assert.ok(names.includes(`${g}32`), `${g}32 missing`);
    }
    assert.ok(names.includes('bcd32'), 'bcd32 missing');
  });

  for (const file of files) {
    it(`${path.basename(file)} loads and is well-formed`, () => {
      const forms = loadVectorFile(file);
      assert.ok(forms.length > 0);
      for (const f of forms) {
        assert.ok(f.vectors.length > 0, f.asmTemplate);
        for (const v of f.vectors) {
          assert.ok(v.code.length >= 1 && v.code.length <= 15, v.asm);
          assert.ok(!v.asm.includes('{i}'), v.asm);
          assert.deepStrictEqual(Object.keys(v.out).sort(), Object.keys(v.in).sort(), v.asm);
          assert.strictEqual(v.flagsMask & v.undefMask, 0, v.asm);
          assert.strictEqual(v.flagsMask | v.undefMask, CHECKED_FLAGS, v.asm);
          const lim = (1n << BigInt(v.bits)) - 1n;
          for (const k of Object.keys(v.in)) assert.ok(v.in[k] >= 0n && v.in[k] <= lim && v.out[k] <= lim, v.asm);
          if (v.mem) {
            assert.strictEqual(v.mem.before.length, v.mem.size);
            assert.strictEqual(v.mem.after.length, v.mem.size);
            const placed = placeAt(v, 0x1000n);
            for (const p of v.mem.ptrRegs) assert.strictEqual(placed.in[p], (0x1000n + v.in[p]) & lim);
          }
          if (v.exc !== undefined) assert.strictEqual(v.exc, 0, v.asm); // only #DE is generated
        }
      }
    });
  }
});
