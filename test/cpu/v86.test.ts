import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { CODE0, CODE_X, hex, Machine, S, STACK0, TSS_A, TSS_B } from './sysenv';

/** Virtual-8086 mode: entering it, IOPL-sensitive instructions, interrupts to ring 0, I/O bitmap. */

const V86_CS = 0x2000;
const V86_IP = 0x100;
const V86_CODE = V86_CS * 16 + V86_IP;

/**
 * Ring 0 enters v86 at 2000:0100 with IRETD, EFLAGS from [0x6000]:
 * push 0 (GS) ; push 0 (FS) ; push 0x2000 (DS) ; push 0x2000 (ES) ; push 0x2000 (SS) ; push 0xFFFE (ESP)
 * push dword [0x6000] (EFLAGS) ; push 0x2000 (CS) ; push 0x100 (EIP) ; iretd
 */
const ENTER_V86 = '6a 00 6a 00 68 00 20 00 00 68 00 20 00 00 68 00 20 00 00 68 fe ff 00 00 ff 35 00 60 00 00 68 00 20 00 00 68 00 01 00 00 cf';

function v86Machine(eflags: number, code: string): Machine {
  const m = new Machine().protected32();
  m.w32(0x6000, eflags);
  m.put(CODE0, hex(ENTER_V86));
  m.put(V86_CODE, hex(code));
  return m;
}

describe('virtual-8086 mode', () => {
  it('runs a real-mode INT through a ring-0 monitor that reflects it, and returns with IRET', () => {
    const m = v86Machine(F.VM | F.IOPL | F.IF | 2, 'b8 00 00 cd 21 bb 78 56 f4'); // mov ax,0 ; int 0x21 ; mov bx,0x5678 ; hlt
    // the real-mode handler at 3000:0000: mov ax, 0x1234 ; iret
    m.put(0x30000, hex('b8 34 12 cf'));
    m.w16(0x84, 0x0000);
    m.w16(0x86, 0x3000);
    // IDT 0x21 (DPL 3) to the ring-0 monitor, which pushes FLAGS, CS, IP on the v86 stack and points
    // the frame at the IVT vector:
    //   mov ax, 0x10 ; mov ds, ax ; mov ebp, esp
    //   movzx eax, word [ebp+16] ; shl eax, 4          ; v86 SS * 16
    //   movzx ecx, word [ebp+12] ; sub cx, 6 ; mov [ebp+12], cx ; add eax, ecx
    //   mov edx, [ebp+0] ; mov [eax], dx               ; IP
    //   mov edx, [ebp+4] ; mov [eax+2], dx             ; CS
    //   mov edx, [ebp+8] ; mov [eax+4], dx             ; FLAGS
    //   movzx edx, word [0x84] ; mov [ebp+0], edx ; movzx edx, word [0x86] ; mov [ebp+4], edx
    //   iretd
    m.gate(0x21, S.CODE0, CODE_X, 0xE, 3);
    m.put(CODE_X, hex('66 b8 10 00 8e d8 89 e5 0f b7 45 10 c1 e0 04 0f b7 4d 0c 66 83 e9 06 66 89 4d 0c 01 c8 8b 55 00 ' +
      '66 89 10 8b 55 04 66 89 50 02 8b 55 08 66 89 50 04 0f b7 15 84 00 00 00 89 55 00 0f b7 15 86 00 00 00 89 55 04 cf'));
    m.run();
    const c = m.cpu;
    assert.equal(m.haltedVector(), K.EXC_GP, 'HLT in v86 mode faults to ring 0');
    assert.equal(c.r[0] & 0xFFFF, 0x1234, 'the real-mode handler ran');
    assert.equal(c.r[3] & 0xFFFF, 0x5678, 'and returned to the v86 program');
    assert.equal(c.r[4] >>> 0, STACK0 - 40, 'v86 frame: 9 dwords and the error code');
    assert.equal(m.stack32(0), 0);
    assert.equal(m.stack32(1), V86_IP + 8, 'IP of the HLT');
    assert.equal(m.stack32(2), V86_CS);
    assert.ok(m.stack32(3) & F.VM, 'EFLAGS image has VM');
    assert.equal(m.stack32(4), 0xFFFE, 'SP restored by the real-mode IRET');
    assert.equal(m.stack32(5), V86_CS);
    assert.deepEqual([m.stack32(6), m.stack32(7), m.stack32(8), m.stack32(9)], [0x2000, 0x2000, 0, 0], 'ES DS FS GS');
    assert.deepEqual([K.SEG_DS, K.SEG_ES, K.SEG_FS, K.SEG_GS].map((s) => c.segSel[s]), [0, 0, 0, 0], 'data segments nulled');
    assert.equal(c.cpl, 0);
    assert.equal(c.getFlags() & F.VM, 0);
  });

  it('makes CLI, STI, PUSHF, POPF, INT n and IRET fault with IOPL < 3', () => {
    for (const [name, code] of [['cli', 'fa'], ['sti', 'fb'], ['pushf', '9c'], ['popf', '9d'], ['int 0x21', 'cd 21'], ['iret', 'cf']]) {
      const m = v86Machine(F.VM | 2, code);
      m.run();
      assert.equal(m.haltedVector(), K.EXC_GP, name);
      assert.equal(m.stack32(0), 0, `${name}: #GP(0)`);
      assert.equal(m.stack32(1), V86_IP, `${name}: at the instruction`);
    }
    // with IOPL = 3 the same CLI runs
    const m = v86Machine(F.VM | F.IOPL | F.IF | 2, 'fa f4');
    m.run();
    assert.equal(m.stack32(1), V86_IP + 1, 'CLI passed, HLT faulted');
    assert.equal(m.stack32(3) & F.IF, 0, 'IF was cleared by CLI');
  });

  it('checks the TSS I/O permission bitmap for IN/OUT', () => {
    const m = v86Machine(F.VM | 2, 'b0 55 e6 60 e6 61'); // mov al,0x55 ; out 0x60,al ; out 0x61,al
    m.sys(5, TSS_A, 0x68 + 0x10, 0xB); // the TSS covers the bitmap for ports 0-127
    m.loadSeg(K.SEG_TR, S.TSSA);
    for (let k = 0; k < 16; k++) m.w8(TSS_A + 0x68 + k, 0);
    m.w8(TSS_A + 0x68 + 0x0C, 0x02); // port 0x61 denied
    m.run();
    assert.deepEqual(m.ports.writes, [{ port: 0x60, size: 1, value: 0x55 }]);
    assert.equal(m.haltedVector(), K.EXC_GP);
    assert.equal(m.stack32(1), V86_IP + 4, 'OUT 0x61 faulted');
    // a port beyond the bitmap is denied as well
    const m2 = v86Machine(F.VM | 2, 'ba 80 00 ee'); // mov dx, 0x80 ; out dx, al
    m2.sys(5, TSS_A, 0x68 + 0x10, 0xB);
    m2.loadSeg(K.SEG_TR, S.TSSA);
    m2.run();
    assert.equal(m2.haltedVector(), K.EXC_GP);
    assert.equal(m2.ports.writes.length, 0);
  });

  it('enters v86 mode through a task switch with EFLAGS.VM in the new TSS', () => {
    const m = new Machine().protected32();
    m.tss32(TSS_B, { eip: V86_IP, eflags: F.VM | F.IOPL | 2, cs: V86_CS, ss: V86_CS, ds: V86_CS, es: V86_CS, fs: 0, gs: 0,
      esp0: 0x48000, regs: [0, 0, 0, 0, 0xFFF0] });
    m.sys(6, TSS_B, 0x67, 0x9);
    m.put(CODE0, hex('ea 00 00 00 00 30 00')); // jmp 0x30:0
    m.put(V86_CODE, hex('8c cb f4')); // mov bx, cs ; hlt
    m.run();
    const c = m.cpu;
    assert.equal(c.r[3] & 0xFFFF, V86_CS, 'ran in v86 mode with CS = 0x2000');
    assert.equal(m.haltedVector(), K.EXC_GP);
    assert.equal(c.r[4] >>> 0, 0x48000 - 40, 'ring-0 stack of the new task');
    assert.ok(m.stack32(3) & F.VM);
    assert.equal(m.stack32(4), 0xFFF0);
    assert.equal(c.segSel[K.SEG_TR], S.TSSB);
  });
});
