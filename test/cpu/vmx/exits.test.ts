/** One test per implemented exit reason, with the exact exit information. */
import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, MSR_BITMAP, SCRATCH, VmxHost } from './harness';

const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const P1 = 'CPU_BASED_VM_EXEC_CONTROL', P2 = 'SECONDARY_VM_EXEC_CONTROL', PIN = 'PIN_BASED_VM_EXEC_CONTROL';
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);
const p1 = (...names: string[]) => (f: Fields) => { for (const n of names) or(f, P1, ctl(n)); };
const p2 = (...names: string[]) => (f: Fields) => { or(f, P1, ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')); for (const n of names) or(f, P2, ctl(n)); };
const CPUID = [0x0F, 0xA2];
const G = BigInt(GUEST_CODE);

describe('VMX: VM exits', () => {
  it('10 CPUID (unconditional)', () => {
    const h = new VmxHost();
    h.exitOn(CPUID, () => undefined, 10);
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0n);
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), 0n);
  });

  it('12 HLT with HLT exiting; without it the guest halts', () => {
    const h = new VmxHost();
    h.exitOn([0x90, 0xF4], p1('CPU_BASED_HLT_EXITING'), 12);
    assert.equal(h.field('GUEST_RIP'), G + 1n);
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 1n);
    const g = new VmxHost();
    g.guest([0xF4]);
    assert.equal(g.launch(), 'halt');
    assert.ok(g.cpu.nonRoot);
  });

  it('36 MWAIT and 39 MONITOR (MWAIT / MONITOR exiting); without them both run in the guest', () => {
    // xor ecx, ecx ; xor edx, edx ; mov eax, 0x60000 ; monitor  /  ... ; mwait
    const setup = [0x31, 0xC9, 0x31, 0xD2, 0xB8, 0x00, 0x00, 0x06, 0x00];
    const mon = new VmxHost();
    mon.exitOn([...setup, 0x0F, 0x01, 0xC8], p1('CPU_BASED_MONITOR_EXITING'), 39);
    assert.equal(mon.field('VM_EXIT_INSTRUCTION_LEN'), 3n);
    assert.equal(mon.field('GUEST_RIP'), G + BigInt(setup.length));
    const mw = new VmxHost();
    mw.exitOn([...setup, 0x0F, 0x01, 0xC9], p1('CPU_BASED_MWAIT_EXITING'), 36);
    assert.equal(mw.field('VM_EXIT_INSTRUCTION_LEN'), 3n);
    // without the controls, MONITOR and MWAIT execute and the guest reaches the CPUID that exits
    new VmxHost().exitOn([...setup, 0x0F, 0x01, 0xC8, 0x0F, 0x01, 0xC9, ...CPUID], () => undefined, 10);
  });

  it('37 monitor trap flag: after one guest instruction, qualification 0 (more in mtf.test.ts)', () => {
    const h = new VmxHost();
    h.exitOn([0x90, ...CPUID], p1('CPU_BASED_MONITOR_TRAP_FLAG'), 37);
    assert.equal(h.qualification(), 0n);
    assert.equal(h.field('GUEST_RIP'), G + 1n);
  });

  it('13 INVD, 54 WBINVD (WBINVD exiting)', () => {
    new VmxHost().exitOn([0x0F, 0x08], () => undefined, 13);
    new VmxHost().exitOn([0x0F, 0x09], p2('SECONDARY_EXEC_WBINVD_EXITING'), 54);
    new VmxHost().exitOn([0x0F, 0x09, ...CPUID], () => undefined, 10);
  });

  it('14 INVLPG: qualification is the linear address', () => {
    const h = new VmxHost();
    h.exitOn([0xB8, 0x00, 0x50, 0x12, 0x00, 0x0F, 0x01, 0x38], p1('CPU_BASED_INVLPG_EXITING'), 14); // mov eax, 0x125000 ; invlpg [rax]
    assert.equal(h.qualification(), 0x125000n);
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 3n);
  });

  it('15 RDPMC, 16 RDTSC, 51 RDTSCP', () => {
    new VmxHost().exitOn([0x0F, 0x33], p1('CPU_BASED_RDPMC_EXITING'), 15);
    new VmxHost().exitOn([0x0F, 0x31], p1('CPU_BASED_RDTSC_EXITING'), 16);
    new VmxHost().exitOn([0x0F, 0x01, 0xF9], (f) => { p1('CPU_BASED_RDTSC_EXITING')(f); p2('SECONDARY_EXEC_ENABLE_RDTSCP')(f); }, 51);
  });

  it('RDTSCP without "enable RDTSCP" is #UD (exits through the exception bitmap)', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x01, 0xF9], (f) => f.set('EXCEPTION_BITMAP', 1n << 6n), 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000306n);
  });

  it('TSC offsetting: RDTSC in the guest sees TSC + TSC_OFFSET', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x31, ...CPUID], (f) => { p1('CPU_BASED_USE_TSC_OFFSETTING')(f); f.set('TSC_OFFSET', 1000000n); }, 10);
    const tsc = h.cpu.r[0] >>> 0;
    assert.ok(tsc > 1000000 && tsc < 1000000 + h.cpu.icount + 10, `guest TSC ${tsc}`);
  });

  it('18 VMCALL, VMX instructions in the guest: 19-27 with instruction information, 53 INVVPID', () => {
    new VmxHost().exitOn([0x0F, 0x01, 0xC1], () => undefined, 18);
    new VmxHost().exitOn([0x0F, 0x01, 0xC2], () => undefined, 20);
    new VmxHost().exitOn([0x0F, 0x01, 0xC3], () => undefined, 24);
    new VmxHost().exitOn([0x0F, 0x01, 0xC4], () => undefined, 26);
    const h = new VmxHost();
    h.exitOn([0x66, 0x0F, 0xC7, 0x73, 0x10], () => undefined, 19); // vmclear [rbx+0x10]
    assert.equal(h.qualification(), 0x10n, 'displacement');
    assert.equal(h.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 7) | (3 << 15) | (1 << 22) | (3 << 23)), 'DS, 64-bit, no index, base RBX');
    new VmxHost().exitOn([0x0F, 0xC7, 0x33], () => undefined, 21); // vmptrld [rbx]
    new VmxHost().exitOn([0x0F, 0xC7, 0x3B], () => undefined, 22); // vmptrst [rbx]
    new VmxHost().exitOn([0xF3, 0x0F, 0xC7, 0x33], () => undefined, 27); // vmxon [rbx]
    const r = new VmxHost();
    r.exitOn([0x0F, 0x78, 0xC2], () => undefined, 23); // vmread rdx, rax
    assert.equal(r.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 3) | (2 << 7) | (1 << 10) | (0 << 28)));
    const w = new VmxHost();
    w.exitOn([0x0F, 0x79, 0xD1], () => undefined, 25); // vmwrite rdx, rcx
    assert.equal(w.field('VMX_INSTRUCTION_INFO'), BigInt((1 << 3) | (2 << 7) | (1 << 10) | (2 << 28)));
    const i = new VmxHost();
    i.exitOn([0x66, 0x0F, 0x38, 0x81, 0x0B], () => undefined, 53); // invvpid rcx, [rbx]
    assert.equal(i.field('VMX_INSTRUCTION_INFO') >> 28n, 1n, 'reg2 = RCX');
  });

  it('28 CR access: CR0 mask/shadow, read shadow, CLTS, LMSW', () => {
    const h = new VmxHost();
    // mov rax, cr0 ; or eax, 8 ; mov cr0, rax  (TS owned by the host, shadow says 0)
    h.exitOn([0x0F, 0x20, 0xC0, 0x83, 0xC8, 0x08, 0x0F, 0x22, 0xC0], (f) => { f.set('CR0_GUEST_HOST_MASK', 0x8n); f.set('CR0_READ_SHADOW', 0n); }, 28);
    assert.equal(h.qualification(), 0n, 'MOV to CR0 from RAX');
    assert.equal(h.field('GUEST_RIP'), G + 6n);
    // the guest read CR0 through the shadow: TS from the shadow (0)
    const shadowSeen = new VmxHost();
    shadowSeen.exitOn([0x0F, 0x20, 0xC3, ...CPUID], (f) => { f.set('CR0_GUEST_HOST_MASK', 0x8n); f.set('CR0_READ_SHADOW', 0n); shadowSeen.cpu.cr0 |= 8; f.set('GUEST_CR0', BigInt((shadowSeen.cpu.cr0 | 8) >>> 0)); }, 10);
    assert.equal(shadowSeen.cpu.r[3] & 8, 0, 'MOV from CR0 shows the shadow bit');
    const clts = new VmxHost();
    clts.exitOn([0x0F, 0x06], (f) => { f.set('CR0_GUEST_HOST_MASK', 0x8n); f.set('CR0_READ_SHADOW', 0x8n); }, 28);
    assert.equal(clts.qualification(), 0x20n);
    const lmsw = new VmxHost();
    lmsw.exitOn([0x66, 0xB8, 0x0B, 0x00, 0x0F, 0x01, 0xF0], (f) => { f.set('CR0_GUEST_HOST_MASK', 0x8n); f.set('CR0_READ_SHADOW', 0n); }, 28); // mov ax, 0xB ; lmsw ax
    assert.equal(lmsw.qualification(), (0xBn << 16n) | 0x30n);
  });

  it('28 CR access: CR3 load with target values, CR3 store, CR8 load/store', () => {
    const h = new VmxHost();
    // mov rax, cr3 ; mov cr3, rax (target 0 = same value: no exit) ; mov cr3, rbx (exits)
    h.exitOn([0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8, 0x0F, 0x22, 0xDB], (f) => { p1('CPU_BASED_CR3_LOAD_EXITING')(f); f.set('CR3_TARGET_COUNT', 1n); f.set('CR3_TARGET_VALUE0', 0x100000n); }, 28);
    assert.equal(h.field('GUEST_RIP'), G + 6n);
    assert.equal(h.qualification(), (3n << 8n) | 3n);
    const s = new VmxHost();
    s.exitOn([0x0F, 0x20, 0xD9], p1('CPU_BASED_CR3_STORE_EXITING'), 28);
    assert.equal(s.qualification(), (1n << 8n) | 0x10n | 3n);
    const l8 = new VmxHost();
    l8.exitOn([0x44, 0x0F, 0x22, 0xC1], p1('CPU_BASED_CR8_LOAD_EXITING'), 28);
    assert.equal(l8.qualification(), (1n << 8n) | 8n);
    const s8 = new VmxHost();
    s8.exitOn([0x44, 0x0F, 0x20, 0xC2], p1('CPU_BASED_CR8_STORE_EXITING'), 28);
    assert.equal(s8.qualification(), (2n << 8n) | 0x10n | 8n);
  });

  it('29 MOV DR', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x23, 0xF8], p1('CPU_BASED_MOV_DR_EXITING'), 29); // mov dr7, rax
    assert.equal(h.qualification(), 7n);
    const r = new VmxHost();
    r.exitOn([0x0F, 0x21, 0xF2], p1('CPU_BASED_MOV_DR_EXITING'), 29); // mov rdx, dr6
    assert.equal(r.qualification(), (2n << 8n) | 0x10n | 6n);
  });

  it('31/32 RDMSR/WRMSR: all exit without bitmaps; bitmaps select by range and direction', () => {
    new VmxHost().exitOn([0xB9, 0x77, 0x02, 0, 0, 0x0F, 0x32], () => undefined, 31);
    const bm = (h: VmxHost, off: number, msr: number) => h.cpu.physWrite(MSR_BITMAP + off + (msr >> 3), 1, 1 << (msr & 7));
    const withBitmap = (f: Fields) => { p1('CPU_BASED_USE_MSR_BITMAPS')(f); f.set('MSR_BITMAP', BigInt(MSR_BITMAP)); };
    // read of PAT passes (bit clear), write of PAT exits (write-low bit set)
    const h = new VmxHost();
    bm(h, 0x800, 0x277);
    h.exitOn([0xB9, 0x77, 0x02, 0, 0, 0x0F, 0x32, 0x0F, 0x30], withBitmap, 32);
    assert.equal(h.field('GUEST_RIP'), G + 7n);
    // high range: read of LSTAR (0xC0000082) exits on its read-high bit
    const k = new VmxHost();
    bm(k, 0x400, 0x82);
    k.exitOn([0xB9, 0x82, 0x00, 0x00, 0xC0, 0x0F, 0x32], withBitmap, 31);
    // outside both ranges: always exits
    new VmxHost().exitOn([0xB9, 0x00, 0x00, 0x00, 0x40, 0x0F, 0x32], withBitmap, 31);
  });

  it('40 PAUSE exiting and PAUSE-loop exiting', () => {
    new VmxHost().exitOn([0xF3, 0x90], p1('CPU_BASED_PAUSE_EXITING'), 40);
    const h = new VmxHost();
    h.exitOn([0xF3, 0x90, 0xEB, 0xFC], (f) => { p2('SECONDARY_EXEC_PAUSE_LOOP_EXITING')(f); f.set('PLE_GAP', 10n); f.set('PLE_WINDOW', 100n); }, 40);
    assert.ok(h.cpu.icount > 100);
  });

  it('46/47 descriptor-table exiting', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x01, 0x43, 0x08], p2('SECONDARY_EXEC_DESC'), 46); // sgdt [rbx+8]
    assert.equal(h.qualification(), 8n);
    assert.equal(h.field('VMX_INSTRUCTION_INFO') >> 28n, 0n, 'SGDT');
    const s = new VmxHost();
    s.exitOn([0x0F, 0x00, 0xC8], p2('SECONDARY_EXEC_DESC'), 47); // str eax
    assert.equal(s.field('VMX_INSTRUCTION_INFO'), BigInt((1 << 10) | (1 << 28)));
  });

  it('0 exceptions: exception bitmap, #PF error-code mask/match, INT3', () => {
    const ud = new VmxHost();
    ud.exitOn([0x0F, 0x0B], (f) => f.set('EXCEPTION_BITMAP', 1n << 6n), 0);
    assert.equal(ud.field('VM_EXIT_INTR_INFO'), 0x80000306n);
    assert.equal(ud.field('GUEST_RIP'), G);
    // mov rax, [0x40000000]: beyond the identity map -> #PF, error code 0
    const read = [0x48, 0x8B, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40];
    const pf = new VmxHost();
    pf.exitOn(read, (f) => f.set('EXCEPTION_BITMAP', 1n << 14n), 0);
    assert.equal(pf.field('VM_EXIT_INTR_INFO'), 0x80000B0En);
    assert.equal(pf.field('VM_EXIT_INTR_ERROR_CODE'), 0n);
    assert.equal(pf.qualification(), 0x40000000n);
    assert.equal(pf.cpu.cr2, 0, 'CR2 is not written by a #PF that exits');
    // bit 14 clear: exits when (PFEC & mask) != match
    const mm = new VmxHost();
    mm.exitOn(read, (f) => { f.set('PAGE_FAULT_ERROR_CODE_MASK', 1n); f.set('PAGE_FAULT_ERROR_CODE_MATCH', 1n); }, 0);
    const bp = new VmxHost();
    bp.exitOn([0x90, 0xCC], (f) => f.set('EXCEPTION_BITMAP', 1n << 3n), 0);
    assert.equal(bp.field('VM_EXIT_INTR_INFO'), 0x80000603n);
    assert.equal(bp.field('VM_EXIT_INSTRUCTION_LEN'), 1n);
    assert.equal(bp.field('GUEST_RIP'), G + 1n);
  });

  it('2 triple fault', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x0B], (f) => f.set('GUEST_IDTR_LIMIT', 0n), 2);
    assert.equal(h.field('GUEST_RIP'), G);
  });

  it('1 external interrupt: acknowledge on exit stores the vector; without it the interrupt stays pending', () => {
    for (const ack of [true, false]) {
      const h = new VmxHost();
      let pending = true;
      h.cpu.intc = { hasInterrupt: () => pending, acknowledge: () => { pending = false; return 0x31; } };
      h.cpu.raiseIntrLine();
      h.exitOn([0xEB, 0xFE], (f) => { or(f, PIN, ctl('PIN_BASED_EXT_INTR_MASK')); if (ack) or(f, 'VM_EXIT_CONTROLS', ctl('VM_EXIT_ACK_INTR_ON_EXIT')); }, 1);
      assert.equal(h.field('VM_EXIT_INTR_INFO'), ack ? 0x80000031n : 0n);
      assert.equal(pending, !ack);
    }
  });

  it('7 interrupt window: at entry with IF = 1; after STI plus one instruction', () => {
    const h = new VmxHost();
    h.exitOn([0x90], (f) => { p1('CPU_BASED_INTR_WINDOW_EXITING')(f); f.set('GUEST_RFLAGS', 0x202n); }, 7);
    assert.equal(h.field('GUEST_RIP'), G);
    const s = new VmxHost();
    s.exitOn([0xFB, 0x90, 0x90], p1('CPU_BASED_INTR_WINDOW_EXITING'), 7);
    assert.equal(s.field('GUEST_RIP'), G + 2n, 'the STI shadow covers one instruction');
  });

  it('STI blocking is saved in the interruptibility state when the shadowed instruction exits', () => {
    const h = new VmxHost();
    h.exitOn([0xFB, 0xF4], p1('CPU_BASED_HLT_EXITING'), 12);
    assert.equal(h.field('GUEST_INTERRUPTIBILITY_INFO'), 1n);
  });

  it('8 NMI window, 0 NMI exiting', () => {
    const h = new VmxHost();
    h.exitOn([0x90], (f) => { or(f, PIN, ctl('PIN_BASED_NMI_EXITING') | ctl('PIN_BASED_VIRTUAL_NMIS')); p1('CPU_BASED_NMI_WINDOW_EXITING')(f); }, 8);
    const n = new VmxHost();
    // the NMI is pending while the host has NMIs blocked; the guest starts unblocked
    n.cpu.nmiBlocked = true;
    n.cpu.raiseNmi();
    n.exitOn([0xEB, 0xFE], (f) => or(f, PIN, ctl('PIN_BASED_NMI_EXITING')), 0);
    assert.equal(n.field('VM_EXIT_INTR_INFO'), 0x80000202n);
  });

  it('52 VMX-preemption timer (with the saved value)', () => {
    const h = new VmxHost();
    h.exitOn([0xEB, 0xFE], (f) => {
      or(f, PIN, ctl('PIN_BASED_VMX_PREEMPTION_TIMER'));
      or(f, 'VM_EXIT_CONTROLS', ctl('VM_EXIT_SAVE_VMX_PREEMPTION_TIMER'));
      f.set('VMX_PREEMPTION_TIMER_VALUE', 3n);
    }, 52);
    assert.equal(h.field('VMX_PREEMPTION_TIMER_VALUE'), 0n);
    const t0 = new VmxHost();
    t0.exitOn([0x90], (f) => { or(f, PIN, ctl('PIN_BASED_VMX_PREEMPTION_TIMER')); f.set('VMX_PREEMPTION_TIMER_VALUE', 0n); }, 52);
    assert.equal(t0.field('GUEST_RIP'), G, 'a zero timer exits before the first instruction');
  });

  it('event injection: an external interrupt through the guest IDT', () => {
    const h = new VmxHost();
    const idt = 0x4C000, handler = GUEST_CODE + 0x100;
    // 64-bit interrupt gate for vector 0x30 -> handler (CPUID)
    h.poke(idt + 0x30 * 16, [handler & 0xFF, (handler >> 8) & 0xFF, 8, 0, 0, 0x8E, (handler >> 16) & 0xFF, (handler >> 24) & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.poke(handler, CPUID);
    h.exitOn([0xEB, 0xFE], (f) => { f.set('GUEST_IDTR_BASE', BigInt(idt)); f.set('GUEST_IDTR_LIMIT', 0xFFFn); f.set('GUEST_RFLAGS', 0x202n); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000030n); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(handler));
    assert.equal(h.field('GUEST_RFLAGS') & 0x200n, 0n, 'interrupt gate cleared IF');
    assert.equal(h.field('VM_ENTRY_INTR_INFO_FIELD') >> 31n, 0n, 'the exit cleared the valid bit');
    assert.equal(h.cpu.physRead(0x58000 - 40, 4) >>> 0, GUEST_CODE, 'return RIP on the guest stack');
  });

  it('exits during event delivery report IDT-vectoring information', () => {
    const h = new VmxHost();
    // IDT entry for vector 0x30 is an interrupt gate that is not present -> #NP while delivering the injected interrupt
    h.poke(0x4C000 + 0x30 * 16 + 5, [0x0E]);
    h.exitOn([0xEB, 0xFE], (f) => { f.set('GUEST_IDTR_BASE', 0x4C000n); f.set('GUEST_IDTR_LIMIT', 0xFFFn); f.set('GUEST_RFLAGS', 0x202n); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000030n); f.set('EXCEPTION_BITMAP', 1n << 11n); }, 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000B0Bn);
    assert.equal(h.field('VM_EXIT_INTR_ERROR_CODE'), 0x183n, 'IDT entry 0x30, EXT');
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), 0x80000030n);
  });

  it('VM exit MSR-store and MSR-load lists, save/load EFER and PAT', () => {
    const h = new VmxHost();
    const store = SCRATCH + 0x100, load = SCRATCH + 0x200;
    h.cpu.physWrite(store, 4, 0x277);
    h.cpu.physWrite(load, 4, 0x174);
    h.poke64(load + 8, 0x23n);
    h.exitOn(CPUID, (f) => {
      f.set('VM_EXIT_MSR_STORE_COUNT', 1n); f.set('VM_EXIT_MSR_STORE_ADDR', BigInt(store));
      f.set('VM_EXIT_MSR_LOAD_COUNT', 1n); f.set('VM_EXIT_MSR_LOAD_ADDR', BigInt(load));
      or(f, 'VM_EXIT_CONTROLS', ctl('VM_EXIT_SAVE_IA32_EFER') | ctl('VM_EXIT_SAVE_IA32_PAT'));
    }, 10);
    assert.equal(h.cpu.physRead(store + 8, 4) >>> 0, 0x00070406);
    assert.equal(h.cpu.msrs.sysenterCs, 0x23);
    assert.equal(h.field('GUEST_IA32_EFER') & 0x500n, 0x500n);
    assert.equal(h.field('GUEST_IA32_PAT'), 0x0007040600070406n);
  });
});
