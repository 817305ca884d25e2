import { strict as assert } from 'assert';
import { buildHistoryTree, decodeExit, shortReason, type ExitHistoryResponse, type ExitStatsResponse, type ExitNode, type GroupNode } from '../../src/extension/exitHistory/model';

/** The VM-exit history view's model, on responses shaped like the adapter's vmx/exitHistory and vmx/exitStats. */

const history: ExitHistoryResponse = {
  total: 3,
  exits: [
    { index: 1, reason: 10, name: 'EXIT_REASON_CPUID', entryFailure: false, qualification: '0x0', guestRip: '0x10010', icount: 100, time: 0, summary: 'cpuid leaf 0x0' },
    { index: 2, reason: 30, name: 'EXIT_REASON_IO_INSTRUCTION', entryFailure: false, qualification: '0x800040', guestRip: '0x103a3', icount: 250, time: 0, summary: 'out 0x80, al' },
    { index: 3, reason: 31, name: 'EXIT_REASON_MSR_READ', entryFailure: false, qualification: '0x0', guestRip: '0x103b0', icount: 300, time: 0, summary: 'rdmsr 0x1b' },
  ],
};
const stats: ExitStatsResponse = {
  total: 3,
  byReason: [{ reason: 10, name: 'EXIT_REASON_CPUID', count: 1 }, { reason: 30, name: 'EXIT_REASON_IO_INSTRUCTION', count: 1 }, { reason: 31, name: 'EXIT_REASON_MSR_READ', count: 1 }],
  byPort: [{ port: '0x80', in: 0, out: 1 }],
  byMsr: [{ msr: '0x1b', reads: 1, writes: 0 }],
};

describe('extension: VM-exit history model', () => {
  it('lists each exit newest first with reason, decoded qualification, guest RIP and instruction count', () => {
    const t = buildHistoryTree(history, stats, { snapshots: new Set([2]) });
    const exits = t[0] as GroupNode;
    assert.equal(exits.label, 'Exits');
    assert.equal(exits.description, '3');
    const list = exits.children as ExitNode[];
    assert.deepEqual(list.map((e) => e.exit.index), [3, 2, 1]);
    const io = list[1];
    assert.equal(io.label, '#2 IO_INSTRUCTION');
    assert.match(io.decoded, /out.*0x80|port 0x0080/i);
    assert.match(io.description ?? '', /@ 0x103a3$/);
    assert.match(io.tooltip ?? '', /instruction count 250/);
    assert.equal(io.hasSnapshot, true);
    assert.equal(list[0].hasSnapshot, false);
    assert.equal(new Set(list.map((e) => e.id)).size, list.length);
  });

  it('totals per reason, per port and per MSR', () => {
    const t = buildHistoryTree(history, stats);
    assert.deepEqual(t.map((n) => n.id), ['exits', 'byReason', 'byPort', 'byMsr']);
    assert.deepEqual(t[1].children!.map((n) => n.label), ['CPUID', 'IO_INSTRUCTION', 'MSR_READ']);
    assert.match(t[2].children![0].description ?? '', /out 1/);
    assert.match(t[3].children![0].label, /MSR 0x1b/);
    assert.match(t[3].children![0].description ?? '', /rdmsr 1/);
  });

  it('says when the adapter keeps fewer exits than happened, and when there are none', () => {
    const t = buildHistoryTree({ total: 20000, exits: history.exits }, undefined);
    assert.match(t[0].description ?? '', /last 3 kept/);
    const empty = buildHistoryTree({ total: 0, exits: [] }, { total: 0, byReason: [], byPort: [], byMsr: [] });
    assert.equal(empty[0].children![0].kind, 'info');
    assert.equal(buildHistoryTree(undefined, undefined)[0].kind, 'info');
  });

  it('names and decodes reasons with the spec tables', () => {
    assert.equal(shortReason(30), 'IO_INSTRUCTION');
    assert.equal(decodeExit(history.exits[0]), decodeExit(history.exits[0]));
    assert.match(decodeExit(history.exits[1]), /0x0080|0x80/);
  });
});
