import { strict as assert } from 'assert';
import { runSnippet } from '../support/snippet';
import * as F from '../../src/cpu/flags';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

describe('cpu basics', () => {
  it('adds registers in 32-bit mode and sets flags lazily', () => {
    // add eax, ebx
    const r = runSnippet({ bits: 32, code: hex('01 d8'), regs: [0xFFFFFFFFn, 0n, 0n, 1n] });
    assert.equal(r.regs[0], 0n);
    assert.equal(r.rflags & (F.CF | F.ZF | F.AF | F.PF), F.CF | F.ZF | F.AF | F.PF);
    assert.equal(r.rflags & (F.SF | F.OF), 0);
  });

  it('runs a counted loop in 16-bit real mode', () => {
    // mov cx, 10; xor ax, ax; l: add ax, cx; loop l
    const r = runSnippet({ bits: 16, code: hex('b9 0a 00 31 c0 01 c8 e2 fc') });
    assert.equal(r.regs[0] & 0xFFFFn, 55n);
    assert.equal(r.regs[1] & 0xFFFFn, 0n);
  });

  it('does 64-bit arithmetic with carries across the halves', () => {
    // mov rax, 0xFFFFFFFFFFFFFFFF; add rax, 2
    const r = runSnippet({ bits: 64, code: hex('48 c7 c0 ff ff ff ff 48 83 c0 02') });
    assert.equal(r.regs[0], 1n);
    assert.ok(r.rflags & F.CF);
  });

  it('pushes and pops through the stack, calls and returns', () => {
    // call f; jmp end; f: mov eax, 42; ret; end:
    const r = runSnippet({ bits: 32, code: hex('e8 02 00 00 00 eb 06 b8 2a 00 00 00 c3') });
    assert.equal(r.regs[0], 42n);
  });

  it('reports #DE for a division by zero', () => {
    // xor ecx, ecx; div ecx
    const r = runSnippet({ bits: 32, code: hex('31 c9 f7 f1') });
    assert.equal(r.exception, 0);
  });

  it('executes code it has just written (self-modifying code)', () => {
    // mov byte [rel patch], 0x05 ; patch: mov eax, 1  (imm byte patched to 5) — 32-bit: use absolute
    // 32-bit: c6 05 <addr32> 05  ; then b8 01 00 00 00 at addr
    const base = 0x10000;
    const patchAt = base + 7 + 1; // the imm32 of the mov eax that follows
    const code = new Uint8Array([0xc6, 0x05, patchAt & 0xff, (patchAt >> 8) & 0xff, (patchAt >> 16) & 0xff, 0, 0x05, 0xb8, 0x01, 0, 0, 0]);
    const r = runSnippet({ bits: 32, code });
    assert.equal(r.regs[0], 5n);
  });
});
