import { strict as assert } from 'assert';
import { inPlaceHostLma, resumeInPlace } from '../../../src/cpu/vmx/entry';
import { checkControls, checkGuest, checkHost, entryPassesQuietly } from '../../../src/cpu/vmx/entryChecks';
import { setVmxObserver } from '../../../src/cpu/vmx/observer';
import { controlMask } from '../../../src/cpu/vmx/spec';
import type { InPlaceVmm } from '../../../src/cpu/vmx/state';
import { slotOf } from '../../../src/cpu/vmx/vmcs';
import { GUEST_CODE, MSR_AREA, VmxHost, asm, type Fields } from './harness';

/**
 * Exits handled in place (state.ts InPlaceVmm, the built-in monitor's fast path): the VMM sees the
 * exit exactly as after an architectural exit, the guest resumes as after VMRESUME, and whatever
 * that VMRESUME would refuse makes the exit complete architecturally instead.
 */

const OUT_80 = [0xE6, 0x80]; // out 0x80, al
const RIP = slotOf('GUEST_RIP'), LEN = slotOf('VM_EXIT_INSTRUCTION_LEN'), RFLAGS = slotOf('GUEST_RFLAGS');

/** Controls under which VM entry loads back what the exit saved (exit.ts inPlaceAllowed). */
function inPlaceFields(g: VmxHost): Fields {
  const f = g.validFields();
  f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | BigInt(controlMask('CPU_BASED_UNCOND_IO_EXITING')));
  f.set('VM_EXIT_CONTROLS', f.get('VM_EXIT_CONTROLS')! | BigInt(controlMask('VM_EXIT_SAVE_DEBUG_CONTROLS') | controlMask('VM_EXIT_SAVE_IA32_EFER')));
  f.set('VM_ENTRY_CONTROLS', f.get('VM_ENTRY_CONTROLS')! | BigInt(controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS') | controlMask('VM_ENTRY_LOAD_IA32_EFER')));
  f.set('GUEST_IA32_EFER', BigInt(g.cpu.efer));
  return f;
}

/** A VMM that skips each I/O instruction, recording what it saw; `spoil` breaks the guest state first. */
class SkipIo implements InPlaceVmm {
  seen: { reason: number; rip: number; qual: bigint }[] = [];
  spoil = false;
  constructor(private readonly g: VmxHost) {}
  handleInPlace(reason: number): boolean {
    const d = this.g.v.vmcs;
    this.seen.push({ reason, rip: d.num(RIP), qual: d.big(slotOf('EXIT_QUALIFICATION')) });
    if (reason !== 30) return false;
    d.setNum(RIP, d.num(RIP) + d.u32(LEN));
    // RFLAGS bit 3 is reserved: VMRESUME refuses the guest state (check D46)
    if (this.spoil) d.set(RFLAGS, d.i32(RFLAGS) | 8, 0);
    return resumeInPlace(this.g.cpu, this.g.v);
  }
}

describe('VMX: exits handled in place', () => {
  it('the VMM sees each exit with its exit information and the guest goes on after VMRESUME semantics', () => {
    const g = new VmxHost();
    const vmm = new SkipIo(g);
    g.v.inPlace = vmm;
    g.guest([...OUT_80, 0xB0, 0x41, ...OUT_80, 0xF4]); // out; mov al,'A'; out; hlt
    g.launch(inPlaceFields(g));
    assert.deepEqual(vmm.seen.map((e) => [e.reason, e.rip - GUEST_CODE, e.qual]), [[30, 0, 0x800040n], [30, 4, 0x800040n]]);
    assert.equal(g.v.exitCount, 2);
    // no host code ran: the guest itself stopped at its HLT (HLT exiting is off)
    assert.equal(g.cpu.nonRoot, true);
    assert.equal(g.cpu.rip, GUEST_CODE + 7);
    assert.equal(g.cpu.r[0] & 0xFF, 0x41);
    // the VMCS holds what the exit saved, with the RIP the VMM wrote
    assert.equal(g.field('VM_EXIT_REASON'), 30n);
    assert.equal(g.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(g.field('GUEST_RIP'), BigInt(GUEST_CODE + 6));
    assert.equal(g.field('GUEST_RSP'), BigInt(g.cpu.r[4] >>> 0));
  });

  it('a guest state VMRESUME would refuse makes the exit complete, and the VMM\'s VMRESUME fails with reason 33', () => {
    const g = new VmxHost();
    const vmm = new SkipIo(g);
    vmm.spoil = true;
    g.v.inPlace = vmm;
    g.guest([...OUT_80, 0xF4]);
    g.launch(inPlaceFields(g));
    assert.equal(vmm.seen.length, 1);
    assert.ok(g.atHostExit(), 'the host runs: the exit was completed architecturally');
    assert.equal(g.exitReason(), 30);
    assert.equal(g.field('GUEST_RIP'), BigInt(GUEST_CODE + 2), 'the VMM\'s change stays in the VMCS');
    // the host's own VMRESUME meets the same guest state
    g.v.inPlace = null;
    g.run(asm.vmresume);
    assert.equal(g.field('VM_EXIT_REASON'), BigInt((0x80000000 | 33) >>> 0));
    assert.equal(g.v.lastEntryFailure?.check, 'D46');
  });

  it('the quiet-entry shortcut (entryChecks.ts entryPassesQuietly) says "passes" only when every check passes', () => {
    // each case changes what a VMM may change between the exit and its VMRESUME (the last column: the
    // change breaks a check); the shortcut must never vouch for a guest state the full checks refuse,
    // and must vouch for the untouched one
    const cases: [string, number, bigint, boolean][] = [
      ['none', -1, 0n, false],
      ['RIP not canonical', RIP, 0x0000800000000000n, true],
      ['RIP canonical high', RIP, 0xFFFF800000000000n, false],
      ['RFLAGS reserved bit 3', RFLAGS, 0x0An, true],
      ['RFLAGS bit 1 clear', RFLAGS, 0n, true],
      ['RFLAGS.VM', RFLAGS, 0x20002n, true],
      ['RFLAGS bits 63:32', RFLAGS, 0x100000002n, true],
      ['activity HLT', slotOf('GUEST_ACTIVITY_STATE'), 1n, false],
      ['activity 5', slotOf('GUEST_ACTIVITY_STATE'), 5n, true],
      ['blocking by STI with IF = 0', slotOf('GUEST_INTERRUPTIBILITY_INFO'), 1n, true],
      ['blocking by SMI', slotOf('GUEST_INTERRUPTIBILITY_INFO'), 4n, true],
      ['pending BS without TF', slotOf('GUEST_PENDING_DBG_EXCEPTIONS'), 0x4000n, false],
      ['pending debug reserved bit', slotOf('GUEST_PENDING_DBG_EXCEPTIONS'), 0x20n, true],
      ['VMCS link pointer unaligned', slotOf('VMCS_LINK_POINTER'), 0x1234n, true],
      ['inject #GP without its error code', slotOf('VM_ENTRY_INTR_INFO_FIELD'), 0x8000030Dn, true],
      ['GUEST_CR4 without PAE', slotOf('GUEST_CR4'), -1n, true],
      ['HOST_RIP not canonical', slotOf('HOST_RIP'), 0x0000800000000000n, true],
    ];
    let vouched = 0;
    for (const [what, slot, value, breaks] of cases) {
      const g = new VmxHost();
      const answers: { quiet: boolean; full: boolean }[] = [];
      g.v.inPlace = {
        handleInPlace: (reason: number): boolean => {
          const d = g.v.vmcs;
          d.setNum(RIP, d.num(RIP) + d.u32(LEN));
          if (slot === slotOf('GUEST_CR4')) d.set(slot, d.i32(slot) & ~0x20, 0);
          else if (slot >= 0) d.set(slot, Number(value & 0xFFFFFFFFn) | 0, Number(value >> 32n) | 0);
          const lma = inPlaceHostLma(g.v);
          const quiet = entryPassesQuietly(g.cpu, g.v, lma);
          const full = checkControls(g.cpu, g.v) === null && checkHost(g.cpu, g.v, lma) === null && checkGuest(g.cpu, g.v).failure === null;
          answers.push({ quiet, full });
          return reason === 30 && resumeInPlace(g.cpu, g.v);
        },
      };
      g.guest([...OUT_80, ...OUT_80, 0xF4]);
      g.launch(inPlaceFields(g));
      assert.ok(answers.length > 0, what);
      assert.equal(answers[0].full, !breaks, `${what}: the full checks`);
      for (const a of answers) assert.ok(!a.quiet || a.full, `${what}: the shortcut passed a guest state the checks refuse`);
      if (what === 'none') {
        // VMLAUNCH's checks memoized the controls, host state and D1-D43: both resumes are vouched for
        assert.deepEqual(answers.map((a) => a.quiet), [true, true], what);
        assert.equal(g.v.exitCount, 2, what);
      }
      vouched += answers.filter((a) => a.quiet).length;
    }
    assert.ok(vouched >= 2, 'the shortcut is taken at all');
  });

  it('is not offered while a debugger observes VMX events, nor without the controls that make it invisible', () => {
    for (const variant of ['observer', 'no-load-debug', 'msr-store']) {
      const g = new VmxHost();
      const vmm = new SkipIo(g);
      g.v.inPlace = vmm;
      g.guest([...OUT_80, 0xF4]);
      const f = inPlaceFields(g);
      if (variant === 'observer') setVmxObserver(g.cpu, {});
      if (variant === 'no-load-debug') f.set('VM_ENTRY_CONTROLS', f.get('VM_ENTRY_CONTROLS')! & ~BigInt(controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS')));
      if (variant === 'msr-store') {
        g.poke(MSR_AREA, [0x74, 0x01, 0, 0, 0, 0, 0, 0]); // IA32_SYSENTER_CS
        f.set('VM_EXIT_MSR_STORE_COUNT', 1n);
        f.set('VM_EXIT_MSR_STORE_ADDR', BigInt(MSR_AREA));
      }
      g.launch(f);
      assert.equal(vmm.seen.length, 0, variant);
      assert.ok(g.atHostExit(), `${variant}: the exit completed architecturally`);
      assert.equal(g.exitReason(), 30, variant);
      setVmxObserver(g.cpu, null);
    }
  });
});
