import { strict as assert } from 'assert';
import { DeviceScheduler, ManualClock } from '../../src/machine/clock';
import { LocalApic } from '../../src/machine/devices/localApic';
import { PhysicalMemory } from '../../src/machine/physicalMemory';

const APIC = 0xfee0_0000;
const ID = APIC + 0x20;
const VERSION = APIC + 0x30;
const TPR = APIC + 0x80;
const PPR = APIC + 0xa0;
const EOI = APIC + 0xb0;
const LDR = APIC + 0xd0;
const DFR = APIC + 0xe0;
const SVR = APIC + 0xf0;
const ISR = APIC + 0x100;
const IRR = APIC + 0x200;
const ESR = APIC + 0x280;
const ICR_LOW = APIC + 0x300;
const ICR_HIGH = APIC + 0x310;
const LVT_TIMER = APIC + 0x320;
const LVT_LINT0 = APIC + 0x350;
const LVT_LINT1 = APIC + 0x360;
const LVT_ERROR = APIC + 0x370;
const TIMER_INITIAL = APIC + 0x380;
const TIMER_CURRENT = APIC + 0x390;
const TIMER_DIVIDE = APIC + 0x3e0;

function setup() {
  const clock = new ManualClock();
  const scheduler = new DeviceScheduler(clock);
  const mem = new PhysicalMemory({ ramSize: 16 * 1024 * 1024 });
  const apic = new LocalApic({ clock, scheduler, memory: mem });
  scheduler.add(apic);
  let changes = 0;
  apic.onChange = () => changes++;
  const run = (until: number) => {
    while (scheduler.next <= until) {
      clock.count = scheduler.next;
      scheduler.service();
    }
    clock.count = until;
  };
  /** Bit `v` of a 256-bit register (ISR/TMR/IRR) read through MMIO. */
  const bit = (base: number, v: number) => (mem.read32(base + (v >> 5) * 16) >>> (v & 31)) & 1;
  return { clock, scheduler, mem, apic, run, bit, changes: () => changes };
}

describe('local APIC (xAPIC MMIO)', () => {
  it('comes out of reset at 0xFEE00000, enabled, BSP, software-disabled, LINT0 in ExtINT', () => {
    const { mem, apic } = setup();
    assert.equal(apic.rdmsr(0x1b), 0xfee0_0900n);
    assert.equal(mem.hostOffset(APIC), -1);
    assert.equal(mem.read32(VERSION), 0x0005_0014);
    assert.equal(mem.read32(ID), 0);
    assert.equal(mem.read32(SVR), 0xff);
    assert.equal(mem.read32(DFR), 0xffff_ffff);
    assert.equal(mem.read32(LVT_LINT0), 0x700);
    assert.equal(mem.read32(LVT_LINT1), 0x1_0000);
    assert.equal(mem.read32(LVT_TIMER), 0x1_0000);
    assert.equal(apic.acceptsPicInterrupts(), true);
  });

  it('keeps LVT entries masked while software-disabled and masks them on disable', () => {
    const { mem } = setup();
    mem.write32(LVT_LINT1, 0x400);
    assert.equal(mem.read32(LVT_LINT1), 0x1_0400, 'mask stays set while SVR bit 8 is clear');
    mem.write32(SVR, 0x1ff);
    mem.write32(LVT_LINT1, 0x400);
    assert.equal(mem.read32(LVT_LINT1), 0x400);
    mem.write32(SVR, 0x0ff);
    assert.equal(mem.read32(LVT_LINT1), 0x1_0400);
    assert.equal(mem.read32(LVT_LINT0), 0x1_0700);
  });

  it('fires a one-shot timer after initial count x divisor instructions, once', () => {
    const { mem, apic, run, scheduler, bit } = setup();
    mem.write32(SVR, 0x1ff);
    mem.write32(TIMER_DIVIDE, 0x0b); // divide by 1
    mem.write32(LVT_TIMER, 0x40);
    mem.write32(TIMER_INITIAL, 1000);
    assert.equal(scheduler.next, 1000);
    run(400);
    assert.equal(mem.read32(TIMER_CURRENT), 600);
    assert.equal(apic.hasInterrupt(), false);
    run(1000);
    assert.equal(bit(IRR, 0x40), 1);
    assert.equal(mem.read32(TIMER_CURRENT), 0);
    assert.equal(apic.hasInterrupt(), true);
    assert.equal(apic.acknowledge(), 0x40);
    assert.equal(bit(IRR, 0x40), 0);
    assert.equal(bit(ISR, 0x40), 1);
    assert.equal(mem.read32(PPR), 0x40);
    mem.write32(EOI, 0);
    assert.equal(bit(ISR, 0x40), 0);
    assert.equal(mem.read32(PPR), 0);
    run(100_000);
    assert.equal(bit(IRR, 0x40), 0, 'one-shot means once');
    assert.equal(scheduler.next, Infinity);
  });

  it('fires a periodic timer every initial count x divisor instructions', () => {
    const { mem, apic, run, clock } = setup();
    mem.write32(SVR, 0x1ff);
    mem.write32(TIMER_DIVIDE, 0x00); // divide by 2
    mem.write32(LVT_TIMER, 0x2_0050); // periodic, vector 0x50
    mem.write32(TIMER_INITIAL, 500);
    const fired: number[] = [];
    for (let t = 0; t <= 3500; t += 50) {
      run(t);
      if (apic.hasInterrupt()) {
        fired.push(clock.count);
        assert.equal(apic.acknowledge(), 0x50);
        mem.write32(EOI, 0);
      }
    }
    assert.deepEqual(fired, [1000, 2000, 3000]);
    run(3250);
    assert.equal(mem.read32(TIMER_CURRENT), 500 - 125);
    mem.write32(TIMER_INITIAL, 0);
    run(10_000);
    assert.equal(apic.hasInterrupt(), false, 'writing 0 stops the timer');
  });

  it('counts a masked timer without interrupting', () => {
    const { mem, apic, run } = setup();
    mem.write32(SVR, 0x1ff);
    mem.write32(TIMER_DIVIDE, 0x0b);
    mem.write32(LVT_TIMER, 0x1_0040);
    mem.write32(TIMER_INITIAL, 100);
    run(50);
    assert.equal(mem.read32(TIMER_CURRENT), 50);
    run(1000);
    assert.equal(apic.hasInterrupt(), false);
  });

  it('delivers by priority class against TPR and in-service vectors', () => {
    const { mem, apic } = setup();
    apic.accept(0x40);
    assert.equal(apic.hasInterrupt(), false, 'nothing while software-disabled');
    mem.write32(SVR, 0x1ff);
    assert.equal(apic.hasInterrupt(), true);
    mem.write32(TPR, 0x40);
    assert.equal(apic.hasInterrupt(), false, 'class 4 does not beat TPR class 4');
    assert.equal(mem.read32(PPR), 0x40);
    apic.accept(0x4f);
    assert.equal(apic.hasInterrupt(), false, 'a higher vector of the same class does not either');
    mem.write32(TPR, 0x3f);
    assert.equal(apic.hasInterrupt(), true);
    mem.write32(TPR, 0);
    apic.accept(0x61);
    assert.equal(apic.acknowledge(), 0x61);
    assert.equal(apic.hasInterrupt(), false, '0x40 waits for the EOI of 0x61');
    assert.equal(apic.acknowledge(), 0xff, 'an INTA with nothing eligible gets the spurious vector');
    mem.write32(EOI, 0);
    assert.equal(apic.acknowledge(), 0x4f);
    assert.equal(apic.hasInterrupt(), false, '0x40 is in the class of in-service 0x4f');
    mem.write32(EOI, 0);
    assert.equal(apic.acknowledge(), 0x40);
  });

  it('sends IPIs to itself: fixed by shorthand or by its own ID, delivery status always idle', () => {
    const { mem, apic, bit } = setup();
    mem.write32(SVR, 0x1ff);
    mem.write32(ICR_LOW, 0x0004_4051); // self, fixed, vector 0x51
    assert.equal(bit(IRR, 0x51), 1);
    assert.equal(mem.read32(ICR_LOW) & 0x1000, 0);
    mem.write32(ICR_HIGH, 0x0000_0000);
    mem.write32(ICR_LOW, 0x0000_4052); // physical destination 0 = us
    assert.equal(bit(IRR, 0x52), 1);
    mem.write32(ICR_HIGH, 0x0300_0000);
    mem.write32(ICR_LOW, 0x0000_4053); // physical destination 3: nobody
    assert.equal(bit(IRR, 0x53), 0);
    mem.write32(ICR_LOW, 0x000c_4500); // INIT to all excluding self
    mem.write32(ICR_LOW, 0x000c_4608); // SIPI to all excluding self
    assert.equal(mem.read32(ICR_LOW) & 0x1000, 0, 'INIT/SIPI accepted, idle');
    // Logical flat destination.
    mem.write32(LDR, 0x0100_0000);
    mem.write32(ICR_HIGH, 0x0100_0000);
    mem.write32(ICR_LOW, 0x0000_4854);
    assert.equal(bit(IRR, 0x54), 1);
    assert.equal(apic.acknowledge(), 0x54);
  });

  it('reports illegal vectors in ESR after a write and through the error LVT', () => {
    const { mem, apic } = setup();
    mem.write32(SVR, 0x1ff);
    mem.write32(LVT_ERROR, 0xfe);
    mem.write32(ICR_LOW, 0x0004_4005); // vector 5 is illegal
    assert.equal(mem.read32(ESR), 0, 'ESR updates on the next write');
    mem.write32(ESR, 0);
    assert.equal(mem.read32(ESR), 0x20);
    assert.equal(apic.acknowledge(), 0xfe);
    mem.write32(ESR, 0);
    assert.equal(mem.read32(ESR), 0);
  });

  it('forwards the EOI of a level-triggered vector', () => {
    const { mem, apic } = setup();
    const eois: number[] = [];
    apic.onEoi = (v) => eois.push(v);
    mem.write32(SVR, 0x1ff);
    apic.accept(0x30, true);
    apic.accept(0x31, false);
    assert.equal(apic.acknowledge(), 0x31);
    mem.write32(EOI, 0);
    assert.equal(apic.acknowledge(), 0x30);
    mem.write32(EOI, 0);
    assert.deepEqual(eois, [0x30]);
  });

  it('moves its MMIO window with IA32_APIC_BASE and drops it when disabled', () => {
    const { mem, apic } = setup();
    assert.equal(apic.wrmsr(0x1b, 0xfed0_0900n), true);
    assert.equal(mem.read32(VERSION), 0xffff_ffff, 'old window gone');
    assert.equal(mem.read32(0xfed0_0030), 0x0005_0014);
    assert.equal(apic.wrmsr(0x1b, 0xfed0_0100n), true, 'hardware disable');
    assert.equal(mem.read32(0xfed0_0030), 0xffff_ffff);
    assert.equal(apic.hardwareEnabled, false);
    assert.equal(apic.acceptsPicInterrupts(), true);
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0001n), false, 'reserved bit');
    assert.equal(apic.wrmsr(0x1b, 0x80_0000_0000n | 0x900n), false, 'above MAXPHYADDR');
  });
});

describe('local APIC (x2APIC MSRs)', () => {
  it('refuses x2APIC MSRs outside x2APIC mode (#GP)', () => {
    const { apic } = setup();
    assert.equal(apic.owns(0x802), true);
    assert.equal(apic.owns(0x1b), true);
    assert.equal(apic.owns(0x10), false);
    assert.equal(apic.rdmsr(0x802), undefined);
    assert.equal(apic.wrmsr(0x808, 0n), false);
  });

  it('enters x2APIC mode through IA32_APIC_BASE.EXTD and serves registers as MSRs', () => {
    const { apic, mem } = setup();
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0400n | 0x100n), false, 'EXTD without EN is invalid');
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0d00n), true);
    assert.equal(apic.x2apicMode, true);
    assert.equal(mem.read32(VERSION), 0xffff_ffff, 'the xAPIC window is gone in x2APIC mode');
    assert.equal(apic.rdmsr(0x802), 0n);
    assert.equal(apic.rdmsr(0x803), 0x0005_0014n);
    assert.equal(apic.rdmsr(0x80d), 1n, 'LDR derived from the x2APIC ID');
    assert.equal(apic.wrmsr(0x80d, 2n), false, 'LDR is read-only');
    assert.equal(apic.rdmsr(0x80e), undefined, 'no DFR in x2APIC mode');
    assert.equal(apic.wrmsr(0x80f, 0x1ffn), true);
    assert.equal(apic.wrmsr(0x83f, 0x66n), true, 'SELF IPI');
    assert.equal(apic.rdmsr(0x823), 0x40n, 'IRR bit 0x66 (word 3, bit 6)');
    assert.equal(apic.acknowledge(), 0x66);
    assert.equal(apic.rdmsr(0x80b), undefined, 'EOI is write-only');
    assert.equal(apic.wrmsr(0x80b, 1n), false, 'EOI takes only 0');
    assert.equal(apic.wrmsr(0x80b, 0n), true);
    assert.equal(apic.rdmsr(0x816), 0n);
    assert.equal(apic.wrmsr(0x830, (0n << 32n) | 0x4077n), true, '64-bit ICR');
    assert.equal(apic.rdmsr(0x830), 0x4077n);
    assert.equal(apic.acknowledge(), 0x77);
    assert.equal(apic.rdmsr(0x831), undefined, 'no ICR high half in x2APIC mode');
    assert.equal(apic.wrmsr(0x808, 1n << 32n), false, 'upper half reserved');
    assert.equal(apic.wrmsr(0x839, 5n), false, 'current count is read-only');
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0900n), false, 'x2APIC to xAPIC directly is invalid');
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0100n), true, 'disable first');
    assert.equal(apic.wrmsr(0x1b, 0xfee0_0900n), true, 'then xAPIC');
    assert.equal(mem.read32(VERSION), 0x0005_0014);
  });

  it('runs the timer through MSRs', () => {
    const { apic, run } = setup();
    apic.wrmsr(0x1b, 0xfee0_0d00n);
    apic.wrmsr(0x80f, 0x1ffn);
    apic.wrmsr(0x83e, 0x0bn);
    apic.wrmsr(0x832, 0x45n);
    apic.wrmsr(0x838, 300n);
    run(299);
    assert.equal(apic.rdmsr(0x839), 1n);
    assert.equal(apic.hasInterrupt(), false);
    run(300);
    assert.equal(apic.acknowledge(), 0x45);
  });
});
