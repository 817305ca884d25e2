import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { CODE0, CODE3, CODE_X, GDT, hex, Machine, S, TSS_A, TSS_B, TSS_C } from './sysenv';

/** Hardware task switching (SDM 7.3). Snippet sources are in the comments (nasm). */

const STACK_B = 0x50000;
const STACK_C = 0x58000;
const TYPE = (m: Machine, sel: number) => (m.descHi(sel >> 3) >>> 8) & 0xF;

function taskMachine(): Machine {
  const m = new Machine().protected32();
  m.tss32(TSS_B, { eip: CODE_X, esp0: 0x48000, regs: [0x1234, 0, 0, 0, STACK_B] });
  m.sys(6, TSS_B, 0x67, 0x9); // 0x30
  m.tss32(TSS_C, { eip: CODE_X + 0x100, regs: [0, 0, 0, 0, STACK_C] });
  m.sys(7, TSS_C, 0x67, 0x9); // 0x38
  return m;
}

describe('tasks: JMP, CALL and IRET', () => {
  it('switches with JMP to a TSS and back, saving and restoring each task', () => {
    const m = taskMachine();
    // A: mov eax, 1 ; mov ecx, 0xC0FFEE ; jmp 0x30:0 ; hlt
    m.put(CODE0, hex('b8 01 00 00 00 b9 ee ff c0 00 ea 00 00 00 00 30 00 f4'));
    // B: mov ebx, eax ; str edx ; jmp 0x28:0
    m.put(CODE_X, hex('89 c3 0f 00 ca ea 00 00 00 00 28 00'));
    m.cpu.cr0 &= ~K.CR0_TS;
    m.run();
    const c = m.cpu;
    assert.equal(c.rip, CODE0 + 18, 'A resumed after its JMP and halted');
    assert.equal(c.r[0], 1, 'EAX restored from TSS A');
    assert.equal(c.r[1], 0xC0FFEE, 'ECX restored from TSS A');
    assert.equal(c.r[3], 0, 'EBX is A\'s again');
    assert.equal(m.r32(TSS_B + 0x30), S.TSSB, 'B state saved: EDX = STR in B gave its own TSS');
    assert.equal(c.segSel[K.SEG_TR], S.TSSA);
    assert.equal(TYPE(m, S.TSSA), 0xB, 'A busy again');
    assert.equal(TYPE(m, S.TSSB), 0x9, 'JMP cleared B busy');
    assert.equal(m.r32(TSS_B + 0x20), CODE_X + 12, 'B state saved: EIP after its JMP');
    assert.equal(m.r32(TSS_B + 0x34), 0x1234, 'B state saved: EBX = the EAX B got from its TSS');
    assert.equal(m.r32(TSS_A + 0x20), CODE0 + 17, 'A state saved: EIP after its JMP');
    assert.equal(m.r16(TSS_B), 0, 'JMP leaves the back link alone');
    assert.ok(c.cr0 & K.CR0_TS, 'CR0.TS set');
    assert.equal(c.getFlags() & F.NT, 0);
  });

  it('nests with CALL (NT, back link, busy) and returns with IRET', () => {
    const m = taskMachine();
    // A: call 0x30:0 ; hlt
    m.put(CODE0, hex('9a 00 00 00 00 30 00 f4'));
    // B: pushfd ; pop esi ; str edx ; mov [0x6000], esi ; mov [0x6004], edx ; iretd
    m.put(CODE_X, hex('9c 5e 0f 00 ca 89 35 00 60 00 00 89 15 04 60 00 00 cf'));
    m.run();
    const c = m.cpu;
    assert.equal(c.rip, CODE0 + 8);
    assert.ok(m.r32(0x6000) & F.NT, 'B ran with NT set');
    assert.equal(m.r32(0x6004), S.TSSB);
    assert.equal(m.r16(TSS_B), S.TSSA, 'back link to A');
    assert.equal(c.segSel[K.SEG_TR], S.TSSA);
    assert.equal(TYPE(m, S.TSSB), 0x9, 'IRET cleared B busy');
    assert.equal(TYPE(m, S.TSSA), 0xB);
    assert.equal(m.r32(TSS_B + 0x24) & F.NT, 0, 'IRET saved B with NT clear');
    assert.equal(c.getFlags() & F.NT, 0, 'A runs with its own NT (clear)');
  });

  it('switches through an interrupt task gate and back with IRET', () => {
    const m = taskMachine();
    m.gate(0x40, S.TSSC, 0, 0x5, 0);
    // A: int 0x40 ; hlt
    m.put(CODE0, hex('cd 40 f4'));
    // C: mov dword [0x6000], 0x77 ; str eax ; mov [0x6004], eax ; iretd
    m.put(CODE_X + 0x100, hex('c7 05 00 60 00 00 77 00 00 00 0f 00 c8 a3 04 60 00 00 cf'));
    m.run();
    assert.equal(m.cpu.rip, CODE0 + 3);
    assert.equal(m.r32(0x6000), 0x77);
    assert.equal(m.r32(0x6004), S.TSSC);
    assert.equal(m.r16(TSS_C), S.TSSA);
    assert.equal(m.r32(TSS_A + 0x20), CODE0 + 2, 'A saved with EIP after INT');
    assert.equal(TYPE(m, S.TSSC), 0x9);
    assert.equal(m.cpu.segSel[K.SEG_TR], S.TSSA);
  });

  it('delivers an exception through a task gate with its error code on the new stack', () => {
    const m = taskMachine();
    m.gate(K.EXC_GP, S.TSSC, 0, 0x5, 0);
    // A: mov ax, 0x203 ; mov ds, ax
    m.put(CODE0, hex('66 b8 03 02 8e d8'));
    // C: pop eax ; hlt
    m.put(CODE_X + 0x100, hex('58 f4'));
    m.run();
    const c = m.cpu;
    assert.equal(c.rip, CODE_X + 0x102);
    assert.equal(c.r[0], 0x200, 'error code popped by the handler task');
    assert.equal(c.r[4], STACK_C, 'pushed on the new task stack');
    assert.equal(c.segSel[K.SEG_TR], S.TSSC);
    assert.ok(c.getFlags() & F.NT);
    assert.equal(m.r16(TSS_C), S.TSSA);
    assert.equal(m.r32(TSS_A + 0x20), CODE0 + 4, 'old task saved at the faulting instruction');
    assert.equal(TYPE(m, S.TSSA), 0xB, 'the interrupted task stays busy');
  });

  it('handles a double fault in its own task, as operating systems set it up', () => {
    const m = taskMachine();
    m.seg(8, 0, 0xFFFFF, 0x3, 0, { p: false }); // 0x40 not present
    m.gate(K.EXC_NP, 0, 0); // #NP delivery fails with #GP(EXT): double fault
    m.gate(K.EXC_DF, S.TSSC, 0, 0x5, 0);
    m.put(CODE0, hex('66 b8 40 00 8e d8')); // mov ax, 0x40 ; mov ds, ax
    m.put(CODE_X + 0x100, hex('58 f4')); // pop eax ; hlt
    m.tss32(TSS_C, { eip: CODE_X + 0x100, regs: [0x99, 0, 0, 0, STACK_C] });
    m.run();
    const c = m.cpu;
    assert.equal(c.segSel[K.SEG_TR], S.TSSC);
    assert.equal(c.rip, CODE_X + 0x102);
    assert.equal(c.r[0], 0, '#DF error code 0 popped');
    assert.equal(m.r32(TSS_A + 0x20), CODE0 + 4, 'the faulting task saved at the MOV');
    // a fault after the commit point of the #DF task switch is a triple fault
    const t = taskMachine();
    t.seg(8, 0, 0xFFFFF, 0x3, 0, { p: false });
    t.gate(K.EXC_NP, 0, 0);
    t.gate(K.EXC_DF, S.TSSC, 0, 0x5, 0);
    t.tss32(TSS_C, { eip: CODE_X + 0x100, cs: S.DATA0, regs: [0, 0, 0, 0, STACK_C] });
    t.put(CODE0, hex('66 b8 40 00 8e d8'));
    assert.equal(t.run(), 'shutdown');
  });

  it('loads LDTR and LDT-based segments of the new task', () => {
    const m = taskMachine();
    m.sys(9, 0x6800, 0xF, 0x2); // 0x48: LDT with two entries
    m.w32(0x6800, 0x0FFF | (0x7000 << 16)); // LDT[0]: data base 0x7000, limit 0xFFF, DPL 0
    m.w32(0x6804, 0x00409300);
    m.w32(0x7000, 0x5EED);
    m.tss32(TSS_B, { eip: CODE_X, ldt: 0x48, ds: 0x04, regs: [0, 0, 0, 0, STACK_B] });
    m.put(CODE0, hex('ea 00 00 00 00 30 00')); // jmp 0x30:0
    m.put(CODE_X, hex('a1 00 00 00 00 f4')); // mov eax, [0] ; hlt
    m.run();
    const c = m.cpu;
    assert.equal(c.r[0], 0x5EED);
    assert.equal(c.segSel[K.SEG_LDTR], 0x48);
    assert.equal(c.segBase[K.SEG_LDTR], 0x6800);
    assert.equal(c.segBase[K.SEG_DS], 0x7000);
    assert.ok(m.r32(0x6804) & 0x100, 'accessed bit set in the LDT entry');
  });

  it('loads CR3 from the new TSS when paging is on', () => {
    const m = taskMachine();
    const c = m.cpu;
    const pd1 = m.table(), pd2 = m.table();
    m.w32(pd1, 0x87); // 4 MiB identity page
    for (let p = 0; p < 0x400000; p += 0x1000) m.map32(pd2, p, p === CODE_X ? 0x40000 : p, 7);
    m.tss32(TSS_A, { cr3: pd1 });
    m.tss32(TSS_B, { eip: CODE_X, cr3: pd2, regs: [0, 0, 0, 0, STACK_B] });
    // A: jmp 0x30:0 ; mov eax, [0x6000] ; hlt
    m.put(CODE0, hex('ea 00 00 00 00 30 00 a1 00 60 00 00 f4'));
    m.put(CODE_X, hex('f4')); // what B would run without its CR3
    // B (at physical 0x40000): mov dword [0x6000], 0xB0B0 ; jmp 0x28:0
    m.put(0x40000, hex('c7 05 00 60 00 00 b0 b0 00 00 ea 00 00 00 00 28 00'));
    c.cr4 |= K.CR4_PSE;
    c.cr3 = pd1;
    c.cr0 |= K.CR0_PG;
    c.flushTlb(true);
    m.run();
    assert.equal(c.r[0], 0xB0B0, 'B ran from its own address space');
    assert.equal(c.cr3, pd1, 'back in A, CR3 from TSS A');
  });

  it('switches to a 16-bit TSS', () => {
    const m = taskMachine();
    const t = 0x6800;
    m.seg(10, CODE_X, 0xFFFF, 0xB, 0); // 0x50: code based at CODE_X
    m.sys(9, t, 0x2B, 0x1); // 0x48: 16-bit TSS
    m.w16(t + 0x0E, 0); // IP
    m.w16(t + 0x10, 0x0002); // FLAGS
    m.w16(t + 0x12, 0x1111); // AX
    m.w16(t + 0x1A, 0x7000); // SP
    m.w16(t + 0x22, S.DATA0); m.w16(t + 0x24, 0x50); m.w16(t + 0x26, S.DATA0); m.w16(t + 0x28, S.DATA0);
    m.put(CODE0, hex('ea 00 00 00 00 48 00')); // jmp 0x48:0
    m.put(CODE_X, hex('f4'));
    m.run();
    const c = m.cpu;
    assert.equal(c.rip, 1);
    assert.equal(c.segSel[K.SEG_CS], 0x50);
    assert.equal(c.r[0] >>> 0, 0xFFFF1111, 'upper halves set by a 16-bit TSS');
    assert.equal(c.r[4] >>> 0, 0xFFFF7000);
    assert.equal(c.segSel[K.SEG_FS], 0, 'FS and GS are null');
    assert.ok(c.segAr[K.SEG_GS] & K.AR_UNUSABLE);
    assert.equal(TYPE(m, 0x48), 0x3, '16-bit TSS busy');
    assert.equal(TYPE(m, S.TSSA), 0x9);
  });
});

describe('tasks: checks and faults', () => {
  it('refuses a busy TSS with #GP and a TSS above the caller privilege with #GP', () => {
    const m = taskMachine();
    const rec = m.catchExceptions();
    m.put(CODE0, hex('ea 00 00 00 00 28 00')); // jmp 0x28:0 (itself, busy)
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, S.TSSA]);
    assert.equal(m.cpu.segSel[K.SEG_TR], S.TSSA);

    const m3 = taskMachine();
    const rec3 = m3.catchExceptions();
    m3.put(CODE3, hex('ea 00 00 00 00 30 00')); // jmp 0x30:0 from ring 3, TSS DPL 0
    m3.ring3(CODE3);
    m3.run();
    assert.deepEqual([rec3.vec, rec3.err], [K.EXC_GP, S.TSSB]);
  });

  it('IRET with NT to a TSS that is not busy raises #TS(back link)', () => {
    const m = taskMachine();
    m.w16(TSS_A, S.TSSB); // back link to B, which is available
    const rec = m.catchExceptions();
    // pushfd ; or dword [esp], 0x4000 ; popfd ; iretd
    m.put(CODE0, hex('9c 81 0c 24 00 40 00 00 9d cf'));
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_TS, S.TSSB]);
  });

  it('faults after the commit point are delivered in the new task', () => {
    const m = taskMachine();
    m.tss32(TSS_B, { eip: CODE_X, cs: S.DATA0, regs: [0, 0, 0, 0, STACK_B] }); // CS is not code
    m.put(CODE0, hex('ea 00 00 00 00 30 00'));
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), K.EXC_TS);
    assert.equal(c.segSel[K.SEG_TR], S.TSSB, 'the switch was committed');
    assert.equal(m.stack32(0), S.DATA0, '#TS(new CS selector)');
    assert.equal(m.stack32(1), CODE_X, 'saved EIP is the new task\'s');
    assert.equal(m.stack32(2), S.DATA0, 'saved CS selector is the new task\'s');
    assert.equal(c.r[4] >>> 0, STACK_B - 16, 'on the new task\'s stack');
    assert.equal(TYPE(m, S.TSSA), 0x9);
  });

  it('a stop-on-exception hook sees a post-commit fault at the new task\'s first instruction', () => {
    const m = taskMachine();
    m.seg(8, 0, 0xFFFFF, 0x3, 0, { p: false }); // 0x40 not present
    m.tss32(TSS_B, { eip: CODE_X, ds: 0x40, regs: [0, 0, 0, 0, STACK_B] });
    m.put(CODE0, hex('ea 00 00 00 00 30 00'));
    m.put(CODE_X, hex('c7 04 24 77 00 00 00 f4')); // mov dword [esp], 0x77 ; hlt
    const rec = m.catchExceptions();
    assert.equal(m.run(), 'exception');
    assert.deepEqual([rec.vec, rec.err, rec.n], [K.EXC_NP, 0x40, 1]);
    assert.equal(m.cpu.rip, CODE_X);
    assert.equal(m.r32(STACK_B), 0, 'the new task did not run on');
    assert.equal(m.cpu.segSel[K.SEG_DS], 0x40, 'the selector is loaded even though its descriptor failed');
  });

  it('raises #DB with DR6.BT when the new TSS has the T flag', () => {
    const m = taskMachine();
    m.tss32(TSS_B, { eip: CODE_X, trap: true, regs: [0, 0, 0, 0, STACK_B] });
    m.put(CODE0, hex('ea 00 00 00 00 30 00'));
    m.put(CODE_X, hex('f4'));
    m.run();
    assert.equal(m.haltedVector(), K.EXC_DB);
    assert.ok(m.cpu.dr[6] & 0x8000, 'DR6.BT');
    assert.equal(m.stack32(0), CODE_X, '#DB before the first instruction of the new task');
    assert.equal(m.cpu.segSel[K.SEG_TR], S.TSSB);
  });

  it('a JMP to a task gate checks the gate DPL against CPL and RPL', () => {
    const m = taskMachine();
    m.w32(GDT + 8 * 8, S.TSSB << 16); // 0x40: task gate to B, DPL 0
    m.w32(GDT + 8 * 8 + 4, 0x8500);
    m.put(CODE0, hex('ea 00 00 00 00 43 00')); // jmp 0x43:0 (RPL 3 > DPL 0)
    const rec = m.catchExceptions();
    m.run();
    assert.deepEqual([rec.vec, rec.err], [K.EXC_GP, 0x40]);
    m.w32(GDT + 8 * 8 + 4, 0xE500); // DPL 3: allowed
    m.put(CODE_X, hex('f4'));
    m.cpu.onException = null;
    m.cpu.rip = CODE0;
    m.run();
    assert.equal(m.cpu.segSel[K.SEG_TR], S.TSSB);
    assert.equal(m.cpu.rip, CODE_X + 1);
  });
});
