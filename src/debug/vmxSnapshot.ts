import type { Cpu } from '../cpu/cpu';
import { MSR_PAT } from '../cpu/msr';
import { EV_VMX } from '../cpu/vmx/exit';
import type { EntryFailure, Vmx } from '../cpu/vmx/state';

/**
 * The VMX-side state a history record does not hold (history.ts): every scalar of the Vmx object,
 * the launch state of the cached VMCS, the CPU fields only VMX operation changes (non-root
 * operation, EPT in force, monitor trap flag, the run loop's EV_VMX bit) and, in VMX operation, the
 * registers VM entries and exits load that are not in the record (PAE PDPTEs, DEBUGCTL, SYSENTER,
 * KERNEL_GS_BASE, PAT, the TSC offset).
 *
 * Immutable once taken: the history keeps one as its "state at the last boundary" and hands the same
 * object to the record of the instruction that changed it, so a snapshot is allocated only when
 * something changed. The TLBs, decoded code, DR7-derived breakpoints and VMCS check caches are not
 * here: they are derived, and history.ts re-derives them after putting a snapshot back.
 *
 * Number and boolean fields Vmx gains later are covered without a line here (extraKeys);
 * test/debug/historyVmx.test.ts changes each of them in turn and expects `matches` to notice and
 * `apply` to undo it.
 */
export class VmxSnapshot {
  // ---- Vmx ----
  readonly inVmx: boolean;
  readonly vmxonPtr: number;
  readonly current: number;
  readonly launch: number;
  /** The cached VMCS's shadow-VMCS indicator (VmcsCache.shadow). */
  readonly shadow: boolean;
  readonly lastEntryFailure: EntryFailure | null;
  readonly exitReason: number;
  readonly exitQualification: number;
  readonly exitGuestRip: number;
  readonly exitIcount: number;
  readonly exitCount: number;
  readonly vnmiBlocked: boolean;
  readonly timerActive: boolean;
  readonly timerValue: number;
  readonly timerStart: number;
  readonly pauseLast: number;
  readonly pauseFirst: number;
  readonly vectoringInfo: number;
  readonly vectoringError: number;
  readonly delivering: boolean;
  readonly shadowKind: number;
  readonly shadowRip: number;
  readonly skipIntercept: boolean;
  readonly guestCr2: number;
  readonly guestActivity: number;
  readonly mtfPending: boolean;
  readonly mtfIcount: number;
  readonly eptRoot: number;
  readonly eptAd: boolean;
  readonly eptExecOnly: boolean;
  readonly eptExitReason: number;
  readonly eptQualification: number;
  readonly eptGpa: number;
  readonly eptLinear: number;
  readonly eptLinearValid: boolean;
  readonly iretUnblocking: boolean;
  /** Scalars of Vmx not named above (see extraKeys), in extraKeys order. */
  readonly extra: (number | boolean)[];
  // ---- Cpu, VMX only ----
  readonly nonRoot: boolean;
  readonly eptActive: boolean;
  readonly mtf: boolean;
  readonly evVmx: number;
  /**
   * Registers VM entries and exits load (SDM 27.3.2, 28.5) beyond those a history record keeps;
   * null when taken outside VMX operation, where nothing compares them at each boundary, so their
   * values here could be stale: such a snapshot leaves them alone.
   */
  readonly loaded: LoadedRegisters | null;

  constructor(c: Cpu, v: Vmx) {
    this.inVmx = v.inVmx;
    this.vmxonPtr = v.vmxonPtr;
    this.current = v.current;
    this.launch = v.vmcs.launch;
    this.shadow = v.vmcs.shadow;
    this.lastEntryFailure = v.lastEntryFailure;
    this.exitReason = v.lastExit.reason;
    this.exitQualification = v.lastExit.qualification;
    this.exitGuestRip = v.lastExit.guestRip;
    this.exitIcount = v.lastExit.icount;
    this.exitCount = v.exitCount;
    this.vnmiBlocked = v.vnmiBlocked;
    this.timerActive = v.timerActive;
    this.timerValue = v.timerValue;
    this.timerStart = v.timerStart;
    this.pauseLast = v.pauseLast;
    this.pauseFirst = v.pauseFirst;
    this.vectoringInfo = v.vectoringInfo;
    this.vectoringError = v.vectoringError;
    this.delivering = v.delivering;
    this.shadowKind = v.shadowKind;
    this.shadowRip = v.shadowRip;
    this.skipIntercept = v.skipIntercept;
    this.guestCr2 = v.guestCr2;
    this.guestActivity = v.guestActivity;
    this.mtfPending = v.mtfPending;
    this.mtfIcount = v.mtfIcount;
    this.eptRoot = v.eptRoot;
    this.eptAd = v.eptAd;
    this.eptExecOnly = v.eptExecOnly;
    this.eptExitReason = v.eptExitReason;
    this.eptQualification = v.eptQualification;
    this.eptGpa = v.eptGpa;
    this.eptLinear = v.eptLinear;
    this.eptLinearValid = v.eptLinearValid;
    this.iretUnblocking = v.iretUnblocking;
    const keys = extraKeys(v), o = v as unknown as Record<string, number | boolean>;
    this.extra = keys.map((k) => o[k]);
    this.nonRoot = c.nonRoot;
    this.eptActive = c.eptActive;
    this.mtf = c.mtf;
    this.evVmx = c.events & EV_VMX;
    this.loaded = v.inVmx ? new LoadedRegisters(c) : null;
  }

  /** True when the CPU's VMX-side state is what this snapshot holds (called at every boundary in VMX operation). */
  matches(c: Cpu, v: Vmx): boolean {
    if (v.inVmx !== this.inVmx || v.vmxonPtr !== this.vmxonPtr || v.current !== this.current || v.vmcs.launch !== this.launch || v.vmcs.shadow !== this.shadow ||
      v.lastEntryFailure !== this.lastEntryFailure || v.lastExit.reason !== this.exitReason ||
      v.lastExit.qualification !== this.exitQualification || v.lastExit.guestRip !== this.exitGuestRip ||
      v.lastExit.icount !== this.exitIcount || v.exitCount !== this.exitCount || v.vnmiBlocked !== this.vnmiBlocked ||
      v.timerActive !== this.timerActive || v.timerValue !== this.timerValue || v.timerStart !== this.timerStart ||
      v.pauseLast !== this.pauseLast || v.pauseFirst !== this.pauseFirst || v.vectoringInfo !== this.vectoringInfo ||
      v.vectoringError !== this.vectoringError || v.delivering !== this.delivering || v.shadowKind !== this.shadowKind ||
      v.shadowRip !== this.shadowRip || v.skipIntercept !== this.skipIntercept || v.guestCr2 !== this.guestCr2 ||
      v.guestActivity !== this.guestActivity || v.mtfPending !== this.mtfPending || v.mtfIcount !== this.mtfIcount ||
      v.eptRoot !== this.eptRoot || v.eptAd !== this.eptAd || v.eptExecOnly !== this.eptExecOnly ||
      v.eptExitReason !== this.eptExitReason || v.eptQualification !== this.eptQualification || v.eptGpa !== this.eptGpa ||
      v.eptLinear !== this.eptLinear || v.eptLinearValid !== this.eptLinearValid || v.iretUnblocking !== this.iretUnblocking ||
      c.nonRoot !== this.nonRoot || c.eptActive !== this.eptActive || c.mtf !== this.mtf || (c.events & EV_VMX) !== this.evVmx) {
      return false;
    }
    if (!extraMatch(v)(v, this.extra)) return false;
    return this.loaded === null || this.loaded.matches(c);
  }

  /** The exit bookkeeping differs: a VM exit (or a failed VM entry) happened between `this` and `now`. */
  exitBetween(now: VmxSnapshot): boolean {
    return now.exitCount !== this.exitCount || now.exitIcount !== this.exitIcount || now.exitReason !== this.exitReason ||
      (now.lastEntryFailure !== null) !== (this.lastEntryFailure !== null);
  }

  /**
   * Puts the state back. The caller re-derives what depends on it (TLB world, decoded code,
   * single-step mode, VMCS check caches).
   */
  apply(c: Cpu, v: Vmx): void {
    v.inVmx = this.inVmx;
    v.vmxonPtr = this.vmxonPtr;
    v.current = this.current;
    v.vmcs.launch = this.launch;
    v.vmcs.shadow = this.shadow;
    v.lastEntryFailure = this.lastEntryFailure;
    v.lastExit.reason = this.exitReason;
    v.lastExit.qualification = this.exitQualification;
    v.lastExit.guestRip = this.exitGuestRip;
    v.lastExit.icount = this.exitIcount;
    v.exitCount = this.exitCount;
    v.vnmiBlocked = this.vnmiBlocked;
    v.timerActive = this.timerActive;
    v.timerValue = this.timerValue;
    v.timerStart = this.timerStart;
    v.pauseLast = this.pauseLast;
    v.pauseFirst = this.pauseFirst;
    v.vectoringInfo = this.vectoringInfo;
    v.vectoringError = this.vectoringError;
    v.delivering = this.delivering;
    v.shadowKind = this.shadowKind;
    v.shadowRip = this.shadowRip;
    v.skipIntercept = this.skipIntercept;
    v.guestCr2 = this.guestCr2;
    v.guestActivity = this.guestActivity;
    v.mtfPending = this.mtfPending;
    v.mtfIcount = this.mtfIcount;
    v.eptRoot = this.eptRoot;
    v.eptAd = this.eptAd;
    v.eptExecOnly = this.eptExecOnly;
    v.eptExitReason = this.eptExitReason;
    v.eptQualification = this.eptQualification;
    v.eptGpa = this.eptGpa;
    v.eptLinear = this.eptLinear;
    v.eptLinearValid = this.eptLinearValid;
    v.iretUnblocking = this.iretUnblocking;
    const keys = extraKeys(v), o = v as unknown as Record<string, number | boolean>;
    for (let k = 0; k < keys.length; k++) o[keys[k]] = this.extra[k];
    c.nonRoot = this.nonRoot;
    c.eptActive = this.eptActive;
    c.mtf = this.mtf;
    c.events = (c.events & ~EV_VMX) | this.evVmx;
    if (this.loaded !== null) this.loaded.apply(c);
  }
}

/** The Vmx fields VmxSnapshot names one by one (the common ones: compared without a lookup). */
const NAMED = new Set(['inVmx', 'vmxonPtr', 'current', 'lastEntryFailure', 'exitCount', 'vnmiBlocked', 'timerActive', 'timerValue',
  'timerStart', 'pauseLast', 'pauseFirst', 'vectoringInfo', 'vectoringError', 'delivering', 'shadowKind', 'shadowRip', 'skipIntercept',
  'guestCr2', 'guestActivity', 'mtfPending', 'mtfIcount', 'eptRoot', 'eptAd', 'eptExecOnly', 'eptExitReason', 'eptQualification',
  'eptGpa', 'eptLinear', 'eptLinearValid', 'iretUnblocking']);

let extras: string[] | null = null;
type ExtraMatch = (v: Vmx, values: (number | boolean)[]) => boolean;
let extrasMatch: ExtraMatch | null = null;

/**
 * Number and boolean own properties of Vmx that NAMED does not list: state (or caches keyed on
 * counters that only grow, which are safe to put back) added to Vmx after this file was written.
 * Kept rather than dropped so that a new field is restored from the day it exists.
 */
function extraKeys(v: Vmx): string[] {
  if (extras === null) {
    const o = v as unknown as Record<string, unknown>;
    extras = Object.keys(o).filter((k) => !NAMED.has(k) && (typeof o[k] === 'number' || typeof o[k] === 'boolean'));
  }
  return extras;
}

/**
 * The comparison of the extra fields, compiled once: it runs at every boundary in VMX operation, and
 * lookups by a key held in a variable cost more there than all the named fields together.
 */
function extraMatch(v: Vmx): ExtraMatch {
  if (extrasMatch === null) {
    const keys = extraKeys(v);
    for (const k of keys) if (!/^[A-Za-z_$][\w$]*$/.test(k)) throw new Error(`Vmx field '${k}' is no identifier`);
    const match = new Function('v', 'e', `return ${keys.map((k, n) => `v.${k} === e[${n}]`).join(' && ') || 'true'};`) as ExtraMatch;
    extrasMatch = match;
    return match;
  }
  return extrasMatch;
}

/** See VmxSnapshot.loaded. */
export class LoadedRegisters {
  readonly pdpte: Int32Array;
  readonly debugctl: number;
  readonly sysenterCs: number;
  readonly sysenterEsp: number;
  readonly sysenterEip: number;
  readonly kernelGsBase: number;
  readonly pat: bigint;
  readonly tscBase: number;

  constructor(c: Cpu) {
    this.pdpte = c.pdpte.slice();
    const m = c.msrs;
    this.debugctl = m.debugctl;
    this.sysenterCs = m.sysenterCs;
    this.sysenterEsp = m.sysenterEsp;
    this.sysenterEip = m.sysenterEip;
    this.kernelGsBase = m.kernelGsBase;
    this.pat = m.read(MSR_PAT);
    this.tscBase = c.tscBase;
  }

  matches(c: Cpu): boolean {
    const p = c.pdpte, q = this.pdpte, m = c.msrs;
    return p[0] === q[0] && p[1] === q[1] && p[2] === q[2] && p[3] === q[3] && p[4] === q[4] && p[5] === q[5] && p[6] === q[6] && p[7] === q[7] &&
      m.debugctl === this.debugctl && m.sysenterCs === this.sysenterCs && m.sysenterEsp === this.sysenterEsp &&
      m.sysenterEip === this.sysenterEip && m.kernelGsBase === this.kernelGsBase && c.tscBase === this.tscBase &&
      m.read(MSR_PAT) === this.pat;
  }

  apply(c: Cpu): void {
    c.pdpte.set(this.pdpte);
    const m = c.msrs;
    m.debugctl = this.debugctl;
    m.sysenterCs = this.sysenterCs;
    m.sysenterEsp = this.sysenterEsp;
    m.sysenterEip = this.sysenterEip;
    m.kernelGsBase = this.kernelGsBase;
    m.loadChecked(MSR_PAT, this.pat);
    c.tscBase = this.tscBase;
  }
}
