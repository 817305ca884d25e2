import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { buildVmcsTree, decodeFieldValue, snapshot, vmcsToText, type AreaNode, type BitNode, type FieldNode, type ReadVmcsResponse, type VmcsRootNode } from '../../src/extension/vmcsTree/model';
import { VMCS_AREA_TITLES } from '../../src/cpu/vmx/spec';

/**
 * The VMCS tree model without VS Code, on two recorded `vmx/readVmcs` responses (two consecutive VM
 * exits of test/fixtures/debug/vmm.bin; re-record with `node scripts/record-vmcs-fixture.mjs`).
 */

const root = path.resolve(__dirname, '../../..');
const stops = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/extension/readVmcs.json'), 'utf8')) as { readVmcs: ReadVmcsResponse }[];
const first = stops[0].readVmcs;
const second = stops[1].readVmcs;

function vmcsNode(tree: ReturnType<typeof buildVmcsTree>): VmcsRootNode {
  const n = tree[0];
  assert.equal(n.kind, 'vmcs');
  return n as VmcsRootNode;
}

function field(node: VmcsRootNode, name: string): FieldNode {
  for (const a of node.children as AreaNode[]) for (const f of a.children) if (f.label === name) return f;
  assert.fail(`no field ${name}`);
}

describe('extension: VMCS tree model', () => {
  it('groups the current VMCS into the six areas in SDM order', () => {
    const v = vmcsNode(buildVmcsTree(first));
    assert.equal(v.current, true);
    assert.match(v.label, /^VMCS 0x[0-9a-f]+$/);
    assert.match(v.description ?? '', /current, launched/);
    assert.deepEqual(v.children.map((a) => a.label), Object.values(VMCS_AREA_TITLES));
    for (const a of v.children as AreaNode[]) {
      assert.ok(a.children.length > 0, a.label);
      for (const f of a.children) assert.equal(f.field.area, a.area);
    }
    const supported = first.vmcs[0].fields!.filter((f) => f.supported).length;
    assert.equal((v.children as AreaNode[]).reduce((n, a) => n + a.children.length, 0), supported);
  });

  it('decodes fields: hex value, decoded description, tooltip with encoding and meaning', () => {
    const v = vmcsNode(buildVmcsTree(first));
    const reason = field(v, 'VM_EXIT_REASON');
    assert.equal(reason.value, 30n);
    assert.match(reason.description ?? '', /^0x1e {2}.*I\/O instruction|^0x1e {2}.*IO_INSTRUCTION/);
    assert.match(reason.tooltip ?? '', /encoding 0x4402/);
    const q = field(v, 'EXIT_QUALIFICATION');
    assert.match(q.decoded, /0x80/);
    assert.ok(q.children?.some((c) => c.label === 'port'), 'qualification decoded into sub-fields');
    const rip = field(v, 'GUEST_RIP');
    assert.match(rip.description ?? '', /^0x[0-9a-f]+$/);
    assert.match(rip.tooltip ?? '', /natural width/);
  });

  it('expands control vectors into named bits with their state', () => {
    const v = vmcsNode(buildVmcsTree(first));
    const proc = field(v, 'CPU_BASED_VM_EXEC_CONTROL');
    const bits = proc.children as BitNode[];
    const io = bits.find((b) => b.label.includes('UNCOND_IO') || b.label.includes('USE_IO_BITMAPS'));
    assert.ok(io, bits.map((b) => b.label).join(' '));
    for (const b of bits) assert.equal(b.set, ((proc.value >> BigInt(b.bit)) & 1n) === 1n, b.label);
    assert.ok(bits.every((b) => b.changeable === undefined), 'allowed settings unknown without controls in the response');
    for (const name of bits.filter((b) => b.set && !/DEFAULT1|RESERVED/.test(b.label)).map((b) => b.label)) assert.ok(proc.decoded.includes(name), name);
  });

  it('greys bits the capability MSRs fix, when the response carries the allowed settings', () => {
    const resp: ReadVmcsResponse = JSON.parse(JSON.stringify(first));
    resp.vmcs[0].controls = { proc1: { must1: 0x0401e172, may1: 0xfff9fffe } };
    const bits = field(vmcsNode(buildVmcsTree(resp)), 'CPU_BASED_VM_EXEC_CONTROL').children as BitNode[];
    const hlt = bits.find((b) => b.bit === 7)!;
    assert.equal(hlt.changeable, true);
    const fixed1 = bits.find((b) => b.bit === 1);
    if (fixed1) assert.equal(fixed1.changeable, false);
    const fixed0 = bits.find((b) => b.bit === 17);
    if (fixed0) assert.equal(fixed0.changeable, false);
  });

  it('marks the fields changed since the previous stop', () => {
    const before = vmcsNode(buildVmcsTree(first));
    assert.ok(!before.changed, 'nothing is changed without a previous stop');
    const v = vmcsNode(buildVmcsTree(second, snapshot(first)));
    const changedNames = (v.children as AreaNode[]).flatMap((a) => a.children.filter((f) => f.changed).map((f) => f.label));
    const expected = first.vmcs[0].fields!.filter((f, k) => f.supported && f.value !== second.vmcs[0].fields![k].value).map((f) => f.name);
    assert.ok(expected.length > 0, 'the two recorded stops differ');
    assert.deepEqual(changedNames.sort(), expected.sort());
    const rip = field(v, 'GUEST_RIP');
    assert.equal(rip.changed, true);
    assert.equal(rip.previous, BigInt(first.vmcs[0].fields!.find((f) => f.name === 'GUEST_RIP')!.value));
    assert.match(rip.tooltip ?? '', /was 0x/);
    const guest = (v.children as AreaNode[]).find((a) => a.area === 'guest-state')!;
    assert.equal(guest.changedCount, changedNames.filter((n) => guest.children.some((f) => f.label === n)).length);
    assert.match(guest.description ?? '', /changed/);
    assert.ok(!field(v, 'HOST_RIP').changed);
  });

  it('keeps node ids stable across stops and unique', () => {
    const ids = (t: ReturnType<typeof buildVmcsTree>) => {
      const out: string[] = [];
      const walk = (n: { id: string; children?: unknown[] }) => { out.push(n.id); for (const c of (n.children ?? []) as typeof n[]) walk(c); };
      t.forEach((n) => walk(n));
      return out;
    };
    const a = ids(buildVmcsTree(first));
    assert.equal(new Set(a).size, a.length);
    assert.deepEqual(ids(buildVmcsTree(second, snapshot(first))), a);
  });

  it('reports an unavailable VMCS as a message', () => {
    const t = buildVmcsTree({ mode: 'no VMX', vmcs: [{ available: false, reason: 'the CPU is not in VMX operation' }] });
    assert.equal(t[0].kind, 'message');
    assert.equal(t[0].label, 'the CPU is not in VMX operation');
  });

  it('decodes single values and copies the VMCS as dump text', () => {
    assert.equal(decodeFieldValue('VM_INSTRUCTION_ERROR', 0n, new Map()), '');
    assert.match(decodeFieldValue('VM_INSTRUCTION_ERROR', 7n, new Map()), /control/i);
    const text = vmcsToText(first);
    assert.match(text, /^VMCS 0x[0-9a-f]+, launched\n/);
    assert.match(text, /^Guest-state area:$/m);
    assert.match(text, /^ {2}GUEST_RIP {26}0x[0-9a-f]+$/m);
  });
});
