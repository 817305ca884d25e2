/**
 * A 64-bit host for VMX tests: the CPU comes from the snippet harness (flat 64-bit mode, identity map
 * of the first GiB), gets VMX attached, and runs host code written as machine bytes: VMXON, VMCLEAR,
 * VMPTRLD, one VMWRITE per field of a valid minimal VMCS (filled from the capability MSRs), VMLAUNCH.
 * Guest code is placed at GUEST_CODE; every VM exit lands on an HLT at HOST_EXIT.
 */

import { strict as assert } from 'assert';
import { Cpu } from '../../../src/cpu/cpu';
import * as K from '../../../src/cpu/constants';
import { attachVmx } from '../../../src/cpu/vmx/attach';
import type { VmxModelSpec } from '../../../src/cpu/vmx/capabilities';
import { Vmx } from '../../../src/cpu/vmx/state';
import { controlMask, fieldByName, fieldEncoding, VMCS_FIELDS } from '../../../src/cpu/vmx/spec';
import { slotOf } from '../../../src/cpu/vmx/vmcs';
import { CODE_BASE, makeCpu } from '../../support/snippet';
import type { SimpleBus } from '../../support/simpleBus';
import type { RecordingPorts } from '../../support/simpleBus';

export const VMXON_REGION = 0x40000;
export const VMCS_A = 0x41000;
export const VMCS_B = 0x42000;
export const IO_BITMAP_A = 0x43000;
export const IO_BITMAP_B = 0x44000;
export const MSR_BITMAP = 0x45000;
export const MSR_AREA = 0x46000;
/** Scratch memory for memory operands (pointers, VMREAD destinations). */
export const SCRATCH = 0x47000;
export const GUEST_CODE = 0x50000;
export const GUEST_STACK = 0x58000;
export const HOST_STACK = 0x2F000;
/** Host code after a VM exit (or a failed VM entry): an HLT. */
export const HOST_EXIT = 0x1F000;
export const PAGE_TABLES = 0x100000;

// ---- a few instruction encodings (checked against NASM, see test/fixtures/vmx/encodings.asm) ----
const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const le64 = (v: bigint) => { const u = BigInt.asUintN(64, v); return [...le32(Number(u & 0xFFFFFFFFn)), ...le32(Number(u >> 32n))]; };
export const asm = {
  vmxon: (a: number) => [0xF3, 0x0F, 0xC7, 0x34, 0x25, ...le32(a)],
  vmclear: (a: number) => [0x66, 0x0F, 0xC7, 0x34, 0x25, ...le32(a)],
  vmptrld: (a: number) => [0x0F, 0xC7, 0x34, 0x25, ...le32(a)],
  vmptrst: (a: number) => [0x0F, 0xC7, 0x3C, 0x25, ...le32(a)],
  /** VMWRITE field RAX := RDX. */
  vmwriteRaxRdx: [0x0F, 0x79, 0xC2],
  /** VMREAD RDX := field RAX. */
  vmreadRdxRax: [0x0F, 0x78, 0xC2],
  vmreadMem: (a: number) => [0x0F, 0x78, 0x04, 0x25, ...le32(a)],
  vmwriteMem: (a: number) => [0x0F, 0x79, 0x04, 0x25, ...le32(a)],
  vmlaunch: [0x0F, 0x01, 0xC2],
  vmresume: [0x0F, 0x01, 0xC3],
  vmxoff: [0x0F, 0x01, 0xC4],
  vmcall: [0x0F, 0x01, 0xC1],
  invvpid: (a: number) => [0x66, 0x0F, 0x38, 0x81, 0x04, 0x25, ...le32(a)],
  movRaxImm: (v: bigint) => [0x48, 0xB8, ...le64(v)],
  movRdxImm: (v: bigint) => [0x48, 0xBA, ...le64(v)],
  hlt: [0xF4],
};

export interface HostOptions {
  model?: string | VmxModelSpec;
  /** Skip IA32_FEATURE_CONTROL locking (VMXON #GP tests). */
  noFeatureControl?: boolean;
}

/** Field values of a VMCS being prepared, by spec name. */
export type Fields = Map<string, bigint>;

export class VmxHost {
  readonly cpu: Cpu;
  readonly bus: SimpleBus;
  readonly ports: RecordingPorts;
  readonly v: Vmx;
  /** Exception that stopped the host (root operation), if any. */
  exception: number | undefined;

  constructor(opts: HostOptions = {}) {
    const m = makeCpu(64);
    this.cpu = m.cpu;
    this.bus = m.bus;
    this.ports = m.ports;
    this.v = attachVmx(this.cpu, opts.model ?? 'default', { lockFeatureControl: !opts.noFeatureControl });
    this.cpu.cr0 |= K.CR0_NE;
    this.cpu.cr4 |= K.CR4_VMXE;
    this.cpu.segSel[K.SEG_TR] = 0x18;
    this.cpu.segAr[K.SEG_TR] = K.AR_P | 11;
    // guest exceptions are the VMX layer's business; host ones stop the test
    this.cpu.onException = (vec) => {
      if (this.cpu.nonRoot) return false;
      this.exception = vec;
      return true;
    };
    this.revision(VMXON_REGION);
    this.revision(VMCS_A);
    this.revision(VMCS_B);
    this.poke(HOST_EXIT, asm.hlt);
    // a GDT at address 0 (GDTR base 0): 64-bit code at 0x08, flat data at 0x10
    this.poke64(0x08, 0x00AF9B000000FFFFn);
    this.poke64(0x10, 0x00CF93000000FFFFn);
  }

  /** Writes the model's revision identifier at the start of a region. */
  revision(addr: number, rev = this.v.caps.revisionId): void {
    this.cpu.physWrite(addr, 4, rev);
  }

  poke(addr: number, bytes: number[]): void {
    for (let k = 0; k < bytes.length; k++) this.cpu.physWrite(addr + k, 1, bytes[k]);
  }

  poke64(addr: number, v: bigint): void {
    this.poke(addr, le64(v));
  }

  peek32(addr: number): number {
    return this.cpu.physRead(addr, 4) >>> 0;
  }

  /** Guest code at GUEST_CODE. */
  guest(bytes: number[]): void {
    this.poke(GUEST_CODE, bytes);
  }

  /** Runs host code at CODE_BASE until HLT, an exception in root operation, or the budget. */
  run(code: number[], budget = 100000): string {
    const c = this.cpu;
    this.poke(CODE_BASE, [...code, ...asm.hlt]);
    c.rip = CODE_BASE;
    c.r[4] = 0x30000;
    c.rh[4] = 0;
    c.halted = false;
    this.exception = undefined;
    return c.run(c.icount + budget);
  }

  /** Continues after a stop (e.g. a guest HLT that did not exit). */
  resume(budget = 100000): string {
    const c = this.cpu;
    c.halted = false;
    return c.run(c.icount + budget);
  }

  /** A valid minimal 64-bit guest and 64-bit host, with controls at their required minimum. */
  validFields(): Fields {
    const c = this.cpu, caps = this.v.caps;
    const f: Fields = new Map();
    const set = (n: string, v: number | bigint) => f.set(n, BigInt(v));
    set('PIN_BASED_VM_EXEC_CONTROL', caps.pin.must1 >>> 0);
    set('CPU_BASED_VM_EXEC_CONTROL', caps.proc1.must1 >>> 0);
    set('VM_EXIT_CONTROLS', (caps.exit.must1 | controlMask('VM_EXIT_HOST_ADDR_SPACE_SIZE')) >>> 0);
    set('VM_ENTRY_CONTROLS', (caps.entry.must1 | controlMask('VM_ENTRY_IA32E_MODE')) >>> 0);
    set('EXCEPTION_BITMAP', 0);
    set('CR3_TARGET_COUNT', 0);
    set('VMCS_LINK_POINTER', -1n);
    // guest state: flat 64-bit ring 0, same paging as the host
    set('GUEST_CR0', c.cr0 >>> 0);
    set('GUEST_CR3', PAGE_TABLES);
    set('GUEST_CR4', c.cr4 >>> 0);
    set('GUEST_DR7', 0x400);
    set('GUEST_IA32_DEBUGCTL', 0);
    set('GUEST_CS_SELECTOR', 8);
    set('GUEST_CS_LIMIT', 0xFFFFFFFF);
    set('GUEST_CS_AR_BYTES', 0xA09B);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) {
      set(`GUEST_${s}_SELECTOR`, 0x10);
      set(`GUEST_${s}_LIMIT`, 0xFFFFFFFF);
      set(`GUEST_${s}_AR_BYTES`, 0xC093);
      set(`GUEST_${s}_BASE`, 0);
    }
    set('GUEST_CS_BASE', 0);
    set('GUEST_TR_SELECTOR', 0x18);
    set('GUEST_TR_LIMIT', 0x67);
    set('GUEST_TR_AR_BYTES', 0x8B);
    set('GUEST_TR_BASE', 0);
    set('GUEST_LDTR_SELECTOR', 0);
    set('GUEST_LDTR_AR_BYTES', 0x10000);
    set('GUEST_GDTR_LIMIT', 0xFFFF);
    set('GUEST_IDTR_LIMIT', 0xFFFF);
    set('GUEST_GDTR_BASE', 0);
    set('GUEST_IDTR_BASE', 0);
    set('GUEST_RIP', GUEST_CODE);
    set('GUEST_RSP', GUEST_STACK);
    set('GUEST_RFLAGS', 2);
    set('GUEST_ACTIVITY_STATE', 0);
    set('GUEST_INTERRUPTIBILITY_INFO', 0);
    set('GUEST_PENDING_DBG_EXCEPTIONS', 0);
    // host state
    set('HOST_CR0', c.cr0 >>> 0);
    set('HOST_CR3', PAGE_TABLES);
    set('HOST_CR4', c.cr4 >>> 0);
    set('HOST_CS_SELECTOR', 8);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) set(`HOST_${s}_SELECTOR`, 0x10);
    set('HOST_TR_SELECTOR', 0x18);
    set('HOST_RSP', HOST_STACK);
    set('HOST_RIP', HOST_EXIT);
    return f;
  }

  /** Host code: VMXON, VMCLEAR, VMPTRLD, a VMWRITE per field, then `tail` (default VMLAUNCH). */
  setupCode(fields: Fields, tail: number[] = asm.vmlaunch): number[] {
    this.poke64(SCRATCH, BigInt(VMXON_REGION));
    this.poke64(SCRATCH + 8, BigInt(VMCS_A));
    const code = [...asm.vmxon(SCRATCH), ...asm.vmclear(SCRATCH + 8), ...asm.vmptrld(SCRATCH + 8)];
    for (const [name, value] of fields) {
      const f = fieldByName(name);
      if (!f) throw new Error(`no field ${name}`);
      code.push(...asm.movRaxImm(BigInt(f.field.encoding | (f.high ? 1 : 0))), ...asm.movRdxImm(value), ...asm.vmwriteRaxRdx);
    }
    code.push(...tail);
    return code;
  }

  /** VMXON ... VMLAUNCH with these fields; returns the run's stop reason. */
  launch(fields: Fields = this.validFields(), tail: number[] = asm.vmlaunch): string {
    return this.run(this.setupCode(fields, tail));
  }

  /** A field of the current VMCS. */
  field(name: string): bigint {
    return this.v.vmcs.big(slotOf(name));
  }

  exitReason(): number {
    return Number(this.field('VM_EXIT_REASON'));
  }

  qualification(): bigint {
    return this.field('EXIT_QUALIFICATION');
  }

  /** RFLAGS arithmetic flags after a VMX instruction: 'succeed', 'failInvalid', 'failValid(n)'. */
  outcome(): string {
    const fl = this.cpu.getFlags();
    const arith = fl & 0x8D5;
    if (arith === 0) return 'succeed';
    if (arith === 1) return 'failInvalid';
    if (arith === 0x40) return `failValid(${Number(this.field('VM_INSTRUCTION_ERROR'))})`;
    return `flags 0x${arith.toString(16)}`;
  }

  /** True when the CPU stopped on the host's post-exit HLT. */
  atHostExit(): boolean {
    return !this.cpu.nonRoot && this.cpu.rip === HOST_EXIT + 1;
  }

  /** VMWRITEs (field name -> value), then VMRESUME; expects the entry to succeed and the next VM exit back here. */
  resumeWith(writes: [string, bigint][] = []): void {
    const code: number[] = [];
    for (const [name, value] of writes) code.push(...asm.movRaxImm(BigInt(enc(name))), ...asm.movRdxImm(value), ...asm.vmwriteRaxRdx);
    code.push(...asm.vmresume);
    this.run(code);
    assert.equal(this.exception, undefined, `host exception ${this.exception}`);
    assert.equal(this.v.lastEntryFailure, null, `entry failed: ${JSON.stringify(this.v.lastEntryFailure)}`);
    assert.ok(this.atHostExit(), `expected a VM exit, CPU at 0x${this.cpu.rip.toString(16)} nonRoot=${this.cpu.nonRoot} stop=${this.cpu.stopReason}`);
  }

  /** Launches `guest` bytes and expects a VM exit back at HOST_EXIT with the given basic reason. */
  exitOn(guestBytes: number[], mutate: (f: Fields) => void, reason: number): void {
    this.guest(guestBytes);
    const f = this.validFields();
    mutate(f);
    this.launch(f);
    assert.equal(this.exception, undefined, `host exception ${this.exception}`);
    assert.ok(this.atHostExit(), `expected a VM exit, CPU at 0x${this.cpu.rip.toString(16)} nonRoot=${this.cpu.nonRoot} stop=${this.cpu.stopReason} entry failure=${JSON.stringify(this.v.lastEntryFailure)}`);
    assert.equal(this.exitReason(), reason, `exit reason ${this.exitReason()} (qualification 0x${this.qualification().toString(16)})`);
  }
}

/**
 * A guest at CPL 3: the identity map (the harness's page tables, shared by host and guest) becomes
 * user-accessible, and the returned function gives the guest DPL-3 code, stack and data segments.
 */
export function ring3Guest(h: VmxHost): (f: Fields) => void {
  for (const a of [PAGE_TABLES, PAGE_TABLES + 0x1000]) h.cpu.physWrite(a, 4, h.cpu.physRead(a, 4) | 4);
  for (let k = 0; k < 512; k++) h.cpu.physWrite(PAGE_TABLES + 0x2000 + k * 8, 4, h.cpu.physRead(PAGE_TABLES + 0x2000 + k * 8, 4) | 4);
  h.cpu.flushTlb(true);
  return (f) => {
    f.set('GUEST_CS_AR_BYTES', 0xA0FBn);
    f.set('GUEST_CS_SELECTOR', 0x0Bn);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) { f.set(`GUEST_${s}_SELECTOR`, 0x13n); f.set(`GUEST_${s}_AR_BYTES`, 0xC0F3n); }
  };
}

export function enc(name: string): number {
  return fieldEncoding(name);
}

export { VMCS_FIELDS };
