import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** `vmx-debug run --monitor` and bare-metal VMX images, through the built dist/cli.js. */

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const POST = 'samples/post-loop/post-loop-1000.bin';

describe('vmx-debug run --monitor (CLI)', () => {
  before(() => assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm test before mocha runs'));

  it('--stats shows exits per reason, per port and per second, side by side for the two KVM configurations', () => {
    const old = run('run', POST, '--mode', 'long', '--monitor', '--vmx-config', 'samples/post-loop/kvm-2016.json', '--stats');
    assert.equal(old.code, 0, old.stderr);
    assert.equal(old.stdout, 'post-loop: writing POST codes to port 0x80\r\npost-loop: done\r\n');
    assert.match(old.stderr, /monitor: \d+ VM exits in [\d.]+ s = [\d.]+( thousand| million)? exits\/s/);
    assert.doesNotMatch(old.stderr, /port 0x0080/);
    const now = run('run', POST, '--mode', 'long', '--monitor', '--vmx-config', 'samples/post-loop/kvm-cve-2017.json', '--stats');
    assert.equal(now.code, 0, now.stderr);
    assert.match(now.stderr, /port 0x0080 +1000\n/);
    assert.match(now.stderr, /exit IO_INSTRUCTION \(30\) +\d+/);
    assert.match(now.stderr, /exit HLT \(12\) +1\n/);
  });

  it('--trace-exits prints one decoded line per exit', () => {
    const r = run('run', POST, '--mode', 'long', '--monitor', '--trace-exits');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('vmexit #'));
    assert.ok(lines.length > 1000);
    assert.ok(lines.some((l) => /EXIT_REASON_IO_INSTRUCTION \(30\): out 0x80, al \(port 0x0080, 1 byte\)/.test(l)), lines.slice(0, 5).join('\n'));
    assert.match(lines[lines.length - 1], /rip=0x[0-9a-f]+ EXIT_REASON_HLT \(12\)/);
  });

  it('--dump-vmcs prints the configuration and the VMCS by area', () => {
    const r = run('run', POST, '--mode', 'long', '--monitor', '--dump-vmcs');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /VMCS revision id 0x[0-9a-f]+, VMCS region size 4096 bytes/);
    assert.match(r.stderr, /Primary processor-based VM-execution controls \(CPU_BASED_VM_EXEC_CONTROL\) = 0x[0-9a-f]{8}: .*CPU_BASED_HLT_EXITING/);
    assert.match(r.stderr, /Guest-state area:\n {2}GUEST_ES_SELECTOR/);
  });

  it('validates --vmx-config naming the bad key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmxcfg-'));
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ io: { exiting: 'bitmap', exitPorts: ['0x80', 'sixty'] } }));
    const r = run('run', POST, '--mode', 'long', '--monitor', '--vmx-config', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.json: io\.exitPorts\[1\]: "sixty" is not a number/);
    fs.writeFileSync(bad, '{ not json');
    assert.match(run('run', POST, '--monitor', '--vmx-config', bad).stderr, /not valid JSON/);
    assert.match(run('run', POST, '--vmx-config', bad).stderr, /add --monitor/);
  });

  it('a real-mode guest on a model without unrestricted guest fails with the missing capability', () => {
    const r = run('run', 'bench/workloads/io16.bin', '--format', 'flat', '--monitor', '--vmx-model', 'core2-no-ug');
    assert.equal(r.code, 12);
    assert.match(r.stderr, /needs unrestricted guest and EPT, but CPU model 'core2-no-ug' does not allow SECONDARY_EXEC_UNRESTRICTED_GUEST/);
  });

  it('runs the bare-metal mini-hypervisor sample without any flag: a real-mode guest with UG + EPT', () => {
    const r = run('run', 'samples/mini-hypervisor/mini-hypervisor.bin', '--mode', 'long');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /launching a real-mode guest\r\n/);
    assert.match(r.stdout, /guest: hello from real mode \(unrestricted guest \+ EPT\), CPUID vendor is VMXdebugMini\r\n/);
    assert.match(r.stdout, /mini-hypervisor: the guest is done: 86 I\/O exits \(86 bytes to COM1\), 1 CPUID exits/);
  });

  it('the mini-hypervisor falls back to a 64-bit guest on a model without UG + EPT', () => {
    const r = run('run', 'samples/mini-hypervisor/mini-hypervisor.bin', '--mode', 'long', '--vmx-model', 'core2-no-ug');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /guest: hello from VMX non-root operation, CPUID vendor is VMXdebugMini\r\n/);
    assert.match(r.stdout, /mini-hypervisor: the guest is done: 72 I\/O exits \(72 bytes to COM1\), 1 CPUID exits/);
  });

  it('--dump-vmcs in bare-metal mode shows the guest VMM\'s current VMCS', () => {
    const r = run('run', 'samples/mini-hypervisor/mini-hypervisor.bin', '--mode', 'long', '--dump-vmcs');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /VM_EXIT_REASON\s+0x12 \(EXIT_REASON_VMCALL \(18\)\)/);
  });
});
