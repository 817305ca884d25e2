/**
 * VPID-tagged TLBs (SDM 28.3.3.1): the emulator keeps one TLB per VMX world and keeps it across
 * entries and exits when the guest has a VPID. Whatever is kept, each world must only ever see its
 * own translations.
 */
import { strict as assert } from 'assert';
import { VmxHost } from './harness';
import { Ept, PAGE_4K, ctl, g64, u64, withEpt } from './eptHarness';

const MAGIC_GUEST = 0x1122334455667788n;
const MAGIC_HOST = 0x99AABBCCDDEEFF00n;
const ADDR = 0x1000010;

function run(vpid: boolean): VmxHost {
  const h = new VmxHost();
  const ept = new Ept(h);
  ept.identity2M(0, 0x1000000);
  // the guest's physical page 0x1000000 is host page 0x1800000; the host sees 0x1000000 itself
  ept.map(0x1000000, 0x1800000, PAGE_4K);
  h.poke64(0x1800000 + (ADDR & 0xFFF), MAGIC_GUEST);
  h.poke64(ADDR, MAGIC_HOST);
  h.guest([...g64.loadR8(ADDR), ...g64.cpuid]);
  const f = h.validFields();
  withEpt(f, ept.eptp(false));
  if (vpid) {
    f.set('SECONDARY_VM_EXEC_CONTROL', (f.get('SECONDARY_VM_EXEC_CONTROL') ?? 0n) | ctl('SECONDARY_EXEC_ENABLE_VPID'));
    f.set('VIRTUAL_PROCESSOR_ID', 1n);
  }
  h.launch(f);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), 'the guest exits on CPUID');
  return h;
}

for (const vpid of [false, true]) {
  describe(`VMX TLB worlds (VPID ${vpid ? 'on' : 'off'})`, () => {
    it('the guest reads through EPT, then the host reads its own page at the same linear address', () => {
      const h = run(vpid);
      assert.equal(u64(h, 8), MAGIC_GUEST, 'guest read');
      h.run([...g64.loadR8(ADDR)]);
      assert.equal(h.exception, undefined);
      assert.equal(u64(h, 8), MAGIC_HOST, 'host read after the exit must not use the guest translation');
    });
  });
}
