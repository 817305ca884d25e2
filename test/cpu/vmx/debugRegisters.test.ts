import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { GUEST_CODE, VmxHost, asm, type Fields } from './harness';

/**
 * DR7 across VM entry and exit (SDM 27.3.2.1 with "load debug controls", 28.5.1): the breakpoints it
 * enables belong to the world that loaded it.
 */

const MOV_DR0_RAX = [0x0F, 0x23, 0xC0];
const MOV_DR7_RAX = [0x0F, 0x23, 0xF8];
const NOP = 0x90;

function fields(g: VmxHost, guestDr7: number): Fields {
  const f = g.validFields();
  f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | BigInt(controlMask('CPU_BASED_UNCOND_IO_EXITING')));
  f.set('VM_ENTRY_CONTROLS', f.get('VM_ENTRY_CONTROLS')! | BigInt(controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS')));
  f.set('GUEST_DR7', BigInt(guestDr7));
  f.set('EXCEPTION_BITMAP', 1n << 1n); // a #DB in the guest would exit with reason 0
  return f;
}

/** Host code: DR0 = the guest's third byte, DR7 = hostDr7, then the VMCS set-up and VMLAUNCH. */
function launch(g: VmxHost, hostDr7: number, guestDr7: number): void {
  g.guest([NOP, NOP, 0xE6, 0x80, 0xF4]); // nop; nop; out 0x80, al; hlt
  const pre = [...asm.movRaxImm(BigInt(GUEST_CODE + 2)), ...MOV_DR0_RAX, ...asm.movRaxImm(BigInt(hostDr7)), ...MOV_DR7_RAX];
  g.run([...pre, ...g.setupCode(fields(g, guestDr7))]);
}

describe('VMX: DR7 is loaded per world', () => {
  it('an instruction breakpoint the host armed does not fire in a guest whose DR7 disables it', () => {
    const g = new VmxHost();
    launch(g, 0x401, 0x400);
    assert.ok(g.atHostExit());
    assert.equal(g.exitReason(), 30, 'the OUT at DR0 exits for I/O, no #DB');
    assert.equal(g.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(g.cpu.dr[7], 0x400, 'the exit leaves DR7 = 400H');
  });

  it('a breakpoint the guest\'s DR7 enables fires in the guest although the host\'s DR7 had none', () => {
    const g = new VmxHost();
    launch(g, 0x400, 0x401);
    assert.ok(g.atHostExit());
    assert.equal(g.exitReason(), 0, 'exception or NMI');
    assert.equal(Number(g.field('VM_EXIT_INTR_INFO')) & 0x7FF, (3 << 8) | 1, 'hardware exception #DB');
    assert.equal(g.field('GUEST_RIP'), BigInt(GUEST_CODE + 2), 'a fault-like instruction breakpoint, before the OUT');
  });
});
