import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import { findRegister } from '../../src/debug/registers';
import { X87_INIT } from '../../src/cpu/xstate';
import { backTo, historyRig } from '../support/historyRig';
import { CODE_BASE, makeCpu } from '../support/snippet';

/**
 * Reverse execution and the XSAVE state (src/debug/history.ts): stepping back over XRSTOR puts the
 * x87 image and XINUSE[0] back, over XSAVE the 576-byte area (iced-x86 gives XSAVE no size, so the
 * history must know it), and the recorded XCR0 is restored. The debugger's register table lists XCR0.
 */

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const AREA = 0x20000, AREA_B = 0x21000;

function rig() {
  const r = historyRig(64, 1 << 10);
  r.cpu.cr4 |= K.CR4_OSXSAVE;
  return r;
}

describe('history: XSAVE state', () => {
  it('stepping back over XSAVE restores the area, over XRSTOR the x87 image and XINUSE, and XCR0 comes from the record', () => {
    const { cpu, hist } = rig();
    for (let k = 0; k < 576; k++) cpu.physWrite(AREA + k, 1, k < 160 && (k < 24 || k >= 32) ? 0x40 + (k & 0x3F) : 0);
    cpu.physWrite(AREA + 512, 1, 1); // XSTATE_BV: x87
    for (let k = 0; k < 576; k++) cpu.physWrite(AREA_B + k, 1, 0xCC);
    const code = [
      0xBF, ...le32(AREA), 0xB8, 1, 0, 0, 0, 0x31, 0xD2, 0x31, 0xC9, // mov edi, AREA ; mov eax, 1 ; xor edx, edx ; xor ecx, ecx
      0x0F, 0x01, 0xD1, // xsetbv (XCR0 = 1)
      0x0F, 0xAE, 0x2F, // xrstor [rdi]
      0xBF, ...le32(AREA_B), 0x0F, 0xAE, 0x27, // mov edi, AREA_B ; xsave [rdi]
      0xF4,
    ];
    const XRSTOR_AT = CODE_BASE + 17, XSAVE_AT = CODE_BASE + 25;
    code.forEach((b, k) => cpu.physWrite(CODE_BASE + k, 1, b));
    cpu.rip = CODE_BASE;
    cpu.run(cpu.icount + 100);
    assert.equal(cpu.x87InUse, true);
    assert.equal(cpu.physRead(AREA_B + 512, 1), 0xCD, 'XSAVE set XSTATE_BV[0]');
    assert.equal(cpu.physRead(AREA_B + 40, 1), 0x40 + 40, 'XSAVE stored ST0');
    const loaded = cpu.x87;
    // XCR0 = 1 is the only value XSETBV accepts: a value no instruction could produce shows the restore took the record's
    cpu.xcr0 = 0;
    const save = backTo(hist, XSAVE_AT);
    assert.equal(save.xcr0, 1);
    assert.equal(cpu.xcr0, 1);
    for (let k = 0; k < 576; k++) assert.equal(cpu.physRead(AREA_B + k, 1), 0xCC, `area byte ${k} is back`);
    assert.equal(cpu.x87, loaded, 'before XSAVE the image was the loaded one');
    backTo(hist, XRSTOR_AT);
    assert.equal(cpu.x87InUse, false);
    assert.equal(cpu.x87, X87_INIT);
    // forward again: the same XRSTOR loads the same image
    cpu.run(cpu.icount + 100);
    assert.deepEqual(Array.from(cpu.x87), Array.from(loaded));
    assert.equal(cpu.physRead(AREA_B + 512, 1), 0xCD);
  });

  it('the register table has XCR0 and refuses what XSETBV would', () => {
    const { cpu } = makeCpu(64);
    const x = findRegister('xcr0');
    assert.ok(x);
    assert.equal(x.read(cpu), 1n);
    const write = x.write!.bind(x);
    write(cpu, 1n);
    assert.throws(() => write(cpu, 0n), /xcr0/);
    assert.throws(() => write(cpu, 3n), /xcr0/);
    assert.equal(cpu.xcr0, 1);
  });
});
