/**
 * Unrestricted guest on top of EPT: a real-mode guest doing I/O and CPUID exits, mode switches inside
 * the guest under the CR0 guest/host mask, an unpaged protected-mode guest, a PAE guest whose PDPTEs
 * come from the VMCS, and the VM-entry checks EPT and unrestricted guest make reachable.
 */
import { strict as assert } from 'assert';
import { Fields, GUEST_CODE, VmxHost, asm, enc } from './harness';
import { Ept, PAGE_4K, ctl, realModeGuest, withEpt } from './eptHarness';

/** EPT: first 2 MiB as 4 KiB pages (identity), then identity 2 MiB pages up to 16 MiB. */
function setup(): { h: VmxHost; ept: Ept } {
  const h = new VmxHost();
  const ept = new Ept(h);
  ept.identity4K(0, 0x200000);
  for (let a = 0x200000; a < 0x1000000; a += 0x200000) ept.map(a, a, 0x200000);
  return { h, ept };
}

function resume(h: VmxHost, rip: number): void {
  h.run([...asm.movRaxImm(BigInt(enc('GUEST_RIP'))), ...asm.movRdxImm(BigInt(rip)), ...asm.vmwriteRaxRdx, ...asm.vmresume]);
  assert.equal(h.exception, undefined);
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)}`);
}

function launch(h: VmxHost, f: Fields): void {
  h.launch(f);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
}

const or = (f: Fields, name: string, bits: bigint) => f.set(name, (f.get(name) ?? 0n) | bits);

describe('VMX unrestricted guest: real mode', () => {
  // real-mode code at guest-physical 0x50000 (CS = 0x5000, IP = 0), stored at host 0x60000
  const CODE = [
    0xB0, 0x42, //             0: mov al, 0x42
    0xE6, 0x80, //             2: out 0x80, al       -> I/O exit
    0x0F, 0xA2, //             4: cpuid              -> CPUID exit
    0x0F, 0x20, 0xC0, //       6: mov eax, cr0
    0x0C, 0x01, //             9: or al, 1
    0x0F, 0x22, 0xC0, //      11: mov cr0, eax       (enters protected mode)
    0x0F, 0xA2, //            14: cpuid
  ];

  function realFields(h: VmxHost, ept: Ept): Fields {
    const f = h.validFields();
    withEpt(f, ept.eptp(), true);
    realModeGuest(f, 0x5000, 0);
    or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_UNCOND_IO_EXITING'));
    return f;
  }

  it('runs from a remapped page, exits on OUT and CPUID with the real-mode RIP', () => {
    const { h, ept } = setup();
    ept.map(0x50000, 0x60000, PAGE_4K);
    h.poke(0x60000, CODE);
    h.poke(0x50000, [0xF4]); // what an identity mapping would run
    launch(h, realFields(h, ept));
    assert.equal(h.exitReason(), 30);
    assert.equal(Number(h.qualification()), 0x00800040, 'OUT imm8 port 0x80, 1 byte');
    assert.equal(Number(h.field('GUEST_RIP')), 2);
    assert.equal(Number(h.field('GUEST_CS_SELECTOR')), 0x5000);
    assert.equal(Number(h.field('GUEST_CR0')) & 0x80000001, 0, 'PE and PG clear');
    assert.equal(h.cpu.r[0] & 0xFF, 0x42);
    resume(h, 4);
    assert.equal(h.exitReason(), 10);
    assert.equal(Number(h.field('GUEST_RIP')), 4);
  });

  it('the guest switches to protected mode itself (CR0.PE not owned by the host)', () => {
    const { h, ept } = setup();
    h.poke(0x50000, CODE);
    launch(h, realFields(h, ept));
    assert.equal(h.exitReason(), 30);
    resume(h, 6);
    assert.equal(h.exitReason(), 10);
    assert.equal(Number(h.field('GUEST_RIP')), 14);
    assert.equal(Number(h.field('GUEST_CR0')) & 1, 1, 'PE set by the guest');
  });

  it('with CR0.PE owned by the host the MOV to CR0 exits (reason 28)', () => {
    const { h, ept } = setup();
    h.poke(0x50000, CODE);
    const f = realFields(h, ept);
    f.set('CR0_GUEST_HOST_MASK', 1n);
    f.set('CR0_READ_SHADOW', 0n);
    launch(h, f);
    resume(h, 6);
    assert.equal(h.exitReason(), 28);
    assert.equal(Number(h.qualification()), 0, 'MOV to CR0 from EAX');
    assert.equal(Number(h.field('GUEST_RIP')), 11);
    assert.equal(Number(h.field('GUEST_CR0')) & 1, 0);
  });

  it('CS type 3 (read/write data) is accepted with unrestricted guest', () => {
    const { h, ept } = setup();
    h.poke(0x50000, CODE);
    const f = realFields(h, ept);
    f.set('GUEST_CS_AR_BYTES', 0x93n);
    launch(h, f);
    assert.equal(h.exitReason(), 30);
  });
});

describe('VMX unrestricted guest: unpaged protected mode and PAE with EPT', () => {
  function protFields(h: VmxHost, ept: Ept, paging: boolean): Fields {
    const f = h.validFields();
    withEpt(f, ept.eptp(), true);
    f.set('VM_ENTRY_CONTROLS', (f.get('VM_ENTRY_CONTROLS') ?? 0n) & ~ctl('VM_ENTRY_IA32E_MODE'));
    f.set('GUEST_CR0', paging ? 0x80000031n : 0x31n);
    f.set('GUEST_CR4', paging ? 0x2020n : 0x2000n);
    f.set('GUEST_CS_AR_BYTES', 0xC09Bn);
    f.set('GUEST_TR_AR_BYTES', 0x8Bn);
    return f;
  }

  it('CR0.PG = 0: guest-physical = linear, through EPT', () => {
    const { h, ept } = setup();
    ept.map(0x1000000, 0x1800000, PAGE_4K);
    h.poke64(0x1800010, 0xCAFEF00Dn);
    h.guest([0xA1, 0x10, 0x00, 0x00, 0x01, 0x0F, 0xA2]); // mov eax, [0x1000010]; cpuid
    launch(h, protFields(h, ept, false));
    assert.equal(h.exitReason(), 10);
    assert.equal(h.cpu.r[0] >>> 0, 0xCAFEF00D);
  });

  it('PAE paging with EPT: the PDPTEs come from GUEST_PDPTRn, not from GUEST_CR3', () => {
    const { h, ept } = setup();
    ept.map(0x1100000, 0x1100000, PAGE_4K);
    for (let k = 0; k < 512; k++) h.poke64(0x1100000 + k * 8, BigInt(k * 0x200000) | 0x83n);
    ept.map(0x1000000, 0x1800000, PAGE_4K);
    h.poke64(0x1800010, 0xFEEDFACEn);
    h.guest([0xA1, 0x10, 0x00, 0x00, 0x01, 0x0F, 0xA2]);
    const f = protFields(h, ept, true);
    f.set('GUEST_CR3', 0x1234000n); // zeros: loading PDPTEs from here would leave nothing present
    f.set('GUEST_PDPTR0', 0x1100001n);
    f.set('GUEST_PDPTR1', 0n);
    f.set('GUEST_PDPTR2', 0n);
    f.set('GUEST_PDPTR3', 0n);
    launch(h, f);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.cpu.r[0] >>> 0, 0xFEEDFACE);
    assert.equal(h.field('GUEST_PDPTR0'), 0x1100001n, 'saved on exit');
  });
});

describe('VMX entry checks made reachable by EPT and unrestricted guest', () => {
  type Expect = 'fail7' | `exit33:${number}`;
  const cases: { id: string; what: string; mutate: (f: Fields, h: VmxHost, ept: Ept) => void; expect: Expect; field?: string }[] = [
    { id: 'B19', what: 'EPTP memory type UC (not reported)', mutate: (f, _h, e) => withEpt(f, e.eptp() & ~7n), expect: 'fail7' },
    { id: 'B19', what: 'EPTP memory type 1', mutate: (f, _h, e) => withEpt(f, (e.eptp() & ~7n) | 1n), expect: 'fail7' },
    { id: 'B19', what: 'EPTP page-walk length 5', mutate: (f, _h, e) => withEpt(f, (e.eptp() & ~0x38n) | (4n << 3n)), expect: 'fail7' },
    { id: 'B19', what: 'EPTP page-walk length 3', mutate: (f, _h, e) => withEpt(f, (e.eptp() & ~0x38n) | (2n << 3n)), expect: 'fail7' },
    { id: 'B19', what: 'EPTP bit 7 (supervisor shadow stacks, not reported)', mutate: (f, _h, e) => withEpt(f, e.eptp() | 0x80n), expect: 'fail7' },
    { id: 'B19', what: 'EPTP bits 11:8', mutate: (f, _h, e) => withEpt(f, e.eptp() | 0x800n), expect: 'fail7' },
    { id: 'B19', what: 'EPTP beyond MAXPHYADDR', mutate: (f, _h, e) => withEpt(f, e.eptp() | (1n << 45n)), expect: 'fail7' },
    {
      id: 'B21', what: 'unrestricted guest without EPT',
      mutate: (f) => { withEpt(f, 0n, true); f.set('SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_UNRESTRICTED_GUEST')); }, expect: 'fail7',
    },
    { id: 'D1', what: 'CR0.PE = 0 with EPT but without unrestricted guest', mutate: (f, _h, e) => { withEpt(f, e.eptp()); realModeGuest(f, 0x5000, 0); }, expect: 'exit33:0' },
    { id: 'D1', what: 'CR0.NE = 0 with unrestricted guest (only PE and PG are exempt)', mutate: (f, _h, e) => { withEpt(f, e.eptp(), true); realModeGuest(f, 0x5000, 0); f.set('GUEST_CR0', 0x10n); }, expect: 'exit33:0' },
    { id: 'D2', what: 'CR0.PG = 1 with PE = 0 (unrestricted guest)', mutate: (f, _h, e) => { withEpt(f, e.eptp(), true); realModeGuest(f, 0x5000, 0); f.set('GUEST_CR0', 0x80000030n); }, expect: 'exit33:0' },
    { id: 'D4', what: 'IA-32e mode guest with CR0.PG = 0 (unrestricted guest)', mutate: (f, _h, e) => { withEpt(f, e.eptp(), true); f.set('GUEST_CR0', 0x31n); }, expect: 'exit33:0' },
    {
      id: 'D33', what: 'CR0.PE = 0 needs SS.DPL = 0 (conforming CS)',
      mutate: (f, _h, e) => { withEpt(f, e.eptp(), true); realModeGuest(f, 0x5000, 0); f.set('GUEST_CS_AR_BYTES', 0x9Fn); f.set('GUEST_SS_AR_BYTES', 0xF3n); }, expect: 'exit33:0',
    },
    { id: 'D47', what: 'RFLAGS.VM with CR0.PE = 0', mutate: (f, _h, e) => { withEpt(f, e.eptp(), true); realModeGuest(f, 0x5000, 0); f.set('GUEST_RFLAGS', 0x20002n); for (const s of ['CS', 'SS', 'DS', 'ES', 'FS', 'GS']) f.set(`GUEST_${s}_AR_BYTES`, 0xF3n); }, expect: 'exit33:0' },
    {
      id: 'E3', what: 'PAE guest with EPT: reserved bit 2 in GUEST_PDPTR0', field: 'GUEST_PDPTR0',
      mutate: (f, _h, e) => {
        withEpt(f, e.eptp(), true);
        f.set('VM_ENTRY_CONTROLS', (f.get('VM_ENTRY_CONTROLS') ?? 0n) & ~ctl('VM_ENTRY_IA32E_MODE'));
        f.set('GUEST_CR0', 0x80000031n);
        f.set('GUEST_CR4', 0x2020n);
        f.set('GUEST_CS_AR_BYTES', 0xC09Bn);
        f.set('GUEST_PDPTR0', 0x1100005n);
      },
      expect: 'exit33:2',
    },
    {
      id: 'E3', what: 'PAE guest with EPT: GUEST_PDPTR3 beyond MAXPHYADDR', field: 'GUEST_PDPTR3',
      mutate: (f, _h, e) => {
        withEpt(f, e.eptp(), true);
        f.set('VM_ENTRY_CONTROLS', (f.get('VM_ENTRY_CONTROLS') ?? 0n) & ~ctl('VM_ENTRY_IA32E_MODE'));
        f.set('GUEST_CR0', 0x80000031n);
        f.set('GUEST_CR4', 0x2020n);
        f.set('GUEST_CS_AR_BYTES', 0xC09Bn);
        f.set('GUEST_PDPTR3', (1n << 44n) | 1n);
      },
      expect: 'exit33:2',
    },
  ];

  for (const c of cases) {
    it(`${c.id}: ${c.what} -> ${c.expect}`, () => {
      const { h, ept } = setup();
      h.guest([0x0F, 0xA2]);
      const f = h.validFields();
      c.mutate(f, h, ept);
      h.launch(f);
      assert.equal(h.exception, undefined, `host exception ${h.exception}`);
      const fail = h.v.lastEntryFailure;
      assert.ok(fail, 'an entry failure is recorded');
      assert.equal(fail.check, c.id, `failed check ${fail.check} (${fail.detail})`);
      if (c.field) assert.equal(fail.field, c.field);
      if (c.expect === 'fail7') {
        assert.equal(h.outcome(), 'failValid(7)');
        assert.ok(!h.cpu.nonRoot);
      } else {
        const q = Number(c.expect.split(':')[1]);
        assert.ok(h.atHostExit(), 'the failed entry lands at HOST_RIP');
        assert.equal(h.exitReason() >>> 0, (0x80000000 | 33) >>> 0);
        assert.equal(Number(h.qualification()), q);
        assert.equal(h.cpu.eptActive, false);
      }
    });
  }

  it('core2-no-ug: INVEPT #UD and no EPT/UG controls to set (B2 refuses secondary controls)', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    assert.ok(!h.cpu.msrs.exists(0x48C), 'no IA32_VMX_EPT_VPID_CAP');
    assert.ok(!h.cpu.msrs.exists(0x48B), 'no IA32_VMX_PROCBASED_CTLS2');
    h.guest([0x0F, 0xA2]);
    const f = h.validFields();
    or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'));
    h.launch(f);
    assert.equal(h.v.lastEntryFailure?.check, 'B2');
    assert.equal(GUEST_CODE, 0x50000);
  });
});
