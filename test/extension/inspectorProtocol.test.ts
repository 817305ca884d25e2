import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  SnapshotStore, buildInspectorState, controlRows, diffSnapshots, filterRows, parseFromWebview, responseOf, searchMatcher,
} from '../../src/extension/inspector/protocol';
import { snapshot, type ReadVmcsResponse } from '../../src/extension/vmcsTree/model';

/** The inspector panel's pure protocol (state builder, filter, search, diff) on two recorded vmx/readVmcs responses. */

const root = path.resolve(__dirname, '../../..');
const stops = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/extension/readVmcs.json'), 'utf8')) as { stopped: { description: string }; readVmcs: ReadVmcsResponse }[];
const first = stops[0].readVmcs;
const second = stops[1].readVmcs;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('extension: inspector protocol', () => {
  it('builds the whole VMCS as rows with decoded values and the last VM exit', () => {
    const s = buildInspectorState({ status: 'stopped', resp: first, stopText: stops[0].stopped.description });
    assert.equal(s.status, 'stopped');
    assert.equal(s.pointer, first.vmcs[0].pointer);
    assert.equal(s.world, 'VMX root');
    assert.equal(s.areas.length, 6);
    assert.equal(s.rows.length, first.vmcs[0].fields!.filter((f) => f.supported).length);
    const reason = s.rows.find((r) => r.name === 'VM_EXIT_REASON')!;
    assert.equal(reason.value, '0x1e');
    assert.match(reason.decoded, /I\/O|IO_INSTRUCTION/);
    assert.ok(s.lastExit);
    assert.equal(s.lastExit!.basic, 30);
    assert.ok(s.lastExit!.qualificationFields.some((f) => f.name === 'port'));
    assert.match(s.lastExit!.stopText ?? '', /VM exit/);
    assert.ok(s.rows.every((r) => !r.changed), 'nothing changed without a previous stop');
  });

  it('marks changes against the previous stop', () => {
    const prev = snapshot(first).get(first.vmcs[0].pointer!)!;
    const s = buildInspectorState({ status: 'stopped', resp: second, previous: prev });
    const changed = s.rows.filter((r) => r.changed).map((r) => r.name).sort();
    const expected = first.vmcs[0].fields!.filter((f, k) => f.supported && f.value !== second.vmcs[0].fields![k].value).map((f) => f.name).sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(changed, expected);
    const rip = s.rows.find((r) => r.name === 'GUEST_RIP')!;
    assert.equal(rip.previous, '0x' + BigInt(first.vmcs[0].fields!.find((f) => f.name === 'GUEST_RIP')!.value).toString(16));
  });

  it('reports running, no session and an unavailable VMCS without rows', () => {
    assert.equal(buildInspectorState({ status: 'running' }).rows.length, 0);
    assert.equal(buildInspectorState({ status: 'no-session' }).status, 'no-session');
    const u = buildInspectorState({ status: 'stopped', resp: { mode: 'no VMX', vmcs: [{ available: false, reason: 'the CPU is not in VMX operation' }] } });
    assert.equal(u.status, 'unavailable');
    assert.equal(u.message, 'the CPU is not in VMX operation');
  });

  it('filters by area, name search, regex, only changed and only non-zero', () => {
    const prev = snapshot(first).get(first.vmcs[0].pointer!)!;
    const rows = buildInspectorState({ status: 'stopped', resp: second, previous: prev }).rows;
    const guest = filterRows(rows, { area: 'guest-state' });
    assert.ok(guest.length > 0 && guest.every((r) => r.area === 'guest-state'));
    assert.deepEqual(filterRows(rows, { search: 'guest_rip' }).map((r) => r.name), ['GUEST_RIP']);
    assert.ok(filterRows(rows, { search: '/^HOST_(RIP|RSP)$/' }).length === 2);
    assert.ok(filterRows(rows, { search: 'instruction' }).some((r) => r.name === 'VM_EXIT_REASON' || /instruction/i.test(r.description)));
    assert.ok(filterRows(rows, { search: '0x4402' }).some((r) => r.name === 'VM_EXIT_REASON'), 'search by encoding');
    const changed = filterRows(rows, { onlyChanged: true });
    assert.ok(changed.length > 0 && changed.every((r) => r.changed));
    const nz = filterRows(rows, { onlyNonZero: true });
    assert.ok(nz.length > 0 && nz.length < rows.length && nz.every((r) => r.value !== '0x0'));
    assert.equal(filterRows(rows, {}).length, rows.length);
    assert.equal(filterRows(rows, { search: '/[unclosed/' }).length, 0, 'a bad regex falls back to plain text');
    assert.ok(searchMatcher('')(rows[0]));
  });

  it('shows allowed settings as unknown when the adapter does not send them, and checks them when it does', () => {
    const rows = controlRows(first.vmcs[0]);
    assert.ok(rows.some((r) => r.vector === 'proc1'));
    for (const r of rows) {
      assert.equal(r.allowed0, null);
      assert.equal(r.allowed1, null);
      assert.ok(r.bits.every((b) => b.allowed === 'unknown' && !b.violates));
    }
    assert.equal(buildInspectorState({ status: 'stopped', resp: first }).allowedKnown, false);
    const resp = clone(first);
    resp.vmcs[0].controls = { proc1: { must1: 0x0401e172, may1: 0xfff9fffe } };
    const s = buildInspectorState({ status: 'stopped', resp });
    assert.equal(s.allowedKnown, true);
    const proc = s.controls.find((c) => c.vector === 'proc1')!;
    assert.equal(proc.allowed0, '0x401e172');
    assert.equal(proc.allowed1, '0xfff9fffe');
    assert.equal(proc.bits.find((b) => b.bit === 7)!.allowed, 'free');
    const b1 = proc.bits.find((b) => b.bit === 1);
    if (b1) assert.equal(b1.allowed, 'fixed1');
    const value = Number(BigInt(proc.value));
    for (const b of proc.bits) assert.equal(b.set, ((value >>> b.bit) & 1) === 1, b.name);
  });

  it('keeps bounded snapshots per stop and diffs any two of them', () => {
    const store = new SnapshotStore(3);
    const a = store.record(first, 'stop 1', 1)!;
    const b = store.record(second, 'stop 2', 2)!;
    assert.equal(store.forExit(2)!.id, b.id);
    assert.equal(store.before(b.id)!.id, a.id);
    const d = diffSnapshots(a, b);
    const expected = first.vmcs[0].fields!.filter((f, k) => f.value !== second.vmcs[0].fields![k].value).map((f) => f.name).sort();
    assert.deepEqual(d.rows.map((r) => r.name).sort(), expected);
    assert.equal(d.differentVmcs, false);
    const rip = d.rows.find((r) => r.name === 'GUEST_RIP')!;
    assert.notEqual(rip.a, rip.b);
    assert.equal(diffSnapshots(a, a).rows.length, 0);
    store.record(first, 'stop 3');
    store.record(second, 'stop 4');
    assert.equal(store.infos().length, 3);
    assert.equal(store.get(a.id), undefined, 'the oldest is dropped');
    assert.equal(store.record({ vmcs: [{ available: false }] }, 'none'), undefined);
    const again = buildInspectorState({ status: 'stopped', resp: responseOf(b), previous: a.values, viewing: b });
    assert.equal(again.viewing?.id, b.id);
    assert.ok(again.rows.some((r) => r.changed));
  });

  it('validates messages from the webview', () => {
    assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromWebview({ type: 'filter', filter: { search: 'rip', area: 'guest-state', onlyChanged: true, onlyNonZero: 'yes' } }),
      { type: 'filter', filter: { search: 'rip', area: 'guest-state', onlyChanged: true, onlyNonZero: false } });
    assert.deepEqual(parseFromWebview({ type: 'diff', a: 1, b: 2 }), { type: 'diff', a: 1, b: 2 });
    assert.equal(parseFromWebview({ type: 'diff', a: '1', b: 2 }), undefined);
    assert.equal(parseFromWebview({ type: 'eval', code: 'x' }), undefined);
    assert.equal(parseFromWebview(null), undefined);
    assert.deepEqual(parseFromWebview({ type: 'view', snapshot: 3 }), { type: 'view', snapshot: 3 });
  });
});
