/** XSETBV in VMX non-root operation (exit reason 55) and what has priority over that exit (SDM 25.1.1, 26.1.2). */
import { strict as assert } from 'assert';
import * as K from '../../../src/cpu/constants';
import { IA32_VMX_CR4_FIXED1 } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, SCRATCH, VmxHost, ring3Guest } from './harness';

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const CPUID = [0x0F, 0xA2];
const XSETBV = [0x0F, 0x01, 0xD1];
const XGETBV = [0x0F, 0x01, 0xD0];
/** mov eax, a ; mov ecx, c ; xor edx, edx */
const regs = (a: number, c = 0) => [0xB8, ...le32(a), 0xB9, ...le32(c), 0x31, 0xD2];
const G = BigInt(GUEST_CODE);

/** The harness guest with CR4.OSXSAVE set. */
const osxsave = (f: Fields) => f.set('GUEST_CR4', f.get('GUEST_CR4')! | BigInt(K.CR4_OSXSAVE));

describe('VMX: XSETBV', () => {
  it('IA32_VMX_CR4_FIXED1 allows CR4.OSXSAVE; the host may set it in VMX operation', () => {
    const h = new VmxHost();
    assert.ok(Number(h.v.caps.msrs.get(IA32_VMX_CR4_FIXED1)!) & K.CR4_OSXSAVE);
    // mov rax, cr4 ; bts rax, 18 ; mov cr4, rax after VMXON (then the guest runs with the same CR4)
    const f = h.validFields();
    const code = h.setupCode(f, [0x0F, 0x20, 0xE0, 0x48, 0x0F, 0xBA, 0xE8, 18, 0x0F, 0x22, 0xE0]);
    h.run(code);
    assert.equal(h.exception, undefined);
    assert.ok(h.cpu.cr4 & K.CR4_OSXSAVE);
  });

  it('exits unconditionally with reason 55, qualification 0, the instruction length; XCR0 and the registers stay as they were', () => {
    for (const [a, c] of [[1, 0], [3, 0], [1, 5]]) {
      const h = new VmxHost();
      const setup = regs(a, c);
      h.exitOn([...setup, ...XSETBV], osxsave, 55);
      assert.equal(h.qualification(), 0n);
      assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 3n);
      assert.equal(h.field('GUEST_RIP'), G + BigInt(setup.length), 'GUEST_RIP is the XSETBV');
      assert.equal(h.field('VM_EXIT_INTR_INFO'), 0n);
      assert.equal(h.cpu.xcr0, 1, 'the exit does not write XCR0');
      assert.deepEqual([h.cpu.r[0], h.cpu.r[1], h.cpu.r[2]], [a, c, 0], 'EDX:EAX and ECX for the VMM');
    }
  });

  it('CR4.OSXSAVE=0 in the guest: #UD (an exception-bitmap exit, vector 6), not exit 55', () => {
    const h = new VmxHost();
    h.exitOn([...regs(1), ...XSETBV], (f) => f.set('EXCEPTION_BITMAP', 1n << 6n), 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000306n);
    assert.equal(h.field('GUEST_RIP'), G + BigInt(regs(1).length));
  });

  it('at guest CPL 3: #GP(0) (exception-bitmap exit, vector 13), not exit 55', () => {
    const h = new VmxHost();
    const ring3 = ring3Guest(h);
    h.exitOn([...regs(1), ...XSETBV], (f) => {
      osxsave(f);
      f.set('EXCEPTION_BITMAP', 1n << 13n);
      ring3(f);
    }, 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000B0Dn);
    assert.equal(h.field('VM_EXIT_INTR_ERROR_CODE'), 0n);
    assert.equal(h.field('GUEST_RIP'), G + BigInt(regs(1).length));
  });

  it('XGETBV, XSAVE and XRSTOR run in the guest without exiting', () => {
    const h = new VmxHost();
    for (let k = 0; k < 576; k += 4) h.cpu.physWrite(SCRATCH + 0x400 + k, 4, 0);
    // xgetbv ; mov r8d, eax ; mov edi, area ; xsave [rdi] ; xrstor [rdi] ; cpuid
    const code = [...regs(0), ...XGETBV, 0x41, 0x89, 0xC0, 0xBF, ...le32(SCRATCH + 0x400), 0x0F, 0xAE, 0x27, 0x0F, 0xAE, 0x2F, ...CPUID];
    h.exitOn(code, osxsave, 10);
    assert.equal(h.cpu.r[8], 1, 'XGETBV read XCR0');
    assert.equal(h.cpu.physRead(SCRATCH + 0x400, 2), 0x037F, 'XSAVE stored FCW');
  });
});
