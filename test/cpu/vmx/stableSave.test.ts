import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { setSkipUnchangedStable } from '../../../src/cpu/vmx/exit';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { slotOf } from '../../../src/cpu/vmx/vmcs';
import { MSR_BITMAP, VmxHost } from './harness';

/**
 * A VM exit saves the "stable" guest fields (control and debug registers, MSRs, segment and
 * descriptor-table registers) only when the processor's copies may have changed since they were last
 * saved or loaded (cpu.sysGen, entry.ts loadedAsSaved). The guest of test/fixtures/vmx/stable-state64
 * changes each kind of such register between I/O exits; its host VMM (this test) advances GUEST_RIP
 * and resumes after each. The VMCS after every exit must be what saving everything gives.
 */

const root = path.resolve(__dirname, '../../../..');
const guest = [...fs.readFileSync(path.join(root, 'test/fixtures/vmx/stable-state64.bin'))];

function run(skip: boolean): { snapshots: number[][]; saves: number; exits: number } {
  setSkipUnchangedStable(skip);
  try {
    const h = new VmxHost();
    h.guest(guest);
    const f = h.validFields();
    const p1 = controlMask('CPU_BASED_UNCOND_IO_EXITING') | controlMask('CPU_BASED_HLT_EXITING') | controlMask('CPU_BASED_USE_MSR_BITMAPS');
    f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | BigInt(p1));
    f.set('MSR_BITMAP', BigInt(MSR_BITMAP)); // all zero: no MSR exits
    f.set('VM_EXIT_CONTROLS', f.get('VM_EXIT_CONTROLS')! | BigInt(controlMask('VM_EXIT_SAVE_DEBUG_CONTROLS') | controlMask('VM_EXIT_SAVE_IA32_EFER')));
    f.set('VM_ENTRY_CONTROLS', f.get('VM_ENTRY_CONTROLS')! | BigInt(controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS') | controlMask('VM_ENTRY_LOAD_IA32_EFER')));
    f.set('GUEST_IA32_EFER', BigInt(h.cpu.efer));
    h.launch(f);
    const snapshots: number[][] = [];
    for (let n = 0; n < 40; n++) {
      assert.ok(h.atHostExit(), `exit ${n + 1}: CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
      snapshots.push([...h.v.vmcs.lo, ...h.v.vmcs.hi]);
      if (h.exitReason() !== 30) break;
      h.resumeWith([['GUEST_RIP', h.field('GUEST_RIP') + h.field('VM_EXIT_INSTRUCTION_LEN')]]);
    }
    return { snapshots, saves: h.v.stableSaves, exits: h.v.exitCount };
  } finally {
    setSkipUnchangedStable(true);
  }
}

describe('VMX: saving only the stable guest fields that may have changed', () => {
  it('a bare-metal VMM sees after every exit the VMCS that saving everything gives', () => {
    const skip = run(true), all = run(false);
    assert.equal(all.exits, 13, '12 OUTs and the HLT');
    assert.equal(all.saves, 13);
    assert.equal(skip.snapshots.length, all.snapshots.length);
    for (let k = 0; k < all.snapshots.length; k++) assert.deepEqual(skip.snapshots[k], all.snapshots[k], `VMCS after exit ${k + 1}`);
    // the OUT right after an unchanged stretch needs no save: the guest's first OUT, and the CLTS-free ones
    assert.ok(skip.saves < skip.exits, `saves ${skip.saves} of ${skip.exits} exits`);
    const last = all.snapshots[all.snapshots.length - 1];
    assert.equal(last[slotOf('VM_EXIT_REASON')], 12);
    assert.equal(last[slotOf('GUEST_FS_BASE')], 0x12345000);
  });
});
