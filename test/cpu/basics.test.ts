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

describe('alignment check (#AC)', () => {
  it('faults on a misaligned ring-3 access with CR0.AM and EFLAGS.AC set, and not otherwise', async () => {
    const { makeCpu } = await import('../support/snippet');
    const K = await import('../../src/cpu/constants');
    const F2 = await import('../../src/cpu/flags');
    const run = (am: boolean, ac: boolean, addr: number) => {
      const { cpu, bus } = makeCpu(32);
      // mov eax, [addr]; hlt — executed at CPL 3 with flat ring-3 segments
      bus.backing.set([0xA1, addr & 0xFF, (addr >> 8) & 0xFF, (addr >> 16) & 0xFF, addr >>> 24, 0xF4], 0x10000);
      const ring3 = K.AR_P | K.AR_S | (3 << K.AR_DPL_SHIFT) | K.AR_DB | K.AR_G;
      for (let s = 0; s < 6; s++) cpu.loadSegRaw(s, (s === K.SEG_CS ? 0x18 : 0x20) | 3, 0, 0xFFFFFFFF, ring3 | (s === K.SEG_CS ? 0xB : 3));
      if (am) cpu.cr0 |= K.CR0_AM;
      cpu.updateMode();
      cpu.setFlags(ac ? F2.AC : 0, F2.AC);
      cpu.rip = 0x10000;
      let vec = -1;
      cpu.onException = (v) => { vec = v; return true; };
      cpu.run(1); // just the load: HLT would #GP at CPL 3
      return vec;
    };
    assert.equal(run(true, true, 0x20001), K.EXC_AC);
    assert.equal(run(true, true, 0x20004), -1);
    assert.equal(run(false, true, 0x20001), -1);
    assert.equal(run(true, false, 0x20001), -1);
  });
});

describe('LOCK prefix', () => {
  const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
  it('is accepted on a read-modify-write with a memory destination', () => {
    // lock add dword [0x20000], eax
    const r = runSnippet({ bits: 32, code: hex('f0 01 05 00 00 02 00'), regs: [5n], mem: new Uint8Array([1, 0, 0, 0]) });
    assert.equal(r.exception, undefined);
    assert.equal(r.mem[0], 6);
  });
  it('raises #UD on a register destination, on CMP and on MOV', () => {
    assert.equal(runSnippet({ bits: 32, code: hex('f0 01 c0') }).exception, 6);           // lock add eax, eax
    assert.equal(runSnippet({ bits: 32, code: hex('f0 39 05 00 00 02 00') }).exception, 6); // lock cmp [m], eax
    assert.equal(runSnippet({ bits: 32, code: hex('f0 89 05 00 00 02 00') }).exception, 6); // lock mov [m], eax
  });
});

describe('self-modifying code inside one block', () => {
  it('re-decodes an inline-executed instruction patched by the instruction before it', () => {
    // mov byte [0x10007], 0x29 patches the very next instruction: add eax,ebx (01 d8) -> sub eax,ebx (29 d8)
    // 0x10000: c6 05 07 00 01 00 29   (7 bytes) ; 0x10007: 01 d8
    const code = Uint8Array.from([0xc6, 0x05, 0x07, 0x00, 0x01, 0x00, 0x29, 0x01, 0xd8]);
    const r = runSnippet({ bits: 32, code, regs: [10n, 0n, 0n, 3n] });
    assert.equal(r.regs[0], 7n);
  });
});

describe('NMI blocking', () => {
  it('blocks further NMIs until IRET, keeping one pending', async () => {
    const { makeCpu } = await import('../support/snippet');
    const { cpu, bus } = makeCpu(16);
    // IVT[2] -> 1000:0100 ; main at 1000:0000 spins; the handler does inc bx ; iret
    bus.backing.set([0x00, 0x01, 0x00, 0x10], 8);
    bus.backing.set([0xEB, 0xFE], 0x10000);
    bus.backing.set([0x43, 0xCF], 0x10100);
    cpu.rip = 0;
    cpu.r[4] = 0xF000;
    cpu.run(cpu.icount + 5);
    cpu.raiseNmi();
    cpu.run(cpu.icount + 1); // delivers the NMI, runs inc bx; IRET not yet executed
    assert.equal(cpu.r[3] & 0xFFFF, 1);
    cpu.raiseNmi(); // arrives inside the handler: held (not nested) until IRET
    cpu.run(cpu.icount + 1);
    assert.equal(cpu.r[3] & 0xFFFF, 1, 'not nested inside the handler');
    cpu.run(cpu.icount + 20);
    assert.equal(cpu.r[3] & 0xFFFF, 2, 'the held NMI is taken after IRET');
    cpu.run(cpu.icount + 20);
    assert.equal(cpu.r[3] & 0xFFFF, 2, 'no NMI is invented');
  });
});

describe('MONITOR/MWAIT', () => {
  const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
  it('are reported by CPUID and run at CPL 0; MWAIT returns', () => {
    // mov eax, 1; cpuid -> ecx bit 3 ; then mov eax, 0x20000; xor ecx, ecx; xor edx, edx; monitor; mwait
    const r = runSnippet({ bits: 32, code: hex('b8 01 00 00 00 0f a2 89 cf b8 00 00 02 00 31 c9 31 d2 0f 01 c8 0f 01 c9') });
    assert.equal(r.exception, undefined);
    assert.ok(Number(r.regs[7]) & 8, 'CPUID.1:ECX.MONITOR');
  });
  it('reject unsupported extensions in ECX with #GP', () => {
    assert.equal(runSnippet({ bits: 32, code: hex('b9 02 00 00 00 0f 01 c9') }).exception, 13);
    assert.equal(runSnippet({ bits: 32, code: hex('b8 00 00 02 00 b9 01 00 00 00 0f 01 c8') }).exception, 13);
  });
});

describe('CPUID describes what is emulated', () => {
  const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
  it('reports no FPU, SSE or SSE2, and their instructions raise #UD', () => {
    // mov eax, 1; cpuid
    const r = runSnippet({ bits: 32, code: hex('b8 01 00 00 00 0f a2') });
    const edx = Number(r.regs[2]);
    assert.equal(edx & 1, 0, 'FPU');
    assert.equal(edx & (1 << 25), 0, 'SSE');
    assert.equal(edx & (1 << 26), 0, 'SSE2');
    assert.ok(edx & (1 << 19), 'CLFLUSH is emulated and reported');
    assert.equal(runSnippet({ bits: 32, code: hex('0f ae f0') }).exception, 6, 'MFENCE');
    assert.equal(runSnippet({ bits: 32, code: hex('0f ae e8') }).exception, 6, 'LFENCE');
    assert.equal(runSnippet({ bits: 32, code: hex('0f 28 c1') }).exception, 6, 'MOVAPS');
    assert.equal(runSnippet({ bits: 32, code: hex('d9 e8') }).exception, 6, 'FLD1 with CR0.EM=0 and no FPU');
    assert.equal(runSnippet({ bits: 32, code: hex('0f ae 3d 00 00 02 00') }).exception, undefined, 'CLFLUSH');
  });
});
