import { strict as assert } from 'assert';
import { boot, RES, TSTAMP } from './integrationHarness';

/**
 * Guest-visible CPU problems found by the machine integration tests, each as a minimal reproducer.
 * They fail until src/cpu is fixed (see the notes on each).
 */

describe('integration (CPU issues): instruction fetch #PF when chaining into the next block (pffetch64.bin)', () => {
  // Cpu.run: `blk = this.nextBlock(blk)` faults inside lookupBlock (the call target is not
  // present) while `blk` still names the block that was just executed, so the catch rewinds RIP to
  // that block's first instruction instead of leaving it at the fetch address. The handler's IRETQ
  // then re-executes the previous block: here the split write runs again with RAX = the call target.
  it('saves the fetch address as the return RIP and does not re-run the previous block', () => {
    const g = boot('pffetch64.bin', { mode: 'long' });
    const out = g.run(1_000_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(g.u32(RES + 0x14), 0xC0DE, 'the routine mapped by the handler ran');
    const log = Array.from({ length: 5 }, (_, i) => Number(g.m.memory.read64(TSTAMP + 16 * i + 8)));
    assert.equal(log[4], 0x10, 'fifth fault is the instruction fetch');
    // frames are handed out in fault order; the split write's two pages got frames 2 and 3
    const cr2s = Array.from({ length: 5 }, (_, i) => Number(g.m.memory.read64(TSTAMP + 16 * i)));
    const frame = (lin: number) => 0x80_0000 + 0x1000 * cr2s.findIndex((c) => c - (c % 0x1000) === lin);
    assert.equal(g.u32(frame(0x4000_2000) + 0xFFC), 0x55667788, 'split write not repeated with another value');
    assert.equal(g.u32(frame(0x4000_3000)), 0x11223344);
  });
});

describe('integration (CPU issues): page-split access with both pages missing (pf64.bin)', () => {
  // Cpu.wrLinSlow (and rdLinSlow, which reads the bytes from the last one down) translates the
  // page of the LAST byte first, so when neither page is present the first #PF reports the second
  // page (CR2 = 0x40003000). Bochs and QEMU translate in address order and fault on the first page
  // (CR2 = the access address) first, as hardware does.
  it('faults on the lower page first', () => {
    const g = boot('pf64.bin', { mode: 'long' });
    assert.equal(g.run(1_000_000).kind, 'exit');
    assert.equal(Number(g.m.memory.read64(TSTAMP + 16 * 2)), 0x4000_2FFC);
    assert.equal(Number(g.m.memory.read64(TSTAMP + 16 * 3)), 0x4000_3000);
  });
});

describe('integration (CPU issues): the clock inside a block', () => {
  // cpu.icount advances once per executed block, so every clock reader during a block (RDTSC via
  // readTsc, and devices through Machine.instructions(): PIT/APIC programming, counter reads,
  // RTC) sees the count at the START of the block. Two RDTSCs 12 instructions apart in one block
  // read the same value, and the values differ between running and single-stepping.
  it('RDTSC counts the instructions retired before it in the same block (clock16.bin)', () => {
    const g = boot('clock16.bin');
    assert.equal(g.run(1_000).kind, 'exit');
    assert.equal(g.u32(RES + 0x10), 12);
  });

  it('time stamps do not depend on whether the guest is single-stepped (pit16.bin)', () => {
    const run = (step: boolean) => {
      const g = boot('pit16.bin');
      g.m.cpu.forceSingleStep = step;
      g.m.cpu.singleStepChanged();
      assert.equal(g.run(10_000_000).kind, 'exit');
      return g.dwords(TSTAMP, 5);
    };
    assert.deepEqual(run(true), run(false));
  });
});
