import { strict as assert } from 'assert';
import { Cpu } from '../../../src/cpu/cpu';
import * as K from '../../../src/cpu/constants';
import { attachVmx } from '../../../src/cpu/vmx/attach';
import { SimpleBus, RecordingPorts } from '../../support/simpleBus';
import { asm, GUEST_CODE, GUEST_STACK, HOST_EXIT, SCRATCH, VMCS_A, VMCS_B, VMXON_REGION, VmxHost, enc } from './harness';

describe('VMX: capability model', () => {
  it('reports CPUID.1:ECX.VMX only with VMX attached', () => {
    const cpu = new Cpu(new SimpleBus(), new RecordingPorts());
    assert.equal(cpu.cpuid.query(1, 0, cpu)[2] & 0x20, 0);
    attachVmx(cpu);
    assert.equal(cpu.cpuid.query(1, 0, cpu)[2] & 0x20, 0x20);
  });

  it('default model MSRs', () => {
    const h = new VmxHost();
    const m = h.cpu.msrs;
    const basic = m.read(0x480);
    assert.equal(Number(basic & 0x7FFFFFFFn), 0x12);
    assert.equal((basic >> 32n) & 0x1FFFn, 4096n);
    assert.equal((basic >> 50n) & 0xFn, 6n);
    assert.equal((basic >> 54n) & 3n, 3n, 'INS/OUTS info and TRUE controls');
    assert.equal(m.read(0x481) & 0xFFFFFFFFn, 0x16n, 'pin default1');
    assert.equal(m.read(0x482) & 0xFFFFFFFFn, 0x0401E172n, 'proc default1');
    assert.equal(m.read(0x48E) & 0xFFFFFFFFn, 0x04006172n, 'TRUE proc: CR3 exiting may be 0');
    // allowed-1 bit 27: the monitor trap flag, in both the plain and the TRUE MSR
    assert.equal((m.read(0x482) >> 59n) & 1n, 1n, 'monitor trap flag may be 1');
    assert.equal((m.read(0x48E) >> 59n) & 1n, 1n, 'TRUE: monitor trap flag may be 1');
    // allowed-1 bit 21: use TPR shadow (CR8 accesses and TPR virtualization, tprShadow.test.ts)
    assert.equal((m.read(0x482) >> 53n) & 1n, 1n, 'use TPR shadow may be 1');
    assert.equal((m.read(0x48E) >> 53n) & 1n, 1n, 'TRUE: use TPR shadow may be 1');
    assert.equal(m.read(0x48F) & 0xFFFFFFFFn, 0x00036DFBn);
    assert.equal(m.read(0x490) & 0xFFFFFFFFn, 0x000011FBn);
    const misc = m.read(0x485);
    assert.equal(misc & 0x1Fn, 5n);
    assert.equal((misc >> 16n) & 0x1FFn, 4n, 'CR3 targets');
    assert.equal((misc >> 29n) & 1n, 1n, 'VMWRITE to exit information');
    assert.equal(m.read(0x486), 0x80000021n);
    assert.equal(m.read(0x488), 0x2000n);
    // secondary: virtualize APIC accesses (bit 32), EPT (33), unrestricted guest (39), VPID (37) and VMCS shadowing (46)
    const p2 = m.read(0x48B);
    assert.equal(p2, 0x000064EF00000000n, 'IA32_VMX_PROCBASED_CTLS2');
    assert.equal((p2 >> 32n) & 1n, 1n, 'virtualize APIC accesses may be 1');
    assert.equal((p2 >> 46n) & 1n, 1n, 'VMCS shadowing may be 1');
    assert.equal((p2 >> 33n) & 1n, 1n);
    assert.equal((p2 >> 39n) & 1n, 1n);
    assert.equal((p2 >> 37n) & 1n, 1n);
    const cap = m.read(0x48C);
    // execute-only, 4-level walk, WB, 2 MiB and 1 GiB pages, INVEPT, A/D, single- and all-context INVEPT
    assert.equal(cap & 0xFFFFFFFFn, 0x06334041n, 'EPT capabilities');
    assert.equal(cap >> 32n, 0xF01n, 'INVVPID with all types');
    assert.throws(() => m.write(0x480, 0n));
    // "enable VM functions" (secondary bit 13, MSR bit 45) with EPTP switching only
    assert.equal((p2 >> 45n) & 1n, 1n);
    assert.equal(m.read(0x491), 1n, 'IA32_VMX_VMFUNC: VM function 0 (EPTP switching)');
  });

  it('core2-no-ug model: no secondary controls, no TRUE MSRs', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    const m = h.cpu.msrs;
    assert.equal((m.read(0x480) >> 55n) & 1n, 0n);
    assert.equal((m.read(0x482) >> 63n) & 1n, 0n);
    assert.equal((m.read(0x482) >> 59n) & 1n, 0n, 'no monitor trap flag');
    assert.equal((m.read(0x482) >> 53n) & 1n, 0n, 'no TPR shadow');
    assert.ok(!m.exists(0x48B));
    assert.ok(!m.exists(0x48D));
    assert.ok(!m.exists(0x48C));
    assert.ok(!m.exists(0x491), 'no IA32_VMX_VMFUNC without enable VM functions');
  });

  it('CR4.VMXE can be set only with VMX attached', () => {
    const h = new VmxHost();
    assert.ok(h.cpu.cr4 & K.CR4_VMXE);
  });
});

describe('VMX: VMXON and VMCS handling', () => {
  it('VMXON #GP without IA32_FEATURE_CONTROL lock', () => {
    const h = new VmxHost({ noFeatureControl: true });
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.exception, K.EXC_GP);
  });

  it('VMXON #UD with CR4.VMXE = 0', () => {
    const h = new VmxHost();
    h.cpu.cr4 &= ~K.CR4_VMXE;
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.exception, K.EXC_UD);
  });

  it('VMXON: bad pointer / revision -> VMfailInvalid; twice -> VMfailInvalid (no current VMCS)', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(VMXON_REGION + 8));
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.outcome(), 'failInvalid');
    h.revision(VMXON_REGION, 0x99);
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.outcome(), 'failInvalid');
    h.revision(VMXON_REGION);
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.outcome(), 'succeed');
    assert.ok(h.v.inVmx);
    h.run(asm.vmxon(SCRATCH));
    assert.equal(h.outcome(), 'failInvalid');
  });

  it('VMX instructions #UD outside VMX operation', () => {
    for (const code of [asm.vmxoff, asm.vmlaunch, asm.vmcall, asm.vmclear(SCRATCH), asm.vmptrld(SCRATCH), asm.vmreadRdxRax]) {
      const h = new VmxHost();
      h.run(code);
      assert.equal(h.exception, K.EXC_UD);
    }
  });

  it('VMX instructions #GP(0) at CPL 3', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.run(asm.vmxon(SCRATCH));
    // user-accessible identity map so ring-3 code can run
    for (const a of [0x100000, 0x101000]) h.cpu.physWrite(a, 4, h.cpu.physRead(a, 4) | 4);
    for (let k = 0; k < 512; k++) h.cpu.physWrite(0x102000 + k * 8, 4, h.cpu.physRead(0x102000 + k * 8, 4) | 4);
    h.cpu.flushTlb(true);
    h.cpu.segAr[K.SEG_SS] |= 3 << K.AR_DPL_SHIFT;
    h.cpu.segAr[K.SEG_CS] |= 3 << K.AR_DPL_SHIFT;
    h.cpu.updateMode();
    h.run(asm.vmxoff);
    assert.equal(h.exception, K.EXC_GP);
  });

  it('VMCLEAR / VMPTRLD errors 2, 3, 9, 10, 11 and VMfailInvalid without a current VMCS', () => {
    const h = new VmxHost();
    const ptr = (v: number) => h.poke64(SCRATCH + 16, BigInt(v));
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.poke64(SCRATCH + 8, BigInt(VMCS_A));
    h.run(asm.vmxon(SCRATCH));
    ptr(VMCS_B + 4);
    h.run(asm.vmclear(SCRATCH + 16));
    assert.equal(h.outcome(), 'failInvalid', 'no current VMCS: VMfailInvalid');
    h.run(asm.vmptrld(SCRATCH + 8));
    assert.equal(h.outcome(), 'succeed');
    h.run(asm.vmclear(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(2)');
    ptr(2 ** 40);
    h.run(asm.vmclear(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(2)', 'beyond MAXPHYADDR');
    ptr(VMXON_REGION);
    h.run(asm.vmclear(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(3)');
    ptr(VMCS_B + 0x10);
    h.run(asm.vmptrld(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(9)');
    ptr(VMXON_REGION);
    h.run(asm.vmptrld(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(10)');
    h.revision(VMCS_B, 0x13);
    ptr(VMCS_B);
    h.run(asm.vmptrld(SCRATCH + 16));
    assert.equal(h.outcome(), 'failValid(11)');
    // the default model supports VMCS shadowing: a shadow VMCS may become current (VM entry refuses it)
    h.revision(VMCS_B, (0x12 | 0x80000000) | 0);
    h.run(asm.vmptrld(SCRATCH + 16));
    assert.equal(h.outcome(), 'succeed', 'shadow-VMCS indicator with VMCS shadowing');
    assert.equal(h.v.current, VMCS_B);
    // without "VMCS shadowing" support the indicator makes the revision incorrect (SDM VMPTRLD)
    const g = new VmxHost({ model: 'core2-no-ug' });
    g.poke64(SCRATCH, BigInt(VMXON_REGION));
    g.poke64(SCRATCH + 8, BigInt(VMCS_A));
    g.poke64(SCRATCH + 16, BigInt(VMCS_B));
    g.revision(VMCS_B, (0x0D | 0x80000000) | 0);
    g.run([...asm.vmxon(SCRATCH), ...asm.vmptrld(SCRATCH + 8), ...asm.vmptrld(SCRATCH + 16)]);
    assert.equal(g.outcome(), 'failValid(11)', 'shadow-VMCS indicator without VMCS shadowing');
    assert.equal(g.v.current, VMCS_A);
  });

  it('VMPTRST stores the current pointer (all ones when none)', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.poke64(SCRATCH + 8, BigInt(VMCS_A));
    h.run([...asm.vmxon(SCRATCH), ...asm.vmptrst(SCRATCH + 24)]);
    assert.equal(h.peek32(SCRATCH + 24), 0xFFFFFFFF);
    assert.equal(h.peek32(SCRATCH + 28), 0xFFFFFFFF);
    h.run([...asm.vmptrld(SCRATCH + 8), ...asm.vmptrst(SCRATCH + 24)]);
    assert.equal(h.outcome(), 'succeed');
    assert.equal(h.peek32(SCRATCH + 24), VMCS_A);
  });

  it('VMREAD/VMWRITE: widths, HIGH access, memory operands, errors 12 and 13', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.poke64(SCRATCH + 8, BigInt(VMCS_A));
    h.run([...asm.vmxon(SCRATCH), ...asm.vmptrld(SCRATCH + 8)]);
    const write = (e: number, v: bigint) => h.run([...asm.movRaxImm(BigInt(e)), ...asm.movRdxImm(v), ...asm.vmwriteRaxRdx]);
    const read = (e: number) => { h.run([...asm.movRaxImm(BigInt(e)), ...asm.movRdxImm(0x5555n), ...asm.vmreadRdxRax]); return h.cpu.rh[2] * 2 ** 32 + (h.cpu.r[2] >>> 0); };
    write(enc('GUEST_ES_SELECTOR'), 0x123456789n);
    assert.equal(h.outcome(), 'succeed');
    assert.equal(read(enc('GUEST_ES_SELECTOR')), 0x6789, '16-bit field keeps 16 bits, zero-extended');
    write(enc('TSC_OFFSET'), 0x1122334455667788n);
    assert.equal(read(enc('TSC_OFFSET') | 1), 0x11223344, 'HIGH access reads bits 63:32');
    write(enc('TSC_OFFSET') | 1, 0xAABBCCDDn);
    assert.equal(BigInt.asUintN(64, h.field('TSC_OFFSET')), 0xAABBCCDD55667788n, 'HIGH write keeps the low half');
    write(enc('GUEST_RIP') | 1, 0n);
    assert.equal(h.outcome(), 'failValid(12)', 'HIGH access of a natural-width field');
    write(0x1234, 0n);
    assert.equal(h.outcome(), 'failValid(12)', 'no such field');
    write(enc('GUEST_RIP') + 2 ** 32, 0n);
    assert.equal(h.outcome(), 'failValid(12)', 'bits 63:32 of the encoding set');
    write(enc('EPT_POINTER'), 0n);
    assert.equal(h.outcome(), 'succeed', 'EPT is supported by the default model');
    write(enc('EPTP_LIST_ADDRESS'), 0x4C000n);
    assert.equal(h.outcome(), 'succeed', 'EPTP switching is supported by the default model');
    assert.equal(read(enc('EPTP_LIST_ADDRESS')), 0x4C000);
    write(enc('VM_FUNCTION_CONTROL'), 1n);
    assert.equal(h.outcome(), 'succeed');
    assert.equal(read(enc('VM_FUNCTION_CONTROL')), 1);
    write(enc('EPTP_INDEX'), 0n);
    assert.equal(h.outcome(), 'failValid(12)', 'EPTP_INDEX exists only with "EPT-violation #VE", which no model reports');
    write(enc('VM_EXIT_REASON'), 5n);
    assert.equal(h.outcome(), 'succeed', 'IA32_VMX_MISC[29] = 1 on the default model');
    // memory operands
    h.poke64(SCRATCH + 32, 0xFEEDn);
    h.run([...asm.movRaxImm(BigInt(enc('GUEST_RSP'))), ...asm.vmwriteMem(SCRATCH + 32)]);
    assert.equal(h.field('GUEST_RSP'), 0xFEEDn);
    h.run([...asm.movRaxImm(BigInt(enc('GUEST_RSP'))), ...asm.vmreadMem(SCRATCH + 40)]);
    assert.equal(h.peek32(SCRATCH + 40), 0xFEED);
  });

  it('VMWRITE to an exit-information field: error 13 on core2-no-ug', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.poke64(SCRATCH + 8, BigInt(VMCS_A));
    h.run([...asm.vmxon(SCRATCH), ...asm.vmptrld(SCRATCH + 8), ...asm.movRaxImm(BigInt(enc('EXIT_QUALIFICATION'))), ...asm.vmwriteRaxRdx]);
    assert.equal(h.outcome(), 'failValid(13)');
  });

  it('VMCLEAR writes the data back; VMPTRLD of another VMCS switches; launch state per VMCS', () => {
    const h = new VmxHost();
    h.guest([0x0F, 0xA2]); // cpuid: exits
    h.launch();
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 10);
    // VMLAUNCH again: launched -> error 4; VMRESUME works
    h.run(asm.vmlaunch);
    assert.equal(h.outcome(), 'failValid(4)');
    h.run(asm.vmresume);
    assert.ok(h.atHostExit());
    // switch to VMCS B (never launched): VMRESUME -> error 5
    h.poke64(SCRATCH + 16, BigInt(VMCS_B));
    h.run([...asm.vmclear(SCRATCH + 16), ...asm.vmptrld(SCRATCH + 16), ...asm.vmresume]);
    assert.equal(h.outcome(), 'failValid(5)');
    // VMCS A was written back when B became current
    assert.equal(h.cpu.physRead(VMCS_A + 8, 4), 1, 'launch state in memory: launched');
    // back to A: its fields come from memory
    h.run([...asm.vmptrld(SCRATCH + 8), ...asm.vmresume]);
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 10);
    // VMCLEAR of A -> launch state clear -> VMRESUME error 5 after reloading
    h.run([...asm.vmclear(SCRATCH + 8), ...asm.vmresume]);
    assert.equal(h.outcome(), 'failInvalid', 'VMCLEAR of the current VMCS leaves no current VMCS');
    h.run([...asm.vmptrld(SCRATCH + 8), ...asm.vmresume]);
    assert.equal(h.outcome(), 'failValid(5)');
  });

  it('VMRESUME after VMXOFF/VMXON: error 6', () => {
    const h = new VmxHost();
    h.guest([0x0F, 0xA2]);
    h.launch();
    h.run([...asm.vmxoff, ...asm.vmxon(SCRATCH), ...asm.vmptrld(SCRATCH + 8), ...asm.vmresume]);
    assert.equal(h.outcome(), 'failValid(6)');
  });

  it('VMCALL in root operation: VMfailValid(1); VMLAUNCH after MOV SS: error 26', () => {
    const h = new VmxHost();
    h.poke64(SCRATCH, BigInt(VMXON_REGION));
    h.poke64(SCRATCH + 8, BigInt(VMCS_A));
    h.run([...asm.vmxon(SCRATCH), ...asm.vmcall]);
    assert.equal(h.outcome(), 'failInvalid');
    h.run([...asm.vmptrld(SCRATCH + 8), ...asm.vmcall]);
    assert.equal(h.outcome(), 'failValid(1)');
    // a flat data descriptor at GDT[2] (GDTR base 0) for the SS reload; mov eax, ss ; mov ss, eax ; vmlaunch
    h.poke64(0x10, 0x00CF93000000FFFFn);
    h.run([0x8C, 0xD0, 0x8E, 0xD0, ...asm.vmlaunch]);
    assert.equal(h.exception, undefined);
    assert.equal(h.outcome(), 'failValid(26)');
  });

  it('launches a guest that runs and exits on CPUID with the exact exit information', () => {
    const h = new VmxHost();
    h.guest([0x48, 0xC7, 0xC0, 0x07, 0x00, 0x00, 0x00, 0x0F, 0xA2]); // mov rax, 7 ; cpuid
    h.launch();
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 7));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(h.field('GUEST_RSP'), BigInt(GUEST_STACK));
    assert.equal(h.cpu.r[0], 7, 'guest RAX survives the exit');
    assert.equal(h.cpu.rip, HOST_EXIT + 1);
    assert.equal(h.cpu.r[4], 0x2F000, 'host RSP');
    assert.equal(h.cpu.getFlags(), 2, 'RFLAGS after exit');
  });
});
