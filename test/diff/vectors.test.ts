// Structural checks of the native vector files and their loader (no emulator involved).
import * as assert from 'assert';
import * as path from 'path';
import { CHECKED_FLAGS, listVectorFiles, loadForms, loadVectorFile, loadVectors, placeAt } from './vectors';

/** The count every form is generated with (gen.c / bmi/gen.c NVEC; README "Counts and size"). */
const MIN_VECTORS_PER_FORM = 2000;
/**
 * Vectors checked per form: the first SAMPLE_HEAD, then every SAMPLE_STRIDE-th (converting all
 * 3.6 million takes ~10 s; diff.test.ts converts, and so parses, every one of them anyway).
 */
const SAMPLE_HEAD = 256;
const SAMPLE_STRIDE = 8;

describe('diff vectors (test/diff/vectors)', () => {
  const files = listVectorFiles();

  it('has the expected 64-bit and 32-bit groups', () => {
    const names = files.map((f) => path.basename(f).replace(/\.json(\.gz)?$/, ''));
    for (const g of ['alu', 'shift', 'bit', 'muldiv', 'misc', 'cond', 'string', 'bmi']) {
      assert.ok(names.includes(`${g}64`), `${g}64 missing`);
      assert.ok(names.includes(`${g}32`), `${g}32 missing`);
    }
    assert.ok(names.includes('bcd32'), 'bcd32 missing');
  });

  for (const file of files) {
    it(`${path.basename(file)} loads and is well-formed`, () => {
      const forms = loadVectorFile(file);
      assert.ok(forms.length > 0);
      const seen = new Set<string>();
      for (const f of forms) {
        assert.ok(!seen.has(f.asmTemplate), `duplicate form ${f.asmTemplate}`);
        seen.add(f.asmTemplate);
        assert.ok(f.vectors.length >= MIN_VECTORS_PER_FORM, `${f.asmTemplate}: ${f.vectors.length} vectors`);
        const keys = [...f.regs, 'rflags'].sort().join();
        for (let i = 0; i < f.vectors.length; i += i < SAMPLE_HEAD ? 1 : SAMPLE_STRIDE) {
          const v = f.vectors[i];
          if (v.code.length < 1 || v.code.length > 15 || v.asm.includes('{i}')) assert.fail(v.asm);
          if (Object.keys(v.in).sort().join() !== keys || Object.keys(v.out).sort().join() !== keys) assert.fail(`${v.asm}: registers`);
          if ((v.flagsMask & v.undefMask) !== 0 || (v.flagsMask | v.undefMask) !== CHECKED_FLAGS) assert.fail(`${v.asm}: masks`);
          const lim = (1n << BigInt(v.bits)) - 1n;
          for (const k in v.in) if (v.in[k] < 0n || v.in[k] > lim || v.out[k] < 0n || v.out[k] > lim) assert.fail(`${v.asm}: ${k} out of range`);
          if (v.mem) {
            if (v.mem.before.length !== v.mem.size || v.mem.after.length !== v.mem.size) assert.fail(`${v.asm}: buffer size`);
            const placed = placeAt(v, 0x1000n);
            for (const p of v.mem.ptrRegs) if (placed.in[p] !== ((0x1000n + v.in[p]) & lim)) assert.fail(`${v.asm}: placeAt`);
          }
          if (v.exc !== undefined) {
            assert.strictEqual(v.exc, 0, v.asm); // only #DE is generated
            for (const k in v.in) if (v.out[k] !== v.in[k]) assert.fail(`${v.asm}: a fault changed ${k}`);
          }
        }
      }
    });
  }

  it('the lazy vectors view behaves like a read-only array', () => {
    const [form] = loadForms({ bits: 64, groups: ['alu'], form: /^add eax, ebx$/ });
    assert.ok(form, 'add eax, ebx missing');
    const n = form.vectors.length;
    assert.ok(Array.isArray(form.vectors));
    assert.strictEqual([...form.vectors].length, n);
    assert.strictEqual(form.vectors.map((v) => v.asm).length, n);
    assert.deepStrictEqual(form.vectors[3], form.vectors[3]); // same content on every read
    assert.strictEqual(form.vectors[n], undefined);
    assert.throws(() => {
      (form.vectors as unknown as unknown[])[0] = 1;
    });
    const flat = loadVectors({ bits: 64, groups: ['alu'], form: (t) => t === 'add eax, ebx' });
    assert.strictEqual(flat.length, n);
    assert.strictEqual(flat[0].asm, form.vectors[0].asm);
  });
});
