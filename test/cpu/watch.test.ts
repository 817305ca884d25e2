import { strict as assert } from 'assert';
import { CODE_BASE, DATA_BASE, makeCpu } from '../support/snippet';
import * as K from '../../src/cpu/constants';

/** Data watchpoints (debugger) and DR0-DR3 breakpoints (architectural #DB). */

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, v >>> 24];

function setup(code: Uint8Array) {
  const { cpu, bus } = makeCpu(32);
  bus.backing.set(code, CODE_BASE);
  cpu.rip = CODE_BASE;
  cpu.r[4] = 0x30000;
  return { cpu, bus };
}

describe('debugger watchpoints', () => {
  // mov [DATA+0x10], eax ; inc ebx ; inc ebx ; hlt
  const code = Uint8Array.from([0xA3, ...le32(DATA_BASE + 0x10), 0x43, 0x43, 0xF4]);

  it('stops right after the instruction that writes the watched range', () => {
    const { cpu } = setup(code);
    cpu.r[0] = 0x1234;
    cpu.addWatch(DATA_BASE + 0x12, 1, false, true);
    assert.equal(cpu.run(100), 'watchpoint');
    assert.equal(cpu.rip, CODE_BASE + 5);
    assert.equal(cpu.r[3], 0, 'nothing after the write ran');
    assert.deepEqual({ lin: cpu.watchHit!.lin, size: cpu.watchHit!.size, write: cpu.watchHit!.write }, { lin: DATA_BASE + 0x10, size: 4, write: true });
    cpu.watchHit = null;
    assert.equal(cpu.run(100), 'halt');
    assert.equal(cpu.r[3], 2);
  });

  it('ignores accesses of the other kind and outside the range', () => {
    const { cpu } = setup(code);
    cpu.addWatch(DATA_BASE + 0x10, 4, true, false); // read watch: the store does not fire it
    cpu.addWatch(DATA_BASE + 0x14, 4, true, true); // adjacent range
    assert.equal(cpu.run(100), 'halt');
  });

  it('sees stack writes that take the push fast path', () => {
    // push eax ; hlt
    const { cpu } = setup(Uint8Array.from([0x50, 0xF4]));
    cpu.addWatch(0x30000 - 4, 4, false, true);
    assert.equal(cpu.run(100), 'watchpoint');
    assert.equal(cpu.rip, CODE_BASE + 1);
  });

  it('costs nothing when none is set: data pages enter the TLB', () => {
    const { cpu } = setup(code);
    cpu.run(100);
    const idx = ((DATA_BASE + 0x10) >>> 12) & 4095;
    assert.equal(cpu.tlbWTag[idx], DATA_BASE);
  });
});

describe('DR0-DR3 breakpoints', () => {
  it('an execution breakpoint raises #DB before the instruction, with DR6.B0', () => {
    // nop ; nop ; inc eax ; hlt
    const { cpu } = setup(hex('90 90 40 f4'));
    let vec = -1;
    cpu.onException = (v) => { vec = v; return true; };
    cpu.dr[0] = CODE_BASE + 2;
    cpu.dr[7] = 0x401; // L0, RW0 = 00 (execute), LEN0 = 00
    cpu.debugRegistersChanged();
    cpu.run(100);
    assert.equal(vec, K.EXC_DB);
    assert.equal(cpu.rip, CODE_BASE + 2);
    assert.equal(cpu.r[0], 0);
    assert.equal(cpu.dr[6] & 0xF, 1);
  });

  it('a data write breakpoint is a trap after the writing instruction, with DR6.B1', () => {
    // mov [DATA], eax ; inc ebx ; hlt
    const { cpu } = setup(Uint8Array.from([0xA3, ...le32(DATA_BASE), 0x43, 0xF4]));
    let vec = -1;
    let ripAtDb = -1;
    cpu.onException = (v) => { vec = v; ripAtDb = cpu.rip; return true; };
    cpu.dr[1] = DATA_BASE;
    cpu.dr[7] = 0x400 | (1 << 2) | (1 << 20) | (3 << 22); // L1, RW1 = 01 (write), LEN1 = 11 (4 bytes)
    cpu.debugRegistersChanged();
    cpu.run(100);
    assert.equal(cpu.dr[6] & 0xF, 2);
    assert.equal(cpu.r[3], 0, 'the trap came before the next instruction');
    assert.equal(vec, K.EXC_DB);
    assert.equal(ripAtDb, CODE_BASE + 5);
  });
});
