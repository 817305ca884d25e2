import { strict as assert } from 'assert';
import { Fields, GUEST_CODE, VmxHost } from './harness';
import { Ept, ctl, withEpt } from './eptHarness';

/**
 * Task-switch VM exits (reason 9, SDM 26.4.2, 28.2.1 Table 28-2 "task switch", 28.2.4, 28.3.3): every
 * task switch in non-root operation exits before the new task is loaded. The exit is fault-like: for
 * CALL, JMP and IRET, RIP is the instruction and its length is saved; through a task gate in the IDT,
 * the event being delivered is the IDT-vectoring information, and a software interrupt also saves
 * the INT instruction's RIP and length. A 32-bit unpaged guest (unrestricted guest on EPT), since
 * IA-32e mode has no task switching.
 */

const GDT = 0x60000, TSS_NEW = 0x61000, IDT = 0x62000, TSS_CUR = 0x63000;
const TSS_SEL = 0x20;

function le32(v: number): number[] {
  return [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
}

function setup(rflags = 2): { h: VmxHost; f: Fields } {
  const h = new VmxHost();
  const ept = new Ept(h);
  ept.identity4K(0, 0x200000);
  // GDT[4]: an available 32-bit TSS at TSS_NEW, limit 0x67
  h.poke(GDT + TSS_SEL, [...le32(((TSS_NEW & 0xFFFF) << 16) | 0x67), ...le32(((TSS_NEW >>> 16) & 0xFF) | 0x8900)]);
  // IDT vectors 6 (#UD) and 0x40: task gates for TSS_SEL
  for (const vec of [6, 0x40]) h.poke(IDT + vec * 8, [...le32(TSS_SEL << 16), ...le32(0x8500)]);
  // the current task's back link (IRET with NT = 1 returns to it)
  h.poke(TSS_CUR, le32(TSS_SEL));
  const f = h.validFields();
  withEpt(f, ept.eptp(), true);
  f.set('VM_ENTRY_CONTROLS', (f.get('VM_ENTRY_CONTROLS') ?? 0n) & ~ctl('VM_ENTRY_IA32E_MODE'));
  f.set('GUEST_CR0', 0x31n);
  f.set('GUEST_CR4', 0x2000n);
  f.set('GUEST_CS_AR_BYTES', 0xC09Bn);
  f.set('GUEST_TR_AR_BYTES', 0x8Bn);
  f.set('GUEST_TR_BASE', BigInt(TSS_CUR));
  f.set('GUEST_GDTR_BASE', BigInt(GDT));
  f.set('GUEST_GDTR_LIMIT', 0x7Fn);
  f.set('GUEST_IDTR_BASE', BigInt(IDT));
  f.set('GUEST_IDTR_LIMIT', 0x7FFn);
  f.set('GUEST_RFLAGS', BigInt(rflags));
  return { h, f };
}

function taskSwitchExit(code: number[], rflags?: number): VmxHost {
  const { h, f } = setup(rflags);
  h.guest(code);
  h.launch(f);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
  assert.equal(h.exitReason(), 9);
  return h;
}

describe('VMX: task-switch VM exits (reason 9)', () => {
  it('JMP FAR to a TSS: source 2, the JMP\'s RIP and length', () => {
    const h = taskSwitchExit([0xEA, ...le32(0), TSS_SEL, 0]);
    assert.equal(h.qualification(), BigInt((2 << 30) | TSS_SEL) & 0xFFFFFFFFn);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 7n);
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), 0n);
    assert.equal(h.field('GUEST_TR_BASE'), BigInt(TSS_CUR), 'the new task was not loaded');
  });

  it('CALL FAR to a TSS: source 0', () => {
    const h = taskSwitchExit([0x90, 0x9A, ...le32(0), TSS_SEL, 0]);
    assert.equal(h.qualification(), BigInt(TSS_SEL));
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 1));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 7n);
  });

  it('IRET with NT = 1: source 1, the back link as selector', () => {
    const h = taskSwitchExit([0xCF], 0x4002);
    assert.equal(h.qualification(), BigInt((1 << 30) | TSS_SEL));
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 1n);
  });

  it('INT 0x40 through a task gate: source 3, the software interrupt as IDT-vectoring information, INT\'s RIP and length', () => {
    const h = taskSwitchExit([0x90, 0x90, 0xCD, 0x40]);
    assert.equal(h.qualification(), BigInt((3 << 30) | TSS_SEL) & 0xFFFFFFFFn);
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), BigInt((0x80000000 | (4 << 8) | 0x40) >>> 0));
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
  });

  it('#UD through a task gate: source 3, the exception as IDT-vectoring information, RIP of the faulting instruction', () => {
    const h = taskSwitchExit([0x90, 0x0F, 0x0B]);
    assert.equal(h.qualification(), BigInt((3 << 30) | TSS_SEL) & 0xFFFFFFFFn);
    assert.equal(h.field('IDT_VECTORING_INFO_FIELD'), BigInt((0x80000000 | (3 << 8) | 6) >>> 0));
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 1));
  });
});
