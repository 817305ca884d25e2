/**
 * "Virtualize APIC accesses" (SDM 29.4) without APIC-register virtualization: accesses to the
 * APIC-access page exit with reason 44 (fault-like, qualification = offset | access type << 12),
 * except TPR accesses with "use TPR shadow", which go to the virtual-APIC page; with EPT the page is
 * found by the physical address EPT produces; the post-entry TPR check of SDM 26.7.7 (26.6.7).
 */
import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Ept, PAGE_4K, withEpt } from './eptHarness';
import { Fields, GUEST_CODE, VmxHost, asm } from './harness';

const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);
const CPUID = [0x0F, 0xA2];
const G = BigInt(GUEST_CODE);
const APIC = 0x4A000;
const VAPIC = 0x4B000;
const EXIT_APIC_ACCESS = 44, EXIT_TPR = 43, EXIT_CPUID = 10;
const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, v >>> 24];
/** mov eax, [abs32] / mov [abs32], ecx (ModRM with SIB, no base, no index). */
const loadEax = (a: number) => [0x8B, 0x04, 0x25, ...le32(a)];
const storeEcx = (a: number) => [0x89, 0x0C, 0x25, ...le32(a)];
const movEcx = (v: number) => [0xB9, ...le32(v)];

function apicAccess(f: Fields): void {
  or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'));
  or(f, 'SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES'));
  f.set('APIC_ACCESS_ADDR', BigInt(APIC));
}

function tprShadow(threshold: number) {
  return (f: Fields) => {
    apicAccess(f);
    or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_TPR_SHADOW'));
    f.set('VIRTUAL_APIC_PAGE_ADDR', BigInt(VAPIC));
    f.set('TPR_THRESHOLD', BigInt(threshold));
  };
}

function host(): VmxHost {
  const h = new VmxHost();
  for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(APIC + k, 4, 0x11000000 + k);
  h.cpu.physWrite(VAPIC + 0x80, 4, 0x50);
  return h;
}

describe('VMX: virtualize APIC accesses', () => {
  it('is allowed by the default model (IA32_VMX_PROCBASED_CTLS2 bit 32), not by core2-no-ug', () => {
    const p2 = new VmxHost().cpu.msrs.read(0x48B);
    assert.equal((p2 >> 32n) & 1n, 1n);
    assert.equal(p2 & 1n, 0n, 'not a default1 bit');
    assert.equal((p2 >> 40n) & 1n, 0n, 'APIC-register virtualization stays unreported');
    assert.equal((p2 >> 41n) & 1n, 0n, 'virtual-interrupt delivery stays unreported');
    assert.equal(new VmxHost({ model: 'core2-no-ug' }).v.caps.proc2.may1, 0, 'core2: no secondary controls');
  });

  it('a read exits with reason 44, type 0, the page offset and the RIP of the reading instruction', () => {
    const h = host();
    h.cpu.r[0] = 0x1234;
    h.exitOn([0x90, ...loadEax(APIC + 0xF0), ...CPUID], apicAccess, EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x0F0n);
    assert.equal(h.field('GUEST_RIP'), G + 1n);
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN') >= 0n, true);
    assert.equal(h.cpu.physRead(APIC + 0xF0, 4), 0x110000F0, 'the page is untouched');
  });

  it('a write exits with type 1 and leaves the page unchanged; a second run exits again (never cached)', () => {
    const h = host();
    h.exitOn([...movEcx(0xDEAD), ...storeEcx(APIC + 0x300), ...CPUID], apicAccess, EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x1300n);
    assert.equal(h.field('GUEST_RIP'), G + 5n);
    assert.equal(h.cpu.physRead(APIC + 0x300, 4), 0x11000300);
    h.resumeWith();
    assert.equal(h.exitReason(), EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x1300n);
    assert.equal(h.field('GUEST_RIP'), G + 5n);
  });

  it('an access to another page does not exit; without the control the page is ordinary memory', () => {
    const h = host();
    h.exitOn([...loadEax(VAPIC + 0x10), ...CPUID], apicAccess, EXIT_CPUID);
    const n = host();
    n.exitOn([...loadEax(APIC + 0xF0), ...CPUID], () => undefined, EXIT_CPUID);
    assert.equal(n.cpu.r[0] >>> 0, 0x110000F0);
  });

  it('an instruction fetch from the page exits with type 2 and RIP on the page', () => {
    const h = host();
    // mov rax, APIC + 0x10 / jmp rax
    h.exitOn([0x48, 0xC7, 0xC0, ...le32(APIC + 0x10), 0xFF, 0xE0], apicAccess, EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x2010n);
    assert.equal(h.field('GUEST_RIP'), BigInt(APIC + 0x10));
  });

  it('with "use TPR shadow": a 32-bit read of offset 80H returns VTPR, no exit', () => {
    const h = host();
    h.exitOn([...loadEax(APIC + 0x80), ...CPUID], tprShadow(0), EXIT_CPUID);
    assert.equal(h.cpu.r[0] >>> 0, 0x50);
  });

  it('with "use TPR shadow": a write of offset 80H goes to VTPR (bytes 3:1 cleared), not to the page', () => {
    const h = host();
    h.exitOn([...movEcx(0x12345660), ...storeEcx(APIC + 0x80), ...CPUID], tprShadow(0), EXIT_CPUID);
    assert.equal(h.cpu.physRead(VAPIC + 0x80, 4), 0x60);
    assert.equal(h.cpu.physRead(APIC + 0x80, 4), 0x11000080);
  });

  it('a virtualized TPR write below the threshold is the trap-like exit 43 after the instruction', () => {
    const h = host();
    h.exitOn([...movEcx(0x20), ...storeEcx(APIC + 0x80), ...CPUID], tprShadow(4), EXIT_TPR);
    assert.equal(h.qualification(), 0n);
    assert.equal(h.field('GUEST_RIP'), G + 12n, 'RIP of the instruction after the MOV');
    assert.equal(h.cpu.physRead(VAPIC + 0x80, 4), 0x20);
  });

  it('with "use TPR shadow": other offsets and reads not within 80H-83H still exit', () => {
    const h = host();
    h.exitOn([...loadEax(APIC + 0x84), ...CPUID], tprShadow(0), EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x084n);
    const w = host();
    w.exitOn([...storeEcx(APIC + 0x81), ...CPUID], tprShadow(0), EXIT_APIC_ACCESS);
    assert.equal(w.qualification(), 0x1081n, 'a write is virtualized only at offset 80H');
    const r = host();
    r.exitOn([...loadEax(APIC + 0x82), ...CPUID], tprShadow(0), EXIT_APIC_ACCESS);
    assert.equal(r.qualification(), 0x082n, 'a 32-bit read at 82H is not within 80H-83H');
  });

  it('post-entry TPR check (SDM 26.7.7): threshold above VTPR[7:4] enters, then exits 43 before the first instruction', () => {
    const h = host();
    h.exitOn([...CPUID], tprShadow(6), EXIT_TPR);
    assert.equal(h.v.lastEntryFailure, null);
    assert.equal(h.field('GUEST_RIP'), G);
    assert.equal(h.qualification(), 0n);
  });

  it('with EPT the host-physical address is compared: a guest-physical page mapped to the APIC-access page exits', () => {
    const h = host();
    const ept = new Ept(h);
    const gpa = 0x60000;
    for (let a = 0; a < 0x200000; a += PAGE_4K) ept.map(a, a === gpa ? APIC : a === APIC ? 0x61000 : a);
    ept.identity2M(0x200000, 0x1000000);
    h.exitOn([...loadEax(gpa + 0x10), ...CPUID], (f) => { apicAccess(f); withEpt(f, ept.eptp()); }, EXIT_APIC_ACCESS);
    assert.equal(h.qualification(), 0x010n);
    assert.equal(h.field('GUEST_RIP'), G);
    // guest-physical APIC_ACCESS_ADDR itself maps elsewhere: ordinary memory
    h.cpu.physWrite(0x61010, 4, 0x7777);
    const g = host();
    const e2 = new Ept(g);
    for (let a = 0; a < 0x200000; a += PAGE_4K) e2.map(a, a === APIC ? 0x61000 : a);
    e2.identity2M(0x200000, 0x1000000);
    g.cpu.physWrite(0x61010, 4, 0x7777);
    g.exitOn([...loadEax(APIC + 0x10), ...CPUID], (f) => { apicAccess(f); withEpt(f, e2.eptp()); }, EXIT_CPUID);
    assert.equal(g.cpu.r[0] >>> 0, 0x7777);
  });

  it('with EPT a guest paging-structure access to the page exits with type 15 and the guest-physical address', () => {
    const h = host();
    const ept = new Ept(h);
    // the guest's page tables live at 0x100000 (identity); map the PML4's guest-physical page to the APIC-access page
    const pml4 = Number(h.validFields().get('GUEST_CR3') ?? 0n) & ~0xFFF;
    for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(APIC + k, 4, h.cpu.physRead(pml4 + k, 4));
    for (let a = 0; a < 0x200000; a += PAGE_4K) ept.map(a, a === pml4 ? APIC : a);
    ept.identity2M(0x200000, 0x1000000);
    h.exitOn([...CPUID], (f) => { apicAccess(f); withEpt(f, ept.eptp()); }, EXIT_APIC_ACCESS);
    assert.equal(Number(h.qualification()) >>> 12, 15);
    assert.equal(h.field('GUEST_PHYSICAL_ADDRESS') & ~0xFFFn, BigInt(pml4));
    assert.equal(h.field('GUEST_RIP'), G);
  });

  it('the control is not left on after the exit: the host reads the page normally', () => {
    const h = host();
    h.exitOn([...loadEax(APIC), ...CPUID], apicAccess, EXIT_APIC_ACCESS);
    assert.equal(h.cpu.apicPage, -1);
    h.run([...asm.movRaxImm(BigInt(APIC + 4)), 0x8B, 0x00]);
    assert.equal(h.cpu.r[0] >>> 0, 0x11000004);
  });
});
