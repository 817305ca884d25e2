import { strict as assert } from 'assert';
import { VMCS_FIELDS, isReadOnlyField } from '../../../src/cpu/vmx/spec';
import { VmxHost, asm, type Fields } from './harness';

/**
 * Bad VMCS values are the guest's (or a buggy VMM's) to choose: whatever a VMM writes, VMLAUNCH
 * must end in an SDM outcome (VMfail, a VM-entry failure exit, or a guest that runs and exits)
 * with the failed check named, never in a JavaScript exception or a hang. Seeded, so a failure
 * names the seed and the fields that reproduce it.
 */

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WRITABLE = VMCS_FIELDS.filter((f) => !isReadOnlyField(f));

function value(r: () => number, base: bigint): bigint {
  const u32 = () => BigInt(Math.floor(r() * 4294967296));
  switch (Math.floor(r() * 6)) {
    case 0: return 0n;
    case 1: return 0xFFFFFFFFFFFFFFFFn;
    case 2: return u32();
    case 3: return (u32() << 32n) | u32();
    case 4: return base ^ (1n << BigInt(Math.floor(r() * 64)));
    default: return base ^ (1n << BigInt(Math.floor(r() * 32)));
  }
}

describe('VMX: random VMCS contents', () => {
  it('600 VMLAUNCHes with 1-3 fields of a valid VMCS changed at random: an SDM outcome every time, failures named', function () {
    this.timeout(120000);
    const r = rng(0xC0FFEE);
    let entered = 0, failedEntry = 0, vmfail = 0;
    for (let n = 0; n < 600; n++) {
      const g = new VmxHost();
      g.guest([0xE6, 0x80, 0x0F, 0xA2, 0xF4]); // out 0x80, al ; cpuid ; hlt
      const f: Fields = g.validFields();
      const changed: string[] = [];
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const field = WRITABLE[Math.floor(r() * WRITABLE.length)];
        const v = value(r, f.get(field.name) ?? 0n);
        f.set(field.name, BigInt.asUintN(64, v));
        changed.push(`${field.name}=0x${BigInt.asUintN(64, v).toString(16)}`);
      }
      const what = `case ${n}: ${changed.join(', ')}`;
      let stop: string;
      try {
        stop = g.run(g.setupCode(f, [...asm.vmlaunch]), 20000);
      } catch (e) {
        assert.fail(`${what}: ${(e as Error).stack}`);
      }
      assert.ok(typeof stop === 'string', what);
      const failure = g.v.lastEntryFailure;
      const reason = Number(g.field('VM_EXIT_REASON'));
      if (g.outcome().startsWith('failValid(7)') || g.outcome().startsWith('failValid(8)') || (g.atHostExit() && reason >= 0x80000000)) {
        assert.ok(failure !== null && /^([A-E]\d+|F)$/.test(failure.check) && /SDM/.test(failure.section), `${what}: a failed entry names its check (${JSON.stringify(failure)})`);
        if (reason >= 0x80000000) failedEntry++;
        else vmfail++;
      } else if (g.v.exitCount > 0) entered++;
    }
    // the mix is broad: entries that ran the guest, and both kinds of failure
    assert.ok(entered > 50 && vmfail > 50 && failedEntry > 20, `entered ${entered}, VMfail ${vmfail}, failure exits ${failedEntry}`);
  });
});

describe('VMX: VMRESUME after random changes gives what a cold VMLAUNCH of the same VMCS gives', () => {
  // VM entry skips checks whose fields kept their values since they last passed (VmcsCache change
  // counters): whatever changes, the first failing check must be the one a fresh evaluation finds
  it('400 exits followed by 1-3 random field changes and VMRESUME, against VMLAUNCH of a copy', function () {
    this.timeout(120000);
    const r = rng(0xBADC0DE);
    let compared = 0, failures = 0;
    for (let n = 0; n < 400; n++) {
      const g = new VmxHost();
      g.guest([0xE6, 0x80, 0xE6, 0x80, 0xF4]); // out 0x80, al ; out 0x80, al ; hlt
      const f = g.validFields();
      f.set('CPU_BASED_VM_EXEC_CONTROL', (f.get('CPU_BASED_VM_EXEC_CONTROL') ?? 0n) | (1n << 24n)); // unconditional I/O exiting
      g.launch(f);
      if (!g.atHostExit() || g.exitReason() !== 30) assert.fail(`case ${n}: the valid VMCS did not reach the first exit`);
      // the VMM advances RIP, then writes 1-3 random values
      const d = g.v.vmcs;
      const changed: string[] = [];
      const writes: [string, bigint][] = [['GUEST_RIP', g.field('GUEST_RIP') + 2n]];
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const field = WRITABLE[Math.floor(r() * WRITABLE.length)];
        if (!g.v.caps.fieldSupported[VMCS_FIELDS.indexOf(field)]) continue;
        const v = BigInt.asUintN(64, value(r, g.field(field.name)));
        writes.push([field.name, v]);
        changed.push(`${field.name}=0x${v.toString(16)}`);
      }
      const what = `case ${n}: ${changed.join(', ')}`;
      const code = [];
      for (const [name, v] of writes) code.push(...asm.movRaxImm(BigInt(VMCS_FIELDS.find((x) => x.name === name)!.encoding)), ...asm.movRdxImm(v), ...asm.vmwriteRaxRdx);
      // a copy of the VMCS as VMRESUME will see it, for the cold evaluation
      g.run(code, 1000);
      const lo = d.lo.slice(), hi = d.hi.slice();
      g.run([...asm.vmresume], 20000);
      const warm = g.v.lastEntryFailure?.check ?? 'entered';
      const cold = new VmxHost();
      cold.run(cold.setupCode(new Map()), 1000); // VMXON, VMCLEAR, VMPTRLD
      cold.v.vmcs.lo.set(lo);
      cold.v.vmcs.hi.set(hi);
      cold.v.vmcs.changedAll();
      cold.guest([0xE6, 0x80, 0xE6, 0x80, 0xF4]);
      cold.run([...asm.vmlaunch], 20000);
      const coldResult = cold.v.lastEntryFailure?.check ?? 'entered';
      assert.equal(warm, coldResult, `${what}: VMRESUME found ${warm}, a cold VMLAUNCH ${coldResult}`);
      compared++;
      if (warm !== 'entered') failures++;
    }
    assert.ok(compared === 400 && failures > 80, `compared ${compared}, failed entries ${failures}`);
  });
});
