import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { checkFieldWrite, flipBit, formatValue, mergeDataBreakpoints, parseUserNumber, validateFieldInput, vectorOfField } from '../../src/extension/vmcsTree/edit';
import type { ReadVmcsResponse } from '../../src/extension/vmcsTree/model';

/** Validation of the VMCS tree's edit actions (edit a field, flip a control bit) and the field data breakpoints. */

const root = path.resolve(__dirname, '../../..');
const first = (JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/extension/readVmcs.json'), 'utf8')) as { readVmcs: ReadVmcsResponse }[])[0].readVmcs;
const entry = first.vmcs[0];
const field = (n: string) => entry.fields!.find((f) => f.name === n)!;

describe('extension: VMCS tree edit actions', () => {
  it('parses numbers the way users type them', () => {
    assert.equal(parseUserNumber('0x1F'), 31n);
    assert.equal(parseUserNumber('31'), 31n);
    assert.equal(parseUserNumber('0b11111'), 31n);
    assert.equal(parseUserNumber('1fh'), 31n);
    assert.equal(parseUserNumber('0x_ffff_0000'.replace('0x_', '0x')), 0xffff0000n);
    assert.equal(parseUserNumber('rax'), undefined);
    assert.equal(parseUserNumber(''), undefined);
    assert.equal(formatValue(255n, 'hex'), '0xff');
    assert.equal(formatValue(255n, 'dec'), '255');
  });

  it('checks width, read-only and support before writing', () => {
    assert.equal(validateFieldInput(field('GUEST_RIP'), '0x1000', entry), undefined);
    assert.match(validateFieldInput(field('GUEST_RIP'), 'x', entry)!, /Enter a number/);
    assert.match(checkFieldWrite(field('VIRTUAL_PROCESSOR_ID'), 0x10000n, entry)!, /16 bits/);
    assert.match(checkFieldWrite(field('VM_EXIT_REASON'), 1n, entry)!, /read-only/);
    assert.match(checkFieldWrite(field('POSTED_INTR_NV'), 1n, entry)!, /not supported/);
  });

  it('checks control vectors against the allowed settings when known', () => {
    const proc = field('CPU_BASED_VM_EXEC_CONTROL');
    assert.equal(vectorOfField(proc.name), 'proc1');
    const v = BigInt(proc.value);
    const r = flipBit(proc, v, 7, entry);
    assert.ok('value' in r && r.value === (v ^ 0x80n), 'unknown settings: the adapter validates');
    const withCaps = JSON.parse(JSON.stringify(entry)) as typeof entry;
    withCaps.controls = { proc1: { must1: 0x0401e172, may1: 0xfff9fffe } };
    const fixed1 = flipBit(proc, v | 0x2n, 1, withCaps);
    assert.ok('error' in fixed1 && /fixed to 1/.test(fixed1.error));
    const fixed0 = flipBit(proc, v, 17, withCaps);
    assert.ok('error' in fixed0 && /fixed to 0/.test(fixed0.error));
    assert.match(checkFieldWrite(proc, 0n, withCaps)!, /require/);
    assert.match(checkFieldWrite(proc, 0x0401e172n | 0x20000n, withCaps)!, /do not allow/);
    assert.equal(checkFieldWrite(proc, 0x0401e172n | 0x80n, withCaps), undefined);
    assert.ok('error' in flipBit(field('GUEST_RIP'), 0n, 0, entry));
  });

  it('merges the tree\'s field data breakpoints into the client\'s list', () => {
    const client = [{ dataId: '0x1000/4', accessType: 'write' }, { dataId: 'vmcs:GUEST_RIP' }];
    const merged = mergeDataBreakpoints(client, ['GUEST_RIP', 'exit_qualification']);
    assert.deepEqual(merged.map((b) => b.dataId), ['0x1000/4', 'vmcs:GUEST_RIP', 'vmcs:EXIT_QUALIFICATION']);
    assert.deepEqual(mergeDataBreakpoints([], []), []);
  });
});
