import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Machine } from '../../src/machine/machine';
import { loadImage } from '../../src/machine/loaders';
import type { CpuMode } from '../../src/machine/loaders/loadPlan';
import { Monitor, parseMonitorConfig, type MonitorConfig } from '../../src/machine/monitor';
import { setVmxObserver } from '../../src/cpu/vmx/observer';
import { slotOf } from '../../src/cpu/vmx/vmcs';

/**
 * The built-in monitor handles I/O and CPUID exits in place (state.ts InPlaceVmm) unless something
 * observes VMX events. Both ways must leave the machine in exactly the same state: the same output,
 * exit statistics, registers, instruction count and every VMCS field.
 */

const root = path.resolve(__dirname, '../../..');
const postLoop = fs.readFileSync(path.join(root, 'samples/post-loop/post-loop-1000.bin'));
const kvm2017 = parseMonitorConfig(JSON.parse(fs.readFileSync(path.join(root, 'samples/post-loop/kvm-cve-2017.json'), 'utf8')));

// mov eax,1 ; cpuid ; mov esi,ecx ; xor eax,eax ; cpuid ; mov edx,0x3F8 ; mov al,'A' ; out dx,al ; in al,dx ; cli ; hlt
const cpuidAndIo = Uint8Array.from([0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0x89, 0xCE, 0x31, 0xC0, 0x0F, 0xA2, 0xBA, 0xF8, 3, 0, 0, 0xB0, 0x41, 0xEE, 0xEC, 0xFA, 0xF4]);
// lea rsi,[rel msg] ; mov ecx,5 ; mov dx,0x3F8 ; rep outsb ; hlt ; msg: 'hello'
const repOutsb = Uint8Array.from([0x48, 0x8D, 0x35, 0x0C, 0, 0, 0, 0xB9, 5, 0, 0, 0, 0x66, 0xBA, 0xF8, 3, 0xF3, 0x6E, 0xF4, ...Buffer.from('hello')]);

interface Outcome {
  inPlace: number;
  serial: string;
  kind: string;
  totalExits: number;
  byReason: number[];
  byPort: Record<number, number>;
  icount: number;
  regs: number[];
  rip: number;
  flags: number;
  vmcs: number[];
}

function runGuest(image: Uint8Array, mode: CpuMode, config: MonitorConfig | undefined, observed: boolean, snapshots?: number[][]): Outcome {
  let serial = '';
  const m = new Machine({ ramMiB: 64, onSerial: (b) => { serial += Buffer.from(b).toString('latin1'); } });
  m.load(loadImage(image, { format: 'flat', mode, ramBytes: m.ramBytes }));
  // the whole VMCS as the VMM sees it at each exit
  const onExit = snapshots ? () => { snapshots.push([...m.vmx!.vmcs.lo, ...m.vmx!.vmcs.hi]); } : undefined;
  const mon = new Monitor(m, { ...(config ? { config } : {}), onExit });
  m.vmm = mon;
  let inPlace = 0;
  const handle = mon.handleInPlace.bind(mon);
  mon.handleInPlace = (reason: number) => { const r = handle(reason); if (r) inPlace++; return r; };
  // any observer (the debugger's) sends every exit down the architectural path
  if (observed) setVmxObserver(m.cpu, {});
  assert.equal(mon.launch(), null);
  const out = m.run(1e8);
  const byPort: Record<number, number> = {};
  mon.exitsByPort.forEach((n, p) => { if (n) byPort[p] = n; });
  const d = mon.vmx.vmcs;
  return {
    inPlace, serial, kind: out.kind, totalExits: mon.totalExits, byReason: [...mon.exitsByReason], byPort,
    icount: m.cpu.icount, regs: [...m.cpu.r, ...m.cpu.rh], rip: m.cpu.rip, flags: m.cpu.getFlags(),
    vmcs: [...d.lo, ...d.hi],
  };
}

describe('built-in monitor: exits handled in place', () => {
  const cases: [string, Uint8Array, CpuMode, MonitorConfig | undefined][] = [
    ['post-loop, unconditional I/O exiting (long mode)', postLoop, 'long', kvm2017],
    ['CPUID and IN/OUT (protected mode)', cpuidAndIo, 'protected', undefined],
    ['CPUID and IN/OUT (long mode)', cpuidAndIo, 'long', undefined],
    ['REP OUTSB to COM1 (long mode)', repOutsb, 'long', undefined],
  ];
  for (const [name, image, mode, config] of cases) {
    it(`${name}: the same machine state as the architectural path`, () => {
      const fast = runGuest(image, mode, config, false);
      const slow = runGuest(image, mode, config, true);
      assert.equal(fast.kind, 'halt');
      assert.ok(fast.inPlace > 0, 'exits were handled in place');
      assert.equal(slow.inPlace, 0, 'none with an observer');
      assert.equal(fast.inPlace, fast.totalExits - 1, 'all but the final HLT');
      const { inPlace: _a, ...f } = fast;
      const { inPlace: _b, ...s } = slow;
      assert.deepEqual(f, s);
    });
  }

  it('after every exit the VMCS is the same although the guest changed segment, descriptor-table, control and debug registers and MSRs in between', () => {
    const image = fs.readFileSync(path.join(root, 'test/fixtures/vmx/stable-state64.bin'));
    // no MSR exits: the guest's WRMSRs change the processor while it runs
    const config = parseMonitorConfig({ msrs: { exit: [] } });
    const fast: number[][] = [], slow: number[][] = [];
    const f = runGuest(image, 'long', config, false, fast);
    const s = runGuest(image, 'long', config, true, slow);
    assert.equal(f.kind, 'halt');
    assert.equal(f.totalExits, 13, '12 OUTs and the HLT');
    assert.equal(f.inPlace, 12);
    assert.equal(fast.length, slow.length);
    for (let k = 0; k < fast.length; k++) assert.deepEqual(fast[k], slow[k], `VMCS after exit ${k + 1}`);
    // and the guest's changes did reach the VMCS
    const last = fast[fast.length - 1];
    const field = (name: string) => last[slotOf(name)] >>> 0;
    assert.equal(field('GUEST_FS_BASE'), 0x12345000);
    assert.equal(field('GUEST_SYSENTER_EIP'), 0x8000);
    assert.equal(field('GUEST_DR7'), 0x401);
    assert.equal(field('GUEST_IA32_DEBUGCTL'), 2);
    assert.equal(field('GUEST_GS_BASE'), 0x55550000);
    assert.equal(field('GUEST_CR4') & 4, 4);
  });

  it('40 random guests mixing segment, descriptor-table, control/debug-register and MSR changes with I/O and CPUID exits: the same VMCS after every exit', function () {
    this.timeout(60000);
    const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
    let seed = 0x5EED;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const wrmsr = (msr: number, lo: number) => [0xB9, ...le32(msr), 0xB8, ...le32(lo), 0x31, 0xD2, 0x0F, 0x30];
    const pieces: (() => number[])[] = [
      () => [0xE6, 0x80], // out 0x80, al
      () => [0xE4, 0x80], // in al, 0x80
      () => [0x31, 0xC0, 0x0F, 0xA2], // xor eax, eax ; cpuid
      () => [0x66, 0x8C, 0xD8, 0x8E, 0xD8], // mov ax, ds ; mov ds, ax
      () => [0x66, 0x8C, 0xD0, 0x8E, 0xD0], // mov ax, ss ; mov ss, ax (a MOV SS shadow)
      () => [0x31, 0xC0, 0x8E, 0xE0], // fs := null
      () => [0x31, 0xC0, 0x8E, 0xE8], // gs := null
      () => wrmsr(0xC0000100 + rand(3), rand(0x10000) << 12), // FS_BASE, GS_BASE, KERNEL_GS_BASE
      () => wrmsr(0x174 + rand(3), rand(0x10000) << 4), // SYSENTER_CS/ESP/EIP
      () => wrmsr(0x1D9, rand(4)), // DEBUGCTL
      () => [0x0F, 0x01, 0xF8], // swapgs
      () => [0x0F, 0x20, 0xE0, 0x48, 0x35, ...le32([4, 0x100, 0x200][rand(3)]), 0x0F, 0x22, 0xE0], // CR4 ^= TSD | PCE | OSFXSR
      () => [0x0F, 0x20, 0xC0, 0x48, 0x35, ...le32(8), 0x0F, 0x22, 0xC0], // CR0 ^= TS
      () => [0x0F, 0x06], // clts
      () => [0x48, 0x83, 0xEC, 0x10, 0x0F, 0x01, 0x04, 0x24, 0x0F, 0x01, 0x14, 0x24, 0x48, 0x83, 0xC4, 0x10], // sgdt/lgdt the same
      () => [0x48, 0x83, 0xEC, 0x10, 0x0F, 0x01, 0x0C, 0x24, 0x66, 0xFF, 0x0C, 0x24, 0x0F, 0x01, 0x1C, 0x24, 0x48, 0x83, 0xC4, 0x10], // IDTR limit - 1
      () => [0xB8, ...le32([0x400, 0x401, 0x403][rand(3)]), 0x0F, 0x23, 0xF8], // DR7
      () => [0xB8, ...le32(0x200000 + rand(0x1000)), 0x0F, 0x23, 0xC0], // DR0 (never executed)
      () => [0x9C, 0x58, 0x35, ...le32(1 << 18), 0x50, 0x9D], // RFLAGS.AC ^= 1
      () => [rand(2) ? 0xFB : 0xFA], // sti / cli
    ];
    let inPlace = 0, halted = 0;
    for (let n = 0; n < 40; n++) {
      const code: number[] = [];
      for (let k = 0; k < 40; k++) code.push(...pieces[rand(pieces.length)](), 0xE6, 0x80);
      code.push(0xFA, 0xF4);
      const image = Uint8Array.from(code);
      const config = n % 2 ? parseMonitorConfig({ msrs: { exit: [] } }) : undefined;
      const fast: number[][] = [], slow: number[][] = [];
      const f = runGuest(image, 'long', config, false, fast);
      const s = runGuest(image, 'long', config, true, slow);
      inPlace += f.inPlace;
      if (f.kind === 'halt') halted++;
      assert.equal(fast.length, slow.length, `program ${n}: number of exits`);
      for (let k = 0; k < fast.length; k++) assert.deepEqual(fast[k], slow[k], `program ${n}: VMCS after exit ${k + 1}`);
      const { inPlace: _a, ...fr } = f;
      const { inPlace: _b, ...sr } = s;
      assert.deepEqual(fr, sr, `program ${n}: final state`);
    }
    // a guest that faults (a CR4 bit this CPU refuses, say) ends in a triple fault early: enough of
    // them run to their HLT, with hundreds of exits handled in place on the way
    assert.ok(inPlace > 300 && halted > 10, `exits in place ${inPlace}, guests that reached HLT ${halted}`);
  });

  it('PIT interrupts around exits under blocking by STI and MOV SS: taken at the same instruction, the same VMCS after every exit', () => {
    const image = fs.readFileSync(path.join(root, 'test/fixtures/vmx/irq-shadow64.bin'));
    const fast: number[][] = [], slow: number[][] = [];
    const f = runGuest(image, 'long', undefined, false, fast);
    const s = runGuest(image, 'long', undefined, true, slow);
    assert.equal(f.kind, 'halt');
    assert.ok(f.inPlace >= 9000, `the loop's 9000 OUTs to port 0x80 were handled in place (${f.inPlace})`);
    const interrupts = f.byReason[1];
    assert.ok(interrupts >= 50, `external-interrupt exits: ${interrupts}`);
    assert.equal(fast.length, slow.length);
    for (let k = 0; k < fast.length; k++) assert.deepEqual(fast[k], slow[k], `VMCS after exit ${k + 1}`);
    const { inPlace: _a, ...fo } = f;
    const { inPlace: _b, ...so } = s;
    assert.deepEqual(fo, so);
    // the guest's handler ran for each of them, but one that arrives after the loop's final CLI stays
    // pending in the monitor (it waits for an interrupt window that never opens)
    const ticks = parseInt(f.serial.split('\n')[0], 16);
    assert.ok(ticks === interrupts || ticks === interrupts - 1, `the guest counted ${ticks} interrupts for ${interrupts} exits`);
  });

  it('the guests did what they were meant to', () => {
    assert.match(runGuest(postLoop, 'long', kvm2017, false).serial, /post-loop: done/);
    assert.equal(runGuest(repOutsb, 'long', undefined, false).serial, 'hello');
    assert.equal(runGuest(cpuidAndIo, 'protected', undefined, false).serial, 'A');
  });
});
