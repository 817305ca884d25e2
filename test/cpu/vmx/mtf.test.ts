/**
 * The monitor trap flag (SDM 26.5.2, 27.6.2, 27.7.8): an MTF VM exit (reason 37, qualification 0)
 * after each guest instruction, after each REP iteration, before the first instruction of a handler
 * an event was delivered to, right after an entry that injects a pending MTF VM exit, and with its
 * place among the other events of an instruction boundary.
 */
import { strict as assert } from 'assert';
import { EV_ATTN } from '../../../src/cpu/cpu';
import { EV_VMX } from '../../../src/cpu/vmx/exit';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, GUEST_STACK, SCRATCH, VmxHost, asm, enc } from './harness';

const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const P1 = 'CPU_BASED_VM_EXEC_CONTROL', PIN = 'PIN_BASED_VM_EXEC_CONTROL';
const MTF = ctl('CPU_BASED_MONITOR_TRAP_FLAG');
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);
const G = GUEST_CODE;
const IDT = 0x4C000;
const HANDLER = G + 0x100;
/** The return RIP of a 64-bit interrupt frame without error code on the guest stack. */
const FRAME_RIP = GUEST_STACK - 40;
const CPUID = [0x0F, 0xA2];
const NOP = 0x90;
const EXIT_MTF = 37;

/** A 64-bit interrupt gate (selector 8) for `vec` in the guest IDT. */
function gate(h: VmxHost, vec: number, handler: number): void {
  h.poke(IDT + vec * 16, [handler & 0xFF, (handler >> 8) & 0xFF, 8, 0, 0, 0x8E, (handler >> 16) & 0xFF, (handler >>> 24) & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** The guest IDT at IDT; MTF on unless told otherwise. */
function withIdt(mtf = true): (f: Fields) => void {
  return (f) => {
    f.set('GUEST_IDTR_BASE', BigInt(IDT));
    f.set('GUEST_IDTR_LIMIT', 0xFFFn);
    if (mtf) or(f, P1, MTF);
  };
}


/** The exit is an MTF VM exit at `rip` with the exit information the SDM gives it. */
function assertMtf(h: VmxHost, rip: number, activity = 0n, interruptibility = 0n): void {
  assert.equal(h.exitReason(), EXIT_MTF, `exit reason ${h.exitReason()}`);
  assert.equal(h.qualification(), 0n, 'qualification');
  assert.equal(h.field('GUEST_RIP'), BigInt(rip), 'GUEST_RIP');
  assert.equal(h.field('VM_EXIT_INTR_INFO'), 0n, 'no exit interruption information');
  assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), 0n, 'no IDT-vectoring information');
  assert.equal(h.field('GUEST_ACTIVITY_STATE'), activity, 'activity state');
  assert.equal(h.field('GUEST_INTERRUPTIBILITY_INFO'), interruptibility, 'interruptibility');
  assert.equal(h.field('GUEST_PENDING_DBG_EXCEPTIONS'), 0n, 'pending debug exceptions');
  // the host runs at full speed again
  assert.equal(h.cpu.mtf, false);
  assert.equal(h.cpu.singleStep, false);
}

describe('VMX: monitor trap flag', () => {
  it('exits after each instruction with RIP at the next one; the exiting CPUID gives exit 10, not 37', () => {
    const h = new VmxHost();
    // mov eax, 0x1234 ; nop ; cpuid
    h.exitOn([0xB8, 0x34, 0x12, 0x00, 0x00, NOP, ...CPUID], withIdt(), EXIT_MTF);
    assertMtf(h, G + 5);
    assert.equal(h.cpu.r[0], 0x1234, 'the instruction completed');
    h.resumeWith();
    assertMtf(h, G + 6);
    h.resumeWith();
    // an instruction that exits for its own reason is not followed by an MTF VM exit
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(G + 6));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(h.cpu.mtf, false);
  });

  it('REP STOSB: one exit per iteration with RIP on the instruction until the last one', () => {
    const h = new VmxHost();
    const dst = SCRATCH + 0x800;
    h.cpu.r[1] = 3;
    h.cpu.rh[1] = 0;
    h.cpu.r[7] = dst;
    h.cpu.rh[7] = 0;
    // mov al, 0x5a ; rep stosb ; cpuid
    h.exitOn([0xB0, 0x5A, 0xF3, 0xAA, ...CPUID], withIdt(), EXIT_MTF);
    assertMtf(h, G + 2);
    for (let left = 2; left >= 1; left--) {
      h.resumeWith();
      assertMtf(h, G + 2);
      assert.equal(h.cpu.r[1], left, 'RCX after the iteration');
      assert.equal(h.cpu.r[7], dst + 3 - left, 'RDI after the iteration');
    }
    h.resumeWith();
    assertMtf(h, G + 4);
    assert.equal(h.cpu.r[1], 0);
    assert.deepEqual([0, 1, 2, 3].map((k) => h.cpu.physRead(dst + k, 1)), [0x5A, 0x5A, 0x5A, 0]);
    h.resumeWith();
    assert.equal(h.exitReason(), 10);
  });

  it('injected event: the exit comes before the handler\'s first instruction (RIP = handler)', () => {
    const h = new VmxHost();
    gate(h, 0x30, HANDLER);
    h.poke(HANDLER, CPUID);
    h.exitOn([0xEB, 0xFE], (f) => { withIdt()(f); f.set('GUEST_RFLAGS', 0x202n); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000030n); }, EXIT_MTF);
    assertMtf(h, HANDLER);
    assert.equal(h.field('GUEST_RFLAGS'), 0x2n, 'the interrupt gate cleared IF');
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G, 'return RIP on the guest stack');
    assert.equal(h.field('VM_ENTRY_INTR_INFO_FIELD') >> 31n, 0n, 'the exit cleared the valid bit');
    // the handler's CPUID is next
    h.resumeWith();
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER));
  });

  it('a fault delivered through the guest IDT: the exit comes before the handler\'s first instruction', () => {
    const h = new VmxHost();
    gate(h, 6, HANDLER);
    h.poke(HANDLER, CPUID);
    h.exitOn([0x0F, 0x0B], withIdt(), EXIT_MTF); // ud2
    assertMtf(h, HANDLER);
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G, 'the fault\'s frame points at UD2');
    // INT n: after the software interrupt's delivery
    const s = new VmxHost();
    gate(s, 0x31, HANDLER);
    s.poke(HANDLER, CPUID);
    s.exitOn([0xCD, 0x31], withIdt(), EXIT_MTF);
    assertMtf(s, HANDLER);
    assert.equal(s.cpu.physRead(FRAME_RIP, 4) >>> 0, G + 2, 'INT n returns after itself');
  });

  it('an exception that exits through the exception bitmap is not followed by an MTF VM exit', () => {
    const h = new VmxHost();
    h.exitOn([0x0F, 0x0B], (f) => { withIdt()(f); f.set('EXCEPTION_BITMAP', 1n << 6n); }, 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000306n);
    assert.equal(h.field('GUEST_RIP'), BigInt(G));
    assert.equal(h.cpu.mtf, false);
  });

  it('type 7 injection: a pending MTF VM exit before any instruction, even with the control 0', () => {
    const h = new VmxHost();
    h.cpu.r[0] = 0;
    h.guest([0xB8, 0x01, 0x00, 0x00, 0x00, ...CPUID]); // mov eax, 1 ; cpuid
    const f = h.validFields();
    withIdt(false)(f);
    f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000700n);
    h.launch(f);
    assert.equal(h.v.lastEntryFailure, null);
    assert.ok(h.atHostExit());
    assertMtf(h, G);
    assert.notEqual(h.cpu.r[0], 1, 'no guest instruction ran');
    assert.equal(h.field('VM_ENTRY_INTR_INFO_FIELD'), 0x700n, 'valid bit cleared');
    // the control is 0: the guest now runs to its CPUID
    h.resumeWith();
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(G + 5));
    assert.equal(h.cpu.r[0], 1);
  });

  it('type 7 injection into the HLT state exits from it', () => {
    const h = new VmxHost();
    h.exitOn([NOP], (f) => { f.set('GUEST_ACTIVITY_STATE', 1n); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000700n); }, EXIT_MTF);
    assertMtf(h, G, 1n);
  });

  it('shutdown state: no MTF VM exit until an NMI brings the guest out of it', () => {
    const h = new VmxHost();
    gate(h, 2, HANDLER);
    h.poke(HANDLER, CPUID);
    h.guest([NOP]);
    const f = h.validFields();
    withIdt()(f);
    f.set('GUEST_ACTIVITY_STATE', 2n);
    assert.equal(h.launch(f), 'halt');
    assert.equal(h.v.lastEntryFailure, null);
    assert.ok(h.cpu.nonRoot, 'the guest stays down');
    h.cpu.raiseNmi();
    h.resume();
    assert.ok(h.atHostExit());
    assertMtf(h, HANDLER, 0n, 8n);
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G, 'the NMI frame returns to the guest RIP');
  });

  it('HLT: the exit comes from the HLT activity state; an interrupt then wakes the guest into an exit at its handler', () => {
    const h = new VmxHost();
    let pending = false;
    h.cpu.intc = { hasInterrupt: () => pending, acknowledge: () => { pending = false; return 0x30; } };
    gate(h, 0x30, HANDLER);
    h.poke(HANDLER, CPUID);
    h.exitOn([0xF4, NOP], (f) => { withIdt()(f); f.set('GUEST_RFLAGS', 0x202n); }, EXIT_MTF);
    assertMtf(h, G + 1, 1n);
    // back into HLT: no instruction runs, so no exit
    h.run(asm.vmresume);
    assert.equal(h.cpu.stopReason, null);
    assert.ok(h.cpu.nonRoot && h.cpu.halted, 'the guest waits in HLT');
    assert.equal(h.cpu.mtf, true);
    pending = true;
    h.cpu.raiseIntrLine();
    h.resume();
    assert.ok(h.atHostExit());
    assertMtf(h, HANDLER);
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G + 1, 'the interrupt returns after HLT');
  });

  it('outranks a pending external interrupt, the preemption timer and NMI-window exits', () => {
    const setup = (h: VmxHost, f: Fields, mtf: boolean) => {
      withIdt(mtf)(f);
      gate(h, 0x30, HANDLER);
      h.poke(HANDLER, CPUID);
      f.set('GUEST_RFLAGS', 0x202n);
      f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000030n);
    };
    // external interrupt exiting with an interrupt pending: 37 first, then 1 (still before the handler runs)
    for (const mtf of [true, false]) {
      const h = new VmxHost();
      h.cpu.intc = { hasInterrupt: () => true, acknowledge: () => 0x31 };
      h.cpu.raiseIntrLine();
      h.exitOn([0xEB, 0xFE], (f) => { setup(h, f, mtf); or(f, PIN, ctl('PIN_BASED_EXT_INTR_MASK')); }, mtf ? EXIT_MTF : 1);
      assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER));
      if (!mtf) continue;
      assertMtf(h, HANDLER);
      h.resumeWith();
      assert.equal(h.exitReason(), 1, 'the interrupt exits next, before any handler instruction');
      assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER));
    }
    const t = new VmxHost();
    t.exitOn([0xEB, 0xFE], (f) => { setup(t, f, true); or(f, PIN, ctl('PIN_BASED_VMX_PREEMPTION_TIMER')); f.set('VMX_PREEMPTION_TIMER_VALUE', 0n); }, EXIT_MTF);
    assertMtf(t, HANDLER);
    t.resumeWith();
    assert.equal(t.exitReason(), 52);
    assert.equal(t.field('GUEST_RIP'), BigInt(HANDLER));
    const n = new VmxHost();
    n.exitOn([0xEB, 0xFE], (f) => {
      setup(n, f, true);
      or(f, PIN, ctl('PIN_BASED_NMI_EXITING') | ctl('PIN_BASED_VIRTUAL_NMIS'));
      or(f, P1, ctl('CPU_BASED_NMI_WINDOW_EXITING'));
    }, EXIT_MTF);
    assertMtf(n, HANDLER);
    n.resumeWith();
    assert.equal(n.exitReason(), 8);
  });

  it('is not blocked by MOV SS or STI: the exit saves that blocking', () => {
    const h = new VmxHost();
    // mov eax, 0x10 ; mov ss, eax ; nop
    h.exitOn([0xB8, 0x10, 0x00, 0x00, 0x00, 0x8E, 0xD0, NOP], withIdt(), EXIT_MTF);
    h.resumeWith();
    assertMtf(h, G + 7, 0n, 2n);
    const s = new VmxHost();
    s.exitOn([0xFB, NOP], withIdt(), EXIT_MTF); // sti ; nop
    assertMtf(s, G + 1, 0n, 1n);
  });

  it('off: costs nothing, guest blocks run whole and the run loop is not asked to look after each one', () => {
    const h = new VmxHost();
    h.guest([0xFF, 0xC1, 0xEB, 0xFC]); // inc ecx ; jmp back
    const f = h.validFields();
    assert.equal(h.launch(f, asm.vmlaunch), 'limit');
    assert.ok(h.cpu.nonRoot);
    assert.equal(h.cpu.mtf, false);
    assert.equal(h.cpu.singleStep, false);
    assert.equal(h.cpu.events & (EV_VMX | EV_ATTN), 0, 'no per-block event servicing');
    assert.equal(h.v.exitCount, 0);
  });
});
