import { strict as assert } from 'assert';
import { boot, deltas, exitStatus, RES, TSTAMP } from './integrationHarness';
import { INSTRUCTIONS_PER_SECOND } from '../../src/machine/clock';

/** Devices driven by guest code: I/O APIC routing, the UART with interrupts, the CMOS RTC. */

describe('integration: I/O APIC routes IRQ0 (pin 2) and COM1 (pin 4) to the local APIC (ioapic32.bin)', () => {
  it('delivers PIT ticks on vector 0x30, then a received byte on vector 0x34', () => {
    const g = boot('ioapic32.bin', { mode: 'protected' });
    const first = g.run(10_000_000);
    assert.equal(first.kind, 'idle', `waiting for input: ${first.detail}`);
    assert.equal(g.u32(RES), 3, 'PIT ticks through the I/O APIC');
    assert.deepEqual(deltas(g.dwords(TSTAMP, 3)), [100_000, 100_000]);
    assert.equal(g.u32(RES + 0x10), 0x0017_0011, 'I/O APIC version: 24 entries');
    assert.equal(g.u32(RES + 0x14), 0x30, 'redirection entry 2 reads back');
    assert.equal(g.u32(RES + 4), 0, 'no UART interrupt before input');

    g.m.uart.pushInput('Z');
    const out = g.run(10_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(0x5A));
    assert.equal(g.u32(RES + 4), 1, 'one UART interrupt');
    assert.equal(g.u32(RES + 0xC) & 0x0F, 0x04, 'IIR said received data available');
    assert.equal(g.u32(RES + 0x18), 0, 'no spurious interrupts');
    assert.equal(g.m.pic.master.irr & 0x01, 0x01, 'IRQ0 also reached the (masked) 8259');
  });
});

describe('integration: UART echo with IRQ4 through the 8259 (uart16.bin)', () => {
  it('prints in order and echoes input pushed before and after the receive interrupt is enabled', () => {
    // 'a' arrives at POST code 1, after the FIFO reset and before IER enables the interrupt
    const g = boot('uart16.bin', { onPost: (r, m) => r.value === 1 && m.uart.pushInput('a') });
    let out = g.run(1_000_000);
    assert.equal(out.kind, 'idle', out.detail);
    assert.equal(g.serial(), '> a');
    g.m.uart.pushInput('bc');
    out = g.run(1_000_000);
    assert.equal(out.kind, 'idle', out.detail);
    assert.equal(g.serial(), '> abc');
    g.m.uart.pushInput(new Uint8Array([0x21, 0x0D]));
    out = g.run(1_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(5));
    assert.equal(g.serial(), '> abc!\r\nbye\r\n');
    assert.equal(Buffer.from(g.m.memory.readBytes(RES + 0x10, 5)).toString('latin1'), 'abc!\r');
    assert.equal(g.u32(RES + 4), 3, 'one interrupt per push (the second carried two bytes)');
    assert.equal(g.u32(RES + 8), 0xC4, 'IIR: FIFO enabled, received data available');
    assert.equal(g.m.uart.inputPending, 0);
    assert.deepEqual(g.posts.map((p) => p.value), [1]);
  });
});

describe('integration: CMOS RTC and memory-size bytes (cmos16.bin)', () => {
  const go = () => {
    const g = boot('cmos16.bin', { ramMiB: 64 });
    const out = g.run(1_000_000);
    return { g, out };
  };
  const bytes = (g: ReturnType<typeof boot>, at: number, n: number) => Array.from(g.m.memory.readBytes(RES + at, n));

  it('reads the deterministic start time in BCD, 24-hour mode', () => {
    const { g, out } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(bytes(g, 0x10, 1)[0] & 0x06, 0x02, 'register B: BCD, 24 h');
    // 2026-01-01 00:00:00: sec, min, hour, day, month, year, century
    assert.deepEqual(bytes(g, 0x11, 7), [0x00, 0x00, 0x00, 0x01, 0x01, 0x26, 0x20]);
    assert.equal(bytes(g, 0x20, 1)[0], 0x80, 'register D: valid RAM and time');
  });

  it('reports the memory size (64 MiB) in the standard bytes', () => {
    const { g } = go();
    const [b15, b16, b17, b18, b30, b31, b34, b35] = bytes(g, 0x18, 8);
    assert.equal(b15 | (b16 << 8), 640, 'base memory KiB');
    assert.equal(b17 | (b18 << 8), 63 * 1024, 'extended memory KiB (0x17/0x18)');
    assert.equal(b30 | (b31 << 8), 63 * 1024, 'extended memory KiB (0x30/0x31)');
    assert.equal(b34 | (b35 << 8), (48 * 1024 * 1024) / 65536, '64 KiB blocks above 16 MiB');
  });

  it('continues from a time the guest set and interrupts on each update through the slave 8259', () => {
    const { g, out } = go();
    assert.equal(out.kind === 'exit' && out.status, exitStatus(2));
    // 23:59:58 + 2 s = 00:00:00 on January 2nd
    assert.deepEqual(bytes(g, 0x21, 5), [0x00, 0x00, 0x00, 0x02, 0x01]);
    assert.equal(bytes(g, 0x26, 1)[0], 0, 'seconds in binary mode');
    assert.equal(bytes(g, 0x28, 1)[0] & 0x90, 0x90, 'register C: IRQF and UF');
    // the two seconds passed while halted, not executing
    assert.ok(g.m.instructions() >= 2 * INSTRUCTIONS_PER_SECOND - 1_000_000);
    assert.ok(g.m.instructions() < 2 * INSTRUCTIONS_PER_SECOND + 1_000_000);
    assert.ok(g.m.cpu.icount < 1000);
  });
});

describe('integration: a firmware ROM from the reset vector (rom16.bin)', () => {
  it('is detected as a ROM, runs from 0xFFFFFFF0 through its F000 alias, and serves IRQ0 from ROM code', () => {
    const g = boot('rom16.bin', { format: null });
    assert.equal(g.m.plan?.format, 'rom');
    const out = g.run(10_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(3));
    assert.equal(g.debugcon(), 'rom: hello...');
    assert.deepEqual(g.posts.map((p) => p.value), [1, 2, 3]);
    assert.equal(g.m.memory.read8(RES + 0x10), 0xA5);
    assert.equal(g.m.memory.read8(RES + 0x11), 0xA5, 'a write to the ROM is dropped');
    const top = g.u32(RES + 0x14);
    assert.equal(top, g.u32(RES + 0x18), 'the reset vector reads the same at 4 GiB - 16 and at its alias');
    assert.equal(top & 0xFF, 0xEA, 'a far jump');
  });
});
