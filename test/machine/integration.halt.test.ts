import { strict as assert } from 'assert';
import { boot, exitStatus, RES } from './integrationHarness';

/** How HLT ends a run or waits for interrupts, and the STI interrupt shadow around it. */

describe('integration: HLT outcomes (halt-*.bin)', () => {
  it('ends with "halt" on HLT with interrupts disabled, and stays halted when run again', () => {
    const g = boot('halt-cli.bin');
    for (let i = 0; i < 3; i++) {
      const out = g.run(1_000_000);
      assert.equal(out.kind, 'halt', out.detail);
      assert.equal(out.code, 0);
    }
    assert.ok(g.m.cpu.icount < 20, 'nothing after the HLT ran');
  });

  it('ends with "idle" on HLT with IF=1 and nothing armed, and stays idle when run again', () => {
    const g = boot('halt-idle.bin');
    for (let i = 0; i < 3; i++) {
      const out = g.run(1_000_000);
      assert.equal(out.kind, 'idle', out.detail);
      assert.equal(out.code, 10);
    }
  });

  it('does not wake on timer deadlines whose interrupt is masked, and ends as "idle"', () => {
    const g = boot('halt-masked.bin');
    const out = g.run(1_000_000);
    assert.equal(out.kind, 'idle', out.detail);
    assert.match(out.detail, /masked/);
    assert.ok(g.m.cpu.icount < 100, `icount ${g.m.cpu.icount}`);
  });

  it('wakes a CLI;HLT only for an NMI, which returns to the code after the HLT', () => {
    const g = boot('halt-wake.bin');
    assert.equal(g.run(1_000_000).kind, 'halt');
    assert.equal(g.run(1_000_000).kind, 'halt');
    g.m.router.nmi();
    const out = g.run(1_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(0x55));
    assert.equal(g.u32(RES), 1, 'NMI handler ran once');
  });
});

describe('integration: STI interrupt shadow (shadow16.bin)', () => {
  const go = () => {
    const g = boot('shadow16.bin');
    const out = g.run(1_000_000);
    return { g, out };
  };

  it('takes an interrupt pending at `sti; hlt` once HLT has started', () => {
    const { g, out } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(g.u32(RES + 4), 0, 'not taken while IF=0');
    assert.equal(g.u32(RES + 8), 1, 'taken at the HLT');
    const m = g.m.memory;
    assert.equal(m.read16(RES + 0x20), m.read16(RES + 0x30), 'the saved IP is after the HLT');
  });

  it('does not take it across `sti; cli`, and takes it after `sti; nop`', () => {
    const { g, out } = go();
    assert.equal(out.kind === 'exit' && out.status, exitStatus(2));
    assert.equal(g.u32(RES + 12), 1, 'sti; cli let nothing in');
    assert.equal(g.u32(RES + 16), 2, 'sti; nop; cli took it');
    const m = g.m.memory;
    assert.equal(m.read16(RES + 0x22), m.read16(RES + 0x32), 'taken after the NOP, before the CLI');
  });
});
