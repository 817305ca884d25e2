import { strict as assert } from 'assert';
import { DualPic } from '../../src/machine/devices/pic8259';
import { PortBus } from '../../src/machine/portBus';

/** Program both chips the way Linux and SeaBIOS do: vectors 0x20/0x28, cascade on IR2, 8086 mode. */
function setup(icw4 = 0x01) {
  const bus = new PortBus();
  const pic = new DualPic();
  pic.attach(bus);
  let changes = 0;
  pic.onOutputChange = () => changes++;
  bus.out(0x20, 1, 0x11);
  bus.out(0x21, 1, 0x20);
  bus.out(0x21, 1, 0x04);
  bus.out(0x21, 1, icw4);
  bus.out(0xa0, 1, 0x11);
  bus.out(0xa1, 1, 0x28);
  bus.out(0xa1, 1, 0x02);
  bus.out(0xa1, 1, icw4);
  bus.out(0x21, 1, 0x00);
  bus.out(0xa1, 1, 0x00);
  return { bus, pic, changes: () => changes };
}

const readIsr = (bus: PortBus, port: number) => (bus.out(port, 1, 0x0b), bus.in(port, 1));
const readIrr = (bus: PortBus, port: number) => (bus.out(port, 1, 0x0a), bus.in(port, 1));

describe('8259A PIC pair', () => {
  it('delivers an IRQ at the ICW2 base, moves it to ISR on INTA and clears it on EOI', () => {
    const { bus, pic, changes } = setup();
    assert.equal(pic.hasInterrupt(), false);
    pic.setIrq(1, true);
    assert.equal(pic.hasInterrupt(), true);
    assert.equal(changes(), 1);
    assert.equal(readIrr(bus, 0x20), 0x02);
    assert.equal(pic.acknowledge(), 0x21);
    assert.equal(readIsr(bus, 0x20), 0x02);
    assert.equal(readIrr(bus, 0x20), 0x00);
    assert.equal(pic.hasInterrupt(), false);
    bus.out(0x20, 1, 0x20); // non-specific EOI
    assert.equal(readIsr(bus, 0x20), 0x00);
  });

  it('is edge-triggered: a held line does not request again until it drops and rises', () => {
    const { bus, pic } = setup();
    pic.setIrq(4, true);
    assert.equal(pic.acknowledge(), 0x24);
    bus.out(0x20, 1, 0x20);
    pic.setIrq(4, true);
    assert.equal(pic.hasInterrupt(), false);
    pic.setIrq(4, false);
    pic.setIrq(4, true);
    assert.equal(pic.hasInterrupt(), true);
  });

  it('honours the mask register (OCW1) and reads it back', () => {
    const { bus, pic } = setup();
    bus.out(0x21, 1, 0x02);
    assert.equal(bus.in(0x21, 1), 0x02);
    pic.setIrq(1, true);
    assert.equal(pic.hasInterrupt(), false, 'masked requests wait in IRR');
    assert.equal(readIrr(bus, 0x20), 0x02);
    bus.out(0x21, 1, 0x00);
    assert.equal(pic.hasInterrupt(), true);
    assert.equal(pic.acknowledge(), 0x21);
  });

  it('serves the highest priority first and blocks lower priorities while one is in service', () => {
    const { bus, pic } = setup();
    pic.setIrq(3, true);
    pic.setIrq(1, true);
    assert.equal(pic.acknowledge(), 0x21);
    assert.equal(pic.hasInterrupt(), false, 'IRQ3 waits behind IRQ1 in service');
    bus.out(0x20, 1, 0x20);
    assert.equal(pic.acknowledge(), 0x23);
    // A higher priority request nests over a lower one in service.
    pic.setIrq(0, true);
    assert.equal(pic.hasInterrupt(), true);
    assert.equal(pic.acknowledge(), 0x20);
    assert.equal(readIsr(bus, 0x20), 0x09);
    bus.out(0x20, 1, 0x20); // EOI goes to the highest in service: IRQ0
    assert.equal(readIsr(bus, 0x20), 0x08);
    bus.out(0x20, 1, 0x63); // specific EOI for IRQ3
    assert.equal(readIsr(bus, 0x20), 0x00);
  });

  it('rotates priority with the set-priority command', () => {
    const { bus, pic } = setup();
    bus.out(0x20, 1, 0xc3); // IRQ3 lowest, so IRQ4 highest
    pic.setIrq(1, true);
    pic.setIrq(5, true);
    assert.equal(pic.acknowledge(), 0x25);
  });

  it('cascades the slave through IR2 and needs an EOI on both chips', () => {
    const { bus, pic } = setup();
    pic.setIrq(12, true);
    assert.equal(pic.hasInterrupt(), true);
    assert.equal(pic.acknowledge(), 0x2c);
    assert.equal(readIsr(bus, 0x20), 0x04);
    assert.equal(readIsr(bus, 0xa0), 0x10);
    pic.setIrq(9, true); // higher priority on the slave, but master IR2 is in service
    assert.equal(pic.hasInterrupt(), false);
    bus.out(0xa0, 1, 0x20);
    bus.out(0x20, 1, 0x20);
    assert.equal(pic.acknowledge(), 0x29);
  });

  it('answers spurious IRQ7 and IRQ15 without setting in-service bits (except the master IR2)', () => {
    const { bus, pic } = setup();
    assert.equal(pic.acknowledge(), 0x27);
    assert.equal(readIsr(bus, 0x20), 0x00);
    // The slave request goes away (masked) after the master latched IR2.
    pic.setIrq(10, true);
    bus.out(0xa1, 1, 0x04);
    assert.equal(pic.acknowledge(), 0x2f);
    assert.equal(readIsr(bus, 0xa0), 0x00);
    assert.equal(readIsr(bus, 0x20), 0x04, 'the OS must still EOI the master');
  });

  it('skips ISR in auto-EOI mode', () => {
    const { bus, pic } = setup(0x03);
    pic.setIrq(6, true);
    assert.equal(pic.acknowledge(), 0x26);
    assert.equal(readIsr(bus, 0x20), 0x00);
    pic.setIrq(5, false);
    pic.setIrq(5, true);
    assert.equal(pic.acknowledge(), 0x25, 'nothing blocks the next request');
  });

  it('answers the poll command with 0x80 | line and acknowledges it', () => {
    const { bus, pic } = setup();
    pic.setIrq(3, true);
    bus.out(0x20, 1, 0x0c);
    assert.equal(bus.in(0x20, 1), 0x83);
    assert.equal(readIsr(bus, 0x20), 0x08);
    bus.out(0x20, 1, 0x0c);
    assert.equal(bus.in(0x20, 1), 0x00);
  });

  it('keeps ELCR values (within the chipset mask) and treats those lines as level-triggered', () => {
    const { bus, pic } = setup();
    bus.out(0x4d0, 1, 0xff);
    bus.out(0x4d1, 1, 0xff);
    assert.equal(bus.in(0x4d0, 1), 0xf8);
    assert.equal(bus.in(0x4d1, 1), 0xde);
    pic.setIrq(11, true);
    assert.equal(pic.acknowledge(), 0x2b);
    bus.out(0xa0, 1, 0x20);
    bus.out(0x20, 1, 0x20);
    assert.equal(pic.hasInterrupt(), true, 'a level line still high requests again after EOI');
    pic.setIrq(11, false);
    // The master latched IR2 on its edge; with the slave's request gone, INTA finds IRQ15 spurious.
    assert.equal(pic.acknowledge(), 0x2f);
    bus.out(0x20, 1, 0x20);
    assert.equal(pic.hasInterrupt(), false);
  });

  it('restarts initialisation on ICW1: mask and in-service cleared', () => {
    const { bus, pic } = setup();
    bus.out(0x21, 1, 0xff);
    pic.setIrq(0, true);
    bus.out(0x20, 1, 0x11);
    bus.out(0x21, 1, 0x40);
    bus.out(0x21, 1, 0x04);
    bus.out(0x21, 1, 0x01);
    assert.equal(bus.in(0x21, 1), 0x00);
    assert.equal(pic.hasInterrupt(), false, 'the edge latched before ICW1 is gone');
    pic.setIrq(0, false);
    pic.setIrq(0, true);
    assert.equal(pic.acknowledge(), 0x40);
  });
});
