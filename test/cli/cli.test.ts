import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The headless runner as a user runs it: the built dist/cli.js in a child process. */

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const fixtures = path.join(root, 'test/fixtures/cli');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vmx-debug run (CLI)', () => {
  before(() => assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm test before mocha runs'));

  it('boots the sample ROM from the reset vector into long mode and exits 0', () => {
    const r = run('run', 'samples/longmode-rom/longmode.rom', '--post', '--stats');
    assert.equal(r.code, 0, r.stderr);
    for (const line of ['vmx-debug sample: real mode', 'A20 enabled', 'protected mode', 'page tables built', 'long mode',
      '64-bit: 0xDEADBEEF * 0x100000001 = 0xDEADBEEFDEADBEEF', 'done']) {
      assert.ok(r.stdout.includes(line + '\r\n'), `missing '${line}' in ${JSON.stringify(r.stdout)}`);
    }
    const posts = [...r.stderr.matchAll(/POST 0x([0-9a-f]{2})/g)].map((m) => m[1]);
    assert.deepEqual(posts, ['01', '02', '03', '04', '05', '06']);
    assert.match(r.stderr, /stats: \d+ instructions in [\d.]+ s = [\d.]+ MIPS; stopped: halt/);
  });

  it('passes the multiboot command line and modules, and exits with the exit port status', () => {
    const r = run('run', path.join(fixtures, 'mbprint.bin'), '--cmdline', 'hello kernel',
      '--module', path.join(fixtures, 'module1.txt'), '--module', path.join(fixtures, 'module2.txt'));
    assert.equal(r.stdout, 'hello kernel\nms');
    assert.equal(r.code, (2 << 1) | 1);
  });

  it('exits with (v << 1) | 1 for a write of v to port 0xF4', () => {
    assert.equal(run('run', path.join(fixtures, 'exit21.bin')).code, (21 << 1) | 1);
  });

  it('reports a triple fault with its cause and exit status 4', () => {
    const r = run('run', path.join(fixtures, 'triple.bin'));
    assert.equal(r.code, 4);
    assert.match(r.stderr, /triple fault: .*#DF/);
  });

  it('stops at --max-instructions with exit status 6', () => {
    const r = run('run', path.join(fixtures, 'spin.bin'), '--max-instructions', '12345', '--stats');
    assert.equal(r.code, 6);
    assert.match(r.stderr, /stats: 12345 instructions/);
  });

  it('produces the same trace on every run, one line per instruction', () => {
    const a = run('run', 'samples/longmode-rom/longmode.rom', '--trace', '--max-instructions', '3000');
    const b = run('run', 'samples/longmode-rom/longmode.rom', '--trace', '--max-instructions', '3000');
    const lines = a.stderr.split('\n').filter((l) => /^\d+ /.test(l));
    assert.equal(lines.length, 3000);
    assert.match(lines[0], /^0 f000:fff0 fffffff0 e9 0d 80\s+jmp 0x8000$/);
    assert.equal(a.stderr, b.stderr);
  });

  it('writes serial output to a file with --serial', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vmxd-')), 'serial.txt');
    const r = run('run', 'samples/longmode-rom/longmode.rom', '--serial', file);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.ok(fs.readFileSync(file, 'utf8').startsWith('vmx-debug sample: real mode\r\n'));
  });

  describe('bad input: one clear line, exit status 2, no stack trace', () => {
    const cases: [string, string[], RegExp][] = [
      ['a missing file', ['run', 'no/such/image.bin'], /image 'no\/such\/image.bin' does not exist/],
      ['an unknown format', ['run', 'x.bin', '--format', 'pdf'], /--format: 'pdf' is not one of elf, flat, rom, multiboot/],
      ['a bad number', ['run', 'x.bin', '--ram', '12abc'], /--ram: '12abc' is not a number/],
      ['an unknown option', ['run', 'x.bin', '--turbo'], /unknown option --turbo/],
      ['a missing value', ['run', 'x.bin', '--entry'], /--entry needs a value/],
      ['no image', ['run'], /no image given/],
      ['an unknown command', ['fly'], /unknown command 'fly'/],
    ];
    for (const [what, args, pattern] of cases) {
      it(what, () => {
        const r = run(...args);
        assert.equal(r.code, 2);
        assert.match(r.stderr, pattern);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      });
    }

    it('an image larger than RAM', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmxd-'));
      const big = path.join(dir, 'big.bin');
      fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 0x90));
      const r = run('run', big, '--format', 'flat', '--mode', 'protected', '--ram', '2');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /does not fit|exceeds RAM/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });

    it('a malformed ELF', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmxd-'));
      const bad = path.join(dir, 'bad.elf');
      const elf = fs.readFileSync(path.join(root, 'test/fixtures/loaders/elf64.elf'));
      fs.writeFileSync(bad, elf.subarray(0, 40));
      const r = run('run', bad);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /bad\.elf: /);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  });
});
