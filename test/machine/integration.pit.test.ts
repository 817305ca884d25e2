import { strict as assert } from 'assert';
import { boot, deltas, exitStatus, RES, TSTAMP } from './integrationHarness';
import { INSTRUCTIONS_PER_PIT_TICK } from '../../src/machine/clock';

/**
 * PIT channel 0 (mode 2) → IRQ0 → 8259 → the CPU's interrupt delivery, in real, protected and long
 * mode, with the guest idling in the classic `sti; hlt` loop between ticks.
 */

const COUNT = 1000; // PIT input ticks per IRQ0, as in the fixtures
const PERIOD = COUNT * INSTRUCTIONS_PER_PIT_TICK;
const NTICKS = 5;

for (const [name, mode] of [['pit16.bin', 'real'], ['pit32.bin', 'protected'], ['pit64.bin', 'long']] as const) {
  describe(`integration: PIT IRQ0 through the 8259 in ${mode} mode (${name})`, () => {
    function go() {
      const g = boot(name, { mode });
      const out = g.run(10_000_000);
      return { g, out };
    }

    it('counts the ticks and exits with the count', () => {
      const { g, out } = go();
      assert.equal(out.kind, 'exit', out.detail);
      assert.equal(out.kind === 'exit' && out.status, exitStatus(NTICKS));
      assert.equal(g.u32(RES), NTICKS);
    });

    it('lands the ticks exactly one PIT period apart on the instruction clock', () => {
      const { g } = go();
      const stamps = g.dwords(TSTAMP, NTICKS);
      assert.deepEqual(deltas(stamps), new Array(NTICKS - 1).fill(PERIOD), `stamps ${stamps}`);
      // The first edge comes one full period after the count was loaded (plus the clock edge that
      // loads it), and the handler's RDTSC a few instructions after the delivery.
      const first = (stamps[0] - g.u32(RES + 4)) >>> 0;
      assert.ok(first > PERIOD - 200 && first <= PERIOD + 200, `first tick ${first} after programming`);
      // Time passed halted, not executing: far fewer instructions retired than the clock shows.
      assert.ok(g.m.cpu.icount < 500, `icount ${g.m.cpu.icount}`);
      assert.ok(g.m.instructions() >= NTICKS * PERIOD);
    });

    it('is deterministic: two runs give the same stamps, instruction count and registers', () => {
      const a = go();
      const b = go();
      assert.deepEqual(a.g.dwords(TSTAMP, NTICKS), b.g.dwords(TSTAMP, NTICKS));
      assert.equal(a.g.m.cpu.icount, b.g.m.cpu.icount);
      assert.equal(a.g.m.instructions(), b.g.m.instructions());
      assert.deepEqual(Array.from(a.g.m.cpu.r), Array.from(b.g.m.cpu.r));
    });

    if (mode !== 'real') {
      it('enters the handler through an interrupt gate with IF clear', () => {
        const { g } = go();
        assert.equal(g.u32(RES + 8) & 0x200, 0, 'IF in the handler');
        if (mode === 'long') assert.equal(g.u32(RES + 16) % 16, 0, 'RSP (misaligned by the main code) realigned to 16 before the 40-byte frame, then three pushes');
      });
    }
  });
}
