import { strict as assert } from 'assert';
import { boot, RES } from './integrationHarness';

/** Platform glue driven by guest code: the NMI mask, the A20 gate and the reset paths. */

describe('integration: chipset NMI through LINT1 and the CMOS NMI mask (nmi32.bin)', () => {
  it('drops NMIs while port 0x70 bit 7 is set or LINT1 is masked, delivers them otherwise', () => {
    const g = boot('nmi32.bin', { mode: 'protected', onPost: (r, m) => r.value === 0xAA && m.router.nmi() });
    const out = g.run(1_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(g.u32(RES + 0x10), 0, 'masked by CMOS port 0x70 bit 7');
    assert.equal(g.u32(RES + 0x14), 1, 'delivered right after the OUT once unmasked');
    assert.equal(g.u32(RES + 0x18), 1, 'masked in LVT LINT1');
    assert.equal(g.m.cmos.nmiEnabled, true);
    assert.deepEqual(g.posts.map((p) => p.value), [0xAA, 0xAA, 0xAA]);
    const counts = g.posts.map((p) => p.instructions);
    assert.ok(counts[0] < counts[1] && counts[1] < counts[2], 'POST records carry the instruction count');
  });
});

describe('integration: A20 gate (a20.bin)', () => {
  const go = () => {
    const g = boot('a20.bin');
    const out = g.run(1_000_000);
    const b = (off: number) => g.m.memory.read8(RES + off);
    return { g, out, b };
  };

  it('wraps 0x100500 to 0x500 with port 0x92 bit 1 clear, and not with it set', () => {
    const { out, b } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(b(0x10) & 0x02, 0x02, 'A20 on at start');
    assert.equal(b(0x11), 0x22, 'write through FFFF:0510 landed on 0x500');
    assert.equal(b(0x12), 0x22, 'with A20 on, 0x500 is untouched');
    assert.equal(b(0x13), 0x33, 'and 0x100500 holds the write');
  });

  it('fetches code through the gate as well, following each change', () => {
    const { b } = go();
    assert.equal(b(0x14), 0x44, 'A20 off: FFFF:0610 ran the code at 0x600');
    assert.equal(b(0x15), 0x55, 'A20 on: FFFF:0610 ran the code at 0x100600');
    assert.equal(b(0x16), 0x44, 'A20 off again');
  });

  it('switches the same gate through the 8042 output port (command 0xD1)', () => {
    const { g, b } = go();
    assert.equal(b(0x17), 0x66, '8042 A20 off: aliasing');
    assert.equal(b(0x18) & 0x02, 0, 'port 0x92 shows the shared gate off');
    assert.equal(b(0x19) & 0x03, 0x01, 'output port (0xD0): A20 off, not in reset');
    assert.equal(b(0x1A), 0x66, '8042 A20 on: 0x500 untouched');
    assert.equal(b(0x1B), 0x77);
    assert.equal(g.m.memory.a20Enabled, true);
  });
});

describe('integration: reset requests end the run with outcome "reset"', () => {
  for (const [file, what] of [
    ['reset-p92.bin', 'port 0x92 bit 0'],
    ['reset-kbc.bin', '8042 command 0xFE'],
    ['reset-d1.bin', '8042 output port bit 0 cleared (command 0xD1)'],
    ['reset-cf9.bin', 'port 0xCF9 bit 2'],
  ]) {
    it(`through ${what} (${file})`, () => {
      const g = boot(file);
      const out = g.run(1_000_000);
      assert.equal(out.kind, 'reset', out.detail);
      assert.equal(out.code, 8);
      assert.equal(g.run(1_000_000).kind, 'reset', 'and stays there');
      assert.ok(g.m.cpu.icount < 20, 'nothing after the request ran');
    });
  }
});
