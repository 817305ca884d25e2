import { strict as assert } from 'assert';
import { hasResetJump, LoadError, romLoadPlan } from '../../src/machine/loaders';
import { fixture } from '../fixtures/loaders/fixtures';

/** A ROM of `size` bytes (0xFF filled) whose reset vector starts with `vector`. */
function romWith(size: number, vector: number[]): Uint8Array {
  const rom = new Uint8Array(size).fill(0xff);
  rom.set(vector, size - 16);
  return rom;
}

describe('ROM loader', () => {
  it('maps rom.bin to end at 4 GiB and starts from reset', () => {
    const bytes = fixture('rom.bin');
    const plan = romLoadPlan(bytes);
    assert.equal(plan.format, 'rom');
    assert.deepEqual(plan.chunks, []);
    assert.deepEqual(plan.rom, bytes);
    assert.deepEqual(plan.entry, { kind: 'reset' });
    assert.ok(plan.notes.some((n) => /mapped at 0xffff0000/.test(n)), plan.notes.join('\n'));
    assert.ok(plan.notes.some((n) => /file offset 0xfff0/.test(n)));
  });

  it('recognises reset-vector jumps', () => {
    assert.ok(hasResetJump(fixture('rom.bin')));
    assert.ok(hasResetJump(romWith(4096, [0xea, 0x5b, 0xe0, 0x00, 0xf0]))); // jmp far f000:e05b
    assert.ok(hasResetJump(romWith(4096, [0x90, 0x90, 0xe9, 0x00, 0x00]))); // nop; nop; jmp near
    assert.ok(hasResetJump(romWith(4096, [0x0f, 0x09, 0xeb, 0xfe]))); // wbinvd; jmp short
    assert.ok(hasResetJump(romWith(4096, [0xfa, 0x66, 0xea]))); // cli; jmp far (32-bit offset)
    assert.ok(!hasResetJump(romWith(4096, [0x00, 0x00])));
    assert.ok(!hasResetJump(new Uint8Array(8)));
  });

  it('accepts odd sizes with notes', () => {
    const plan = romLoadPlan(romWith(100, [0x00]));
    assert.ok(plan.notes.some((n) => /not a multiple of 4 KiB/.test(n)));
    assert.ok(plan.notes.some((n) => /does not start with a jump/.test(n)));
  });

  it('refuses ROMs smaller than the reset vector or larger than 16 MiB', () => {
    assert.throws(
      () => romLoadPlan(new Uint8Array(8)),
      (e: unknown) => e instanceof LoadError && /at least 16/.test(e.message),
    );
    assert.throws(
      () => romLoadPlan(new Uint8Array(16 * 1024 * 1024 + 4096)),
      (e: unknown) => e instanceof LoadError && /limit is 16 MiB/.test(e.message),
    );
  });
});
