import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Machine } from '../../src/machine/machine';
import { loadImage } from '../../src/machine/loaders';
import type { CpuMode } from '../../src/machine/loaders/loadPlan';
import { Monitor, MonitorConfigError, MonitorError, dumpVmcs, parseMonitorConfig, traceLine, type ExitEvent } from '../../src/machine/monitor';
import { deriveControls, newRequest, requireControl, preferControl } from '../../src/machine/monitor/controls';
import { controlMask } from '../../src/cpu/vmx/spec';
import { slotOf } from '../../src/cpu/vmx/vmcs';

/** The built-in monitor (src/machine/monitor): configuration, control derivation, exits, stops. */

const root = path.resolve(__dirname, '../../..');
const postLoop = fs.readFileSync(path.join(root, 'samples/post-loop/post-loop-1000.bin'));
const config = (name: string) => parseMonitorConfig(JSON.parse(fs.readFileSync(path.join(root, 'samples/post-loop', name), 'utf8')));

function boot(image: Uint8Array, mode: CpuMode, vmxModel?: string) {
  let serial = '';
  const m = new Machine({ ramMiB: 64, vmxModel, onSerial: (b) => { serial += Buffer.from(b).toString('latin1'); } });
  m.load(loadImage(image, { format: 'flat', mode, ramBytes: m.ramBytes }));
  return { m, serial: () => serial };
}

describe('built-in monitor', () => {
  describe('configuration', () => {
    it('names the bad key', () => {
      assert.throws(() => parseMonitorConfig({ io: { exiting: 'sometimes' } }), (e: Error) => e instanceof MonitorConfigError && /^io\.exiting:/.test(e.message));
      assert.throws(() => parseMonitorConfig({ controls: { required: ['CPU_BASED_HLT_EXITING', 'NO_SUCH'] } }), /controls\.required\[1\]: "NO_SUCH" is not a VMX control name/);
      assert.throws(() => parseMonitorConfig({ bogus: 1 }), /bogus: unknown key/);
      assert.throws(() => parseMonitorConfig({ io: { exitPorts: ['0x90-0x80'] } }), /io\.exitPorts\[0\]: range/);
      assert.throws(() => parseMonitorConfig({ cpuid: [{ eax: 1 }] }), /cpuid\[0\]\.leaf: is required/);
      assert.throws(() => parseMonitorConfig({ stopOn: ['NOPE'] }), /stopOn\[0\]/);
    });

    it('reads ports, ranges, MSRs, exceptions and exit-reason names', () => {
      const c = parseMonitorConfig({ io: { exitPorts: [0x80, '0x3f8-0x3ff'] }, msrs: { exit: ['0x10'] }, exceptionBitmap: [6, 13], stopOn: ['CPUID', 30] });
      assert.equal(c.ioExiting, 'bitmap');
      assert.deepEqual(c.exitPorts, [{ first: 0x80, last: 0x80 }, { first: 0x3F8, last: 0x3FF }]);
      assert.deepEqual(c.exitMsrs, [{ first: 0x10, last: 0x10 }]);
      assert.equal(c.exceptionBitmap, (1 << 6) | (1 << 13));
      assert.deepEqual(c.stopOn, [10, 30]);
    });
  });

  describe('control derivation (adjust_vmx_controls)', () => {
    const msrs = (m: Machine) => (i: number) => m.vmx!.caps.msrs.get(i);

    it('sets required and allowed optional bits plus the bits the CPU forces, and reports dropped ones', () => {
      const { m } = boot(postLoop, 'long', 'core2-no-ug');
      const req = newRequest();
      requireControl(req, 'CPU_BASED_HLT_EXITING');
      preferControl(req, 'VM_EXIT_SAVE_IA32_EFER'); // core2 has no EFER switching
      const d = deriveControls(req, msrs(m), 'core2-no-ug');
      assert.ok(d.values.proc1 & controlMask('CPU_BASED_HLT_EXITING'));
      assert.ok(d.values.proc1 & controlMask('CPU_BASED_CR3_LOAD_EXITING'), 'default1 bit forced without TRUE MSRs');
      assert.deepEqual(d.dropped, ['VM_EXIT_SAVE_IA32_EFER']);
    });

    it('fails naming a required bit the model does not allow', () => {
      const { m } = boot(postLoop, 'long', 'core2-no-ug');
      const req = newRequest();
      requireControl(req, 'PIN_BASED_VMX_PREEMPTION_TIMER');
      assert.throws(() => deriveControls(req, msrs(m), 'core2-no-ug'), /PIN_BASED_VMX_PREEMPTION_TIMER is not supported by CPU model 'core2-no-ug' \(IA32_VMX_PINBASED_CTLS allowed-1 bit 6 is 0\)/);
    });
  });

  describe('running a guest', () => {
    it('replays KVM before 2017: port 0x80 passed through, only COM1 exits', () => {
      const { m, serial } = boot(postLoop, 'long');
      const mon = new Monitor(m, { config: config('kvm-2016.json') });
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const out = m.run(1e8);
      assert.equal(out.kind, 'halt', out.detail);
      assert.equal(serial(), 'post-loop: writing POST codes to port 0x80\r\npost-loop: done\r\n');
      assert.equal(mon.exitsByPort[0x80], 0);
      assert.ok(mon.exitsByPort[0x3F8] > 30);
      assert.equal(mon.exitsByReason[12], 1, 'the final HLT');
    });

    it('replays KVM since CVE-2017-1000407: unconditional I/O exiting, every OUT 0x80 exits', () => {
      const { m, serial } = boot(postLoop, 'long');
      const events: string[] = [];
      const mon = new Monitor(m, { config: config('kvm-cve-2017.json'), onExit: (e: ExitEvent) => { if (events.length < 3) events.push(traceLine(e.index, e.reason, e.qualification, e.guestRip, e.intrInfo)); } });
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      assert.equal(m.run(1e8).kind, 'halt');
      assert.match(serial(), /post-loop: done/);
      assert.equal(mon.exitsByPort[0x80], 1000);
      assert.equal(mon.exitsByReason[30], mon.totalExits - 1);
      assert.match(events[0], /^vmexit #1 rip=0x10[0-9a-f]+ EXIT_REASON_IO_INSTRUCTION \(30\): in al, dx \(port 0x03FD, 1 byte\)/);
    });

    it('REP OUTSB/INSB: RSI/RDI and RCX move by the whole batch at the address size, also above 4 GiB and across a wrap', () => {
      const run = (code: number[]) => {
        const { m, serial } = boot(Uint8Array.from([...code, 0xFA, 0xF4]), 'long'); // ...; cli; hlt
        const mon = new Monitor(m);
        m.vmm = mon;
        assert.equal(mon.launch(), null);
        assert.equal(m.run(1e6).kind, 'halt');
        assert.equal(mon.exitsByPort[0x3F8], 1, 'one exit for the whole REP');
        const reg = (r: number) => (BigInt(m.cpu.rh[r] >>> 0) << 32n) | BigInt(m.cpu.r[r] >>> 0);
        return { rsi: reg(6), rdi: reg(7), rcx: reg(1), sent: serial().length };
      };
      const movabs = (r: number, v: bigint) => [0x48, 0xB8 + r, ...Array.from({ length: 8 }, (_, k) => Number((v >> BigInt(8 * k)) & 0xFFn))];
      const dx3f8 = [0x66, 0xBA, 0xF8, 0x03];
      // 64-bit addresses: mov rsi, 0x1_0000_0000 ; mov rcx, 3 ; mov dx, 0x3F8 ; rep outsb
      let r = run([...movabs(6, 0x100000000n), ...movabs(1, 3n), ...dx3f8, 0xF3, 0x6E]);
      assert.deepEqual([r.rsi, r.rcx, r.sent], [0x100000003n, 0n, 3]);
      // the same with DF = 1 (std): RSI goes down
      r = run([...movabs(6, 0x100000001n), ...movabs(1, 2n), ...dx3f8, 0xFD, 0xF3, 0x6E, 0xFC]);
      assert.deepEqual([r.rsi, r.rcx], [0xFFFFFFFFn, 0n]);
      // 32-bit address size (67h) wraps ESI past 0xFFFFFFFF and zero-extends RSI and RCX
      r = run([...movabs(6, 0xDEAD_FFFFFFFEn), ...movabs(1, 0x1_00000003n), ...dx3f8, 0x67, 0xF3, 0x6E]);
      assert.deepEqual([r.rsi, r.rcx], [1n, 0n]);
      // INSB: RDI
      r = run([...movabs(7, 0x200000n), ...movabs(1, 4n), ...dx3f8, 0xF3, 0x6C]);
      assert.deepEqual([r.rdi, r.rcx], [0x200004n, 0n]);
    });

    it('answers CPUID from its table and hides VMX', () => {
      // mov eax,1; cpuid; mov r8d,ecx; xor eax,eax; cpuid; cli; hlt
      const code = Uint8Array.from([0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0x41, 0x89, 0xC8, 0x31, 0xC0, 0x0F, 0xA2, 0xFA, 0xF4]);
      const { m } = boot(code, 'long');
      const mon = new Monitor(m, { config: parseMonitorConfig({ cpuid: [{ leaf: 0, eax: 1, ebx: 0x64636261, ecx: 0x6C6B6A69, edx: 0x68676665 }] }) });
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      assert.equal(m.run(1e6).kind, 'halt');
      assert.equal(m.cpu.r[8] & (1 << 5), 0, 'CPUID.1:ECX.VMX hidden from the guest');
      assert.equal(m.cpu.r[3] >>> 0, 0x64636261);
      assert.equal(mon.exitsByReason[10], 2);
    });

    it('handles XSETBV (exit 55) like KVM: a valid XCR0 is taken and the guest continues, an invalid one is #GP(0) in the guest', () => {
      const img = new Uint8Array(0x200);
      img.set([
        0x0F, 0x01, 0x1C, 0x25, 0x40, 0x00, 0x10, 0x00, // lidt [0x100040]
        0x0F, 0x20, 0xE0, 0x48, 0x0F, 0xBA, 0xE8, 18, 0x0F, 0x22, 0xE0, // mov rax, cr4 ; bts rax, 18 ; mov cr4, rax
        0xB8, 1, 0, 0, 0, 0x31, 0xC9, 0x31, 0xD2, 0x0F, 0x01, 0xD1, // mov eax, 1 ; xor ecx, ecx ; xor edx, edx ; xsetbv
        0x0F, 0x01, 0xD0, 0x41, 0x89, 0xC0, // xgetbv ; mov r8d, eax
        0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0x41, 0x89, 0xC9, // mov eax, 1 ; cpuid ; mov r9d, ecx
        0xB8, 3, 0, 0, 0, 0x0F, 0x01, 0xD1, 0xF4, // mov eax, 3 (SSE: unsupported) ; xsetbv ; hlt (not reached)
      ]);
      img.set([0xFF, 0x0F, 0x00, 0x01, 0x10, 0, 0, 0, 0, 0], 0x40); // IDTR: limit 0xFFF, base 0x100100
      img.set([0x41, 0xBA, 0xAD, 0xDE, 0, 0, 0x41, 0x5B, 0xFA, 0xF4], 0x80); // #GP: mov r10d, 0xDEAD ; pop r11 ; cli ; hlt
      img.set([0x80, 0x00, 0x18, 0x00, 0x00, 0x8E, 0x10, 0x00], 0x100 + 13 * 16); // vector 13: 64-bit interrupt gate, CS 0x18
      const { m } = boot(img, 'long');
      const mon = new Monitor(m);
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const out = m.run(1e6);
      assert.equal(out.kind, 'halt', out.detail);
      assert.equal(m.cpu.r[8], 1, 'the guest reads back XCR0 = 1 after the valid XSETBV');
      assert.ok(m.cpu.r[9] & (1 << 27), 'CPUID.1:ECX.OSXSAVE follows the CR4 the guest set');
      assert.equal(m.cpu.r[10], 0xDEAD, 'the invalid XSETBV raised #GP in the guest');
      assert.equal(m.cpu.r[11], 0, 'error code 0');
      assert.equal(mon.exitsByReason[55], 2);
      assert.equal(m.cpu.xcr0, 1);
    });

    it('stops on a triple fault with the reason', () => {
      // lidt [zero-limit IDT] ; int3 -> #GP... -> triple fault
      const code = Uint8Array.from([0x0F, 0x01, 0x1C, 0x25, 0x10, 0x00, 0x10, 0x00, 0xCC, 0xF4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const { m } = boot(code, 'long');
      const mon = new Monitor(m);
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const out = m.run(1e6);
      assert.equal(out.kind, 'shutdown');
      assert.match(out.detail, /triple fault \(VM exit 2/);
    });

    it('a real-mode guest needs unrestricted guest and EPT: the message names what the model lacks', () => {
      const { m } = boot(postLoop, 'real', 'core2-no-ug');
      assert.throws(() => new Monitor(m), (e: Error) => e instanceof MonitorError && /SECONDARY_EXEC_UNRESTRICTED_GUEST and SECONDARY_EXEC_ENABLE_EPT/.test(e.message));
    });

    it('a required control the model refuses fails before launch', () => {
      const { m } = boot(postLoop, 'long', 'core2-no-ug');
      assert.throws(() => new Monitor(m, { config: parseMonitorConfig({ controls: { required: ['SECONDARY_EXEC_ENABLE_RDTSCP'] } }) }), /SECONDARY_EXEC_ENABLE_RDTSCP is not supported by CPU model 'core2-no-ug'/);
    });

    it('dumps the VMCS with revision id, size and the five control vectors', () => {
      const { m } = boot(postLoop, 'long');
      const mon = new Monitor(m);
      m.vmm = mon;
      mon.launch();
      m.run(1e6);
      const text = dumpVmcs(mon.vmx, mon.vmcsSize);
      assert.match(text, /^VMCS revision id 0x[0-9a-f]+, VMCS region size 4096 bytes/);
      for (const t of ['Pin-based VM-execution controls', 'Primary processor-based', 'Secondary processor-based', 'Primary VM-exit controls', 'VM-entry controls', 'Guest-state area:', 'Host-state area:', 'VM-exit information fields:']) {
        assert.ok(text.includes(t), t);
      }
      assert.match(text, /CPU_BASED_UNCOND_IO_EXITING/);
      assert.match(text, /VM_EXIT_REASON\s+0xc \(EXIT_REASON_HLT \(12\)\)/);
    });

    it('a configuration that requires "use TPR shadow" gets a virtual-APIC page: the guest\'s CR8 lives there', () => {
      // mov rax, 5 ; mov cr8, rax ; mov rbx, cr8 ; cli ; hlt
      const code = Uint8Array.from([0x48, 0xC7, 0xC0, 5, 0, 0, 0, 0x44, 0x0F, 0x22, 0xC0, 0x44, 0x0F, 0x20, 0xC3, 0xFA, 0xF4]);
      const { m } = boot(code, 'long');
      const mon = new Monitor(m, { config: parseMonitorConfig({ controls: { required: ['CPU_BASED_TPR_SHADOW'] } }) });
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const d = mon.vmx.vmcs;
      const page = d.num(slotOf('VIRTUAL_APIC_PAGE_ADDR'));
      assert.ok(page >= mon.base && page < mon.base + 0x20000 && page % 4096 === 0, `page 0x${page.toString(16)} in the monitor's area`);
      assert.equal(m.run(1e6).kind, 'halt');
      assert.equal(m.cpu.r[3], 5, 'MOV from CR8 reads the virtual TPR back');
      assert.equal(m.cpu.physRead(page + 0x80, 4), 0x50, 'VTPR[7:4] = 5');
      assert.equal(mon.exitsByReason[43], 0, 'threshold 0: no TPR-below-threshold exit');
    });

    it('leaves the monitor trap flag off although the default model allows it (KVM does not ask for it)', () => {
      const { m } = boot(postLoop, 'long');
      const mon = new Monitor(m);
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const mtf = controlMask('CPU_BASED_MONITOR_TRAP_FLAG');
      assert.equal(mon.vmx.caps.proc1.may1 & mtf, mtf, 'the model allows it');
      assert.equal(mon.vmx.vmcs.i32(slotOf('CPU_BASED_VM_EXEC_CONTROL')) & mtf, 0);
      assert.equal(m.cpu.mtf, false);
    });

    it('leaves VMCS shadowing off although the default model allows it (the link pointer stays all ones)', () => {
      const { m } = boot(postLoop, 'long');
      const mon = new Monitor(m);
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const shadow = controlMask('SECONDARY_EXEC_SHADOW_VMCS');
      assert.equal(mon.vmx.caps.proc2.may1 & shadow, shadow, 'the model allows it');
      assert.equal(mon.controls.values.proc2 & shadow, 0);
      assert.equal(mon.vmx.vmcs.i32(slotOf('SECONDARY_VM_EXEC_CONTROL')) & shadow, 0);
      assert.equal(mon.vmx.vmcs.big(slotOf('VMCS_LINK_POINTER')), 0xFFFFFFFFFFFFFFFFn);
    });

    it('a configuration that requires the monitor trap flag gets an MTF VM exit after the first guest instruction', () => {
      // mov eax, 1 ; cpuid ; hlt
      const { m } = boot(Uint8Array.from([0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0xF4]), 'long');
      const mon = new Monitor(m, { config: parseMonitorConfig({ controls: { required: ['CPU_BASED_MONITOR_TRAP_FLAG'] } }) });
      m.vmm = mon;
      assert.equal(mon.launch(), null);
      const start = mon.vmx.vmcs.num(slotOf('GUEST_RIP'));
      const out = m.run(1e6);
      assert.equal(out.kind, 'stop');
      assert.match(out.detail, /monitor trap flag|MONITOR_TRAP_FLAG/i);
      assert.equal(mon.exitsByReason[37], 1);
      assert.equal(mon.vmx.vmcs.num(slotOf('GUEST_RIP')), start + 5, 'after exactly one instruction');
      assert.equal(m.cpu.r[0], 1);
    });
  });
});
