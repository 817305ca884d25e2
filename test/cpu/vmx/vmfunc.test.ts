/**
 * VMFUNC and EPTP switching (SDM vol. 3C 26.5.6, VMFUNC in the instruction reference): two EPT
 * hierarchies map guest-physical ADDR's page to different host pages, and an EPTP list names both.
 */
import { strict as assert } from 'assert';
import { GUEST_CODE, VmxHost, asm, enc } from './harness';
import { Ept, EPT_POOL, PAGE_4K, ctl, g64, u64, withEpt } from './eptHarness';

const MAGIC_A = 0x1122334455667788n;
const MAGIC_B = 0x99AABBCCDDEEFF00n;
/** Guest-physical (and guest-linear) address read through either EPT. */
const ADDR = 0x1000010;
const HOST_A = 0x1800000, HOST_B = 0x1900000;
/** Host-physical EPTP list. */
const LIST = 0x4C000;
/** Second EPT hierarchy's table pool. */
const POOL_B = EPT_POOL + 0x200000;

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const movEax = (v: number) => [0xB8, ...le32(v)];
const movEcx = (v: number) => [0xB9, ...le32(v)];
const movRcx = (v: bigint) => [0x48, 0xB9, ...le32(Number(v & 0xFFFFFFFFn)), ...le32(Number(v >> 32n))];
const VMFUNC = [0x0F, 0x01, 0xD4];
/** EAX = fn, ECX = index, VMFUNC: 13 bytes. */
const call = (fn: number, index: number) => [...movEax(fn), ...movEcx(index), ...VMFUNC];

interface Setup { h: VmxHost; a: Ept; b: Ept }

/**
 * EPT A and B: identity below 16 MiB, ADDR's page at HOST_A / HOST_B; list = [A, B]. `smallB` maps
 * B's first 2 MiB with 4-KiB pages, so a test can remap a single page there.
 */
function setup(smallB = false): Setup {
  const h = new VmxHost();
  const a = new Ept(h), b = new Ept(h, POOL_B);
  a.identity2M(0, 0x1000000);
  if (smallB) b.identity4K(0, 0x200000);
  b.identity2M(smallB ? 0x200000 : 0, 0x1000000);
  a.map(ADDR & ~0xFFF, HOST_A, PAGE_4K);
  b.map(ADDR & ~0xFFF, HOST_B, PAGE_4K);
  h.poke64(HOST_A + (ADDR & 0xFFF), MAGIC_A);
  h.poke64(HOST_B + (ADDR & 0xFFF), MAGIC_B);
  for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(LIST + k, 4, 0);
  list(h, 0, a.eptp());
  list(h, 1, b.eptp());
  return { h, a, b };
}

function list(h: VmxHost, index: number, eptp: bigint): void {
  h.poke64(LIST + index * 8, eptp);
}

/** EPT with EPTP A; "enable VM functions" with these VM-function controls. */
function fields(s: Setup, fc = 1n, vpid = false): Map<string, bigint> {
  const f = s.h.validFields();
  withEpt(f, s.a.eptp());
  const p2 = ctl('SECONDARY_EXEC_ENABLE_VMFUNC') | (vpid ? ctl('SECONDARY_EXEC_ENABLE_VPID') : 0n);
  f.set('SECONDARY_VM_EXEC_CONTROL', (f.get('SECONDARY_VM_EXEC_CONTROL') ?? 0n) | p2);
  f.set('VM_FUNCTION_CONTROL', fc);
  f.set('EPTP_LIST_ADDRESS', BigInt(LIST));
  if (vpid) f.set('VIRTUAL_PROCESSOR_ID', 1n);
  return f;
}

function launch(s: Setup, guest: number[], f = fields(s)): void {
  const h = s.h;
  h.guest(guest);
  h.launch(f);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
}

/** VMREAD of a field by the host (after an exit): the value the guest's hypervisor would see. */
function vmread(h: VmxHost, name: string): bigint {
  h.run([...asm.movRaxImm(BigInt(enc(name))), ...asm.vmreadRdxRax]);
  assert.equal(h.outcome(), 'succeed');
  return u64(h, 2);
}

/** Host: VMWRITE, then VMRESUME. */
function resume(h: VmxHost, writes: [string, bigint][]): void {
  const code: number[] = [];
  for (const [name, v] of writes) code.push(...asm.movRaxImm(BigInt(enc(name))), ...asm.movRdxImm(v), ...asm.vmwriteRaxRdx);
  h.run([...code, ...asm.vmresume]);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
}

describe('VMX VMFUNC: EPTP switching (function 0)', () => {
  for (const vpid of [false, true]) {
    it(`switches EPT: the same guest-physical page reads host B afterwards (VPID ${vpid ? 'on' : 'off'})`, () => {
      const s = setup();
      const h = s.h;
      const f = fields(s, 1n, vpid);
      // flags that VMFUNC must leave alone
      f.set('GUEST_RFLAGS', 0x8D7n);
      const guest = [...g64.loadR8(ADDR), ...call(0, 1), ...g64.loadR9(ADDR), ...g64.cpuid];
      launch(s, guest, f);
      assert.equal(h.exitReason(), 10, 'CPUID after VMFUNC: no VMFUNC exit');
      assert.equal(u64(h, 8), MAGIC_A, 'before VMFUNC: EPT A');
      assert.equal(u64(h, 9), MAGIC_B, 'after VMFUNC: EPT B, not the cached EPT-A translation');
      assert.equal(Number(h.field('GUEST_RIP')), GUEST_CODE + guest.length - 2, 'RIP moved past VMFUNC');
      assert.equal(h.field('GUEST_RFLAGS'), 0x8D7n, 'RFLAGS unchanged');
      assert.equal(vmread(h, 'EPT_POINTER'), s.b.eptp(), 'EPT_POINTER holds list entry 1');
    });
  }

  it('switches back and forth in one run', () => {
    const s = setup();
    const guest = [...call(0, 1), ...g64.loadR8(ADDR), ...call(0, 0), ...g64.loadR9(ADDR), ...call(0, 1), ...g64.loadR10(ADDR), ...g64.cpuid];
    launch(s, guest);
    assert.equal(s.h.exitReason(), 10);
    assert.equal(u64(s.h, 8), MAGIC_B);
    assert.equal(u64(s.h, 9), MAGIC_A);
    assert.equal(u64(s.h, 10), MAGIC_B);
    assert.equal(s.h.field('EPT_POINTER'), s.b.eptp());
  });

  it('only EAX and ECX count: bits 63:32 of RAX and RCX are ignored', () => {
    const s = setup();
    launch(s, [...g64.movRax(0xFFFFFFFF00000000n), ...movRcx(0x0000000100000001n), ...VMFUNC, ...g64.loadR8(ADDR), ...g64.cpuid]);
    assert.equal(s.h.exitReason(), 10);
    assert.equal(u64(s.h, 8), MAGIC_B);
  });

  it('instruction fetches go through the new EPT: the next instruction comes from host B\'s copy of the code page', () => {
    const s = setup(true);
    const h = s.h;
    const codeB = 0x60000;
    s.b.map(GUEST_CODE, codeB, PAGE_4K);
    const head = call(0, 1);
    h.poke(codeB, [...head, ...g64.movRax(MAGIC_B), ...g64.cpuid]);
    launch(s, [...head, ...g64.movRax(MAGIC_A), ...g64.cpuid]);
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 0), MAGIC_B);
  });

  it('an EPTP with accessed/dirty flags enabled takes effect: the walk through EPT B sets accessed flags', () => {
    const s = setup();
    list(s.h, 1, s.b.eptp(true));
    const leaf = s.b.entryAddr(ADDR, 1);
    launch(s, [...call(0, 1), ...g64.loadR8(ADDR), ...g64.cpuid]);
    assert.equal(s.h.exitReason(), 10);
    assert.equal(u64(s.h, 8), MAGIC_B);
    assert.equal(s.b.entry(leaf) & 0x300n, 0x100n, 'accessed, not dirty');
    assert.equal(s.a.entry(s.a.entryAddr(ADDR, 1)) & 0x100n, 0n, 'EPT A (no A/D) untouched');
  });

  it('VPID: the switched EPTP stays in force after an exit and VMRESUME; EPT_POINTER rewritten by the host wins', () => {
    const s = setup();
    const h = s.h;
    const second = GUEST_CODE + 0x100;
    h.poke(second, [...g64.loadR10(ADDR), ...g64.cpuid]);
    launch(s, [...g64.loadR8(ADDR), ...call(0, 1), ...g64.loadR9(ADDR), ...g64.cpuid], fields(s, 1n, true));
    assert.equal(u64(h, 9), MAGIC_B);
    resume(h, [['GUEST_RIP', BigInt(second)]]);
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 10), MAGIC_B, 'the VMCS holds EPTP B, so the guest resumes with EPT B');
    // back to A by the host: the guest's kept TLB (filled through B) must not be used
    resume(h, [['GUEST_RIP', BigInt(second)], ['EPT_POINTER', s.a.eptp()]]);
    assert.equal(u64(h, 10), MAGIC_A);
  });

  it('switching to the EPTP already in use changes nothing', () => {
    const s = setup();
    launch(s, [...g64.loadR8(ADDR), ...call(0, 0), ...g64.loadR9(ADDR), ...g64.cpuid]);
    assert.equal(s.h.exitReason(), 10);
    assert.equal(u64(s.h, 9), MAGIC_A);
    assert.equal(s.h.field('EPT_POINTER'), s.a.eptp());
  });
});

describe('VMX VMFUNC: VM exit 59', () => {
  /** Runs `call(fn, index)` as the first guest instruction and expects exit 59 on it, EPTP unchanged. */
  function expectExit(s: Setup, fn: number, index: number, f = fields(s)): void {
    launch(s, [...call(fn, index), ...g64.cpuid], f);
    const h = s.h;
    assert.equal(h.exitReason(), 59);
    assert.equal(h.qualification(), 0n);
    assert.equal(Number(h.field('VM_EXIT_INSTRUCTION_LEN')), 3);
    assert.equal(Number(h.field('GUEST_RIP')), GUEST_CODE + 10, 'guest RIP is the VMFUNC');
    assert.equal(h.field('EPT_POINTER'), s.a.eptp(), 'EPT_POINTER unchanged');
    assert.equal(h.field('VM_EXIT_INTR_INFO'), 0n);
  }

  it('EAX = 1: VM function 1 is not enabled', () => {
    const s = setup();
    expectExit(s, 1, 0);
  });

  it('EAX = 63: the highest function number exits too', () => {
    const s = setup();
    expectExit(s, 63, 0);
  });

  it('EAX = 0 with VM-function control bit 0 clear', () => {
    const s = setup();
    expectExit(s, 0, 1, fields(s, 0n));
  });

  it('ECX = 512: beyond the 512-entry list', () => {
    const s = setup();
    expectExit(s, 0, 512);
  });

  it('ECX = 0xFFFFFFFF', () => {
    const s = setup();
    expectExit(s, 0, 0xFFFFFFFF);
  });

  const invalid: [string, (s: Setup) => bigint][] = [
    ['an all-zero entry (memory type UC is not supported)', () => 0n],
    ['memory type 1', (s) => (s.b.eptp() & ~7n) | 1n],
    ['page-walk length 5 (not supported)', (s) => (s.b.eptp() & ~0x38n) | (4n << 3n)],
    ['page-walk length 3', (s) => (s.b.eptp() & ~0x38n) | (2n << 3n)],
    ['bit 8 set (bits 11:8 reserved)', (s) => s.b.eptp() | 0x100n],
    ['supervisor shadow-stack bit 7 (not supported)', (s) => s.b.eptp() | 0x80n],
    ['an address beyond MAXPHYADDR', (s) => s.b.eptp() | (1n << 39n)],
  ];
  for (const [what, eptp] of invalid) {
    it(`list entry with ${what}`, () => {
      const s = setup();
      list(s.h, 7, eptp(s));
      expectExit(s, 0, 7);
    });
  }

  it('the last list entry (511) is usable', () => {
    const s = setup();
    list(s.h, 511, s.b.eptp());
    launch(s, [...call(0, 511), ...g64.loadR8(ADDR), ...g64.cpuid]);
    assert.equal(s.h.exitReason(), 10);
    assert.equal(u64(s.h, 8), MAGIC_B);
  });
});

describe('VMX VMFUNC: #UD', () => {
  it('outside VMX operation and in VMX root operation', () => {
    const h = new VmxHost();
    h.run([...movEax(0), ...movEcx(0), ...VMFUNC]);
    assert.equal(h.exception, 6, 'outside VMX operation');
    const s = setup();
    launch(s, g64.cpuid);
    s.h.run([...movEax(0), ...movEcx(1), ...VMFUNC]);
    assert.equal(s.h.exception, 6, 'in VMX root operation');
    assert.equal(s.h.field('EPT_POINTER'), s.a.eptp());
  });

  /** Guest #UD becomes exit 0 through the exception bitmap. */
  function expectUd(s: Setup, f: Map<string, bigint>, fn: number): void {
    f.set('EXCEPTION_BITMAP', 1n << 6n);
    launch(s, [...call(fn, 1), ...g64.cpuid], f);
    assert.equal(s.h.exitReason(), 0);
    assert.equal(s.h.field('VM_EXIT_INTR_INFO'), 0x80000306n, '#UD, hardware exception');
    assert.equal(Number(s.h.field('GUEST_RIP')), GUEST_CODE + 10);
    assert.equal(s.h.field('EPT_POINTER'), f.get('EPT_POINTER') ?? 0n, 'EPT_POINTER unchanged');
  }

  it('in non-root operation with "enable VM functions" = 0', () => {
    const s = setup();
    const f = fields(s);
    f.set('SECONDARY_VM_EXEC_CONTROL', f.get('SECONDARY_VM_EXEC_CONTROL')! & ~ctl('SECONDARY_EXEC_ENABLE_VMFUNC'));
    f.delete('VM_FUNCTION_CONTROL');
    f.delete('EPTP_LIST_ADDRESS');
    expectUd(s, f, 0);
  });

  it('with "enable VM functions" = 1 but secondary controls not activated', () => {
    const s = setup();
    const f = s.h.validFields();
    f.set('SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_ENABLE_VMFUNC'));
    f.set('VM_FUNCTION_CONTROL', 1n);
    expectUd(s, f, 0);
  });

  it('EAX = 64: only functions 0-63 exist (#UD, not a VM exit)', () => {
    const s = setup();
    expectUd(s, fields(s), 64);
  });
});

describe('VMX VMFUNC: capability and VM entry', () => {
  it('"enable VM functions" with no function enabled needs neither EPT nor an EPTP list', () => {
    const h = new VmxHost();
    h.guest(g64.cpuid);
    const f = h.validFields();
    f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'));
    f.set('SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_ENABLE_VMFUNC'));
    f.set('VM_FUNCTION_CONTROL', 0n);
    f.set('EPTP_LIST_ADDRESS', 0x123n);
    h.launch(f);
    assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
    assert.equal(h.exitReason(), 10);
  });

  it('core2-no-ug has no VM functions: no IA32_VMX_VMFUNC, VMWRITE of the fields fails with error 12', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    assert.ok(!h.cpu.msrs.exists(0x491));
    h.guest(g64.cpuid);
    h.launch();
    for (const name of ['VM_FUNCTION_CONTROL', 'EPTP_LIST_ADDRESS', 'EPTP_INDEX']) {
      h.run([...asm.movRaxImm(BigInt(enc(name))), ...asm.movRdxImm(0n), ...asm.vmwriteRaxRdx]);
      assert.equal(h.outcome(), 'failValid(12)', name);
    }
  });
});
