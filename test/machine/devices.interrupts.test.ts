import { strict as assert } from 'assert';
import { ManualClock } from '../../src/machine/clock';
import { IoApic } from '../../src/machine/devices/ioApic';
import { LocalApic } from '../../src/machine/devices/localApic';
import { DualPic } from '../../src/machine/devices/pic8259';
import { InterruptRouter } from '../../src/machine/interrupts';
import { PhysicalMemory } from '../../src/machine/physicalMemory';
import { PortBus } from '../../src/machine/portBus';

const IOAPIC = 0xfec0_0000;
const APIC = 0xfee0_0000;

function setup(options: { nmiEnabled?: () => boolean } = {}) {
  const clock = new ManualClock();
  const mem = new PhysicalMemory({ ramSize: 16 * 1024 * 1024 });
  const bus = new PortBus();
  const pic = new DualPic();
  pic.attach(bus);
  const lapic = new LocalApic({ clock, memory: mem });
  const ioapic = new IoApic();
  ioapic.attach(mem);
  let changes = 0;
  let nmis = 0;
  const router = new InterruptRouter({
    pic,
    lapic,
    ioapic,
    onChange: () => changes++,
    onNmi: () => nmis++,
    nmiEnabled: options.nmiEnabled,
  });
  // Program the PIC like firmware does: vectors 0x08/0x70 (BIOS style), cascade on IR2.
  for (const [port, value] of [
    [0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01],
    [0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01],
    [0x21, 0x00], [0xa1, 0x00],
  ]) bus.out(port, 1, value);
  const ioRead = (reg: number) => (mem.write32(IOAPIC, reg), mem.read32(IOAPIC + 0x10));
  const ioWrite = (reg: number, value: number) => (mem.write32(IOAPIC, reg), mem.write32(IOAPIC + 0x10, value));
  /** Switch to APIC mode like an OS: mask the PIC, enable the APIC, mask LINT0. */
  const apicMode = () => {
    bus.out(0x21, 1, 0xff);
    bus.out(0xa1, 1, 0xff);
    mem.write32(APIC + 0xf0, 0x1ff);
    mem.write32(APIC + 0x350, 0x1_0700);
  };
  return { mem, bus, pic, lapic, ioapic, router, ioRead, ioWrite, apicMode, changes: () => changes, nmis: () => nmis };
}

describe('I/O APIC', () => {
  it('identifies itself: ID, version with 24 entries, entries masked after reset', () => {
    const { ioRead, ioWrite, mem } = setup();
    assert.equal(ioRead(0x01), 0x0017_0011);
    assert.equal(ioRead(0x00), 0);
    ioWrite(0x00, 0x0200_0000);
    assert.equal(ioRead(0x00), 0x0200_0000);
    assert.equal(ioRead(0x02), 0x0200_0000);
    assert.equal(mem.read32(IOAPIC), 0x02, 'IOREGSEL reads back');
    for (let pin = 0; pin < 24; pin++) assert.equal(ioRead(0x10 + 2 * pin), 0x1_0000);
  });

  it('routes an unmasked edge input to the local APIC vector', () => {
    const { router, lapic, ioWrite, ioRead, apicMode } = setup();
    apicMode();
    ioWrite(0x10 + 2 * 4, 0x34); // pin 4: vector 0x34, fixed, physical, edge, unmasked
    ioWrite(0x11 + 2 * 4, 0x0000_0000); // destination APIC 0
    assert.equal(ioRead(0x10 + 2 * 4), 0x34);
    router.setIrq(4, true);
    assert.equal(router.hasInterrupt(), true);
    assert.equal(router.acknowledge(), 0x34);
    router.setIrq(4, false);
    assert.equal(lapic.hasInterrupt(), false);
  });

  it('ignores edges on a masked pin and on a pin aimed at another APIC', () => {
    const { router, ioWrite, apicMode } = setup();
    apicMode();
    ioWrite(0x10 + 2 * 3, 0x1_0033);
    router.setIrq(3, true);
    ioWrite(0x10 + 2 * 3, 0x0033);
    assert.equal(router.hasInterrupt(), false, 'the masked edge was not held');
    router.setIrq(3, false);
    ioWrite(0x11 + 2 * 3, 0x0500_0000); // APIC 5 does not exist
    router.setIrq(3, true);
    assert.equal(router.hasInterrupt(), false);
  });

  it('sends the PIT IRQ0 on pin 2, as the MADT override says', () => {
    const { router, ioWrite, apicMode } = setup();
    apicMode();
    ioWrite(0x10 + 2 * 2, 0x30);
    router.setIrq(0, true);
    assert.equal(router.acknowledge(), 0x30);
  });

  it('holds level inputs with Remote IRR until the EOI, and resends while still asserted', () => {
    const { router, ioWrite, ioRead, apicMode, mem } = setup();
    apicMode();
    ioWrite(0x10 + 2 * 9, 0x8039); // level, vector 0x39
    router.setIrq(9, true);
    assert.equal(ioRead(0x10 + 2 * 9) & 0x4000, 0x4000, 'Remote IRR');
    assert.equal(router.acknowledge(), 0x39);
    assert.equal(router.hasInterrupt(), false);
    const irr39 = () => (mem.read32(APIC + 0x200 + 16) >>> (0x39 - 32)) & 1;
    router.setIrq(9, true); // asserted again (still high): Remote IRR holds it back
    ioWrite(0x10 + 2 * 9, 0x8039);
    assert.equal(irr39(), 0);
    mem.write32(APIC + 0xb0, 0); // EOI while the line is still high
    assert.equal(router.hasInterrupt(), true);
    assert.equal(router.acknowledge(), 0x39);
    router.setIrq(9, false);
    mem.write32(APIC + 0xb0, 0);
    assert.equal(ioRead(0x10 + 2 * 9) & 0x4000, 0);
    assert.equal(router.hasInterrupt(), false);
  });

  it('delivers an asserted level input when it is unmasked', () => {
    const { router, ioWrite, apicMode } = setup();
    apicMode();
    ioWrite(0x10 + 2 * 20, 0x1_8044);
    router.setIrq(20, true);
    assert.equal(router.hasInterrupt(), false);
    ioWrite(0x10 + 2 * 20, 0x8044);
    assert.equal(router.acknowledge(), 0x44);
  });
});

describe('InterruptRouter', () => {
  it('passes PIC interrupts through LINT0 (ExtINT, the reset state) and reports changes', () => {
    const { router, changes } = setup();
    const before = changes();
    router.setIrq(1, true);
    assert.ok(changes() > before, 'onChange fired');
    assert.equal(router.picRouted(), true);
    assert.equal(router.hasInterrupt(), true);
    assert.equal(router.acknowledge(), 0x09);
    assert.equal(router.hasInterrupt(), false);
  });

  it('blocks the PIC when LINT0 is masked, and passes it again with the APIC hardware-disabled', () => {
    const { router, lapic, mem } = setup();
    mem.write32(APIC + 0xf0, 0x1ff);
    mem.write32(APIC + 0x350, 0x1_0700);
    router.setIrq(6, true);
    assert.equal(router.hasInterrupt(), false);
    lapic.wrmsr(0x1b, 0xfee0_0100n); // EN = 0
    assert.equal(router.picRouted(), true);
    assert.equal(router.hasInterrupt(), true);
    assert.equal(router.acknowledge(), 0x0e);
  });

  it('offers local APIC vectors before the PIC', () => {
    const { router, lapic, mem } = setup();
    mem.write32(APIC + 0xf0, 0x1ff);
    router.setIrq(1, true);
    lapic.accept(0x80);
    assert.equal(router.acknowledge(), 0x80);
    assert.equal(router.acknowledge(), 0x09);
  });

  it('answers a spurious INTA with the PIC IRQ7 vector when the PIC is routed', () => {
    const { router } = setup();
    assert.equal(router.acknowledge(), 0x0f);
  });

  it('delivers NMIs through LINT1 when the APIC is on, directly when off, never when masked', () => {
    let nmiEnabled = true;
    const { router, mem, lapic, nmis } = setup({ nmiEnabled: () => nmiEnabled });
    router.nmi();
    assert.equal(nmis(), 0, 'LINT1 is masked after reset');
    mem.write32(APIC + 0xf0, 0x1ff);
    mem.write32(APIC + 0x360, 0x400); // LINT1: NMI
    router.nmi();
    assert.equal(nmis(), 1);
    nmiEnabled = false;
    router.nmi();
    assert.equal(nmis(), 1, 'CMOS port 0x70 bit 7 masks it');
    nmiEnabled = true;
    lapic.wrmsr(0x1b, 0xfee0_0100n);
    router.nmi();
    assert.equal(nmis(), 2);
    // An NMI IPI to self also reaches the CPU.
    lapic.wrmsr(0x1b, 0xfee0_0900n);
    mem.write32(APIC + 0x300, 0x0004_4400);
    assert.equal(nmis(), 3);
  });
});
