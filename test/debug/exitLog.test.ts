import { strict as assert } from 'assert';
import { ExitLog, type ExitFacts } from '../../src/debug/exitLog';

/** The debugger's VM-exit list and statistics (src/debug/exitLog.ts): numbers in, words on demand. */

const facts = (raw: number, qual: number, extra: Partial<ExitFacts> = {}): ExitFacts => ({
  raw, qualLo: qual, qualHi: 0, ripLo: 0x1000, ripHi: 0, intr: 0, eax: 0, ecx: 0, icount: 0, ...extra,
});

describe('VM-exit log', () => {
  it('keeps the last CAPACITY exits, numbered from the first, with their words', () => {
    const log = new ExitLog();
    const n = ExitLog.CAPACITY + 5;
    for (let k = 0; k < n; k++) log.add(facts(30, (0x80 << 16) | 0x40, { icount: k, ripLo: 0x1000 + k }));
    assert.equal(log.total, n);
    const first = log.entries(0, 2);
    assert.deepEqual(first.map((e) => [e.index, e.icount, e.guestRip]), [[6, 5, '0x1005'], [7, 6, '0x1006']]);
    assert.equal(first[0].name, 'EXIT_REASON_IO_INSTRUCTION');
    assert.equal(first[0].summary, 'out 0x80, al (port 0x0080, 1 byte)');
    const last = log.entries(ExitLog.CAPACITY - 1, 10);
    assert.deepEqual(last.map((e) => e.index), [n]);
    assert.equal(log.entries(ExitLog.CAPACITY, 10).length, 0);
  });

  it('counts by reason, port and MSR; summarizes CPUID, MSR, exception exits and names entry failures', () => {
    const log = new ExitLog();
    log.add(facts(30, (0x3F8 << 16) | 8)); // in al, dx
    log.add(facts(30, 0x3F8 << 16)); // out dx, al
    log.add(facts(10, 0, { eax: 0xD, ecx: 1 }));
    log.add(facts(31, 0, { ecx: 0xC0000080 }));
    log.add(facts(32, 0, { ecx: 0xC0000080 }));
    log.add(facts(0, 0, { intr: (0x80000000 | (3 << 8) | 0x800 | 13) | 0 }));
    log.add(facts((0x80000000 | 33) | 0, 0, { ripHi: -1, ripLo: -16 }));
    const e = log.entries(0, 100);
    assert.deepEqual(e.map((x) => x.summary).slice(2, 6),
      ['CPUID leaf 0xd subleaf 0x1', 'RDMSR 0xc0000080', 'WRMSR 0xc0000080', 'hardware exception 13 (#GP), error code valid']);
    assert.deepEqual([e[6].reason, e[6].entryFailure, e[6].guestRip], [33, true, '0xfffffffffffffff0']);
    const st = log.stats() as { total: number; byReason: { reason: number; count: number }[]; byPort: unknown[]; byMsr: unknown[] };
    assert.equal(st.total, 7);
    assert.deepEqual(st.byReason.find((r) => r.reason === 30)?.count, 2);
    assert.deepEqual(st.byPort, [{ port: '0x3f8', in: 1, out: 1 }]);
    assert.deepEqual(st.byMsr, [{ msr: '0xc0000080', reads: 1, writes: 1 }]);
  });
});
