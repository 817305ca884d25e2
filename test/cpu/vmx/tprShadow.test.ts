/**
 * "Use TPR shadow" without APIC-access virtualization (SDM 29.1.1-29.1.2, 29.3): CR8 accesses go to
 * the VTPR at byte 80H of the virtual-APIC page, a MOV to CR8 below the TPR threshold causes the
 * trap-like TPR-below-threshold VM exit (43), and CR8-load/store exiting still come first.
 */
import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { describeExit } from '../../../src/machine/monitor/describe';
import { Ept, PAGE_4K, withEpt } from './eptHarness';
import { Fields, GUEST_CODE, VmxHost, asm } from './harness';

const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const P1 = 'CPU_BASED_VM_EXEC_CONTROL';
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);
const CPUID = [0x0F, 0xA2];
const G = BigInt(GUEST_CODE);
const VAPIC = 0x4B000;
const VTPR = VAPIC + 0x80;
/** mov rax, cr8 / mov cr8, rcx (REX.R selects CR8). */
const MOV_RAX_CR8 = [0x44, 0x0F, 0x20, 0xC0];
const MOV_CR8_RCX = [0x44, 0x0F, 0x22, 0xC1];
const movEcx = (v: number) => [0xB9, v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, v >>> 24];
const EXIT_TPR = 43, EXIT_CR = 28, EXIT_CPUID = 10;

/** TPR shadow on, the virtual-APIC page at VAPIC, this threshold, plus more primary controls. */
function shadow(threshold: number, ...more: string[]) {
  return (f: Fields) => {
    or(f, P1, ctl('CPU_BASED_TPR_SHADOW'));
    for (const n of more) or(f, P1, ctl(n));
    f.set('VIRTUAL_APIC_PAGE_ADDR', BigInt(VAPIC));
    f.set('TPR_THRESHOLD', BigInt(threshold));
  };
}

/** A host whose VTPR dword holds `vtpr` (and whose neighbours hold markers) and whose real TPR is 3. */
function host(vtpr: number): VmxHost {
  const h = new VmxHost();
  h.cpu.physWrite(VTPR - 4, 4, 0x11223344);
  h.cpu.physWrite(VTPR, 4, vtpr);
  h.cpu.physWrite(VTPR + 4, 4, 0x55667788);
  h.cpu.cr8 = 3;
  return h;
}

describe('VMX: use TPR shadow', () => {
  it('is allowed by the default model (IA32_VMX_PROCBASED_CTLS bit 53, both forms), not by core2-no-ug', () => {
    const m = new VmxHost().cpu.msrs;
    assert.equal((m.read(0x482) >> 53n) & 1n, 1n);
    assert.equal((m.read(0x48E) >> 53n) & 1n, 1n);
    assert.equal(m.read(0x482) & (1n << 21n), 0n, 'not a default1 bit');
    assert.equal((new VmxHost({ model: 'core2-no-ug' }).cpu.msrs.read(0x482) >> 53n) & 1n, 0n);
  });

  it('MOV from CR8 reads VTPR[7:4] with bits 63:4 cleared, not the TPR', () => {
    const h = host(0x000000A5);
    h.cpu.r[0] = -1;
    h.cpu.rh[0] = -1;
    h.exitOn([...MOV_RAX_CR8, ...CPUID], shadow(0), EXIT_CPUID);
    assert.equal(h.cpu.r[0] >>> 0, 0xA);
    assert.equal(h.cpu.rh[0], 0);
    assert.equal(h.cpu.cr8, 3, 'the TPR is untouched');
    // without the control the guest reads the TPR itself
    const n = host(0xA5);
    n.exitOn([...MOV_RAX_CR8, ...CPUID], () => undefined, EXIT_CPUID);
    assert.equal(n.cpu.r[0] >>> 0, 3);
  });

  it('MOV to CR8 writes source[3:0] to VTPR[7:4] and clears VTPR[3:0] and bits 31:8', () => {
    const h = host(0xFFFFFFFF);
    h.exitOn([...movEcx(7), ...MOV_CR8_RCX, ...CPUID], shadow(0), EXIT_CPUID);
    assert.equal(h.peek32(VTPR), 0x70);
    assert.equal(h.peek32(VTPR - 4), 0x11223344, 'bytes before the VTPR kept');
    assert.equal(h.peek32(VTPR + 4), 0x55667788, 'bytes after the VTPR kept');
    assert.equal(h.cpu.cr8, 3, 'the TPR is untouched');
    // a source with bits 63:4 set faults before anything is written (#GP, exception bitmap bit 13)
    const g = host(0x90);
    g.exitOn([...movEcx(0x17), ...MOV_CR8_RCX, ...CPUID], (f) => { shadow(0)(f); f.set('EXCEPTION_BITMAP', 1n << 13n); }, 0);
    assert.equal(g.field('VM_EXIT_INTR_INFO'), 0x80000B0Dn, 'valid, error code, hardware exception, #GP');
    assert.equal(g.peek32(VTPR), 0x90);
  });

  it('43 TPR below threshold: trap-like, RIP after the MOV, qualification 0; equal to the threshold does not exit', () => {
    const h = host(0x80);
    h.exitOn([...movEcx(4), ...MOV_CR8_RCX, 0x90, ...CPUID], shadow(5), EXIT_TPR);
    assert.equal(h.qualification(), 0n);
    assert.equal(h.field('GUEST_RIP'), G + 5n + 4n, 'the MOV completed');
    assert.equal(h.peek32(VTPR), 0x40, 'the VTPR was written before the exit');
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0n);
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), 0n);
    assert.equal(h.field('GUEST_PENDING_DBG_EXCEPTIONS'), 0n);
    assert.equal(h.cpu.cr8, 3);
    assert.equal(describeExit(EXIT_TPR, 0), 'EXIT_REASON_TPR_BELOW_THRESHOLD (43)');
    const eq = host(0x80);
    eq.exitOn([...movEcx(5), ...MOV_CR8_RCX, ...CPUID], shadow(5), EXIT_CPUID);
    assert.equal(eq.peek32(VTPR), 0x50);
    // raising the VTPR above the threshold never exits
    const up = host(0x50);
    up.exitOn([...movEcx(0xF), ...MOV_CR8_RCX, ...CPUID], shadow(5), EXIT_CPUID);
    assert.equal(up.peek32(VTPR), 0xF0);
  });

  it('43 with RFLAGS.TF: the single-step trap goes to the pending debug exceptions (BS), not to the guest', () => {
    const h = host(0x80);
    h.cpu.r[1] = 2;
    h.cpu.rh[1] = 0;
    h.exitOn([...MOV_CR8_RCX, ...CPUID], (f) => { shadow(6)(f); f.set('GUEST_RFLAGS', 0x102n); }, EXIT_TPR);
    assert.equal(h.field('GUEST_RIP'), G + 4n);
    assert.equal(h.field('GUEST_PENDING_DBG_EXCEPTIONS'), 0x4000n);
    assert.equal(h.field('GUEST_RFLAGS') & 0x100n, 0x100n);
    assert.equal(h.peek32(VTPR), 0x20);
  });

  it('CR8-load and CR8-store exiting take precedence over the shadow (28, VTPR untouched)', () => {
    const l = host(0x80);
    l.exitOn([...movEcx(1), ...MOV_CR8_RCX], shadow(5, 'CPU_BASED_CR8_LOAD_EXITING'), EXIT_CR);
    assert.equal(l.qualification(), (1n << 8n) | 8n, 'MOV to CR8 from RCX');
    assert.equal(l.field('GUEST_RIP'), G + 5n);
    assert.equal(l.peek32(VTPR), 0x80);
    const s = host(0x80);
    s.exitOn([0x44, 0x0F, 0x20, 0xC2], shadow(0, 'CPU_BASED_CR8_STORE_EXITING'), EXIT_CR); // mov rdx, cr8
    assert.equal(s.qualification(), (2n << 8n) | 0x10n | 8n, 'MOV from CR8 to RDX');
    assert.equal(s.field('GUEST_RIP'), G);
    // store exiting alone leaves MOV to CR8 to the shadow, and load exiting alone MOV from CR8
    const w = host(0x80);
    w.exitOn([...movEcx(9), ...MOV_CR8_RCX, ...CPUID], shadow(0, 'CPU_BASED_CR8_STORE_EXITING'), EXIT_CPUID);
    assert.equal(w.peek32(VTPR), 0x90);
    const r = host(0xC0);
    r.exitOn([...MOV_RAX_CR8, ...CPUID], shadow(0, 'CPU_BASED_CR8_LOAD_EXITING'), EXIT_CPUID);
    assert.equal(r.cpu.r[0] >>> 0, 0xC);
  });

  it('the virtual-APIC address is host-physical: EPT does not translate it', () => {
    const h = host(0xA0);
    // guest-physical VAPIC maps to another host page whose VTPR says 3: the shadow must not use it
    const other = VAPIC + 0x2000;
    h.cpu.physWrite(other + 0x80, 4, 0x30);
    const ept = new Ept(h);
    for (let a = 0; a < 0x200000; a += PAGE_4K) ept.map(a, a === VAPIC ? other : a);
    ept.identity2M(0x200000, 0x1000000);
    h.exitOn([...MOV_RAX_CR8, ...movEcx(6), ...MOV_CR8_RCX, ...CPUID], (f) => { shadow(0)(f); withEpt(f, ept.eptp()); }, EXIT_CPUID);
    assert.equal(h.cpu.r[0] >>> 0, 0xA);
    assert.equal(h.peek32(VTPR), 0x60);
    assert.equal(h.peek32(other + 0x80), 0x30);
  });

  it('VM entry re-reads the VTPR: a threshold above VTPR[7:4] fails VMRESUME with error 7 (B10), equal enters', () => {
    const h = host(0x80);
    h.exitOn([...movEcx(2), ...MOV_CR8_RCX, ...CPUID], shadow(4), EXIT_TPR);
    // the guest left VTPR[7:4] = 2 below the threshold 4: without "virtualize APIC accesses" there is
    // no post-entry TPR exit (SDM 26.6.7); the entry check refuses instead
    h.run(asm.vmresume);
    assert.equal(h.outcome(), 'failValid(7)');
    assert.equal(h.v.lastEntryFailure?.check, 'B10');
    assert.ok(!h.cpu.nonRoot);
    // the VMM lowers the threshold to the VTPR: the guest resumes at the CPUID after the MOV
    h.resumeWith([['TPR_THRESHOLD', 2n]]);
    assert.equal(h.exitReason(), EXIT_CPUID);
    assert.equal(h.field('GUEST_RIP'), G + 9n);
  });
});
