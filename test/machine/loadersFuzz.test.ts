import { strict as assert } from 'assert';
import { elfLoadPlan, LoadError, loadImage, parseElf } from '../../src/machine/loaders';
import { fixture } from '../fixtures/loaders/fixtures';

/** xorshift32: a fixed seed makes every failure reproducible. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/**
 * Byte ranges worth mutating: the headers and tables the parser trusts. Flipping bits in machine
 * code would almost never reach a new path.
 */
function interestingRanges(bytes: Uint8Array): [number, number][] {
  const elf = parseElf(bytes);
  const h = elf.header;
  const ranges: [number, number][] = [
    [0, h.elfClass === 32 ? 52 : 64],
    [h.phoff, h.phoff + h.phnum * h.phentsize],
    [h.shoff, h.shoff + h.shnum * h.shentsize],
  ];
  for (const s of elf.sections) if (s.type === 2 || s.type === 11) ranges.push([s.offset, s.offset + s.size]);
  return ranges;
}

function mutate(bytes: Uint8Array, ranges: [number, number][], random: (n: number) => number): Uint8Array {
  if (random(4) === 0) return bytes.slice(0, random(bytes.length));
  const out = bytes.slice();
  const flips = 1 + random(4);
  for (let i = 0; i < flips; i++) {
    const [start, end] = random(8) === 0 ? [0, bytes.length] : ranges[random(ranges.length)];
    out[start + random(end - start)] ^= 1 << random(8);
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e);
}

function onlyLoadErrors(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof LoadError)) assert.fail(`${what} threw ${errorText(e)}`);
  }
}

describe('loader fuzzing: truncations and bit flips never throw anything but LoadError', () => {
  const ramBytes = 16 * 1024 * 1024;
  for (const name of ['elf32.elf', 'elf64.elf', 'elf64-pie.elf', 'multiboot-elf.elf']) {
    it(name, () => {
      const original = fixture(name);
      const ranges = interestingRanges(original);
      const random = rng(0x5eed + name.length);
      let rejected = 0;
      for (let i = 0; i < 600; i++) {
        const bytes = mutate(original, ranges, random);
        const what = `${name} iteration ${i}`;
        try {
          parseElf(bytes);
        } catch (e) {
          rejected++;
          if (!(e instanceof LoadError)) assert.fail(`${what}: parseElf threw ${errorText(e)}`);
        }
        onlyLoadErrors(`${what}: elfLoadPlan`, () => elfLoadPlan(bytes, { ramBytes }));
        const modules = [{ name: 'm', bytes: new Uint8Array(3) }];
        onlyLoadErrors(`${what}: loadImage`, () => loadImage(bytes, { ramBytes, modules }));
      }
      // The mutations must actually exercise the error paths, not just pass through harmless bytes.
      assert.ok(rejected > 100, `only ${rejected} of 600 mutations were rejected`);
    });
  }

  it('multiboot-aout.bin', () => {
    const original = fixture('multiboot-aout.bin');
    const random = rng(0xb007);
    for (let i = 0; i < 600; i++) {
      const bytes = mutate(original, [[0, 48]], random);
      onlyLoadErrors(`iteration ${i}: multiboot`, () => loadImage(bytes, { format: 'multiboot', ramBytes }));
      onlyLoadErrors(`iteration ${i}: auto`, () => loadImage(bytes, { ramBytes }));
    }
  });
});
