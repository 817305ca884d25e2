import type { Cpu } from './cpu';
import * as K from './constants';

/**
 * Model-specific registers (SDM vol. 4). Registers the core owns are kept here or in the CPU
 * fields they mirror (EFER, FS/GS base); platform MSRs (APIC) go to `cpu.platformMsrs`; an index
 * nobody owns raises #GP as hardware does.
 */

export const MSR_TSC = 0x10;
export const MSR_PLATFORM_ID = 0x17;
export const MSR_APIC_BASE = 0x1B;
export const MSR_FEATURE_CONTROL = 0x3A;
export const MSR_TSC_ADJUST = 0x3B;
export const MSR_BIOS_SIGN_ID = 0x8B;
export const MSR_MTRRCAP = 0xFE;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
export const MSR_MCG_CAP = 0x179;
export const MSR_MCG_STATUS = 0x17A;
export const MSR_MISC_ENABLE = 0x1A0;
export const MSR_DEBUGCTL = 0x1D9;
export const MSR_PAT = 0x277;
export const MSR_MTRR_DEF_TYPE = 0x2FF;
export const MSR_EFER = 0xC0000080;
export const MSR_STAR = 0xC0000081;
export const MSR_LSTAR = 0xC0000082;
export const MSR_CSTAR = 0xC0000083;
export const MSR_FMASK = 0xC0000084;
export const MSR_FS_BASE = 0xC0000100;
export const MSR_GS_BASE = 0xC0000101;
export const MSR_KERNEL_GS_BASE = 0xC0000102;
export const MSR_TSC_AUX = 0xC0000103;

/** Variable-range MTRR pairs reported in MTRRcap (VCNT). */
const MTRR_VAR_COUNT = 8;
const FIXED_MTRRS = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F];
const PAT_DEFAULT = 0x0007040600070406n;
const TWO32 = 0x100000000;

/** A hook for MSR ranges implemented elsewhere in the core (VMX capability MSRs). */
export interface MsrRange {
  owns(index: number): boolean;
  read(index: number): bigint;
  write(index: number, v: bigint): void;
}

function toSigned(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function canonical(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  return s >= -(1n << 47n) && s < 1n << 47n;
}

export class MsrFile {
  /** Plain storage for MSRs that only hold what is written (MTRRs, STAR, ...). */
  private readonly store = new Map<number, bigint>();
  kernelGsBase = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  featureControl = 0n;
  /** Extra ranges (VMX) registered by higher layers of the core. */
  readonly ranges: MsrRange[] = [];
  /** Whether IA32_FEATURE_CONTROL exists on this model (it does when VMX is reported). */
  constructor(private readonly c: Cpu) {}

  reset(): void {
    this.store.clear();
    this.store.set(MSR_PAT, PAT_DEFAULT);
    this.store.set(MSR_MTRR_DEF_TYPE, 0n);
    this.store.set(MSR_MISC_ENABLE, 1n | (1n << 18n)); // fast strings, MONITOR/MWAIT enabled
    this.kernelGsBase = 0;
    this.debugctl = 0;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.featureControl = 0n;
  }

  /** IA32_DEBUGCTL: only LBR (bit 0) and BTF (bit 1) exist, so a number (VM exits save it every time). */
  debugctl = 0;

  /**
   * PAT as VM entry and exit load them: the VMX checks have validated the value already,
   * and these MSRs never belong to a registered range, so the generic WRMSR path is skipped.
   */
  loadChecked(index: typeof MSR_PAT, v: bigint): void {
    this.store.set(index, v);
  }

  private gp(index: number, what: string): never {
    return this.c.raise(K.EXC_GP, 0, `${what} MSR 0x${index.toString(16)}`);
  }

  /** True when `index` names an MSR this CPU has. */
  exists(index: number): boolean {
    try {
      this.readRaw(index);
      return true;
    } catch {
      return false;
    }
  }

  read(index: number): bigint {
    return this.readRaw(index);
  }

  private readRaw(index: number): bigint {
    const c = this.c;
    for (const r of this.ranges) if (r.owns(index)) return r.read(index);
    if (c.platformMsrs && c.platformMsrs.owns(index)) {
      const v = c.platformMsrs.rdmsr(index);
      if (v === undefined) this.gp(index, 'read of unavailable');
      return v;
    }
    switch (index) {
      case MSR_TSC: return BigInt(c.readTsc());
      case MSR_PLATFORM_ID: return 0n;
      case MSR_APIC_BASE: return 0xFEE00900n;
      case MSR_FEATURE_CONTROL: return this.featureControl;
      case MSR_TSC_ADJUST: return BigInt.asUintN(64, BigInt(c.tscBase));
      case MSR_BIOS_SIGN_ID: return 0n;
      case MSR_MTRRCAP: return BigInt(MTRR_VAR_COUNT) | 0x500n; // VCNT, fixed ranges, write-combining
      case MSR_SYSENTER_CS: return BigInt(this.sysenterCs);
      case MSR_SYSENTER_ESP: return BigInt.asUintN(64, BigInt(this.sysenterEsp));
      case MSR_SYSENTER_EIP: return BigInt.asUintN(64, BigInt(this.sysenterEip));
      case MSR_MCG_CAP: return 0n;
      case MSR_MCG_STATUS: return 0n;
      case MSR_DEBUGCTL: return BigInt(this.debugctl);
      case MSR_EFER: return BigInt(c.efer >>> 0);
      case MSR_FS_BASE: return BigInt.asUintN(64, BigInt(c.segBase[K.SEG_FS]));
      case MSR_GS_BASE: return BigInt.asUintN(64, BigInt(c.segBase[K.SEG_GS]));
      case MSR_KERNEL_GS_BASE: return BigInt.asUintN(64, BigInt(this.kernelGsBase));
      case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_FMASK: case MSR_TSC_AUX:
      case MSR_PAT: case MSR_MTRR_DEF_TYPE: case MSR_MISC_ENABLE:
        return this.store.get(index) ?? 0n;
    }
    if (isMtrr(index)) return this.store.get(index) ?? 0n;
    return this.gp(index, 'read of unknown');
  }

  write(index: number, v: bigint): void {
    const c = this.c;
    c.sysGen++;
    for (const r of this.ranges) if (r.owns(index)) { r.write(index, v); return; }
    if (c.platformMsrs && c.platformMsrs.owns(index)) {
      if (!c.platformMsrs.wrmsr(index, v)) this.gp(index, 'invalid write to');
      return;
    }
    switch (index) {
      case MSR_TSC: c.tscBase = toSigned(v) - c.icount - c.idleTicks; return;
      case MSR_TSC_ADJUST: c.tscBase = toSigned(v); return;
      case MSR_BIOS_SIGN_ID: return;
      case MSR_FEATURE_CONTROL:
        if (this.featureControl & 1n) this.gp(index, 'write to locked');
        if (v & ~0x7n) this.gp(index, 'reserved bits in');
        this.featureControl = v;
        return;
      case MSR_SYSENTER_CS: this.sysenterCs = Number(v & 0xFFFFn); return;
      case MSR_SYSENTER_ESP: if (!canonical(v)) this.gp(index, 'non-canonical value for'); this.sysenterEsp = toSigned(v); return;
      case MSR_SYSENTER_EIP: if (!canonical(v)) this.gp(index, 'non-canonical value for'); this.sysenterEip = toSigned(v); return;
      case MSR_MCG_STATUS: if (v !== 0n) this.gp(index, 'non-zero write to'); return;
      case MSR_DEBUGCTL: if (v & ~0x3n) this.gp(index, 'unsupported bits in'); this.debugctl = Number(v); return;
      case MSR_EFER: this.writeEfer(v); return;
      case MSR_FS_BASE: case MSR_GS_BASE:
        if (!canonical(v)) this.gp(index, 'non-canonical value for');
        c.segBase[index === MSR_FS_BASE ? K.SEG_FS : K.SEG_GS] = toSigned(v);
        c.refreshSeg(index === MSR_FS_BASE ? K.SEG_FS : K.SEG_GS);
        return;
      case MSR_KERNEL_GS_BASE: if (!canonical(v)) this.gp(index, 'non-canonical value for'); this.kernelGsBase = toSigned(v); return;
      case MSR_LSTAR: case MSR_CSTAR: if (!canonical(v)) this.gp(index, 'non-canonical value for'); this.store.set(index, v); return;
      case MSR_STAR: this.store.set(index, v); return;
      case MSR_FMASK: this.store.set(index, v & 0xFFFFFFFFn); return;
      case MSR_TSC_AUX: if (v >> 32n) this.gp(index, 'reserved bits in'); this.store.set(index, v); return;
      case MSR_PAT: {
        for (let k = 0n; k < 64n; k += 8n) {
          const t = (v >> k) & 0xFFn;
          if (t === 2n || t === 3n || t > 7n) this.gp(index, 'invalid memory type in');
        }
        this.store.set(index, v);
        return;
      }
      case MSR_MTRR_DEF_TYPE: if (v & ~0xCFFn) this.gp(index, 'reserved bits in'); this.store.set(index, v); return;
      case MSR_MISC_ENABLE: this.store.set(index, v); return;
    }
    if (isMtrr(index)) { this.store.set(index, v); return; }
    this.gp(index, 'write to unknown');
  }

  /** EFER: SCE, LME, NXE writable; LMA read-only; LME cannot change while paging is on. */
  private writeEfer(v: bigint): void {
    const c = this.c;
    const n = Number(v & 0xFFFFFFFFn);
    if (v >> 32n || n & ~(K.EFER_SCE | K.EFER_LME | K.EFER_LMA | K.EFER_NXE)) this.gp(MSR_EFER, 'reserved bits in');
    if (c.cr0 & K.CR0_PG && (n ^ c.efer) & K.EFER_LME) this.gp(MSR_EFER, 'LME change with paging enabled in');
    const old = c.efer;
    c.efer = (n & ~K.EFER_LMA) | (c.efer & K.EFER_LMA);
    if ((old ^ c.efer) & K.EFER_NXE) c.flushTlb(true);
  }
}

function isMtrr(index: number): boolean {
  if (index >= 0x200 && index < 0x200 + 2 * MTRR_VAR_COUNT) return true;
  return FIXED_MTRRS.includes(index);
}

export { TWO32 };
