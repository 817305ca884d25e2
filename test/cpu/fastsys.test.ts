import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { MSR_FMASK, MSR_LSTAR, MSR_STAR } from '../../src/cpu/msr';
import { CODE3, CODE_X, hex, Machine, S, STACK3 } from './sysenv';

/** SYSCALL/SYSRET (64-bit, Intel rules) and SYSENTER/SYSEXIT (legacy and 64-bit). */

function syscallMachine(kernel: string): Machine {
  const m = new Machine().long64();
  const c = m.cpu;
  c.efer |= K.EFER_SCE;
  // SYSCALL CS = 0x08, SS = 0x10; SYSRET base 0x18: CS32 0x1B, SS 0x23, CS64 0x2B
  c.msrs.write(MSR_STAR, (0x18n << 48n) | (0x08n << 32n));
  c.msrs.write(MSR_LSTAR, BigInt(CODE_X));
  c.msrs.write(MSR_FMASK, BigInt(F.TF | F.IF | F.DF));
  // mov eax, 7 ; std ; syscall ; ud2
  m.put(CODE3, hex('b8 07 00 00 00 fd 0f 05 0f 0b'));
  m.put(CODE_X, hex(kernel));
  m.ring3(CODE3);
  return m;
}

describe('SYSCALL / SYSRET', () => {
  it('round-trips between ring 3 and ring 0 in 64-bit mode', () => {
    // pushfq ; pop r8 ; mov r9, rcx ; mov r10, r11 ; mov r13d, cs ; mov r14d, ss ; add eax, 1 ; o64 sysret
    const m = syscallMachine('9c 41 58 49 89 c9 4d 89 da 41 8c cd 41 8c d6 83 c0 01 48 0f 07');
    const rec = m.catchExceptions();
    m.run();
    const c = m.cpu;
    assert.equal(rec.vec, K.EXC_UD, 'stopped at the UD2 after the return');
    assert.equal(c.rip, CODE3 + 8);
    assert.equal(c.reg64(0), 8, 'the kernel ran');
    assert.equal(c.reg64(9), CODE3 + 8, 'RCX = return RIP');
    assert.equal(c.reg64(10), 0x602, 'R11 = RFLAGS at SYSCALL (IF, DF)');
    assert.equal(c.reg64(8) & (F.IF | F.DF | F.TF), 0, 'FMASK cleared IF, DF and TF in the kernel');
    assert.equal(c.reg64(13), S.CODE0, 'kernel CS from STAR[47:32]');
    assert.equal(c.reg64(14), S.DATA0, 'kernel SS = CS + 8');
    assert.equal(c.cpl, 3);
    assert.equal(c.segSel[K.SEG_CS], 0x2B);
    assert.equal(c.segSel[K.SEG_SS], 0x23);
    assert.ok(c.mode64);
    assert.equal(c.getFlags() & (F.IF | F.DF), F.IF | F.DF, 'RFLAGS restored from R11');
    assert.equal(c.rsp64, STACK3);
    assert.equal(m.r64(STACK3 - 8), BigInt(c.reg64(8)), 'SYSCALL does not switch stacks: the kernel PUSHFQ went to the user stack');
  });

  it('returns to compatibility mode without REX.W', () => {
    const m = syscallMachine('0f 07'); // sysret
    const rec = m.catchExceptions();
    m.run();
    const c = m.cpu;
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(c.segSel[K.SEG_CS], 0x1B);
    assert.ok(!c.mode64);
    assert.equal(c.bits, 32);
    assert.equal(c.rip, CODE3 + 8);
  });

  it('raises #GP(0) in ring 0 for a non-canonical RCX (Intel)', () => {
    const m = syscallMachine('48 b9 00 00 00 00 00 80 00 00 48 0f 07'); // mov rcx, 1 << 47 ; o64 sysret
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, 0]);
    assert.equal(m.cpu.cpl, 0);
    assert.equal(m.cpu.segSel[K.SEG_CS], S.CODE0);
    assert.equal(m.cpu.rip, CODE_X + 10);
  });

  it('is #UD without EFER.SCE and outside 64-bit mode; SYSRET is #GP outside ring 0', () => {
    const m = syscallMachine('0f 07');
    m.cpu.efer &= ~K.EFER_SCE;
    const rec = m.catchExceptions();
    m.run();
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(m.cpu.rip, CODE3 + 6, 'at SYSCALL');
    const p = new Machine().protected32();
    p.cpu.efer |= K.EFER_SCE;
    p.put(CODE3, hex('0f 05'));
    p.ring3(CODE3);
    const r2 = p.catchExceptions();
    p.run();
    assert.equal(r2.vec, K.EXC_UD);
    const s = syscallMachine('0f 07');
    s.put(CODE3, hex('48 0f 07'));
    const r3 = s.catchExceptions();
    s.run();
    assert.deepEqual([r3.vec, r3.err], [K.EXC_GP, 0]);
  });
});

describe('SYSENTER / SYSEXIT', () => {
  it('round-trips in 32-bit protected mode', () => {
    const m = new Machine().protected32();
    const c = m.cpu;
    c.msrs.sysenterCs = S.CODE0;
    c.msrs.sysenterEsp = 0x48000;
    c.msrs.sysenterEip = CODE_X;
    // mov ecx, esp ; mov edx, back ; sysenter ; back: ud2
    m.put(CODE3, hex('89 e1 ba 09 10 01 00 0f 34 0f 0b'));
    // mov eax, esp ; mov ebx, cs ; mov esi, ss ; pushfd ; pop edi ; sysexit
    m.put(CODE_X, hex('89 e0 8c cb 8c d6 9c 5f 0f 35'));
    m.ring3(CODE3);
    const rec = m.catchExceptions();
    m.run();
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(c.rip, CODE3 + 9);
    assert.equal(c.r[0], 0x48000, 'kernel ESP from IA32_SYSENTER_ESP');
    assert.equal(c.r[3], S.CODE0);
    assert.equal(c.r[6], S.DATA0, 'kernel SS = CS + 8');
    assert.equal(c.r[7] & F.IF, 0, 'SYSENTER clears IF');
    assert.equal(c.cpl, 3);
    assert.equal(c.segSel[K.SEG_CS], S.CODE3, 'CS = SYSENTER_CS + 16, RPL 3');
    assert.equal(c.segSel[K.SEG_SS], S.DATA3, 'SS = SYSENTER_CS + 24, RPL 3');
    assert.equal(c.r[4], 0x70000, 'ESP = ECX');
    assert.equal(c.segLimit[K.SEG_CS], 0xFFFFFFFF);
  });

  it('returns to 64-bit mode with REX.W SYSEXIT', () => {
    const m = new Machine().long64();
    const c = m.cpu;
    c.msrs.sysenterCs = S.CODE0;
    c.msrs.sysenterEsp = 0x48000;
    c.msrs.sysenterEip = CODE_X;
    // lea rdx, [rel back] ; mov rcx, rsp ; sysenter ; back: ud2
    m.put(CODE3, hex('48 8d 15 05 00 00 00 48 89 e1 0f 34 0f 0b'));
    m.put(CODE_X, hex('48 89 e0 48 0f 35')); // mov rax, rsp ; o64 sysexit
    m.ring3(CODE3);
    const rec = m.catchExceptions();
    m.run();
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(c.reg64(0), 0x48000);
    assert.equal(c.segSel[K.SEG_CS], S.CODE0 + 32 + 3);
    assert.equal(c.segSel[K.SEG_SS], S.CODE0 + 40 + 3);
    assert.ok(c.mode64);
    assert.equal(c.rip, CODE3 + 12);
    assert.equal(c.rsp64, STACK3);
  });

  it('faults with IA32_SYSENTER_CS = 0 and for SYSEXIT outside ring 0', () => {
    const m = new Machine().protected32();
    m.put(CODE3, hex('0f 34'));
    m.ring3(CODE3);
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, 0]);
    const m2 = new Machine().protected32();
    m2.cpu.msrs.sysenterCs = S.CODE0;
    m2.put(CODE3, hex('0f 35'));
    m2.ring3(CODE3);
    const r2 = m2.catchExceptions();
    m2.run();
    assert.deepEqual([r2.vec, r2.err], [K.EXC_GP, 0]);
  });
});
