import { strict as assert } from 'assert';
import { boot, deltas, exitStatus, RES, TSTAMP } from './integrationHarness';

/** The local APIC timer (xAPIC MMIO and x2APIC MSRs) and the I/O APIC, driven by guest code. */

describe('integration: local APIC timer through the xAPIC window (lapic32.bin)', () => {
  const go = () => {
    const g = boot('lapic32.bin', { mode: 'protected' });
    const out = g.run(10_000_000);
    return { g, out };
  };

  it('exits after one one-shot and four periodic interrupts', () => {
    const { g, out } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(5));
    assert.equal(g.u32(RES + 0x30), 5);
    assert.equal(g.u32(RES + 4), 0, 'no spurious interrupts');
    assert.equal(g.u32(RES + 0x38), 0x0005_0014, 'version register');
  });

  it('keeps LVT entries masked and the timer silent while the APIC is software-disabled', () => {
    const { g } = go();
    assert.equal(g.u32(RES + 0x10), 0x1_0040, 'LVT timer written unmasked reads back masked');
    assert.equal(g.u32(RES + 0x14), 0, 'no timer interrupt while software-disabled');
    assert.equal(g.u32(RES + 0x3C) & 0x1_0000, 0x1_0000, 'clearing SVR bit 8 masks the LVT');
  });

  it('fires the one-shot once, 5000 counts after it was armed, with the vector in service', () => {
    const { g } = go();
    const stamps = g.dwords(TSTAMP, 5);
    const armed = g.u32(RES + 0x18);
    const late = (stamps[0] - armed) >>> 0;
    assert.ok(late > 5000 - 64 && late < 5100, `one-shot delivered ${late} instructions after arming`);
    const justAfter = g.u32(RES + 0x34);
    assert.ok(justAfter <= 5000 && justAfter > 4900, `current count right after arming: ${justAfter}`);
    assert.equal(g.u32(RES + 0x1C), 0, 'current count after the one-shot');
    assert.equal(g.u32(RES + 0x20), 1, 'a one-shot does not re-arm itself');
    assert.equal(g.u32(RES + 0x24) & 1, 1, 'ISR bit of vector 0x40 set in the handler');
    assert.equal(g.u32(RES + 0x28) & 1, 0, 'EOI cleared it');
  });

  it('runs periodic mode at exactly 3000 instructions per interrupt', () => {
    const { g } = go();
    const stamps = g.dwords(TSTAMP, 5);
    const start = g.u32(RES + 0x2C);
    const first = (stamps[1] - start) >>> 0;
    assert.ok(first > 3000 - 64 && first < 3100, `first periodic interrupt ${first} after arming`);
    assert.deepEqual(deltas(stamps.slice(1)), [3000, 3000, 3000]);
  });

  it('is deterministic across runs', () => {
    const a = go();
    const b = go();
    assert.deepEqual(a.g.dwords(RES, 16), b.g.dwords(RES, 16));
    assert.deepEqual(a.g.dwords(TSTAMP, 5), b.g.dwords(TSTAMP, 5));
    assert.equal(a.g.m.instructions(), b.g.m.instructions());
  });
});

describe('integration: local APIC timer in x2APIC mode through MSRs (x2apic64.bin)', () => {
  const go = () => {
    const g = boot('x2apic64.bin', { mode: 'long' });
    const out = g.run(10_000_000);
    return { g, out };
  };

  it('switches to x2APIC mode and reads ID and version through MSRs', () => {
    const { g, out } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.ok(g.u32(RES + 0x30) & (1 << 21), 'CPUID.1:ECX.x2APIC');
    assert.equal(g.u32(RES + 0x10), 0xFEE0_0900, 'IA32_APIC_BASE: base, EN, BSP');
    assert.equal(g.u32(RES + 0x34), 0xFEE0_0D00, 'IA32_APIC_BASE with EXTD');
    assert.equal(g.u32(RES + 0x14), 0, 'x2APIC ID');
    assert.equal(g.u32(RES + 0x18), 0x0005_0014, 'version');
    assert.equal(g.u32(RES + 0x1C), 0xFFFF_FFFF, 'the xAPIC window is gone in x2APIC mode');
  });

  it('delivers the one-shot and periodic timer and a self-IPI, each EOIed through MSR 0x80B', () => {
    const { g, out } = go();
    assert.equal(out.kind === 'exit' && out.status, exitStatus(4));
    const stamps = g.dwords(TSTAMP, 4);
    const late = (stamps[0] - g.u32(RES + 0x20)) >>> 0;
    // Devices read the clock at the start of the current block (see integration.clock.test.ts), so the
    // arming WRMSR may count as up to a block earlier than the RDTSC after it.
    assert.ok(late > 4000 - 64 && late < 4100, `one-shot after ${late}`);
    assert.equal(g.u32(RES + 0x24), 0, 'current count after the one-shot');
    const first = (stamps[1] - g.u32(RES + 0x28)) >>> 0;
    assert.ok(first > 2000 - 64 && first < 2100, `first periodic after ${first}`);
    assert.deepEqual(deltas(stamps.slice(1)), [2000, 2000]);
    assert.equal(g.u32(RES + 0x2C), 1, 'self-IPI delivered once');
  });
});
