import { strict as assert } from 'assert';
import { loadForms } from './vectors';
import { runVector, undefinedFlagsDiffer } from './runVector';

/**
 * The emulator against this machine's CPU, instruction form by instruction form. Every defined
 * result must match bit for bit; undefined flags are compared too (the project matches this CPU's
 * choices and documents them), reported separately so a failure says which kind it is.
 */

const GROUPS = ['alu', 'shift', 'bit', 'muldiv', 'misc', 'cond', 'string', 'bcd', 'bmi'];

for (const bits of [32, 64] as const) {
  for (const group of GROUPS) {
    const forms = loadForms({ bits, groups: [group] });
    if (forms.length === 0) continue;
    describe(`differential ${group}${bits} (${forms.reduce((n, f) => n + f.vectors.length, 0)} vectors)`, () => {
      for (const form of forms) {
        it(`${form.asmTemplate} (${form.vectors.length})`, () => {
          const bad: string[] = [];
          let undef = 0;
          for (const v of form.vectors) {
            const d = runVector(v);
            if (d) bad.push(d);
            else if (undefinedFlagsDiffer(v)) undef++;
          }
          assert.equal(bad.length, 0, `${bad.length} mismatches, first: ${bad.slice(0, 3).join(' | ')}`);
          assert.equal(undef, 0, `${undef} vectors differ from this CPU in architecturally undefined flags`);
        });
      }
    });
  }
}
