import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import type { Cpu } from '../../src/cpu/cpu';
import type { ExecutionHistory } from '../../src/debug/history';
import { backTo, historyRig } from '../support/historyRig';
import { CODE_BASE, DATA_BASE } from '../support/snippet';

/**
 * The execution history keeps what it decoded about an instruction (its memory operands) from one
 * execution to the next, and a stack window from one boundary to the next (src/debug/history.ts).
 * Here the same address holds other bytes, or is decoded in another mode, the second time: the
 * memory the second execution wrote must come back when stepping back over it. And the stack
 * window an instruction changed must come back even when it is the last one executed.
 */

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const A = DATA_BASE, B = DATA_BASE + 0x1000;
const OLD = 0xAABBCCDD, NEW = 0x11223344;

const rig = (bits: 32 | 64) => historyRig(bits);

function load(cpu: Cpu, at: number, code: number[]): void {
  code.forEach((b, k) => cpu.physWrite(at + k, 1, b));
}

function backToStart(hist: ExecutionHistory): void {
  hist.finish();
  while (hist.popAndRestore());
}

describe('history: what it keeps between executions', () => {
  it('self-modifying code: the rewritten instruction saves what it writes, not what the old one did', () => {
    const { cpu, hist } = rig(64);
    const P = CODE_BASE + 0x11;
    load(cpu, CODE_BASE, [
      0xBF, ...le32(A), // mov edi, A
      0xBE, ...le32(B), // mov esi, B
      0xB8, ...le32(NEW), // mov eax, NEW
      0x31, 0xC9, // xor ecx, ecx
      0x89, 0x07, // P: mov [rdi], eax  (then mov [rsi], eax)
      0x85, 0xC9, // test ecx, ecx
      0x75, 0x0C, // jnz done
      0xFF, 0xC1, // inc ecx
      0xBB, ...le32(P + 1), // mov ebx, P + 1
      0xC6, 0x03, 0x06, // mov byte [rbx], 0x06: ModRM [rdi] -> [rsi]
      0xEB, 0xEE, // jmp P
      0xF4, // done: hlt
    ]);
    cpu.physWrite(A, 4, OLD);
    cpu.physWrite(B, 4, OLD);
    cpu.rip = CODE_BASE;
    cpu.run(cpu.icount + 100);
    assert.equal(cpu.physRead(A, 4) >>> 0, NEW);
    assert.equal(cpu.physRead(B, 4) >>> 0, NEW, 'the rewritten instruction stored through RSI');
    assert.equal(cpu.physRead(P + 1, 1), 0x06);

    backTo(hist, P);
    assert.equal(cpu.physRead(B, 4) >>> 0, OLD, 'stepping back over the second execution restores B');
    assert.equal(cpu.physRead(A, 4) >>> 0, NEW);
    backTo(hist, P);
    assert.equal(cpu.physRead(A, 4) >>> 0, OLD, 'and over the first one A');
    assert.equal(cpu.physRead(B, 4) >>> 0, OLD);
    backToStart(hist);
    assert.equal(cpu.physRead(P + 1, 1), 0x07, 'the code byte is back');
    assert.equal(cpu.rip, CODE_BASE);

    // forward again: the original instruction runs first again, and stepping back still works
    cpu.run(cpu.icount + 100);
    assert.equal(cpu.physRead(A, 4) >>> 0, NEW);
    assert.equal(cpu.physRead(B, 4) >>> 0, NEW);
    backTo(hist, P);
    assert.equal(cpu.physRead(B, 4) >>> 0, OLD);
    assert.equal(cpu.physRead(A, 4) >>> 0, NEW);
  });

  it('the same bytes in 64-bit and compatibility mode: RIP-relative there, absolute here', () => {
    const { cpu, hist } = rig(64);
    // 89 05 disp32: 64-bit mov [rip + disp32], eax; 32-bit mov [disp32], eax
    const DISP = 0x8000;
    load(cpu, CODE_BASE, [0xB8, ...le32(NEW), 0x89, 0x05, ...le32(DISP), 0xF4]);
    const STORE = CODE_BASE + 5;
    const RIP_REL = STORE + 6 + DISP;
    cpu.physWrite(RIP_REL, 4, OLD);
    cpu.physWrite(DISP, 4, OLD);
    const run = () => {
      cpu.rip = CODE_BASE;
      cpu.halted = false;
      cpu.run(cpu.icount + 10);
      assert.equal(cpu.halted, true);
    };
    const compat = () => {
      cpu.loadSegRaw(K.SEG_CS, 8, 0, 0xFFFFFFFF, K.AR_P | K.AR_S | 3 | 8 | K.AR_G | K.AR_DB);
      cpu.updateMode();
      assert.equal(cpu.mode64, false);
      assert.equal(cpu.bits, 32);
    };
    run();
    assert.equal(cpu.physRead(RIP_REL, 4) >>> 0, NEW, '64-bit: RIP-relative');
    compat();
    run();
    assert.equal(cpu.physRead(DISP, 4) >>> 0, NEW, 'compatibility mode: absolute');

    backTo(hist, STORE);
    assert.equal(cpu.mode64, false);
    assert.equal(cpu.physRead(DISP, 4) >>> 0, OLD, 'stepping back over the 32-bit store restores its target');
    assert.equal(cpu.physRead(RIP_REL, 4) >>> 0, NEW);
    backTo(hist, STORE);
    assert.equal(cpu.mode64, true);
    assert.equal(cpu.physRead(RIP_REL, 4) >>> 0, OLD, 'and over the 64-bit one its own');

    // and the other way round: compatibility mode first
    backToStart(hist);
    compat();
    run();
    cpu.loadSegRaw(K.SEG_CS, 8, 0, 0xFFFFFFFF, K.AR_P | K.AR_S | 3 | 8 | K.AR_L | K.AR_G);
    cpu.updateMode();
    assert.equal(cpu.mode64, true);
    run();
    assert.equal(cpu.physRead(DISP, 4) >>> 0, NEW);
    assert.equal(cpu.physRead(RIP_REL, 4) >>> 0, NEW);
    backTo(hist, STORE);
    assert.equal(cpu.physRead(RIP_REL, 4) >>> 0, OLD);
    assert.equal(cpu.physRead(DISP, 4) >>> 0, NEW);
    backTo(hist, STORE);
    assert.equal(cpu.physRead(DISP, 4) >>> 0, OLD);
  });

  it('the stack window a push or call changed comes back, also when that instruction is the last one run', () => {
    const { cpu, hist } = rig(64);
    const TOP = 0x30000;
    for (let a = TOP - 0x100; a < TOP + 0x10; a++) cpu.physWrite(a, 1, 0x5A);
    load(cpu, CODE_BASE, [
      0xBC, ...le32(TOP), // mov esp, TOP
      0xB8, ...le32(NEW), // mov eax, NEW
      0x50, // push rax
      0xE8, 0, 0, 0, 0, // call next
      0x6A, 0x7F, // push 0x7F
      0xF4,
    ]);
    const stack = () => Array.from({ length: 0x20 }, (_, k) => cpu.physRead(TOP - 0x20 + k, 1));
    const before = stack();
    cpu.rip = CODE_BASE;
    // stop right after the call: its stack change is seen only by finish()
    cpu.run(cpu.icount + 4);
    assert.equal(cpu.rip, CODE_BASE + 16);
    assert.equal(cpu.physRead(TOP - 16, 4), CODE_BASE + 16, 'return address pushed');
    hist.finish();
    const rec = hist.popAndRestore();
    assert.equal(rec?.rip, CODE_BASE + 11);
    assert.equal(cpu.physRead(TOP - 16, 4), 0x5A5A5A5A, 'the call is undone');
    assert.equal(cpu.physRead(TOP - 8, 4), NEW, 'the push is not');
    cpu.run(cpu.icount + 10);
    assert.equal(cpu.physRead(TOP - 24, 4), 0x7F);
    backToStart(hist);
    assert.deepEqual(stack(), before);
    // and popAndRestore without finish() first: the pending window is compared there
    cpu.run(cpu.icount + 3);
    assert.equal(cpu.physRead(TOP - 8, 4), NEW);
    const push = hist.popAndRestore();
    assert.equal(push?.rip, CODE_BASE + 10);
    assert.deepEqual(stack(), before);
  });
});
