import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { asm } from './harness';

/** The harness writes VMX instructions as bytes: they must match what NASM assembles (fixtures/vmx). */
describe('VMX test harness: instruction encodings match NASM', () => {
  it('encodings.bin', () => {
    const root = path.resolve(__dirname, '../../../..');
    const bin = [...fs.readFileSync(path.join(root, 'test/fixtures/vmx/encodings.bin'))];
    const a = 0x47000;
    const imm = 0x1122334455667788n;
    const mine = [
      ...asm.vmxon(a), ...asm.vmclear(a), ...asm.vmptrld(a), ...asm.vmptrst(a), ...asm.vmwriteRaxRdx, ...asm.vmreadRdxRax,
      ...asm.vmreadMem(a), ...asm.vmwriteMem(a), ...asm.vmlaunch, ...asm.vmresume, ...asm.vmxoff, ...asm.vmcall,
      ...asm.invvpid(a), ...asm.movRaxImm(imm), ...asm.movRdxImm(imm), ...asm.hlt,
    ];
    assert.deepEqual(mine, bin);
  });
});
