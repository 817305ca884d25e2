import { strict as assert } from 'assert';
import { boot, exitStatus, fixture, RES, TSTAMP } from './integrationHarness';
import { MULTIBOOT_BOOTLOADER_MAGIC } from '../../src/machine/loaders';

/**
 * The CPU inside the machine: self-modifying code in each mode (including REP MOVSB patches and
 * code written through a paging alias), demand paging with a #PF handler, triple faults, and a
 * multiboot kernel handed over by the loader.
 */

describe('integration: self-modifying code', () => {
  it('real mode: next-instruction patch, self-incrementing loop, REP MOVSB over a function and over the following code (smc16.bin)', () => {
    const g = boot('smc16.bin');
    const out = g.run(100_000);
    assert.equal(out.kind, 'exit', out.detail);
    const w = (off: number) => g.m.memory.read16(RES + off);
    assert.equal(w(0x10) & 0xFF, 0x42, 'patched immediate seen');
    assert.equal(w(0x12), 1 + 2 + 3 + 4 + 5, 'each pass saw its own new immediate');
    assert.equal(w(0x14), 0x1111, 'function before');
    assert.equal(w(0x16), 0x2222, 'function after REP MOVSB');
    assert.equal(w(0x18), 0x5A5A, 'the code after the REP MOVSB was replaced before it ran');
  });

  it('protected mode: patches with paging off and on, and code written through one linear alias and run through another (smc32.bin)', () => {
    const g = boot('smc32.bin', { mode: 'protected' });
    const out = g.run(100_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.deepEqual(g.dwords(RES + 0x10, 5), [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555]);
  });

  it('long mode: the same on the guest\'s own 4-level tables, plus a self-incrementing loop (smc64.bin)', () => {
    const g = boot('smc64.bin', { mode: 'long' });
    const out = g.run(100_000);
    assert.equal(out.kind, 'exit', out.detail);
    assert.deepEqual(g.dwords(RES + 0x10, 4), [0x11111111, 0x22222222, 0x33333333, 0x44444444]);
    assert.equal(g.u32(RES + 0x20), 55);
  });
});

describe('integration: demand paging with a #PF handler in long mode (pf64.bin)', () => {
  const DEMAND = 0x4000_0000;
  const POOL = 0x80_0000;
  const go = () => {
    const g = boot('pf64.bin', { mode: 'long' });
    const out = g.run(1_000_000);
    const log = Array.from({ length: 4 }, (_, i): [number, number] => [
      Number(g.m.memory.read64(TSTAMP + 16 * i)),
      Number(g.m.memory.read64(TSTAMP + 16 * i + 8)),
    ]);
    return { g, out, log };
  };

  it('maps pages on demand and retries the faulting accesses', () => {
    const { g, out } = go();
    assert.equal(out.kind, 'exit', out.detail);
    assert.equal(out.kind === 'exit' && out.status, exitStatus(4));
    assert.equal(g.u32(RES + 0x10), 0, 'read from a fresh page');
    assert.equal(g.u32(RES + 0x18), 4, 'four frames used');
  });

  it('reports CR2 and the error code of each fault', () => {
    const { log } = go();
    assert.deepEqual(log[0], [DEMAND, 0x2], 'write, not present');
    assert.deepEqual(log[1], [DEMAND + 0x1008, 0x0], 'read, not present');
    // The split write faults once per page: CR2 = the access itself for the first page and the
    // first byte of the second page for the second. (Which page faults first when both are
    // missing is checked in integration.cpuIssues.test.ts.)
    const split = [log[2], log[3]].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(split, [[DEMAND + 0x2FFC, 0x2], [DEMAND + 0x3000, 0x2]]);
  });

  it('performs the page-crossing write once, after both pages exist', () => {
    const { g, log } = go();
    // frames are handed out in fault order
    const frame = (lin: number) => POOL + 0x1000 * log.findIndex(([cr2]) => cr2 - (cr2 % 0x1000) === lin);
    assert.equal(g.u32(frame(DEMAND)), 0xCAFEF00D);
    assert.equal(g.u32(frame(DEMAND + 0x2000) + 0xFFC), 0x55667788);
    assert.equal(g.u32(frame(DEMAND + 0x3000)), 0x11223344);
  });
});

describe('integration: triple fault ends the run with outcome "shutdown"', () => {
  it('protected mode: #DE with an empty IDT → #GP → #DF → shutdown (triple-pm.bin)', () => {
    const g = boot('triple-pm.bin', { mode: 'protected' });
    const out = g.run(100_000);
    assert.equal(out.kind, 'shutdown', out.detail);
    assert.equal(out.code, 4);
    assert.match(out.detail, /triple fault/);
    assert.match(out.detail, /#GP/);
    assert.match(out.detail, /#DF/);
    assert.equal(g.run(100_000).kind, 'shutdown', 'and stays shut down');
  });

  it('long mode: #UD with a non-canonical RSP → #SS → #DF → shutdown (triple-lm.bin)', () => {
    const g = boot('triple-lm.bin', { mode: 'long' });
    const out = g.run(100_000);
    assert.equal(out.kind, 'shutdown', out.detail);
    assert.match(out.detail, /triple fault/);
    assert.match(out.detail, /#SS/);
    assert.match(out.detail, /#DF/);
  });
});

describe('integration: multiboot ELF kernel through loadImage with format auto-detection', () => {
  it('starts in flat protected mode with EAX = 0x2BADB002 and EBX at a valid info block', () => {
    const bytes = fixture('multiboot-elf.elf', 'loaders');
    const ramMiB = 32;
    const g = boot('', { bytes, format: null, ramMiB });
    assert.equal(g.m.plan?.format, 'multiboot');
    const out = g.run(100_000);
    assert.equal(out.kind, 'halt', out.detail);
    const cpu = g.m.cpu;
    assert.equal(cpu.r[0] >>> 0, MULTIBOOT_BOOTLOADER_MAGIC);
    assert.equal(MULTIBOOT_BOOTLOADER_MAGIC, 0x2BADB002);
    const info = cpu.r[3] >>> 0;
    // the kernel pushed EBX then EAX on its own stack and compared EAX itself before halting
    const esp = cpu.r[4] >>> 0;
    assert.equal(g.u32(esp), 0x2BADB002);
    assert.equal(g.u32(esp + 4), info);
    const mem = g.m.memory;
    const flags = mem.read32(info);
    assert.ok(flags & 1, 'mem_lower/mem_upper valid');
    assert.ok(flags & (1 << 6), 'mmap valid');
    assert.equal(mem.read32(info + 4), 639, 'mem_lower: up to the EBDA at 0x9FC00, as QEMU reports it');
    assert.equal(mem.read32(info + 8), ramMiB * 1024 - 1024, 'mem_upper');
    const mmapLength = mem.read32(info + 44);
    const mmapAddr = mem.read32(info + 48);
    assert.ok(mmapLength >= 2 * 24);
    let usableAbove1M = 0n;
    let usableBelow1M = 0n;
    for (let p = mmapAddr; p < mmapAddr + mmapLength; ) {
      const size = mem.read32(p);
      const base = mem.read64(p + 4);
      const len = mem.read64(p + 12);
      const type = mem.read32(p + 20);
      if (type === 1 && base >= 0x100000n) usableAbove1M += len;
      if (type === 1 && base < 0xA0000n) usableBelow1M += len;
      p += size + 4;
    }
    assert.equal(usableBelow1M, 0x9FC00n);
    assert.equal(usableAbove1M, BigInt(ramMiB - 1) * 1024n * 1024n);
    // the kernel's segments: the flat 32-bit state the spec requires
    assert.equal(cpu.cr0 & 1, 1, 'CR0.PE');
    assert.equal(cpu.cr0 & 0x8000_0000, 0, 'paging off');
    assert.equal(cpu.flags & 0x200, 0, 'IF clear');
  });
});
