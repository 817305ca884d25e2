/**
 * EPT (SDM 29): translation through 4 KiB / 2 MiB / 1 GiB pages, EPT violations with every
 * qualification bit, misconfigurations, accessed/dirty flags, INVEPT.
 */
import { strict as assert } from 'assert';
import { GUEST_CODE, PAGE_TABLES, SCRATCH, VmxHost, asm, enc } from './harness';
import { Ept, PAGE_1G, PAGE_2M, PAGE_4K, R, RWX, W, X, g64, u64, withEpt } from './eptHarness';

const MAGIC_A = 0x1122334455667788n;
const MAGIC_B = 0x99AABBCCDDEEFF00n;

/** A host whose EPT maps the first 16 MiB identically (2 MiB pages); tests add their own pages above. */
function setup(): { h: VmxHost; ept: Ept } {
  const h = new VmxHost();
  const ept = new Ept(h);
  ept.identity2M(0, 0x1000000);
  return { h, ept };
}

function launchWith(h: VmxHost, ept: Ept, guest: number[], ad = false, mutate?: (f: Map<string, bigint>) => void): void {
  h.guest(guest);
  const f = h.validFields();
  withEpt(f, ept.eptp(ad));
  mutate?.(f);
  h.launch(f);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
}

function exitInfo(h: VmxHost) {
  return {
    reason: h.exitReason(),
    qual: Number(h.qualification()),
    gpa: Number(h.field('GUEST_PHYSICAL_ADDRESS')),
    lin: Number(h.field('GUEST_LINEAR_ADDRESS')),
    rip: Number(h.field('GUEST_RIP')),
  };
}

describe('VMX EPT: translation', () => {
  it('identity 2 MiB pages: the guest runs and exits on CPUID', () => {
    const { h, ept } = setup();
    launchWith(h, ept, [...g64.cpuid]);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.cpu.eptActive, false, 'EPT is off again in root operation');
  });

  it('4 KiB page, non-identity: guest-physical 0x1000000 reads host 0x1800000', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1800000, PAGE_4K);
    h.poke64(0x1800010, MAGIC_A);
    h.poke64(0x1000010, MAGIC_B);
    launchWith(h, ept, [...g64.loadR8(0x1000010), ...g64.cpuid]);
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 8), MAGIC_A);
  });

  it('4 KiB page, identity', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    h.poke64(0x1000ff8, MAGIC_B);
    launchWith(h, ept, [...g64.loadR8(0x1000ff8), ...g64.cpuid]);
    assert.equal(u64(h, 8), MAGIC_B);
  });

  it('2 MiB page, non-identity: guest-physical 0x1200000 + 0x12345 reads host 0x1600000 + 0x12345', () => {
    const { h, ept } = setup();
    ept.map(0x1200000, 0x1600000, PAGE_2M);
    h.poke64(0x1612345, MAGIC_A);
    launchWith(h, ept, [...g64.loadR8(0x1212345), ...g64.cpuid]);
    assert.equal(u64(h, 8), MAGIC_A);
  });

  it('1 GiB page, non-identity: guest-physical 1 GiB + 0x1A00008 reads host 0x1A00008', () => {
    const { h, ept } = setup();
    ept.map(PAGE_1G, 0, PAGE_1G);
    // the guest maps linear 1 GiB to guest-physical 1 GiB (a 1 GiB page in its PDPT)
    h.poke64(PAGE_TABLES + 0x1000 + 8, BigInt(PAGE_1G) | 0x83n);
    h.poke64(0x1A00008, MAGIC_B);
    launchWith(h, ept, [...g64.loadR8(PAGE_1G + 0x1A00008), ...g64.cpuid]);
    assert.equal(u64(h, 8), MAGIC_B);
  });

  it('1 GiB page, identity (the whole low GiB through one PDPTE)', () => {
    const h = new VmxHost();
    const ept = new Ept(h);
    ept.map(0, 0, PAGE_1G);
    h.poke64(0x1A00010, MAGIC_A);
    launchWith(h, ept, [...g64.loadR8(0x1A00010), ...g64.cpuid]);
    assert.equal(u64(h, 8), MAGIC_A);
  });

  it('writes and instruction fetches go through EPT too', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1800000, PAGE_4K);
    // guest code at guest-physical 0x1000000 lives at host 0x1800000
    h.poke(0x1800000, [...g64.storeR8(0x1000100), ...g64.cpuid]);
    h.cpu.r[8] = 0x12345678;
    h.cpu.rh[8] = 0;
    launchWith(h, ept, [...g64.movRax(0x1000000n), ...g64.jmpRax]);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.cpu.physRead(0x1800100, 4), 0x12345678, 'the store landed at host 0x1800100');
    assert.equal(h.cpu.physRead(0x1000100, 4), 0, 'not at host 0x1000100');
    assert.equal(Number(h.field('GUEST_RIP')), 0x1000000 + 8, 'CPUID at guest-physical 0x1000008');
  });
});

describe('VMX EPT: violations (exit 48)', () => {
  it('read of an unmapped guest-physical address: bit 0, no permissions, linear valid, final access', () => {
    const { h, ept } = setup();
    launchWith(h, ept, [...g64.loadR8(0x1400008), ...g64.cpuid]);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x181);
    assert.equal(e.gpa, 0x1400008);
    assert.equal(e.lin, 0x1400008);
    assert.equal(e.rip, GUEST_CODE, 'guest RIP is the faulting instruction');
    assert.equal(Number(h.field('IDT_VECTORING_INFO_FIELD')) >>> 31, 0);
  });

  it('write to a read-only page: bit 1, permissions R (bit 3)', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, R);
    h.poke64(0x1000020, MAGIC_A);
    launchWith(h, ept, [...g64.loadR8(0x1000020), ...g64.storeR8(0x1000020), ...g64.cpuid]);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x2 | (R << 3) | 0x180);
    assert.equal(e.gpa, 0x1000020);
    assert.equal(e.rip, GUEST_CODE + 8, 'the store faulted, the load before it retired');
    assert.equal(u64(h, 8), MAGIC_A);
  });

  it('fetch from a non-executable page: bit 2, permissions RW (bits 3, 4)', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, R | W);
    h.poke(0x1000000, g64.cpuid);
    launchWith(h, ept, [...g64.movRax(0x1000000n), ...g64.jmpRax]);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x4 | ((R | W) << 3) | 0x180);
    assert.equal(e.gpa, 0x1000000);
    assert.equal(e.lin, 0x1000000);
    assert.equal(e.rip, 0x1000000);
  });

  it('read of an execute-only page: bit 0, permissions X (bit 5)', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, X);
    launchWith(h, ept, [...g64.loadR8(0x1000040), ...g64.cpuid]);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x1 | (X << 3) | 0x180);
  });

  it('execute-only pages can be executed', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, X);
    h.poke(0x1000000, g64.cpuid);
    launchWith(h, ept, [...g64.movRax(0x1000000n), ...g64.jmpRax]);
    assert.equal(h.exitReason(), 10);
  });

  it('permissions are the AND over the walk: a read-only PDE makes a RWX leaf read-only', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, RWX);
    const pde = ept.entryAddr(0x1000000, 2);
    ept.write(pde, (ept.entry(pde) & ~7n) | BigInt(R | X));
    launchWith(h, ept, [...g64.storeR8(0x1000000), ...g64.cpuid]);
    assert.equal(h.exitReason(), 48);
    assert.equal(Number(h.qualification()), 0x2 | ((R | X) << 3) | 0x180);
  });

  /** Guest linear 0x2000000 through a guest page table at guest-physical 0x1300000. */
  function guestPageTable(h: VmxHost, pteFlags: number): void {
    for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(0x1300000 + k, 4, 0);
    h.poke64(PAGE_TABLES + 0x2000 + 16 * 8, 0x1300000n | 0x3n);
    h.poke64(0x1300000, 0x1000000n | BigInt(pteFlags));
  }

  it('guest paging-structure entry not mapped: bit 7 set, bit 8 clear, GPA of the entry', () => {
    const { h, ept } = setup();
    guestPageTable(h, 0x3);
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    ept.write(ept.map(0x1300000, 0x1300000, PAGE_4K), 0n); // no mapping for the page table
    launchWith(h, ept, [...g64.loadR8(0x2000010), ...g64.cpuid]);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x81);
    assert.equal(e.gpa, 0x1300000);
    assert.equal(e.lin, 0x2000010);
  });

  it('without EPT A/D, a read-only guest page table is walked; setting its accessed bit is a write', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    ept.map(0x1300000, 0x1300000, PAGE_4K, R);
    // accessed already set: the walk only reads
    guestPageTable(h, 0x23);
    h.poke64(0x1000010, MAGIC_A);
    launchWith(h, ept, [...g64.loadR8(0x2000010), ...g64.cpuid]);
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 8), MAGIC_A);
    // accessed clear: the walker's write of A violates (write, R, paging-structure entry)
    const s2 = setup();
    s2.ept.map(0x1000000, 0x1000000, PAGE_4K);
    s2.ept.map(0x1300000, 0x1300000, PAGE_4K, R);
    guestPageTable(s2.h, 0x3);
    launchWith(s2.h, s2.ept, [...g64.loadR8(0x2000010), ...g64.cpuid]);
    const e = exitInfo(s2.h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x2 | (R << 3) | 0x80);
    assert.equal(e.gpa, 0x1300000);
  });

  it('with EPT A/D, guest paging-structure accesses are writes: bits 0 and 1', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    ept.map(0x1300000, 0x1300000, PAGE_4K, R);
    guestPageTable(h, 0x23);
    launchWith(h, ept, [...g64.loadR8(0x2000010), ...g64.cpuid], true);
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x3 | (R << 3) | 0x80);
    assert.equal(e.gpa, 0x1300000);
    assert.equal(e.lin, 0x2000010);
  });

  it('a violation while delivering an event reports it as IDT-vectoring information', () => {
    const { h, ept } = setup();
    // the guest IDT lives at guest-physical 0x1000000, which EPT does not map
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    ept.write(ept.entryAddr(0x1000000, 1), 0n);
    launchWith(h, ept, [0xCC /* INT3 */, ...g64.cpuid], false, (f) => f.set('GUEST_IDTR_BASE', 0x1000000n));
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.gpa, 0x1000000 + 3 * 16);
    assert.equal(e.qual & 0x187, 0x181, 'read of the IDT entry through its linear address');
    const idt = Number(h.field('IDT_VECTORING_INFO_FIELD')) >>> 0;
    assert.equal(idt, (0x80000000 | (6 << 8) | 3) >>> 0, 'INT3 (software exception) was being delivered');
  });

  it('NMI unblocking due to IRET: bit 12 when the IRET that unblocked NMIs faults on EPT', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K, R | X);
    // IRETQ with the stack at guest-physical 0x1000000 (read-only is fine for IRET: it reads)...
    // ...so make the stack unmapped instead
    ept.write(ept.entryAddr(0x1000000, 1), 0n);
    launchWith(h, ept, [0x48, 0xCF /* IRETQ */], false, (f) => {
      f.set('GUEST_RSP', 0x1000000n);
      f.set('GUEST_INTERRUPTIBILITY_INFO', 8n); // blocking by NMI
    });
    const e = exitInfo(h);
    assert.equal(e.reason, 48);
    assert.equal(e.qual, 0x1 | 0x180 | 0x1000);
    assert.equal(Number(h.field('GUEST_INTERRUPTIBILITY_INFO')) & 8, 0, 'NMIs were unblocked by the IRET');
  });
});

describe('VMX EPT: misconfigurations (exit 49)', () => {
  const cases: { what: string; make: (ept: Ept) => void }[] = [
    { what: 'reserved memory type 2 in a leaf', make: (ept) => ept.map(0x1000000, 0x1000000, PAGE_4K, RWX, 2) },
    { what: 'reserved memory type 7 in a 2 MiB leaf', make: (ept) => ept.map(0x1200000, 0x1000000, PAGE_2M, RWX, 7) },
    { what: 'write-only entry', make: (ept) => ept.map(0x1000000, 0x1000000, PAGE_4K, W) },
    { what: 'write+execute without read', make: (ept) => ept.map(0x1000000, 0x1000000, PAGE_4K, W | X) },
    { what: 'reserved bits 20:12 of a 2 MiB PDE', make: (ept) => ept.map(0x1200000, 0x1200000, PAGE_2M, RWX, 6, 0x1000n) },
    { what: 'reserved bits 29:12 of a 1 GiB PDPTE', make: (ept) => ept.map(PAGE_1G, 0, PAGE_1G, RWX, 6, 0x200000n) },
    { what: 'address bit beyond MAXPHYADDR', make: (ept) => ept.map(0x1000000, 0x1000000, PAGE_4K, RWX, 6, 1n << 51n) },
    {
      what: 'reserved bit 3 of a non-leaf PDE',
      make: (ept) => { ept.map(0x1000000, 0x1000000, PAGE_4K); const a = ept.entryAddr(0x1000000, 2); ept.write(a, ept.entry(a) | 0x8n); },
    },
  ];
  const addrOf = (what: string) => (what.includes('1 GiB') ? PAGE_1G + 0x10 : what.includes('2 MiB') ? 0x1200010 : 0x1000010);
  for (const c of cases) {
    it(c.what, () => {
      const { h, ept } = setup();
      c.make(ept);
      if (c.what.includes('1 GiB')) h.poke64(PAGE_TABLES + 0x1000 + 8, BigInt(PAGE_1G) | 0x83n);
      const a = addrOf(c.what);
      launchWith(h, ept, [...g64.loadR8(a), ...g64.cpuid]);
      const e = exitInfo(h);
      assert.equal(e.reason, 49);
      assert.equal(e.qual, 0);
      assert.equal(e.gpa, a);
      assert.equal(e.rip, GUEST_CODE);
    });
  }

  it('bit 7 of a PML4E is reserved (the first fetch already fails)', () => {
    const { h, ept } = setup();
    ept.write(ept.root, ept.entry(ept.root) | 0x80n);
    launchWith(h, ept, [...g64.cpuid]);
    const e = exitInfo(h);
    assert.equal(e.reason, 49);
    assert.equal(e.gpa, PAGE_TABLES, 'the first access is the guest page walk for the fetch');
  });

  it('a not-present entry is never misconfigured (reserved bits ignored): violation', () => {
    const { h, ept } = setup();
    const a = ept.map(0x1000000, 0x1000000, PAGE_4K);
    ept.write(a, 0x38n | 0x1000000n); // memory type 7, but R = W = X = 0
    launchWith(h, ept, [...g64.loadR8(0x1000000), ...g64.cpuid]);
    assert.equal(h.exitReason(), 48);
  });
});

describe('VMX EPT: accessed and dirty flags', () => {
  it('with EPTP[6] a read sets accessed (bit 8) along the walk, a write sets dirty (bit 9) in the leaf', () => {
    const { h, ept } = setup();
    const leaf = ept.map(0x1000000, 0x1000000, PAGE_4K);
    const leaf2 = ept.map(0x1001000, 0x1001000, PAGE_4K);
    const pde = ept.entryAddr(0x1000000, 2);
    launchWith(h, ept, [...g64.loadR8(0x1000000), ...g64.storeR8(0x1001000), ...g64.cpuid], true);
    assert.equal(h.exitReason(), 10);
    assert.equal(ept.entry(leaf) & 0x300n, 0x100n, 'read: accessed, not dirty');
    assert.equal(ept.entry(leaf2) & 0x300n, 0x300n, 'write: accessed and dirty');
    assert.equal(ept.entry(pde) & 0x100n, 0x100n, 'the PDE used is accessed');
    assert.equal(ept.entry(ept.root) & 0x100n, 0x100n, 'the PML4E used is accessed');
  });

  it('with EPTP[6] the page holding guest paging structures becomes dirty (walks count as writes)', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1000000, PAGE_4K);
    const ptLeaf = ept.map(0x1300000, 0x1300000, PAGE_4K);
    for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(0x1300000 + k, 4, 0);
    h.poke64(PAGE_TABLES + 0x2000 + 16 * 8, 0x1300000n | 0x23n);
    h.poke64(0x1300000, 0x1000000n | 0x63n); // PTE with A and D already set: the walker writes nothing
    launchWith(h, ept, [...g64.loadR8(0x2000000), ...g64.cpuid], true);
    assert.equal(h.exitReason(), 10);
    assert.equal(ept.entry(ptLeaf) & 0x300n, 0x300n);
  });

  it('without EPTP[6] no EPT entry is modified', () => {
    const { h, ept } = setup();
    const leaf = ept.map(0x1000000, 0x1000000, PAGE_4K);
    launchWith(h, ept, [...g64.storeR8(0x1000000), ...g64.cpuid]);
    assert.equal(h.exitReason(), 10);
    assert.equal(ept.entry(leaf) & 0x300n, 0n);
    assert.equal(ept.entry(ept.root) & 0x100n, 0n);
  });
});

describe('VMX EPT: INVEPT', () => {
  const DESC = SCRATCH + 64;
  function invept(h: VmxHost, type: bigint, eptp: bigint, hi = 0n): string {
    h.poke64(DESC, eptp);
    h.poke64(DESC + 8, hi);
    h.run(h.setupCode(h.validFields(), [...asm.movRaxImm(type), ...g64.invept(DESC)]));
    assert.equal(h.exception, undefined, `host exception ${h.exception}`);
    return h.outcome();
  }

  it('types: 1 (single-context) and 2 (all-context) succeed; 0, 3 and 2^32 + 1 fail with error 28', () => {
    const h = new VmxHost();
    const ept = new Ept(h);
    assert.equal(invept(h, 1n, ept.eptp()), 'succeed');
    assert.equal(invept(h, 2n, 0n), 'succeed', 'all-context ignores the descriptor');
    assert.equal(invept(h, 0n, ept.eptp()), 'failValid(28)');
    assert.equal(invept(h, 3n, ept.eptp()), 'failValid(28)');
    assert.equal(invept(h, (1n << 32n) | 1n, ept.eptp()), 'failValid(28)', 'bits 63:32 of the type register');
  });

  it('single-context with an EPTP VM entry would refuse: error 28', () => {
    const h = new VmxHost();
    const ept = new Ept(h);
    const good = ept.eptp();
    assert.equal(invept(h, 1n, (good & ~7n) | 0n), 'failValid(28)', 'memory type UC not supported');
    assert.equal(invept(h, 1n, (good & ~0x38n) | (4n << 3n)), 'failValid(28)', '5-level walk not supported');
    assert.equal(invept(h, 1n, good | 0x100n), 'failValid(28)', 'bits 11:8');
    assert.equal(invept(h, 1n, good | (1n << 50n)), 'failValid(28)', 'beyond MAXPHYADDR');
    assert.equal(invept(h, 1n, ept.eptp(true)), 'succeed', 'A/D enable is supported');
  });

  it('without a current VMCS: an invalid type is VMfailInvalid, a valid one succeeds', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(0x40000));
    h.poke64(DESC, 0n);
    h.run([...asm.vmxon(SCRATCH), ...asm.movRaxImm(3n), ...g64.invept(DESC)]);
    assert.equal(h.outcome(), 'failInvalid');
    h.run([...asm.movRaxImm(2n), ...g64.invept(DESC)]);
    assert.equal(h.outcome(), 'succeed');
  });

  it('#UD on a model without EPT', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    h.poke64(DESC, 0n);
    h.run(h.setupCode(h.validFields(), [...asm.movRaxImm(2n), ...g64.invept(DESC)]));
    assert.equal(h.exception, 6);
  });

  it('in non-root operation INVEPT exits (reason 50) with instruction information', () => {
    const { h, ept } = setup();
    launchWith(h, ept, [...g64.movRax(2n), ...g64.invept(DESC)]);
    assert.equal(h.exitReason(), 50);
    assert.equal(Number(h.field('VM_EXIT_INSTRUCTION_LEN')), 10);
    const info = Number(h.field('VMX_INSTRUCTION_INFO'));
    assert.equal(info >>> 28, 0, 'register operand RAX');
    assert.equal(Number(h.qualification()), DESC, 'displacement');
  });

  it('a changed EPT entry may be used stale until INVEPT; after INVEPT and VMRESUME the new mapping is used', () => {
    const { h, ept } = setup();
    const leaf = ept.map(0x1000000, 0x1800000, PAGE_4K);
    h.poke64(0x1800000, MAGIC_A);
    h.poke64(0x1900000, MAGIC_B);
    const newLeaf = 0x1900000n | 7n | (6n << 3n);
    // the guest reads, rewrites the EPT leaf itself (the EPT tables are identity-mapped), reads again
    const guest = [
      ...g64.loadR8(0x1000000), ...g64.movRax(newLeaf), ...g64.storeRax(leaf), ...g64.loadR9(0x1000000), ...g64.cpuid,
      ...g64.loadR10(0x1000000), ...g64.cpuid,
    ];
    launchWith(h, ept, guest);
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 8), MAGIC_A);
    assert.equal(u64(h, 9), MAGIC_A, 'the cached translation is still used');
    const rip = Number(h.field('GUEST_RIP')) + 2;
    h.poke64(DESC, ept.eptp());
    h.run([
      ...asm.movRaxImm(1n), ...g64.invept(DESC),
      ...asm.movRaxImm(BigInt(enc('GUEST_RIP'))), ...asm.movRdxImm(BigInt(rip)), ...asm.vmwriteRaxRdx, ...asm.vmresume,
    ]);
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 10), MAGIC_B, 'after INVEPT the new mapping is used');
  });
});
