import { strict as assert } from 'assert';
import { DeviceScheduler, INSTRUCTIONS_PER_PIT_TICK, ManualClock, PIT_HZ } from '../../src/machine/clock';
import { Pit8254 } from '../../src/machine/devices/pit8254';
import { PIT_TICKS_PER_REFRESH_TOGGLE, SystemControlPortB } from '../../src/machine/devices/systemControlPortB';
import { PortBus } from '../../src/machine/portBus';

function setup() {
  const bus = new PortBus();
  const clock = new ManualClock();
  const scheduler = new DeviceScheduler(clock);
  const edges: number[] = [];
  let level = false;
  const pit = new Pit8254({
    clock,
    scheduler,
    irq: (l) => {
      if (l && !level) edges.push(clock.count);
      level = l;
    },
  });
  pit.attach(bus);
  scheduler.add(pit);
  new SystemControlPortB({ clock, pit }).attach(bus);
  /** Run the "CPU" up to `until`, stopping at every device deadline like the machine loop does. */
  const run = (until: number) => {
    while (scheduler.next <= until) {
      clock.count = scheduler.next;
      scheduler.service();
    }
    clock.count = until;
  };
  return { bus, clock, pit, scheduler, edges, run, level: () => level };
}

/** Read a lobyte/hibyte counter. */
const read16 = (bus: PortBus, port: number) => bus.in(port, 1) | (bus.in(port, 1) << 8);

describe('8254 PIT', () => {
  it('documents its clock: 100 instructions per 1.193182 MHz tick', () => {
    assert.equal(INSTRUCTIONS_PER_PIT_TICK, 100);
    assert.equal(PIT_HZ, 1_193_182);
  });

  it('mode 2 on channel 0 raises IRQ0 every N ticks, i.e. every 100 x N instructions', () => {
    const { bus, edges, run } = setup();
    bus.out(0x43, 1, 0x34); // channel 0, lobyte/hibyte, mode 2, binary
    bus.out(0x40, 1, 1193 & 0xff);
    bus.out(0x40, 1, 1193 >> 8); // ~1 ms
    run(10 * 119_300 + 1000);
    // The count loads on the first tick after the write (instruction 100), then counts N ticks.
    assert.equal(edges[0], (1 + 1193) * 100);
    assert.equal(edges.length, 10);
    for (let i = 1; i < edges.length; i++) assert.equal(edges[i] - edges[i - 1], 1193 * 100);
  });

  it('counts down and latches the count at the moment of the latch command', () => {
    const { bus, clock, run } = setup();
    bus.out(0x43, 1, 0x34);
    bus.out(0x40, 1, 0x00);
    bus.out(0x40, 1, 0x10); // 0x1000
    run(100 + 50 * 100 + 37); // 50 ticks after the load
    bus.out(0x43, 1, 0x00); // latch channel 0
    clock.count += 20 * 100;
    assert.equal(read16(bus, 0x40), 0x1000 - 50);
    // Unlatched reads follow the counter.
    assert.equal(read16(bus, 0x40), 0x1000 - 70);
    // A second latch command before the first is read is ignored.
    bus.out(0x43, 1, 0x00);
    clock.count += 100;
    bus.out(0x43, 1, 0x00);
    assert.equal(read16(bus, 0x40), 0x1000 - 70);
  });

  it('answers the read-back command with status then count', () => {
    const { bus, clock } = setup();
    bus.out(0x43, 1, 0x34);
    bus.out(0x40, 1, 100);
    bus.out(0x40, 1, 0);
    clock.count = 100 + 10 * 100;
    bus.out(0x43, 1, 0xc2); // read-back: count and status of channel 0
    assert.equal(bus.in(0x40, 1), 0x80 | 0x30 | (2 << 1), 'OUT high, loaded, lobyte/hibyte, mode 2');
    assert.equal(read16(bus, 0x40), 90);
  });

  it('mode 0 fires once at terminal count with OUT low until then', () => {
    const { bus, edges, run, scheduler, level } = setup();
    bus.out(0x43, 1, 0x30); // channel 0, lobyte/hibyte, mode 0
    assert.equal(level(), false);
    bus.out(0x40, 1, 50);
    bus.out(0x40, 1, 0);
    run(1_000_000);
    assert.deepEqual(edges, [(1 + 50) * 100]);
    assert.equal(level(), true);
    assert.equal(scheduler.next, Infinity);
    // Counting continues below zero (wraps to 0xFFFF...).
    assert.equal(read16(bus, 0x40), (0x10000 + 50 - (10_000 - 1)) & 0xffff);
  });

  it('supports lobyte-only access and BCD counting', () => {
    const { bus, edges, run } = setup();
    bus.out(0x43, 1, 0x14); // channel 0, lobyte only, mode 2
    bus.out(0x40, 1, 20);
    run(100 + 3 * 2000);
    assert.deepEqual(edges, [2100, 4100, 6100]);
    bus.out(0x43, 1, 0x31); // mode 0, BCD, at tick 61: loads at tick 62
    bus.out(0x40, 1, 0x00);
    bus.out(0x40, 1, 0x10); // BCD 1000
    run((62 + 5) * 100);
    assert.equal(read16(bus, 0x40), 0x0995, '1000 - 5 in BCD');
  });

  it('rate-generator count changes take effect at the end of the current period', () => {
    const { bus, edges, run } = setup();
    bus.out(0x43, 1, 0x34);
    bus.out(0x40, 1, 100);
    bus.out(0x40, 1, 0);
    run(100 + 150 * 100);
    bus.out(0x40, 1, 50);
    bus.out(0x40, 1, 0);
    run(100 + 400 * 100);
    assert.deepEqual(edges, [101 * 100, 201 * 100, 251 * 100, 301 * 100, 351 * 100, 401 * 100]);
  });

  it('mode 3 produces a square wave: OUT high for the first half of each period', () => {
    const { bus, clock, edges, run } = setup();
    bus.out(0x43, 1, 0x36); // channel 0, lobyte/hibyte, mode 3 (SeaBIOS's 18.2 Hz setup uses count 0)
    bus.out(0x40, 1, 0xe8);
    bus.out(0x40, 1, 0x03); // 1000
    run(100 + 3 * 100_000);
    assert.deepEqual(edges, [100_100, 200_100, 300_100]);
    bus.out(0x61, 1, 0x01); // gate 2 on at tick 3001: channel 2 starts with the control word below
    bus.out(0x43, 1, 0xb6); // channel 2, mode 3
    bus.out(0x42, 1, 0xe8);
    bus.out(0x42, 1, 0x03);
    const load = Math.floor(clock.count / 100) + 1;
    const out2 = (tick: number) => ((clock.count = tick * 100), (bus.in(0x61, 1) >> 5) & 1);
    assert.equal(out2(load + 499), 1);
    assert.equal(out2(load + 500), 0);
    assert.equal(out2(load + 999), 0);
    assert.equal(out2(load + 1000), 1);
  });

  it('lets firmware time delays with port 0x61: GATE2 in bit 0, OUT2 in bit 5, refresh in bit 4', () => {
    const { bus, clock } = setup();
    bus.out(0x61, 1, 0x00); // gate off
    bus.out(0x43, 1, 0xb0); // channel 2, lobyte/hibyte, mode 0
    bus.out(0x42, 1, 200);
    bus.out(0x42, 1, 0);
    clock.count = 50_000;
    assert.equal(bus.in(0x61, 1) & 0x20, 0, 'gate low: channel 2 does not count');
    bus.out(0x61, 1, 0x01); // gate on at tick 500
    assert.equal(bus.in(0x61, 1) & 0x03, 0x01);
    clock.count = 50_000 + 200 * 100 - 1;
    assert.equal(bus.in(0x61, 1) & 0x20, 0, 'OUT2 still low just before terminal count');
    clock.count = 50_000 + 200 * 100;
    assert.equal(bus.in(0x61, 1) & 0x20, 0x20, 'OUT2 high after 200 ticks of gated counting');

    const refresh = () => (bus.in(0x61, 1) >> 4) & 1;
    const period = PIT_TICKS_PER_REFRESH_TOGGLE * 100;
    clock.count = 10 * period;
    const a = refresh();
    clock.count = 10 * period + period - 1;
    assert.equal(refresh(), a);
    clock.count = 11 * period;
    assert.equal(refresh(), a ^ 1, 'bit 4 toggles every 15.085 us (18 PIT ticks)');
  });
});
