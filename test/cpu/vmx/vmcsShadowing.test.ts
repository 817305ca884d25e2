/**
 * VMCS shadowing (SDM vol. 3C 25.10, 26.1.3, 25.6.15, VMREAD/VMWRITE and VMLAUNCH instruction
 * reference): guest VMREAD/VMWRITE that the bitmaps let through reach the shadow VMCS named by the
 * VMCS link pointer; the others exit as before.
 */
import { strict as assert } from 'assert';
import { VmxModelSpec, vmxModel } from '../../../src/cpu/vmx/capabilities';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { VMCS_OFF_DATA, slotOf } from '../../../src/cpu/vmx/vmcs';
import { Fields, GUEST_CODE, SCRATCH, VMCS_A, VMCS_B, VMXON_REGION, VmxHost, asm, enc, ring3Guest } from './harness';

const READ_BITMAP = 0x4D000;
const WRITE_BITMAP = 0x4E000;
/** The shadow VMCS: VMCS_B with the shadow-VMCS indicator set. */
const SHADOW = VMCS_B;
const CPUID = [0x0F, 0xA2];
const VMREAD_RDX_RAX = [0x0F, 0x78, 0xC2];
const VMWRITE_RAX_RDX = [0x0F, 0x79, 0xC2];
const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);

/** "VMCS shadowing" = 1 with the two bitmaps and this link pointer. */
function shadowing(f: Fields, link: bigint = BigInt(SHADOW)): void {
  or(f, 'CPU_BASED_VM_EXEC_CONTROL', ctl('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'));
  or(f, 'SECONDARY_VM_EXEC_CONTROL', ctl('SECONDARY_EXEC_SHADOW_VMCS'));
  f.set('VMREAD_BITMAP', BigInt(READ_BITMAP));
  f.set('VMWRITE_BITMAP', BigInt(WRITE_BITMAP));
  f.set('VMCS_LINK_POINTER', link);
}

/** Sets the bitmap bit of an encoding (bits 14:0): that access exits. */
function setBit(h: VmxHost, bitmap: number, encoding: number): void {
  const a = bitmap + (encoding >>> 3);
  h.cpu.physWrite(a, 1, h.cpu.physRead(a, 1) | (1 << (encoding & 7)));
}

/**
 * Host code: the fields into VMCS_A, then VMCLEAR/VMPTRLD of the shadow VMCS, VMWRITEs into it,
 * VMPTRLD of VMCS_A again and VMLAUNCH of `guest`. Expects the guest to end in a VM exit.
 */
function launchWithShadow(h: VmxHost, guest: number[], f: Fields, shadowFields: [string, bigint][], mutate: (f: Fields) => void = shadowing): void {
  h.revision(SHADOW, (h.v.caps.revisionId | 0x80000000) | 0);
  h.poke64(SCRATCH + 16, BigInt(SHADOW));
  mutate(f);
  const tail = [...asm.vmclear(SCRATCH + 16), ...asm.vmptrld(SCRATCH + 16)];
  for (const [name, value] of shadowFields) tail.push(...asm.movRaxImm(BigInt(enc(name))), ...asm.movRdxImm(value), ...asm.vmwriteRaxRdx);
  tail.push(...asm.vmptrld(SCRATCH + 8), ...asm.vmlaunch);
  h.guest(guest);
  h.launch(f, tail);
  assert.equal(h.exception, undefined, `host exception ${h.exception}`);
  assert.equal(h.v.lastEntryFailure, null, JSON.stringify(h.v.lastEntryFailure));
  assert.ok(h.atHostExit(), `expected a VM exit, CPU at 0x${h.cpu.rip.toString(16)} nonRoot=${h.cpu.nonRoot}`);
  assert.equal(h.v.current, VMCS_A);
}

/** A field of the shadow VMCS straight from its region (our layout, vmcs.ts). */
function shadowField(h: VmxHost, name: string): bigint {
  const p = SHADOW + VMCS_OFF_DATA + slotOf(name) * 8;
  return (BigInt(h.cpu.physRead(p + 4, 4) >>> 0) << 32n) | BigInt(h.cpu.physRead(p, 4) >>> 0);
}

function reg64(h: VmxHost, n: number): bigint {
  return (BigInt(h.cpu.rh[n] >>> 0) << 32n) | BigInt(h.cpu.r[n] >>> 0);
}

/** The guest's arithmetic flags at its VM exit: 'succeed', 'failInvalid', 'failValid'. */
function guestOutcome(h: VmxHost): string {
  const arith = Number(h.field('GUEST_RFLAGS')) & 0x8D5;
  return arith === 0 ? 'succeed' : arith === 1 ? 'failInvalid' : arith === 0x40 ? 'failValid' : `flags 0x${arith.toString(16)}`;
}

const movRax = (v: bigint) => asm.movRaxImm(v);
const movRdx = (v: bigint) => asm.movRdxImm(v);

describe('VMX: VMCS shadowing', () => {
  it('capability: IA32_VMX_PROCBASED_CTLS2[46] = 1, IA32_VMX_MISC[29] = 1; core2 has neither', () => {
    const h = new VmxHost();
    assert.equal((h.cpu.msrs.read(0x48B) >> 46n) & 1n, 1n);
    assert.equal((h.cpu.msrs.read(0x485) >> 29n) & 1n, 1n);
    assert.equal(h.v.caps.fieldSupported[slotOf('VMREAD_BITMAP')], 1);
    assert.equal(h.v.caps.fieldSupported[slotOf('VMWRITE_BITMAP')], 1);
    const g = new VmxHost({ model: 'core2-no-ug' });
    assert.ok(!g.cpu.msrs.exists(0x48B));
    assert.equal(g.v.caps.fieldSupported[slotOf('VMREAD_BITMAP')], 0);
    assert.equal(g.v.caps.fieldSupported[slotOf('VMWRITE_BITMAP')], 0);
  });

  it('host VMWRITE/VMREAD of the bitmap addresses succeed (default) and fail with error 12 (core2)', () => {
    for (const [model, expect] of [['default', 'succeed'], ['core2-no-ug', 'failValid(12)']] as const) {
      const h = new VmxHost({ model });
      const code = h.setupCode(new Map(), [...movRax(BigInt(enc('VMWRITE_BITMAP'))), ...movRdx(0x4E000n), ...asm.vmwriteRaxRdx]);
      h.run(code);
      assert.equal(h.outcome(), expect, model);
      if (model === 'default') {
        h.run([...movRdx(0n), ...asm.vmreadRdxRax]);
        assert.equal(h.outcome(), 'succeed');
        assert.equal(reg64(h, 2), 0x4E000n);
      }
    }
  });

  it('guest VMREAD with bitmap bit 0 reads the shadow VMCS (register and memory destinations, high access)', () => {
    const h = new VmxHost();
    const guest = [
      ...movRax(BigInt(enc('TSC_OFFSET'))), ...VMREAD_RDX_RAX, // rdx := shadow TSC_OFFSET
      0x48, 0x89, 0xD6, // mov rsi, rdx
      ...movRax(BigInt(enc('TSC_OFFSET') | 1)), ...VMREAD_RDX_RAX, // high half
      0x48, 0x89, 0xD7, // mov rdi, rdx
      ...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...asm.vmreadMem(SCRATCH + 0x100), // [SCRATCH+0x100] := shadow EXCEPTION_BITMAP
      ...movRax(BigInt(enc('GUEST_ES_SELECTOR'))), ...VMREAD_RDX_RAX,
      ...CPUID,
    ];
    h.poke64(SCRATCH + 0x100, 0xFFFFFFFFFFFFFFFFn);
    launchWithShadow(h, guest, h.validFields(), [['TSC_OFFSET', 0x1122334455667788n], ['EXCEPTION_BITMAP', 0xABCDn], ['GUEST_ES_SELECTOR', 0x7777n]]);
    assert.equal(h.exitReason(), 10, 'the guest ran to its CPUID');
    assert.equal(reg64(h, 6), 0x1122334455667788n);
    assert.equal(reg64(h, 7), 0x11223344n);
    assert.equal(h.cpu.physRead(SCRATCH + 0x100, 4) >>> 0, 0xABCD);
    assert.equal(h.cpu.physRead(SCRATCH + 0x104, 4) >>> 0, 0, '64-bit destination: high bits cleared');
    assert.equal(reg64(h, 2), 0x7777n);
    assert.equal(guestOutcome(h), 'succeed');
    // the current VMCS keeps its own values
    assert.equal(h.field('TSC_OFFSET'), 0n);
    assert.equal(h.field('EXCEPTION_BITMAP'), 0n);
    assert.equal(h.field('GUEST_ES_SELECTOR'), 0x10n);
  });

  it('guest VMREAD with the bitmap bit set exits (23) with the instruction information; memory form too', () => {
    const h = new VmxHost();
    setBit(h, READ_BITMAP, enc('EXCEPTION_BITMAP'));
    launchWithShadow(h, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...VMREAD_RDX_RAX, ...CPUID], h.validFields(), []);
    assert.equal(h.exitReason(), 23);
    assert.equal(h.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 3) | (2 << 7) | (1 << 10) | (0 << 28)));
    assert.equal(h.qualification(), 0n);
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 3n);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 10));
    // another encoding in the same bitmap byte still reads the shadow: the bit is per encoding
    const g = new VmxHost();
    setBit(g, READ_BITMAP, enc('EXCEPTION_BITMAP') + 2);
    launchWithShadow(g, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...VMREAD_RDX_RAX, ...CPUID], g.validFields(), [['EXCEPTION_BITMAP', 5n]]);
    assert.equal(g.exitReason(), 10);
    assert.equal(reg64(g, 2), 5n);
    // vmread [rbx+0x10], rax: qualification = displacement, DS, 64-bit address, base RBX, reg2 RAX
    const m = new VmxHost();
    setBit(m, READ_BITMAP, enc('EXCEPTION_BITMAP'));
    launchWithShadow(m, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), 0x0F, 0x78, 0x43, 0x10, ...CPUID], m.validFields(), []);
    assert.equal(m.exitReason(), 23);
    assert.equal(m.qualification(), 0x10n);
    assert.equal(m.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 7) | (3 << 15) | (1 << 22) | (3 << 23) | (0 << 28)));
  });

  it('encodings with bits 63:15 set always exit, whatever the bitmap says', () => {
    for (const e of [0x8000n | BigInt(enc('EXCEPTION_BITMAP')), (1n << 32n) | BigInt(enc('EXCEPTION_BITMAP'))]) {
      const r = new VmxHost();
      launchWithShadow(r, [...movRax(e), ...VMREAD_RDX_RAX, ...CPUID], r.validFields(), []);
      assert.equal(r.exitReason(), 23, `VMREAD 0x${e.toString(16)}`);
      const w = new VmxHost();
      launchWithShadow(w, [...movRax(e), ...VMWRITE_RAX_RDX, ...CPUID], w.validFields(), []);
      assert.equal(w.exitReason(), 25, `VMWRITE 0x${e.toString(16)}`);
    }
  });

  it('without "VMCS shadowing" the same accesses exit even though the bitmaps are zero', () => {
    const h = new VmxHost();
    launchWithShadow(h, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...VMREAD_RDX_RAX, ...CPUID], h.validFields(), [], (f) => {
      f.set('VMREAD_BITMAP', BigInt(READ_BITMAP));
      f.set('VMWRITE_BITMAP', BigInt(WRITE_BITMAP));
    });
    assert.equal(h.exitReason(), 23);
  });

  it('guest VMWRITE with bitmap bit 0 changes the shadow region, not the current VMCS; the bit set exits (25)', () => {
    const h = new VmxHost();
    const guest = [
      ...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...movRdx(0xFFFFFFFF00005A5An), ...VMWRITE_RAX_RDX,
      ...movRax(BigInt(enc('GUEST_ES_SELECTOR'))), ...movRdx(0x12345n), ...VMWRITE_RAX_RDX, // 16-bit field keeps 0x2345
      ...movRax(BigInt(enc('TSC_OFFSET') | 1)), ...movRdx(0xCAFEn), ...VMWRITE_RAX_RDX, // high half only
      ...movRax(BigInt(enc('VM_EXIT_REASON'))), ...movRdx(0x99n), ...VMWRITE_RAX_RDX, // read-only field: IA32_VMX_MISC[29] = 1
      ...CPUID,
    ];
    launchWithShadow(h, guest, h.validFields(), [['TSC_OFFSET', 0x1234n]]);
    assert.equal(h.exitReason(), 10);
    assert.equal(guestOutcome(h), 'succeed');
    assert.equal(shadowField(h, 'EXCEPTION_BITMAP'), 0x5A5An);
    assert.equal(shadowField(h, 'GUEST_ES_SELECTOR'), 0x2345n);
    assert.equal(shadowField(h, 'TSC_OFFSET'), 0x0000CAFE00001234n);
    assert.equal(shadowField(h, 'VM_EXIT_REASON'), 0x99n);
    assert.equal(h.field('EXCEPTION_BITMAP'), 0n);
    assert.equal(h.field('TSC_OFFSET'), 0n);
    assert.equal(h.field('VM_EXIT_REASON'), 10n);
    // the host sees the guest's writes through VMPTRLD + VMREAD of the shadow VMCS
    h.run([...asm.vmptrld(SCRATCH + 16), ...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...asm.vmreadRdxRax]);
    assert.equal(h.outcome(), 'succeed');
    assert.equal(h.v.current, SHADOW);
    assert.equal(reg64(h, 2), 0x5A5An);

    const x = new VmxHost();
    setBit(x, WRITE_BITMAP, enc('EXCEPTION_BITMAP'));
    // mov rcx, rax ; vmwrite rcx, [rbx+0x10]
    launchWithShadow(x, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), 0x48, 0x89, 0xC1, 0x0F, 0x79, 0x4B, 0x10, ...CPUID], x.validFields(), []);
    assert.equal(x.exitReason(), 25);
    assert.equal(x.qualification(), 0x10n);
    assert.equal(x.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 7) | (3 << 15) | (1 << 22) | (3 << 23) | (1 << 28)));
    assert.equal(shadowField(x, 'EXCEPTION_BITMAP'), 0n);
    // a VMREAD of the same field is not affected by the VMWRITE bitmap
    const y = new VmxHost();
    setBit(y, WRITE_BITMAP, enc('EXCEPTION_BITMAP'));
    launchWithShadow(y, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...VMREAD_RDX_RAX, ...CPUID], y.validFields(), [['EXCEPTION_BITMAP', 7n]]);
    assert.equal(y.exitReason(), 10);
    assert.equal(reg64(y, 2), 7n);
  });

  it('link pointer FFFFFFFF_FFFFFFFFH: guest VMREAD and VMWRITE fail with VMfailInvalid', () => {
    for (const op of [VMREAD_RDX_RAX, VMWRITE_RAX_RDX]) {
      const h = new VmxHost();
      launchWithShadow(h, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...movRdx(0x77n), ...op, ...CPUID], h.validFields(), [], (f) => shadowing(f, -1n));
      assert.equal(h.exitReason(), 10);
      assert.equal(guestOutcome(h), 'failInvalid');
      assert.equal(reg64(h, 2), 0x77n, 'nothing read');
      assert.equal(h.field('VM_INSTRUCTION_ERROR'), 0n);
      assert.equal(shadowField(h, 'EXCEPTION_BITMAP'), 0n, 'nothing written');
    }
  });

  it('unsupported component: VMfailValid(12), the error goes to the current VMCS, not the shadow', () => {
    // POSTED_INTR_NV (0002H) is a VMCS field the default model does not have; 7FFEH names no field
    for (const e of [0x0002, 0x7FFE]) {
      for (const op of [VMREAD_RDX_RAX, VMWRITE_RAX_RDX]) {
        const h = new VmxHost();
        launchWithShadow(h, [...movRax(BigInt(e)), ...movRdx(0x55n), ...op, ...CPUID], h.validFields(), []);
        assert.equal(h.exitReason(), 10);
        assert.equal(guestOutcome(h), 'failValid');
        assert.equal(h.field('VM_INSTRUCTION_ERROR'), 12n);
        assert.equal(shadowField(h, 'VM_INSTRUCTION_ERROR'), 0n);
        assert.equal(reg64(h, 2), 0x55n);
      }
    }
  });

  it('VMWRITE to a read-only field without IA32_VMX_MISC[29]: VMfailValid(13), shadow unchanged', () => {
    const base = vmxModel('default');
    const model: VmxModelSpec = { ...base, name: 'default-no-misc29', misc: { ...base.misc, vmwriteAnyField: false } };
    const h = new VmxHost({ model });
    assert.equal((h.cpu.msrs.read(0x485) >> 29n) & 1n, 0n);
    launchWithShadow(h, [...movRax(BigInt(enc('VM_EXIT_REASON'))), ...movRdx(0x99n), ...VMWRITE_RAX_RDX, ...CPUID], h.validFields(), []);
    assert.equal(guestOutcome(h), 'failValid');
    assert.equal(h.field('VM_INSTRUCTION_ERROR'), 13n);
    assert.equal(shadowField(h, 'VM_EXIT_REASON'), 0n);
  });

  it('VMREAD/VMWRITE that do not exit still #GP at CPL 3', () => {
    const h = new VmxHost();
    const ring3 = ring3Guest(h);
    // a guest at CPL 3 whose #GP exits through the exception bitmap
    launchWithShadow(h, [...movRax(BigInt(enc('EXCEPTION_BITMAP'))), ...VMREAD_RDX_RAX, ...CPUID], h.validFields(), [], (f) => {
      shadowing(f);
      f.set('EXCEPTION_BITMAP', 1n << 13n);
      ring3(f);
    });
    assert.equal(h.exitReason(), 0);
    assert.equal(h.field('VM_EXIT_INTR_INFO'), BigInt((0x80000000 | (3 << 8) | 0x800 | 13) >>> 0));
  });

  it('VMLAUNCH/VMRESUME with a shadow VMCS current: VMfailInvalid (SDM 27.1), ahead of the launch-state checks (errors 4, 5)', () => {
    for (const op of [asm.vmlaunch, asm.vmresume]) {
      const h = new VmxHost();
      h.revision(SHADOW, (h.v.caps.revisionId | 0x80000000) | 0);
      h.poke64(SCRATCH, BigInt(VMXON_REGION));
      h.poke64(SCRATCH + 16, BigInt(SHADOW));
      h.run([...asm.vmxon(SCRATCH), ...asm.vmclear(SCRATCH + 16), ...asm.vmptrld(SCRATCH + 16), ...op]);
      assert.equal(h.exception, undefined);
      assert.equal(h.outcome(), 'failInvalid');
      assert.equal(h.v.current, SHADOW);
      assert.equal(h.field('VM_INSTRUCTION_ERROR'), 0n, 'nothing stored');
      assert.ok(!h.cpu.nonRoot);
      assert.equal(h.v.lastEntryFailure, null);
    }
  });

  it('VM entry with "VMCS shadowing" = 1 and a shadow VMCS at the link pointer enters the guest', () => {
    const h = new VmxHost();
    launchWithShadow(h, CPUID, h.validFields(), []);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('VMCS_LINK_POINTER'), BigInt(SHADOW));
  });
});
