import { strict as assert } from 'assert';
import { flatLoadPlan, LoadError } from '../../src/machine/loaders';
import { fixture } from '../fixtures/loaders/fixtures';

function throwsLoadError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LoadError && pattern.test(e.message));
}

describe('flat loader', () => {
  const boot = fixture('boot.bin');

  it('loads a boot sector at 0x7C00 and starts it at 0000:7C00 in real mode', () => {
    const plan = flatLoadPlan(boot);
    assert.equal(plan.format, 'flat');
    assert.equal(plan.chunks.length, 1);
    assert.equal(plan.chunks[0].phys, 0x7c00);
    assert.deepEqual(plan.chunks[0].data, boot);
    assert.deepEqual(plan.entry, { kind: 'real', cs: 0, ip: 0x7c00 });
    assert.deepEqual(plan.symbols, []);
  });

  it('splits real-mode entries above 64 KiB as cs = entry >> 4, ip = entry & 0xF', () => {
    assert.deepEqual(flatLoadPlan(boot, { loadAddress: 0x12340, entry: 0x12345 }).entry, {
      kind: 'real', cs: 0x1234, ip: 5,
    });
    assert.deepEqual(flatLoadPlan(boot, { loadAddress: 0xf0000 }).entry, { kind: 'real', cs: 0xf000, ip: 0 });
    assert.deepEqual(flatLoadPlan(boot, { loadAddress: 0xffff }).entry, { kind: 'real', cs: 0, ip: 0xffff });
  });

  it('defaults to 1 MiB outside real mode', () => {
    const pm = flatLoadPlan(boot, { mode: 'protected' });
    assert.equal(pm.chunks[0].phys, 0x100000);
    assert.deepEqual(pm.entry, { kind: 'protected', eip: 0x100000 });
    const lm = flatLoadPlan(boot, { mode: 'long', entry: 0x100010 });
    assert.deepEqual(lm.entry, { kind: 'long', rip: 0x100010n });
  });

  it('notes an entry outside the image', () => {
    const plan = flatLoadPlan(boot, { entry: 0x500 });
    assert.ok(plan.notes.some((n) => /outside the loaded image/.test(n)));
  });

  it('refuses what cannot run', () => {
    throwsLoadError(() => flatLoadPlan(new Uint8Array(0)), /empty/);
    throwsLoadError(() => flatLoadPlan(boot, { loadAddress: 0x100000, mode: 'real' }), /beyond the 1 MiB/);
    throwsLoadError(() => flatLoadPlan(boot, { loadAddress: -1 }), /loadAddress -1/);
    throwsLoadError(() => flatLoadPlan(boot, { mode: 'protected', entry: 2 ** 32 }), /above 4 GiB/);
  });
});
