// Records two consecutive vmx/readVmcs responses (two VM exits of test/fixtures/debug/vmm.bin) through
// the standalone adapter, for the VMCS tree model's unit tests (test/extension/vmcsModel.test.ts).
// Run after `node scripts/build.mjs`: node scripts/record-vmcs-fixture.mjs
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { writeFileSync } from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dc = new DebugClient('node', path.join(root, 'dist/debugAdapter.js'), 'vmx', { cwd: root }, true);
dc.defaultTimeout = 15000;
await dc.start();
await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
dc._supportsConfigurationDoneRequest = true;
let stopped = dc.waitForEvent('stopped');
await Promise.all([
  (async () => {
    await dc.waitForEvent('initialized');
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vmexit:io' }] });
    await dc.configurationDoneRequest();
  })(),
  dc.launchRequest({ program: 'test/fixtures/debug/vmm.bin', format: 'flat', mode: 'long', loadAddress: '0x10000' }),
]);
const stops = [];
for (let k = 0; k < 2; k++) {
  const ev = await stopped;
  const vmcs = await dc.customRequest('vmx/readVmcs', { all: true });
  stops.push({ stopped: ev.body, readVmcs: vmcs.body });
  if (k === 0) {
    stopped = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
  }
}
const out = path.join(root, 'test/fixtures/extension/readVmcs.json');
writeFileSync(out, JSON.stringify(stops, null, 1) + '\n');
console.log(`wrote ${out}`);
await dc.stop();
