import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { CODE0, CODE3, CODE_X, hex, Machine, S, STACK0, STACK3, TSS_A, VEC_STUBS } from './sysenv';

/**
 * Protected-mode and IA-32e protection: IDT delivery with and without privilege change, error codes
 * of selector faults, double and triple faults, call gates and far returns. The code snippets are
 * nasm output; the source is in the comment next to each.
 */

describe('protection: legacy IDT delivery', () => {
  it('delivers #GP from ring 3 to ring 0 on the TSS stack with the full frame', () => {
    const m = new Machine().protected32();
    // mov eax, 0x203 ; mov ds, ax      (selector beyond the GDT limit)
    m.put(CODE3, hex('b8 03 02 00 00 8e d8'));
    m.ring3(CODE3);
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), K.EXC_GP);
    assert.equal(c.cpl, 0);
    assert.equal(c.segSel[K.SEG_CS], S.CODE0);
    assert.equal(c.segSel[K.SEG_SS], S.DATA0);
    assert.equal(c.r[4] >>> 0, STACK0 - 24);
    assert.equal(m.stack32(0), 0x200, 'error code: the selector index');
    assert.equal(m.stack32(1), CODE3 + 5, 'EIP of the faulting MOV');
    assert.equal(m.stack32(2), S.CODE3);
    assert.equal(m.stack32(3), 0x202 | F.RF, 'EFLAGS image: IF as it was, RF set for a fault');
    assert.equal(m.stack32(4), STACK3);
    assert.equal(m.stack32(5), S.DATA3);
    assert.equal(c.getFlags() & F.IF, 0, 'interrupt gate clears IF');
    assert.equal(c.segSel[K.SEG_DS], S.DATA3, 'data segments are kept on the way in');
  });

  it('checks the gate DPL for INT n and keeps IF through a trap gate', () => {
    const m = new Machine().protected32();
    m.gate(0x40, S.CODE0, VEC_STUBS + 16 * 0x40, 0xF, 3); // trap gate usable from ring 3
    // int 0x40 ; int 0x41
    m.put(CODE3, hex('cd 40 cd 41'));
    m.ring3(CODE3);
    m.run();
    assert.equal(m.haltedVector(), 0x40);
    assert.equal(m.stack32(0), CODE3 + 2, 'INT n saves the address of the next instruction');
    assert.equal(m.stack32(2), 0x202, 'RF is not set for a software interrupt');
    assert.ok(m.cpu.getFlags() & F.IF, 'a trap gate leaves IF set');
    // back to ring 3 after the first INT, the second one hits a DPL 0 gate
    m.cpu.halted = false;
    m.ring3(CODE3 + 2);
    m.run();
    assert.equal(m.haltedVector(), K.EXC_GP);
    assert.equal(m.stack32(0), 0x41 * 8 + 2, 'error code names the IDT entry, EXT = 0');
    assert.equal(m.stack32(1), CODE3 + 2, 'the fault points at INT 0x41');
  });

  it('delivers through a 16-bit interrupt gate with a 16-bit frame', () => {
    const m = new Machine().protected32();
    m.seg(8, 0, 0xFFFF, 0xB, 0, { db: false }); // 16-bit code segment
    m.gate(6, 0x40, VEC_STUBS + 16 * 6, 0x6, 0);
    m.put(CODE0, hex('0f 0b')); // ud2
    m.cpu.r[4] = 0x7000;
    m.run();
    assert.equal(m.haltedVector(), 6);
    assert.equal(m.cpu.r[4] >>> 0, 0x7000 - 6);
    assert.equal(m.r16(0x7000 - 6), CODE0 & 0xFFFF, 'IP (low 16 bits)');
    assert.equal(m.r16(0x7000 - 4), S.CODE0);
    assert.equal(m.r16(0x7000 - 2), 0x0002 , 'FLAGS (16 bits; RF is above them)');
    assert.equal(m.cpu.bits, 16);
  });
});

describe('protection: returns and external events', () => {
  it('IRET returns to ring 3 with SS:ESP, and RF from the fault frame does not stick', () => {
    const m = new Machine().protected32();
    m.gate(K.EXC_GP, S.CODE0, CODE_X);
    m.gate(0x40, S.CODE0, VEC_STUBS + 16 * 0x40, 0xE, 3);
    // ring 3: mov eax, 0x203 ; mov ds, ax (#GP) ; int 0x40
    m.put(CODE3, hex('b8 03 02 00 00 8e d8 cd 40'));
    // #GP handler: add esp, 4 ; add dword [esp], 2 ; iretd    (skips the MOV)
    m.put(CODE_X, hex('83 c4 04 83 04 24 02 cf'));
    m.ring3(CODE3);
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), 0x40);
    assert.equal(m.stack32(0), CODE3 + 9, 'ring 3 resumed after the skipped MOV');
    assert.equal(m.stack32(1), S.CODE3);
    assert.equal(m.stack32(2), 0x202, 'RF clear in the INT frame (the #GP frame had it set)');
    assert.equal(m.stack32(3), STACK3, 'IRET restored ESP');
    assert.equal(m.stack32(4), S.DATA3, 'IRET restored SS');
    assert.equal(c.r[4] >>> 0, STACK0 - 20);
  });

  it('IRETQ returns to ring 3 in 64-bit mode', () => {
    const m = new Machine().long64();
    m.gate64(6, S.CODE0, CODE_X);
    m.gate64(0x40, S.CODE0, VEC_STUBS + 16 * 0x40, 0xE, 3);
    m.put(CODE3, hex('0f 0b cd 40')); // ud2 ; int 0x40
    m.put(CODE_X, hex('48 83 04 24 02 48 cf')); // add qword [rsp], 2 ; iretq
    m.ring3(CODE3);
    m.run();
    assert.equal(m.haltedVector(), 0x40);
    assert.equal(m.stack64(0), BigInt(CODE3 + 4));
    assert.equal(m.stack64(1), BigInt(S.CODE3_64));
    assert.equal(m.stack64(2), 0x202n);
    assert.equal(m.stack64(3), BigInt(STACK3));
    assert.equal(m.stack64(4), BigInt(S.DATA3));
  });

  it('delivers a fault raised while delivering an external interrupt (EXT set)', () => {
    const m = new Machine().protected32();
    m.gate(0x30, S.CODE0, VEC_STUBS, 0xE, 0, false); // not present
    m.put(CODE0, hex('eb fe')); // jmp $
    const c = m.cpu;
    c.setFlags(F.IF, F.IF);
    let pending = true;
    c.intc = { hasInterrupt: () => pending, acknowledge: () => { pending = false; return 0x30; } };
    c.raiseIntrLine();
    m.run(100);
    assert.equal(m.haltedVector(), K.EXC_NP);
    assert.equal(m.stack32(0), 0x30 * 8 + 2 + 1, 'IDT entry, EXT = 1');
    assert.equal(m.stack32(1), CODE0, 'the interrupted instruction');
    assert.equal(m.stack32(2), S.CODE0);
    assert.equal(m.stack32(3), F.IF | F.RF | 2, '#NP is a fault: RF set in the image');
  });
});

describe('protection: error codes for bad selectors', () => {
  function fault(code: string, setup?: (m: Machine) => void): { vec: number; err: number } {
    const m = new Machine().protected32();
    m.seg(8, 0, 0xFFFFF, 0x3, 0, { p: false }); // 0x40 data, not present
    m.seg(9, 0, 0xFFFFF, 0x3, 0, { p: false }); // 0x48 writable data, not present
    m.seg(10, 0, 0xFFFFF, 0x1, 0); // 0x50 read-only data
    m.sys(11, 0x6000, 0x50, 0x9); // 0x58 32-bit TSS with a too small limit
    m.callGate(13, S.CODE0, CODE_X, 0, 0, 0xC, false); // 0x68 call gate, not present
    setup?.(m);
    const rec = m.catchExceptions();
    m.put(CODE0, hex(code));
    m.run();
    assert.equal(rec.n, 1);
    return rec;
  }

  it('#NP(selector) for a data segment that is not present', () => {
    assert.deepEqual(fault('66 b8 40 00 8e d8'), { vec: K.EXC_NP, err: 0x40, n: 1 }); // mov ds, 0x40
  });
  it('#SS(selector) for a stack segment that is not present', () => {
    assert.deepEqual(fault('66 b8 48 00 8e d0'), { vec: K.EXC_SS, err: 0x48, n: 1 }); // mov ss, 0x48
  });
  it('#GP(selector) for a read-only stack segment', () => {
    assert.deepEqual(fault('66 b8 50 00 8e d0'), { vec: K.EXC_GP, err: 0x50, n: 1 }); // mov ss, 0x50
  });
  it('#GP(selector without RPL) for a system descriptor in DS', () => {
    assert.deepEqual(fault('66 b8 2b 00 8e d8'), { vec: K.EXC_GP, err: 0x28, n: 1 }); // mov ds, 0x2B (the TSS)
  });
  it('#GP(selector) for an LDT selector while LDTR is null', () => {
    assert.deepEqual(fault('66 b8 04 02 8e d8'), { vec: K.EXC_GP, err: 0x204, n: 1 }); // mov ds, 0x204
  });
  it('#TS(selector) for a TSS whose limit is below 0x67', () => {
    assert.deepEqual(fault('ea 00 00 00 00 58 00'), { vec: K.EXC_TS, err: 0x58, n: 1 }); // jmp 0x58:0
  });
  it('#NP(selector) for a call gate that is not present', () => {
    assert.deepEqual(fault('9a 00 00 00 00 68 00'), { vec: K.EXC_NP, err: 0x68, n: 1 }); // call 0x68:0
  });

  it('#TS(SS selector + EXT) when the inner stack from the TSS is bad', () => {
    const m = new Machine().protected32();
    m.seg(10, 0, 0xFFFFFFFF, 0x1, 1); // 0x50: read-only data, DPL 1
    m.seg(12, 0, 0xFFFFFFFF, 0xB, 1); // 0x60: ring-1 code
    m.tss32(TSS_A, { esp1: 0x60000, ss1: 0x51 });
    m.gate(6, 0x61, VEC_STUBS + 16 * 6); // #UD goes to ring 1
    m.put(CODE3, hex('0f 0b')); // ud2
    m.ring3(CODE3);
    m.run();
    assert.equal(m.haltedVector(), K.EXC_TS, '#TS is delivered (to ring 0)');
    assert.equal(m.stack32(0), 0x51, 'error code: SS selector index with EXT = 1');
    assert.equal(m.stack32(1), CODE3, 'the saved EIP is the instruction whose #UD failed');
    assert.equal(m.stack32(2), S.CODE3);
  });

  it('#NP(IDT entry) for a gate that is not present', () => {
    const m = new Machine().protected32();
    m.gate(0x41, S.CODE0, VEC_STUBS, 0xE, 0, false);
    m.put(CODE0, hex('cd 41')); // int 0x41
    m.run();
    assert.equal(m.haltedVector(), K.EXC_NP);
    assert.equal(m.stack32(0), 0x41 * 8 + 2);
  });
});

describe('protection: double and triple faults', () => {
  it('turns a #GP during #NP delivery into #DF with error code 0', () => {
    const m = new Machine().protected32();
    m.seg(8, 0, 0xFFFFF, 0x3, 0, { p: false }); // 0x40 not present
    m.gate(K.EXC_NP, 0, VEC_STUBS, 0xE, 0); // #NP gate with a null code selector: #GP(EXT)
    // mov ax, 0x40 ; mov ds, ax
    m.put(CODE0, hex('66 b8 40 00 8e d8'));
    m.run();
    assert.equal(m.haltedVector(), K.EXC_DF);
    assert.equal(m.stack32(0), 0, '#DF error code');
    assert.equal(m.stack32(1), CODE0 + 4, 'saved EIP: the MOV that raised #NP');
  });

  it('delivers a #GP raised while delivering a benign #UD as a plain #GP', () => {
    const m = new Machine().protected32();
    m.gate(K.EXC_UD, 0, 0); // #UD gate with a null code selector: #GP(EXT)
    m.put(CODE0, hex('0f 0b'));
    m.run();
    assert.equal(m.haltedVector(), K.EXC_GP, 'the #GP is delivered, not #DF');
    assert.equal(m.stack32(0), 1, 'null selector, EXT = 1');
    assert.equal(m.stack32(1), CODE0);
  });

  it('shuts down on a triple fault', () => {
    const m = new Machine().protected32();
    m.cpu.idtrLimit = 0; // every vector is beyond the IDT limit
    m.put(CODE0, hex('0f 0b'));
    assert.equal(m.run(), 'shutdown');
    assert.equal(m.cpu.stopReason, 'shutdown');
    assert.ok(m.cpu.shutdown);
    assert.match(m.cpu.stopDetail, /triple fault/);
  });
});

describe('protection: call gates', () => {
  function gateMachine(gateDpl = 3): Machine {
    const m = new Machine().protected32();
    m.callGate(8, S.CODE0, CODE_X, gateDpl, 2); // 0x40: 32-bit gate, two parameters
    // push 0xAAAA1111 ; push 0xBBBB2222 ; call 0x43:0x12345678 ; mov ebx, esp ; ud2
    m.put(CODE3, hex('68 11 11 aa aa 68 22 22 bb bb 9a 78 56 34 12 43 00 89 e3 0f 0b'));
    // mov eax,[esp+8] ; mov edx,[esp+12] ; mov ecx,esp ; mov esi,[esp+16] ; mov edi,[esp+20] ; mov ebp,cs ; retf 8
    m.put(CODE_X, hex('8b 44 24 08 8b 54 24 0c 89 e1 8b 74 24 10 8b 7c 24 14 8c cd ca 08 00'));
    m.ring3(CODE3);
    return m;
  }

  it('calls ring 0 from ring 3 with a stack switch and parameter copy, and RETF returns', () => {
    const m = gateMachine();
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), K.EXC_UD, 'back in ring 3, the UD2 faults');
    assert.equal(c.r[0] >>> 0, 0xBBBB2222, 'first parameter copied');
    assert.equal(c.r[2] >>> 0, 0xAAAA1111, 'second parameter copied');
    assert.equal(c.r[1] >>> 0, STACK0 - 24, 'inner ESP: SS, ESP, 2 parameters, CS, EIP');
    assert.equal(c.r[6] >>> 0, STACK3 - 8, 'old ESP saved');
    assert.equal(c.r[7] >>> 0, S.DATA3, 'old SS saved');
    assert.equal(c.r[5] >>> 0, S.CODE0, 'ran in ring 0 code');
    assert.equal(c.r[3] >>> 0, STACK3, 'RETF 8 released the parameters on the caller stack');
    assert.equal(m.stack32(0), CODE3 + 19, '#UD frame: EIP after the far call');
    assert.equal(m.stack32(1), S.CODE3, '#UD frame: CS is ring 3 again');
    assert.equal(m.stack32(3), STACK3);
  });

  it('copies 16-bit parameters and pushes a 16-bit frame through a 16-bit call gate', () => {
    const m = new Machine().protected32();
    m.callGate(8, S.CODE0, VEC_STUBS + 16 * 0x50, 3, 1, 0x4); // 0x40: 16-bit gate, one parameter
    m.put(CODE3, hex('68 44 44 34 12 9a 00 00 00 00 43 00')); // push 0x12344444 ; call 0x43:0
    m.ring3(CODE3);
    m.run();
    assert.equal(m.haltedVector(), 0x50);
    assert.equal(m.cpu.r[4] >>> 0, STACK0 - 10);
    const w = [0, 2, 4, 6, 8].map((k) => m.r16(STACK0 - 10 + k));
    assert.deepEqual(w, [(CODE3 + 12) & 0xFFFF, S.CODE3, 0x4444, (STACK3 - 4) & 0xFFFF, S.DATA3]);
  });

  it('raises #SS(new SS) when the inner stack cannot hold the frame, changing nothing', () => {
    const m = gateMachine();
    m.seg(9, 0, 0x0FFF, 0x3, 0); // 0x48: ring-0 stack segment with a 4 KiB limit
    m.tss32(TSS_A, { esp0: 0x10, ss0: 0x48 }); // 16 bytes of room, the frame needs 24
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_SS, 0x48]);
    assert.equal(m.cpu.cpl, 3);
    assert.equal(m.cpu.segSel[K.SEG_SS], S.DATA3);
    assert.equal(m.cpu.r[4] >>> 0, STACK3 - 8);
  });

  it('refuses a gate whose DPL is below CPL with #GP(gate selector)', () => {
    const m = gateMachine(0);
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, 0x40]);
    assert.equal(m.cpu.cpl, 3);
    assert.equal(m.cpu.r[4] >>> 0, STACK3 - 8, 'nothing pushed by the failed call');
  });

  it('jumps through a call gate at the same privilege, and refuses one to a more privileged segment', () => {
    const m = new Machine().protected32();
    m.callGate(8, S.CODE0, CODE_X, 0);
    m.put(CODE0, hex('ea 00 00 00 00 40 00')); // jmp 0x40:0
    m.put(CODE_X, hex('f4'));
    m.run();
    assert.equal(m.cpu.rip, CODE_X + 1);
    assert.equal(m.cpu.r[4] >>> 0, STACK0, 'JMP pushes nothing');
    const m3 = new Machine().protected32();
    m3.callGate(8, S.CODE0, CODE_X, 3);
    m3.put(CODE3, hex('ea 00 00 00 00 43 00'));
    m3.ring3(CODE3);
    const rec = m3.catchExceptions();
    m3.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, S.CODE0], 'JMP cannot raise privilege: #GP(code selector)');
  });

  it('RETF to an outer level checks SS before changing anything', () => {
    const m = new Machine().protected32();
    // ring 0: push 0x10 (bad SS: DPL 0 for a ring-3 return) ; push esp ; push 0x1B ; push CODE3 ; retf
    m.put(CODE0, hex('6a 10 54 6a 1b 68 00 10 01 00 cb'));
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, 0x10]);
    assert.equal(m.cpu.cpl, 0, 'CS not loaded');
    assert.equal(m.cpu.segSel[K.SEG_CS], S.CODE0);
    assert.equal(m.cpu.r[4] >>> 0, STACK0 - 16, 'nothing popped');
  });

  it('RETF to ring 3 nulls data segments the new CPL may not use', () => {
    const m = new Machine().protected32();
    // push 0x23 ; push 0x70000 ; push 0x1B ; push CODE3 ; retf
    m.put(CODE0, hex('6a 23 68 00 00 07 00 6a 1b 68 00 10 01 00 cb'));
    m.put(CODE3, hex('0f 0b'));
    m.loadSeg(K.SEG_ES, S.DATA3);
    const rec = m.catchExceptions();
    m.run();
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(m.cpu.cpl, 3);
    assert.equal(m.cpu.segSel[K.SEG_DS], 0, 'DS (DPL 0) nulled');
    assert.equal(m.cpu.segSel[K.SEG_ES], S.DATA3, 'ES (DPL 3) kept');
    assert.equal(m.cpu.r[4] >>> 0, STACK3);
  });
});

describe('protection: IA-32e mode', () => {
  it('switches to an IST stack aligned on 16 bytes and pushes SS:RSP at the same privilege', () => {
    const m = new Machine().long64();
    m.w64(TSS_A + 0x24, 0x90008n); // IST1, not 16-byte aligned
    m.gate64(6, S.CODE0, VEC_STUBS + 16 * 6, 0xE, 0, 1);
    // mov esp, 0x7fff5 ; ud2
    m.put(CODE0, hex('bc f5 ff 07 00 0f 0b'));
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), 6);
    assert.equal(c.rsp64, 0x90000 - 40);
    assert.equal(m.stack64(0), BigInt(CODE0 + 5), 'RIP');
    assert.equal(m.stack64(1), BigInt(S.CODE0), 'CS');
    assert.equal(m.stack64(2) & BigInt(F.RF), BigInt(F.RF), 'RFLAGS with RF');
    assert.equal(m.stack64(3), 0x7fff5n, 'old RSP');
    assert.equal(m.stack64(4), BigInt(S.DATA0), 'old SS');
  });

  it('aligns the current stack without IST and pushes the error code', () => {
    const m = new Machine().long64();
    // mov esp, 0x7fff8 ; mov ax, 0x203 ; mov ds, ax
    m.put(CODE0, hex('bc f8 ff 07 00 66 b8 03 02 8e d8'));
    m.run();
    assert.equal(m.haltedVector(), K.EXC_GP);
    assert.equal(m.cpu.rsp64, 0x7fff0 - 48);
    assert.equal(m.stack64(0), 0x200n, 'error code');
    assert.equal(m.stack64(1), BigInt(CODE0 + 9));
    assert.equal(m.stack64(4), 0x7fff8n);
  });

  it('goes from ring 3 to ring 0 on RSP0 with a null SS', () => {
    const m = new Machine().long64();
    m.put(CODE3, hex('0f 0b'));
    m.ring3(CODE3, 0x6ff08);
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), 6);
    assert.equal(c.cpl, 0);
    assert.equal(c.segSel[K.SEG_SS], 0, 'SS is a null selector with RPL 0');
    assert.equal(c.rsp64, STACK0 - 40);
    assert.equal(m.stack64(1), BigInt(S.CODE3_64));
    assert.equal(m.stack64(3), 0x6ff08n);
    assert.equal(m.stack64(4), BigInt(S.DATA3));
  });

  it('calls ring 0 through a 64-bit call gate and returns with RETFQ', () => {
    const m = new Machine().long64();
    m.callGate64(8, S.CODE0, CODE_X, 3); // 0x40, 16 bytes
    // call far dword [rel ptr] ; ud2 ; ptr: dd 0, dw 0x43
    m.put(CODE3, hex('ff 1d 02 00 00 00 0f 0b 00 00 00 00 43 00'));
    // mov rax,rsp ; mov rbx,[rsp+8] ; mov rcx,[rsp+16] ; mov rdx,[rsp+24] ; mov esi,ss ; o64 retf
    m.put(CODE_X, hex('48 89 e0 48 8b 5c 24 08 48 8b 4c 24 10 48 8b 54 24 18 8c d6 48 cb'));
    m.ring3(CODE3);
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), 6);
    assert.equal(c.reg64(0), STACK0 - 32, 'inner RSP from the TSS, four 8-byte slots');
    assert.equal(c.reg64(3), S.CODE3_64, 'caller CS');
    assert.equal(c.reg64(1), STACK3, 'caller RSP');
    assert.equal(c.reg64(2), S.DATA3, 'caller SS');
    assert.equal(c.reg64(6), 0, 'SS was a null selector in ring 0');
    assert.equal(m.stack64(1), BigInt(S.CODE3_64), 'back in ring 3 when UD2 faulted');
    assert.equal(m.stack64(0), BigInt(CODE3 + 6));
    assert.equal(m.stack64(3), BigInt(STACK3));
  });
});
