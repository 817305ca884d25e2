import { strict as assert } from 'assert';
import { DeviceScheduler, INSTRUCTIONS_PER_SECOND, ManualClock } from '../../src/machine/clock';
import { CmosRtc } from '../../src/machine/devices/cmosRtc';
import { PortBus } from '../../src/machine/portBus';

const MIB = 1024 * 1024;

function setup(ramSize = 256 * MIB) {
  const bus = new PortBus();
  const clock = new ManualClock();
  const scheduler = new DeviceScheduler(clock);
  const irq: boolean[] = [];
  const rtc = new CmosRtc({ clock, ramSize, scheduler, irq: (l) => irq.push(l) });
  rtc.attach(bus);
  scheduler.add(rtc);
  const read = (reg: number) => (bus.out(0x70, 1, reg), bus.in(0x71, 1));
  const write = (reg: number, value: number) => (bus.out(0x70, 1, reg), bus.out(0x71, 1, value));
  return { bus, clock, scheduler, rtc, irq, read, write };
}

describe('CMOS / RTC', () => {
  it('starts at 2026-01-01 00:00:00 (a Thursday) in BCD, 24-hour mode', () => {
    const { read } = setup();
    assert.deepEqual(
      [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(read),
      [0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x26, 0x20],
    );
    assert.equal(read(0x0b), 0x02);
    assert.equal(read(0x0d), 0x80);
  });

  it('advances one second per INSTRUCTIONS_PER_SECOND instructions', () => {
    const { clock, read } = setup();
    clock.count = INSTRUCTIONS_PER_SECOND - 1;
    assert.equal(read(0x00), 0x00);
    clock.count = (3600 + 61) * INSTRUCTIONS_PER_SECOND + 5;
    assert.deepEqual([read(0x04), read(0x02), read(0x00)], [0x01, 0x01, 0x01]);
    clock.count = 86400 * 45 * INSTRUCTIONS_PER_SECOND; // 2026-02-15, a Sunday
    assert.deepEqual([read(0x08), read(0x07), read(0x06)], [0x02, 0x15, 0x01]);
  });

  it('switches to binary and 12-hour formats through register B', () => {
    const { clock, read, write } = setup();
    clock.count = (13 * 3600 + 59) * INSTRUCTIONS_PER_SECOND;
    write(0x0b, 0x02 | 0x04); // binary
    assert.equal(read(0x00), 59);
    assert.equal(read(0x04), 13);
    write(0x0b, 0x00); // BCD, 12-hour
    assert.equal(read(0x04), 0x81, '1 PM');
    assert.equal(read(0x00), 0x59);
  });

  it('lets the guest set the time with the SET bit and continues from it', () => {
    const { clock, read, write } = setup();
    clock.count = 1000;
    write(0x0b, 0x82); // SET
    write(0x04, 0x23);
    write(0x02, 0x59);
    write(0x00, 0x58);
    clock.count += 5 * INSTRUCTIONS_PER_SECOND;
    assert.equal(read(0x00), 0x58, 'frozen while SET');
    write(0x0b, 0x02);
    clock.count += 2 * INSTRUCTIONS_PER_SECOND;
    assert.deepEqual([read(0x07), read(0x04), read(0x02), read(0x00)], [0x02, 0x00, 0x00, 0x00]);
  });

  it('shows UIP only during the last 244 us of a second, never stuck', () => {
    const { clock, read } = setup();
    clock.count = 5 * INSTRUCTIONS_PER_SECOND - 10;
    assert.equal(read(0x0a) & 0x80, 0x80);
    clock.count = 5 * INSTRUCTIONS_PER_SECOND;
    assert.equal(read(0x0a) & 0x80, 0);
    clock.count = 5 * INSTRUCTIONS_PER_SECOND - Math.ceil(244e-6 * INSTRUCTIONS_PER_SECOND) - 1;
    assert.equal(read(0x0a) & 0x80, 0);
    assert.equal(read(0x0a) & 0x7f, 0x26);
  });

  it('raises IRQ8 for the periodic interrupt and clears it when register C is read', () => {
    const { clock, scheduler, irq, read, write } = setup();
    write(0x0a, 0x26); // 1024 Hz
    write(0x0b, 0x42); // PIE
    const period = INSTRUCTIONS_PER_SECOND / 1024;
    assert.equal(scheduler.next, Math.ceil(period));
    clock.count = scheduler.next;
    scheduler.service();
    assert.deepEqual(irq, [true]);
    assert.equal(read(0x0c), 0xc0, 'IRQF | PF');
    assert.deepEqual(irq, [true, false]);
    assert.equal(read(0x0c), 0x00);
    clock.count = scheduler.next;
    scheduler.service();
    assert.deepEqual(irq, [true, false, true]);
  });

  it('sets the update-ended flag each second', () => {
    const { clock, scheduler, read, write, irq } = setup();
    write(0x0b, 0x12); // UIE
    assert.equal(scheduler.next, INSTRUCTIONS_PER_SECOND);
    clock.count = INSTRUCTIONS_PER_SECOND;
    scheduler.service();
    assert.deepEqual(irq, [true]);
    assert.equal(read(0x0c) & 0x90, 0x90);
  });

  it('holds the NMI-disable bit from port 0x70', () => {
    const { bus, rtc } = setup();
    assert.equal(rtc.nmiEnabled, false, 'masked until firmware enables NMIs');
    bus.out(0x70, 1, 0x0a);
    assert.equal(rtc.nmiEnabled, true);
    bus.out(0x70, 1, 0x8f);
    assert.equal(rtc.nmiEnabled, false);
    assert.equal(bus.in(0x71, 1), 0, 'the index still selects register 0x0F');
  });

  it('fills the memory-size bytes as SeaBIOS expects for 256 MiB', () => {
    const { read } = setup();
    const word = (reg: number) => read(reg) | (read(reg + 1) << 8);
    assert.equal(word(0x15), 640);
    assert.equal(word(0x17), 0xffff);
    assert.equal(word(0x30), 0xffff);
    assert.equal(word(0x34), (256 - 16) * 16);
    assert.deepEqual([read(0x5b), read(0x5c), read(0x5d)], [0, 0, 0]);
    let sum = 0;
    for (let r = 0x10; r <= 0x2d; r++) sum += read(r);
    assert.equal(word(0x2e), ((sum & 0xff) << 8) | (sum >> 8), 'checksum is stored high byte first');
  });

  it('fills the memory-size bytes for RAM split around the PCI hole', () => {
    const { read } = setup(0xe000_0000 + 1024 * MIB);
    const word = (reg: number) => read(reg) | (read(reg + 1) << 8);
    assert.equal(word(0x17), 0xffff);
    assert.equal(word(0x34), (0xe000_0000 - 16 * MIB) / 65536);
    assert.deepEqual([read(0x5b), read(0x5c), read(0x5d)], [0x00, 0x40, 0x00]);
    const small = setup(32 * MIB);
    assert.equal(small.read(0x17) | (small.read(0x18) << 8), 31 * 1024);
  });

  it('keeps ordinary CMOS bytes', () => {
    const { read, write } = setup();
    write(0x40, 0x5a);
    write(0x7f, 0xa5);
    assert.equal(read(0x40), 0x5a);
    assert.equal(read(0x7f), 0xa5);
  });
});
