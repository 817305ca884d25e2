import { strict as assert } from 'assert';
import { ManualClock } from '../../src/machine/clock';
import { A20Gate } from '../../src/machine/devices/a20Gate';
import { DebugCon } from '../../src/machine/devices/debugCon';
import { ExitPort } from '../../src/machine/devices/exitPort';
import { Kbc8042 } from '../../src/machine/devices/kbc8042';
import { PciConfigSpace } from '../../src/machine/devices/pciConfig';
import { type PostRecord, PostPort } from '../../src/machine/devices/postPort';
import { SystemControlPortA } from '../../src/machine/devices/systemControlPortA';
import { PhysicalMemory } from '../../src/machine/physicalMemory';
import { PortBus } from '../../src/machine/portBus';

describe('POST port 0x80', () => {
  it('latches the last code and records each write with instruction count and wall time', () => {
    const bus = new PortBus();
    const clock = new ManualClock();
    const seen: PostRecord[] = [];
    let wall = 1_700_000_000_000;
    const post = new PostPort({ clock, onPost: (r) => seen.push(r), now: () => wall++ });
    post.attach(bus);
    assert.equal(bus.in(0x80, 1), 0);
    clock.count = 100;
    bus.out(0x80, 1, 0x12);
    clock.count = 250;
    bus.out(0x80, 1, 0x34);
    assert.equal(bus.in(0x80, 1), 0x34);
    assert.equal(post.last, 0x34);
    const expected = [
      { value: 0x12, instructions: 100, timeMs: 1_700_000_000_000 },
      { value: 0x34, instructions: 250, timeMs: 1_700_000_000_001 },
    ];
    assert.deepEqual(post.records, expected);
    assert.deepEqual(seen, expected);
    // A word write is split by the bus: the low byte is the code, port 0x81 is not the POST port.
    bus.out(0x80, 2, 0xbeef);
    assert.equal(post.last, 0xef);
    assert.equal(post.totalWrites, 3);
  });

  it('bounds the log but keeps counting', () => {
    const post = new PostPort({ clock: new ManualClock(), maxRecords: 2, now: () => 0 });
    for (let i = 1; i <= 5; i++) post.out(0x80, 1, i);
    assert.deepEqual(
      post.records.map((r) => r.value),
      [4, 5],
    );
    assert.equal(post.totalWrites, 5);
  });
});

describe('debugcon 0xE9', () => {
  it('passes bytes to the callback and reads back 0xE9', () => {
    const bus = new PortBus();
    const out: number[] = [];
    new DebugCon({ onOutput: (b) => out.push(...b) }).attach(bus);
    for (const c of 'ok') bus.out(0xe9, 1, c.charCodeAt(0));
    assert.equal(Buffer.from(out).toString(), 'ok');
    assert.equal(bus.in(0xe9, 1), 0xe9);
  });
});

describe('exit port 0xF4 (isa-debug-exit)', () => {
  it('ends the run with status (v << 1) | 1 at the width written', () => {
    const bus = new PortBus();
    const statuses: number[] = [];
    new ExitPort({ onExit: (s) => statuses.push(s) }).attach(bus);
    bus.out(0xf4, 1, 0x10);
    bus.out(0xf4, 1, 0);
    bus.out(0xf4, 2, 0x1234);
    bus.out(0xf4, 4, 0x8000_0000);
    assert.deepEqual(statuses, [0x21, 1, 0x2469, 0x1_0000_0001]);
  });
});

describe('A20 and reset (port 0x92, 8042)', () => {
  function setup() {
    const bus = new PortBus();
    const mem = new PhysicalMemory({ ramSize: 4 * 1024 * 1024 });
    const a20 = new A20Gate(false);
    a20.onChange = (on) => mem.setA20(on);
    mem.setA20(a20.enabled);
    let resets = 0;
    new SystemControlPortA({ a20, onReset: () => resets++ }).attach(bus);
    new Kbc8042({ a20, onReset: () => resets++ }).attach(bus);
    return { bus, mem, a20, resets: () => resets };
  }

  it('gates A20 through port 0x92 bit 1 and resets on bit 0', () => {
    const { bus, mem, resets } = setup();
    assert.equal(bus.in(0x92, 1) & 2, 0);
    bus.out(0x92, 1, 0x02);
    assert.equal(mem.a20Enabled, true);
    assert.equal(bus.in(0x92, 1) & 3, 0x02);
    assert.equal(resets(), 0);
    bus.out(0x92, 1, 0x03);
    assert.equal(resets(), 1);
    bus.out(0x92, 1, 0x00);
    assert.equal(mem.a20Enabled, false);
  });

  it('gates A20 through the 8042 output port (0xD1 + data) with the input buffer always empty', () => {
    const { bus, mem, resets } = setup();
    assert.equal(bus.in(0x64, 1) & 0x02, 0, 'input buffer empty');
    bus.out(0x64, 1, 0xd1);
    assert.equal(bus.in(0x64, 1) & 0x02, 0);
    bus.out(0x60, 1, 0xdf);
    assert.equal(mem.a20Enabled, true);
    assert.equal(bus.in(0x92, 1) & 2, 2, 'both controls read the same gate');
    bus.out(0x64, 1, 0xd0); // read output port
    assert.equal(bus.in(0x64, 1) & 1, 1, 'output buffer full');
    assert.equal(bus.in(0x60, 1) & 3, 3);
    bus.out(0x64, 1, 0xd1);
    bus.out(0x60, 1, 0xdd);
    assert.equal(mem.a20Enabled, false);
    assert.equal(resets(), 0);
  });

  it('resets on command 0xFE and answers the self-tests', () => {
    const { bus, resets } = setup();
    bus.out(0x64, 1, 0xaa);
    assert.equal(bus.in(0x64, 1) & 1, 1);
    assert.equal(bus.in(0x60, 1), 0x55);
    assert.equal(bus.in(0x64, 1) & 1, 0);
    bus.out(0x64, 1, 0xfe);
    assert.equal(resets(), 1);
    bus.out(0x64, 1, 0xd1);
    bus.out(0x60, 1, 0x02); // bit 0 low asserts reset
    assert.equal(resets(), 2);
  });
});

describe('PCI configuration mechanism #1', () => {
  it('latches CONFIG_ADDRESS and reads all ones from every configuration register', () => {
    const bus = new PortBus();
    let resets = 0;
    const pci = new PciConfigSpace({ onReset: () => resets++ });
    pci.attach(bus);
    bus.out(0xcf8, 4, 0x8000_0000);
    assert.equal(bus.in(0xcf8, 4), 0x8000_0000);
    bus.out(0xcf8, 4, 0x8000_0810);
    assert.equal(pci.configAddress, 0x8000_0810);
    assert.equal(bus.in(0xcfc, 4), 0xffff_ffff);
    assert.equal(bus.in(0xcfe, 2), 0xffff);
    assert.equal(bus.in(0xcff, 1), 0xff);
    bus.out(0xcfc, 4, 0x1234);
    assert.equal(bus.in(0xcfc, 4), 0xffff_ffff);
    // Byte access to 0xCF8 is not CONFIG_ADDRESS.
    bus.out(0xcf8, 1, 0);
    assert.equal(bus.in(0xcf8, 4), 0x8000_0810);
    bus.out(0xcf9, 1, 0x02);
    assert.equal(resets, 0);
    bus.out(0xcf9, 1, 0x06);
    assert.equal(resets, 1);
  });
});
