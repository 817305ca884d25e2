import { strict as assert } from 'assert';
import { detectFormat, LoadError, loadImage } from '../../src/machine/loaders';
import { fixture } from '../fixtures/loaders/fixtures';

const MIB = 1024 * 1024;

function throwsLoadError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LoadError, `expected LoadError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('loadImage', () => {
  describe('format auto-detection', () => {
    const cases: [string, string][] = [
      ['elf32.elf', 'elf'],
      ['elf64.elf', 'elf'],
      ['elf64-pie.elf', 'elf'],
      ['multiboot-elf.elf', 'multiboot'], // an ELF file, but its multiboot header wins
      ['multiboot-aout.bin', 'multiboot'],
      ['rom.bin', 'rom'],
      ['boot.bin', 'flat'],
    ];
    for (const [name, format] of cases) {
      it(`${name} -> ${format}`, () => {
        assert.equal(detectFormat(fixture(name)).format, format);
        const plan = loadImage(fixture(name), { ramBytes: 64 * MIB });
        assert.equal(plan.format, format);
        assert.match(plan.notes[0], new RegExp(`^format detected as ${format}: `));
      });
    }

    it('a boot sector whose reset-vector slot happens to hold a jump is still flat', () => {
      const boot = fixture('boot.bin');
      boot[512 - 16] = 0xeb;
      assert.equal(detectFormat(boot).format, 'flat');
      boot[510] = 0; // without the signature, the jump makes it a ROM
      assert.equal(detectFormat(boot).format, 'rom');
    });

    it('anything unrecognised is flat', () => {
      assert.equal(detectFormat(new Uint8Array([0xf4])).format, 'flat');
      assert.equal(detectFormat(new Uint8Array(4096)).format, 'flat');
    });
  });

  it('an explicit format overrides detection', () => {
    const plan = loadImage(fixture('multiboot-elf.elf'), { format: 'elf', ramBytes: 64 * MIB });
    assert.equal(plan.format, 'elf');
    assert.deepEqual(plan.entry, { kind: 'protected', eip: 0x100010 });
    throwsLoadError(() => loadImage(fixture('boot.bin'), { format: 'elf', ramBytes: 64 * MIB }), /not an ELF image/);
  });

  it('passes the options each format uses and notes the ones it ignores', () => {
    const flat = loadImage(fixture('boot.bin'), { ramBytes: 64 * MIB, loadAddress: 0x8000, cmdline: 'x' });
    assert.equal(flat.chunks[0].phys, 0x8000);
    assert.ok(flat.notes.includes('option cmdline is ignored for flat images'), flat.notes.join('\n'));
    const mb = loadImage(fixture('multiboot-aout.bin'), { ramBytes: 64 * MIB, mode: 'long', cmdline: 'quiet' });
    assert.ok(mb.notes.includes('option mode is ignored for multiboot images'));
    assert.equal(mb.entry.kind, 'protected');
    const elf = loadImage(fixture('elf32.elf'), { ramBytes: 64 * MIB, mode: 'long' });
    assert.deepEqual(elf.entry, { kind: 'long', rip: 0x100000n });
  });

  it('checks every chunk fits in RAM', () => {
    throwsLoadError(
      () => loadImage(fixture('elf32.elf'), { ramBytes: MIB }),
      /image does not fit: segment 0 at 0x100000 \+ 0x1b bytes exceeds RAM of 1 MiB/,
    );
    throwsLoadError(
      () => loadImage(fixture('boot.bin'), { ramBytes: 0x7d00 }),
      /image does not fit: flat image at 0x7c00 \+ 0x200 bytes exceeds RAM of 0x7d00 bytes/,
    );
    throwsLoadError(
      () => loadImage(fixture('multiboot-elf.elf'), { ramBytes: 0x104000 }),
      /image larger than RAM: kernel segment 1 at 0x101000/,
    );
  });

  it('refuses a nonsense RAM size', () => {
    throwsLoadError(() => loadImage(fixture('boot.bin'), { ramBytes: 0 }), /ramBytes 0/);
    throwsLoadError(() => loadImage(fixture('boot.bin'), { ramBytes: 1.5 }), /ramBytes 1.5/);
  });
});
