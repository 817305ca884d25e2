import type { Cpu } from '../cpu/cpu';
import type { Machine } from '../machine/machine';
import { attachVmx } from '../cpu/vmx/attach';
import type { EntryFailure, Vmx } from '../cpu/vmx/state';
import { FIELD_COUNT, slotOf, slotOfEncoding, VMCS_OFF_DATA, VMCS_OFF_LAUNCH } from '../cpu/vmx/vmcs';
import { installVmxObserverShims, setVmxObserver, type VmxInstructionEvent } from '../cpu/vmx/observer';
import {
  CONTROL_VECTOR_INFO, CONTROL_VECTORS, controlMask, CONTROLS_BY_VECTOR, decodeExitQualification, decodeExitReason, decodeInstructionInfo,
  decodeInterruptionInfo, EXIT_REASON_CLASSES, exitReasonByNumber, fieldByName, fieldsInArea,
  formatEncoding, formatInstructionError, formatInterruptionInfo, instructionErrorByNumber, instructionInfoKindForExit,
  isReadOnlyField, parseInterruptionInfo, parseIoQualification, VMCS_AREA_TITLES, VMCS_AREAS, VMCS_FIELDS,
  type ControlVector, type DecodedField, type ExitReasonClass, type VmcsField,
} from '../cpu/vmx/spec';
import { analyzeAt } from './instructions';
import { ExitLog, exitSummary, type ExitFacts, type ExitRecordInfo } from './exitLog';
import type { GuestMemory } from './memory';
import { hexAddr } from './memory';
import type { Engine } from './engine';
import { ExpressionError } from './expressions';
import type { ExceptionFilterRegistry, StopDescribers, StopInfo } from './stops';
import { formatValue, type ScopeContext, type ScopeProvider, type VariableNode } from './variables';

/**
 * The VMX side of the adapter: VM exits, failed VM entries and VMfail as stops that explain
 * themselves, exception filters per exit-reason class with conditions, the VMCS and "Last VM exit"
 * scopes, `vmcs.FIELD` / `exit.*` names for expressions, data breakpoints on VMCS fields, the
 * VM-exit history and statistics, and the custom requests the extension's views use.
 *
 * Every name, encoding, width, control bit, exit reason and qualification layout comes from the
 * spec tables in src/cpu/vmx/spec; nothing here keeps its own copy.
 *
 * Events: VMfail, failed entries, VMWRITE and VM exits come from the VMX observer
 * (src/cpu/vmx/observer.ts); after every run the exit record is compared as well, for exits no
 * event reported. An exit is logged as numbers (exitLog.ts) and decoded only when a filter for its
 * class is set or a view asks: a guest under the debugger may exit a million times a second.
 */

export const VMX_MODELS = ['default', 'core2-no-ug'] as const;
export type VmxModelName = (typeof VMX_MODELS)[number] | 'none';

const ERROR_SLOT = slotOf('VM_INSTRUCTION_ERROR');
const S = (name: string) => slotOf(name);
const SL = {
  reason: S('VM_EXIT_REASON'), qual: S('EXIT_QUALIFICATION'), intr: S('VM_EXIT_INTR_INFO'), intrErr: S('VM_EXIT_INTR_ERROR_CODE'),
  idt: S('IDT_VECTORING_INFO_FIELD'), idtErr: S('IDT_VECTORING_ERROR_CODE'), len: S('VM_EXIT_INSTRUCTION_LEN'), info: S('VMX_INSTRUCTION_INFO'),
  linear: S('GUEST_LINEAR_ADDRESS'), gpa: S('GUEST_PHYSICAL_ADDRESS'), rip: S('GUEST_RIP'), csBase: S('GUEST_CS_BASE'), hostRip: S('HOST_RIP'),
  error: ERROR_SLOT,
};

/** The exception filter of each basic exit reason below 256 (`vmexit:<class>`), null for reasons without a class. */
const FILTER_BY_REASON: (string | null)[] = Array.from({ length: 256 }, (_, r) => {
  const c = exitReasonByNumber(r)?.class;
  return c && c !== 'entry-failure' ? `vmexit:${c}` : null;
});

/** The decoded facts of the current (last) VM exit: names for filter conditions and the views. */
export interface DecodedExit {
  raw: number;
  basic: number;
  name: string;
  title: string;
  cls: ExitReasonClass | 'unknown';
  entryFailure: boolean;
  qualification: bigint;
  qualificationFields: DecodedField[];
  guestRip: bigint;
  guestLinearRip: bigint;
  instructionLength: number;
  instruction?: string;
  intrInfo: number;
  intrError: number;
  vars: Record<string, bigint>;
  summary: string;
}

interface FieldWatch {
  id: number;
  slot: number;
  lo: number;
  hi: number;
}

export class VmxDebug {
  vmx: Vmx | null = null;
  private machine: Machine | null = null;
  private engine: Engine | null = null;
  /** The last exit recorded, as Vmx.exitCount, lastExit.icount and lastExit.reason then (-1: none). */
  private seenCount = -1;
  private seenIcount = -1;
  private seenReason = -1;
  private readonly log = new ExitLog();
  /** The facts of the last exit recorded, taken when it happened (a VMM or the monitor changes some later). */
  private readonly facts: ExitFacts = { raw: 0, qualLo: 0, qualHi: 0, ripLo: 0, ripHi: 0, intr: 0, eax: 0, ecx: 0, icount: 0 };
  private factsValid = false;
  /** VMCS regions the guest has made current (VMPTRLD), for vmcs.read with all: true. */
  readonly knownVmcs = new Set<number>();
  private watches: FieldWatch[] = [];
  /**
   * Monitor mode (launch attribute `monitor`): the built-in monitor handles every exit inside the
   * VM exit itself (its doorbell MSR) and re-enters the guest, so the exit is decoded when the
   * monitor sees it (fresh registers and exit fields), and the stop, if a filter wants it, is taken
   * at the guest instruction where the guest resumes.
   */
  monitorMode = false;
  /**
   * Monitor mode without reverse execution: the monitor may handle I/O and CPUID exits in place (no
   * world switch, as when no debugger runs it); this side hears of them through onMonitorExit and
   * afterMonitorResume. With history on every exit completes architecturally.
   */
  monitorInPlace = false;
  private monitorStop: StopInfo | null = null;
  private decoded: DecodedExit | null = null;

  constructor(
    private readonly filters: ExceptionFilterRegistry,
    private readonly evaluate: (expression: string, extra: Record<string, bigint>) => bigint,
    private readonly memory: () => GuestMemory | null,
  ) {}

  // ---- setup ------------------------------------------------------------------------------------

  /** Registers the VMX exception filters (one per exit-reason class, entry failure, VMfail). */
  static registerFilters(r: ExceptionFilterRegistry): void {
    for (const c of EXIT_REASON_CLASSES) {
      if (c.id === 'entry-failure') continue;
      r.register({
        filter: `vmexit:${c.id}`,
        label: `VM exit: ${c.label}`,
        description: `Stop on every VM exit of this class (${c.label}). Condition names: reason, qualification, rip, length, `
          + 'port, size, in, out, string, rep, leaf, subleaf, msr, vector, error, cr, plus registers.',
        default: false,
        supportsCondition: true,
        conditionDescription: c.id === 'io' ? 'e.g. port == 0x80' : c.id === 'cpuid' ? 'e.g. leaf == 1' : c.id === 'msr' ? 'e.g. msr == 0x1b' : c.id === 'exception' ? 'e.g. vector == 14' : 'e.g. reason == 30',
      });
    }
    r.register({
      filter: 'vm entry failure', label: 'VM-entry failure',
      description: 'Stop when VMLAUNCH/VMRESUME fails a VM-entry check (VMfailValid 7 or 8, or exit 33/34); the stop names the check, its SDM section and the field.',
      default: true, supportsCondition: true, conditionDescription: 'e.g. reason == 33 (names: reason, error)',
    });
    r.register({
      filter: 'vmfail', label: 'VMX instruction failure (VMfail)',
      description: 'Stop when a VMX instruction ends with VMfailInvalid or VMfailValid(n); the stop names the VM-instruction error.',
      default: true, supportsCondition: true, conditionDescription: 'e.g. error == 12 (error is -1 for VMfailInvalid)',
    });
  }

  static registerDescribers(d: StopDescribers): void {
    const wrap = (kind: string) => (s: StopInfo) => {
      const info = s.data as unknown as StopText;
      return {
        reason: 'exception' as const,
        description: info.description,
        text: info.lines.join('\n'),
        exceptionInfo: {
          exceptionId: info.id,
          description: info.lines.join('\n'),
          breakMode: 'always' as const,
          details: { message: info.lines.join('\n'), typeName: kind, ...(info.details ? { vmx: info.details } : {}) } as { message: string; typeName: string },
        },
      };
    };
    d.register('vm exit', wrap('VM exit'));
    d.register('vm entry failure', wrap('VM-entry failure'));
    d.register('vmfail', wrap('VMfail'));
    d.register('history start', (s) => ({ reason: 'step', description: `Paused at the start of the history${s.detail ? ': ' + s.detail : ''}`, text: s.detail }));
  }

  /** Attaches VMX to the machine's CPU (model by name; the machine's own when it has one) and starts observing it. */
  attach(machine: Machine, engine: Engine, model: VmxModelName): void {
    this.machine = machine;
    this.engine = engine;
    if (model === 'none') return;
    this.vmx = machine.vmx ?? attachVmx(machine.cpu, model, { lockFeatureControl: true });
    installVmxObserverShims(ERROR_SLOT, slotOfEncoding);
    const self = this;
    setVmxObserver(machine.cpu, {
      // monitor mode: exits the monitor handles in place reach onMonitorExit and afterMonitorResume
      get seesInPlaceExits() { return self.monitorInPlace; },
      vmExit: (c, v) => this.onVmExit(c, v),
      vmEntry: (c, v) => this.onEntry(c, v),
      entryFailure: (c, v, f, ev) => this.onEntryFailure(c, v, f, ev),
      vmFail: (c, v, err, ev) => this.onVmFail(c, v, err, ev),
      vmcsWrite: (c, v, slot, lo, hi, ev) => this.onVmcsWrite(c, v, slot, lo, hi, ev ?? null),
      vmcsSwitch: (c, v) => { if (v.current !== -1) this.knownVmcs.add(v.current); this.checkWatches(null); },
    });
    this.markSeen();
  }

  private cpu(): Cpu {
    return this.machine!.cpu;
  }

  /** Thread-name part: VMX root / VMX non-root / no VMX. */
  modeText(): string {
    const v = this.vmx;
    if (!v || !v.inVmx) return 'no VMX';
    return this.cpu().nonRoot ? 'VMX non-root' : 'VMX root';
  }

  /** Whether the core's last exit is the one recorded last (numbers: this runs at every VM exit). */
  private seen(v: Vmx): boolean {
    return v.exitCount === this.seenCount && v.lastExit.icount === this.seenIcount && v.lastExit.reason === this.seenReason;
  }

  private markSeen(): void {
    const v = this.vmx;
    this.seenCount = v ? v.exitCount : -1;
    this.seenIcount = v ? v.lastExit.icount : -1;
    this.seenReason = v ? v.lastExit.reason : -1;
  }

  private nextLinear(ev: VmxInstructionEvent | null): number {
    const c = this.cpu();
    const ip = ev ? ev.next : c.rip;
    return c.mode64 ? ip : (c.segBase[1] + ip) >>> 0;
  }

  /** Before the guest runs. (VM exits are reported by the core through notifyVmExit: no sentinel at HOST_RIP is needed.) */
  beforeRun(): void {
    this.engine?.setSentinel(null);
  }

  private onEntry(_c: Cpu, v: Vmx): void {
    if (v.current !== -1) this.knownVmcs.add(v.current);
  }

  /**
   * The core completed a VM exit (host state loaded). Bare metal: the guest's VMM runs next at
   * HOST_RIP, so a wanted exit stops there. Monitor mode: the monitor has handled the exit already
   * (see onMonitorExit); the stop is taken where the guest resumes.
   */
  private onVmExit(c: Cpu, v: Vmx): void {
    if (this.monitorMode) {
      const stop = this.monitorStop;
      this.monitorStop = null;
      if (stop) this.engine?.requestEventStop(stop, c.nonRoot ? c.linearRip() : this.guestResumeLinear(v));
      return;
    }
    if (this.seen(v)) return;
    const wanted = this.recordExit();
    const watched = this.checkWatches(null, false);
    const stop = wanted ?? watched;
    if (stop) this.engine?.requestEventStop(stop, c.linearRip());
  }

  /** The monitor resumed its guest after an exit it handled in place: a stop a filter wanted is taken where the guest resumes. */
  afterMonitorResume(): void {
    const stop = this.monitorStop;
    this.monitorStop = null;
    if (stop) this.engine?.requestEventStop(stop, this.cpu().linearRip());
  }

  /** Where the monitor's guest resumes: GUEST_CS_BASE + GUEST_RIP of the current VMCS. */
  private guestResumeLinear(v: Vmx): number {
    const rip = v.vmcs.num(SL.rip);
    if (v.vmcs.i32(S('VM_ENTRY_CONTROLS')) & controlMask('VM_ENTRY_IA32E_MODE')) return rip;
    return (v.vmcs.num(SL.csBase) + rip) >>> 0;
  }

  /** The built-in monitor saw an exit (before handling it): record it, decide whether it stops. */
  onMonitorExit(): void {
    const v = this.vmx;
    if (!v) return;
    this.decoded = null;
    const wanted = this.recordExit();
    if (wanted) this.monitorStop ??= wanted;
  }

  private wants(filter: string, vars: Record<string, bigint>): boolean {
    const s = this.filters.setting(filter);
    if (!s) return false;
    if (!s.condition) return true;
    try {
      return this.evaluate(s.condition, vars) !== 0n;
    } catch {
      return true; // a broken condition stops, so the user sees it
    }
  }

  private onEntryFailure(c: Cpu, v: Vmx, f: EntryFailure, ev: VmxInstructionEvent | null): void {
    const raw = v.lastExit.reason;
    const isExit = !c.nonRoot && (raw & 0x80000000) !== 0 && v.lastExit.icount === c.icount;
    if (isExit && !this.seen(v)) this.recordExit();
    const err = v.vmcs.lo[ERROR_SLOT];
    const vars = { reason: BigInt(isExit ? raw & 0xFFFF : 0), error: BigInt(isExit ? 0 : err) };
    if (!this.wants('vm entry failure', vars)) return;
    const what = (ev?.instruction ?? 'VM entry').toUpperCase();
    const lines = [
      `${what} failed: ${f.result}`,
      `check ${f.check}, ${f.section}`,
      `field ${f.field}: ${f.detail}`,
    ];
    if (!isExit && err) lines.push(formatInstructionError(err));
    const text: StopText = {
      id: `VM-entry check ${f.check}`,
      description: `VM-entry failure (${what}): check ${f.check} (${f.section}) on ${f.field}: ${f.detail}`,
      lines,
      details: { check: f.check, section: f.section, field: f.field, detail: f.detail, result: f.result, instruction: what },
    };
    const next = isExit ? c.linearRip() : this.nextLinear(ev);
    this.engine?.requestEventStop({ kind: 'vm entry failure', data: text as unknown as Record<string, unknown> }, next);
  }

  private onVmFail(_c: Cpu, _v: Vmx, err: number, ev: VmxInstructionEvent | null): void {
    if (!this.wants('vmfail', { error: BigInt.asUintN(64, BigInt(err)) })) return;
    const what = (ev?.instruction ?? 'VMX instruction').toUpperCase();
    const e = err >= 0 ? instructionErrorByNumber(err) : undefined;
    const words = err < 0 ? 'VMfailInvalid: there is no current VMCS (RFLAGS.CF = 1)' : `VMfailValid(${err}): ${e?.description ?? 'unknown error'} (RFLAGS.ZF = 1, VM_INSTRUCTION_ERROR = ${err})`;
    const text: StopText = {
      id: err < 0 ? 'VMfailInvalid' : e?.name ?? `VMfailValid(${err})`,
      description: `VMfail: ${what} failed: ${err < 0 ? 'VMfailInvalid (no current VMCS)' : `VMfailValid(${err}) ${e?.description ?? ''}`}`,
      lines: [`${what} at ${hexAddr(ev ? ev.rip : 0)} failed`, words],
      details: { instruction: what, error: err, errorName: e?.name },
    };
    this.engine?.requestEventStop({ kind: 'vmfail', data: text as unknown as Record<string, unknown> }, this.nextLinear(ev));
  }

  private onVmcsWrite(_c: Cpu, v: Vmx, slot: number, oldLo: number, oldHi: number, ev: VmxInstructionEvent | null): void {
    const w = this.watches.find((x) => x.slot === slot);
    if (!w) return;
    w.lo = v.vmcs.lo[slot];
    w.hi = v.vmcs.hi[slot];
    const f = VMCS_FIELDS[slot];
    const old = (BigInt(oldHi >>> 0) << 32n) | BigInt(oldLo >>> 0);
    this.engine?.requestEventStop({
      kind: 'data breakpoint', hitBreakpointIds: [w.id],
      detail: `VMWRITE to ${f.name} (${formatEncoding(f.encoding)}): ${hexAddr(old)} -> ${hexAddr(v.vmcs.big(slot))}`,
    }, this.nextLinear(ev));
  }

  /** VMCS fields whose value the CPU changed since the last look (VM exit, VMPTRLD): a stop or null. */
  private checkWatches(ev: VmxInstructionEvent | null, inRun = true): StopInfo | null {
    const v = this.vmx;
    if (!v || !this.watches.length || !v.hasCurrent) return null;
    const hits: FieldWatch[] = [];
    const parts: string[] = [];
    for (const w of this.watches) {
      const lo = v.vmcs.lo[w.slot], hi = v.vmcs.hi[w.slot];
      if (lo === w.lo && hi === w.hi) continue;
      parts.push(`${VMCS_FIELDS[w.slot].name}: ${hexAddr((BigInt(w.hi >>> 0) << 32n) | BigInt(w.lo >>> 0))} -> ${hexAddr(v.vmcs.big(w.slot))}`);
      w.lo = lo; w.hi = hi;
      hits.push(w);
    }
    if (!hits.length) return null;
    const stop: StopInfo = { kind: 'data breakpoint', hitBreakpointIds: hits.map((h) => h.id), detail: `the CPU changed ${parts.join(', ')}` };
    if (inRun && ev) this.engine?.requestEventStop(stop, this.nextLinear(ev));
    return stop;
  }

  /** Replaces the VMCS-field data breakpoints. */
  setFieldWatches(list: { id: number; field: string }[]): void {
    const v = this.vmx;
    this.watches = list.map((b) => {
      const slot = slotOf(b.field);
      return { id: b.id, slot, lo: v ? v.vmcs.lo[slot] : 0, hi: v ? v.vmcs.hi[slot] : 0 };
    });
  }

  // ---- VM exits ---------------------------------------------------------------------------------

  /**
   * Records the exit that just happened (history, statistics) and returns the stop a filter wants
   * for it, if any. Numbers only unless the exit's class has a filter set: then it is decoded (and,
   * for the monitor, kept decoded, since the monitor changes GUEST_RIP and registers next).
   */
  private recordExit(): StopInfo | null {
    this.markSeen();
    const v = this.vmx;
    this.factsValid = false;
    if (!v || !v.hasCurrent || v.lastExit.reason === -1) return null;
    const d = v.vmcs, c = this.cpu(), f = this.facts;
    f.raw = d.i32(SL.reason);
    f.qualLo = d.lo[SL.qual]; f.qualHi = d.hi[SL.qual];
    f.ripLo = d.lo[SL.rip]; f.ripHi = d.hi[SL.rip];
    f.intr = d.i32(SL.intr);
    f.eax = c.r[0]; f.ecx = c.r[1];
    f.icount = v.lastExit.icount;
    this.factsValid = true;
    this.log.add(f);
    if (f.raw < 0) return null;
    const filter = FILTER_BY_REASON[f.raw & 0xFFFF] ?? null;
    if (filter === null || !this.filters.setting(filter)) return null;
    const dec = this.decodeExit();
    if (dec === null) return null;
    if (this.monitorMode) this.decoded = dec;
    return this.wants(filter, dec.vars) ? this.exitStop(dec) : null;
  }

  /** After every run: a new VM exit? Record it, and stop when a filter wants it. */
  afterRun(): StopInfo | null {
    const v = this.vmx;
    if (!v) return null;
    if (this.seen(v)) return null;
    // an entry failure is reported by the entry-failure event
    const wanted = this.recordExit();
    const watched = this.checkWatches(null, false);
    return wanted ?? watched;
  }

  /** The stop for the current exit (also after reverse execution arrives at one). */
  currentExitStop(): StopInfo | null {
    const d = this.decodeExit();
    return d ? this.exitStop(d) : null;
  }

  afterReverse(): void {
    this.markSeen();
    this.factsValid = false;
    this.decoded = null;
    const v = this.vmx;
    if (v) for (const w of this.watches) { w.lo = v.vmcs.lo[w.slot]; w.hi = v.vmcs.hi[w.slot]; }
  }

  private exitStop(d: DecodedExit): StopInfo {
    const lines = [
      `VM exit: ${d.title} (${d.basic}) [${d.name}]`,
      `qualification ${hexAddr(d.qualification)}${d.qualificationFields.length ? ': ' + d.qualificationFields.map((f) => `${f.name} ${f.text}`).join(', ') : ''}`,
      `guest RIP ${hexAddr(d.guestRip)}${d.instruction ? `: ${d.instruction}` : ''}${d.instructionLength ? ` (${d.instructionLength} bytes)` : ''}`,
    ];
    if (d.intrInfo < 0) lines.push(`interruption information: ${formatInterruptionInfo('exit', d.intrInfo)}${parseInterruptionInfo(d.intrInfo).errorCodeValid ? `, error code ${hexAddr(d.intrError >>> 0)}` : ''}`);
    const text: StopText = {
      id: d.name,
      description: `VM exit: ${d.title} (${d.basic})${d.summary ? ': ' + d.summary : ''}`,
      lines,
      details: {
        reason: d.basic, name: d.name, title: d.title, class: d.cls, qualification: hexAddr(d.qualification),
        fields: Object.fromEntries(d.qualificationFields.map((f) => [f.name, typeof f.value === 'bigint' ? hexAddr(f.value) : f.value])),
        guestRip: hexAddr(d.guestRip), instruction: d.instruction, instructionLength: d.instructionLength,
      },
    };
    return { kind: 'vm exit', data: text as unknown as Record<string, unknown> };
  }

  /** Decodes the exit-information fields of the current VMCS. */
  decodeExit(): DecodedExit | null {
    const v = this.vmx;
    if (!v || !v.hasCurrent || v.lastExit.reason === -1) return null;
    // monitor mode: the monitor changed GUEST_RIP and the registers when it handled the exit
    const current = this.factsValid && this.seen(v);
    if (this.monitorMode && this.decoded && current) return this.decoded;
    const d = v.vmcs, f = this.facts;
    const raw = d.u32(SL.reason);
    const dr = decodeExitReason(raw);
    const r = exitReasonByNumber(dr.basic);
    const q = d.big(SL.qual);
    const intr = d.i32(SL.intr);
    const vector = intr < 0 ? intr & 0xFF : -1;
    const fields = decodeExitQualification(dr.basic, q, vector >= 0 ? { vector } : {});
    // GUEST_RIP, EAX and ECX as the exit left them (a VMM or the monitor may have moved them since)
    const rip = current ? BigInt.asUintN(64, (BigInt(f.ripHi) << 32n) | BigInt(f.ripLo >>> 0)) : d.big(SL.rip);
    const lin = BigInt.asUintN(64, d.big(SL.csBase) + rip);
    const len = d.u32(SL.len);
    const cpu = this.cpu();
    const mem = this.memory();
    let instruction: string | undefined;
    if (mem && !dr.entryFailure) {
      try { instruction = analyzeAt(mem, cpu, lin, rip)?.text; } catch { instruction = undefined; }
    }
    const eax = current ? f.eax : cpu.r[0], ecx = current ? f.ecx : cpu.r[1];
    const vars: Record<string, bigint> = {
      reason: BigInt(dr.basic), qualification: q, rip, length: BigInt(len), vector: BigInt(vector >= 0 ? vector : 0),
      error: BigInt(d.u32(SL.intrErr)), leaf: BigInt(eax >>> 0), subleaf: BigInt(ecx >>> 0), msr: BigInt(ecx >>> 0),
      gpa: d.big(SL.gpa), linear: d.big(SL.linear),
    };
    if (dr.basic === 30) {
      const io = parseIoQualification(q);
      Object.assign(vars, { port: BigInt(io.port), size: BigInt(io.size), in: io.direction === 'in' ? 1n : 0n, out: io.direction === 'out' ? 1n : 0n, direction: io.direction === 'in' ? 1n : 0n, string: io.string ? 1n : 0n, rep: io.rep ? 1n : 0n });
    } else if (dr.basic === 28) {
      vars.cr = q & 0xFn;
    }
    const summary = exitSummary(dr.basic, q, intr, eax, ecx);
    return {
      raw, basic: dr.basic, name: r?.name ?? `EXIT_REASON_${dr.basic}`, title: r?.sdmName ?? `exit reason ${dr.basic}`,
      cls: r?.class ?? 'unknown', entryFailure: dr.entryFailure, qualification: q, qualificationFields: fields, guestRip: rip,
      guestLinearRip: lin, instructionLength: len, instruction, intrInfo: intr, intrError: d.i32(SL.intrErr), vars, summary,
    };
  }

  // ---- expressions ------------------------------------------------------------------------------

  /** `vmcs.FIELD` and `exit.NAME`; undefined for other names. Throws for a VMCS name that does not exist. */
  lookup(name: string): bigint | undefined {
    const lower = name.toLowerCase();
    if (lower.startsWith('vmcs.')) {
      const v = this.vmx;
      const f = fieldByName(name.slice(5).toUpperCase());
      if (!f) throw new ExpressionError(`no VMCS field named '${name.slice(5)}'`);
      if (!v || !v.hasCurrent) throw new ExpressionError('there is no current VMCS');
      const slot = slotOf(f.field.name);
      return f.high ? BigInt(v.vmcs.hi[slot] >>> 0) : v.vmcs.big(slot);
    }
    if (lower.startsWith('exit.')) {
      const d = this.decodeExit();
      if (!d) throw new ExpressionError('no VM exit has happened yet');
      const key = lower.slice(5);
      const all: Record<string, bigint> = { ...d.vars, count: BigInt(this.log.total), entryfailure: d.entryFailure ? 1n : 0n };
      if (key in all) return all[key];
      throw new ExpressionError(`'${name}': the exit names are ${Object.keys(all).join(', ')}`);
    }
    return undefined;
  }

  /** Assigns `vmcs.FIELD` (setExpression); false when the name is not a VMCS name. */
  assign(name: string, value: bigint): boolean {
    if (!name.toLowerCase().startsWith('vmcs.')) return false;
    this.writeField(name.slice(5).toUpperCase(), value);
    return true;
  }

  completionNames(): string[] {
    const out = VMCS_FIELDS.map((f) => `vmcs.${f.name}`);
    for (const n of ['reason', 'qualification', 'rip', 'length', 'port', 'size', 'in', 'out', 'string', 'rep', 'leaf', 'subleaf', 'msr', 'vector', 'error', 'cr', 'gpa', 'linear', 'count']) out.push(`exit.${n}`);
    return out;
  }

  // ---- VMCS edits --------------------------------------------------------------------------------

  /** Writes a field of the current VMCS with the checks a user needs; throws with the reason. */
  writeField(name: string, value: bigint): bigint {
    const v = this.vmx;
    const f = fieldByName(name);
    if (!f) throw new ExpressionError(`no VMCS field named '${name}'`);
    if (!v || !v.hasCurrent) throw new ExpressionError('there is no current VMCS to write');
    const field = f.field;
    const slot = slotOf(field.name);
    if (!v.caps.fieldSupported[slot]) throw new ExpressionError(`${field.name} is not supported by this CPU model (VMWRITE would fail with error 12)`);
    if (isReadOnlyField(field) && !v.caps.spec.misc.vmwriteAnyField) {
      throw new ExpressionError(`${field.name} is a VM-exit information field: read-only on this CPU model (IA32_VMX_MISC[29] = 0; VMWRITE fails with error 13)`);
    }
    const bits = f.high ? 32 : field.width === '16' ? 16 : field.width === '32' ? 32 : 64;
    const u = BigInt.asUintN(64, value);
    if (bits < 64 && u >> BigInt(bits) !== 0n) throw new ExpressionError(`${field.name}${f.high ? '_HIGH' : ''} is ${bits} bits wide: ${hexAddr(u)} does not fit`);
    const vec = CONTROL_VECTORS.find((c) => CONTROL_VECTOR_INFO[c].field === field.name);
    if (vec && !f.high) checkControlValue(v, vec, u);
    if (f.high) v.vmcs.setHigh(slot, Number(u) | 0);
    else v.vmcs.setBig(slot, u);
    for (const w of this.watches) if (w.slot === slot) { w.lo = v.vmcs.lo[slot]; w.hi = v.vmcs.hi[slot]; }
    return f.high ? BigInt(v.vmcs.hi[slot] >>> 0) : v.vmcs.big(slot);
  }

  // ---- custom requests ---------------------------------------------------------------------------

  /** The whole VMCS with metadata: the current one, or the region at `pointer` (read from memory). */
  readVmcs(pointer?: number): Record<string, unknown> {
    const v = this.vmx;
    if (!v) return { available: false, reason: 'VMX is not attached (cpuModel "none")' };
    const current = pointer === undefined || pointer === v.current;
    const addr = pointer ?? v.current;
    if (addr === -1) return { available: false, reason: v.inVmx ? 'there is no current VMCS' : 'the CPU is not in VMX operation', inVmx: v.inVmx };
    const mem = this.memory();
    const value = (k: number): bigint => {
      if (current) return v.vmcs.big(k);
      return mem ? mem.readValue('physical', BigInt(addr + VMCS_OFF_DATA + 8 * k), 8) : 0n;
    };
    const launch = current ? v.vmcs.launch : mem ? Number(mem.readValue('physical', BigInt(addr + VMCS_OFF_LAUNCH), 4)) : 0;
    return {
      available: true,
      pointer: hexAddr(addr),
      current,
      launchState: launch === 0 ? 'clear' : launch === 1 ? 'launched' : 'launched, then VMXOFF',
      inVmx: v.inVmx,
      nonRoot: this.cpu().nonRoot,
      // allowed settings of each 32-bit control vector (TRUE_ capability MSRs where the model has them)
      controls: Object.fromEntries(
        (['pin', 'proc1', 'proc2', 'exit', 'entry'] as const).map((vec) => {
          const c = vec === 'pin' ? v.caps.pin : vec === 'proc1' ? v.caps.proc1 : vec === 'proc2' ? v.caps.proc2 : vec === 'exit' ? v.caps.exit : v.caps.entry;
          return [vec, { must1: hexAddr(c.must1 >>> 0), may1: hexAddr(c.may1 >>> 0) }];
        }),
      ),
      fields: VMCS_FIELDS.map((f, k) => ({
        name: f.name, encoding: formatEncoding(f.encoding), area: f.area, width: f.width, description: f.description,
        value: hexAddr(value(k)), pointer: f.pointer === true, readOnly: isReadOnlyField(f), supported: v.caps.fieldSupported[k] === 1,
      })),
    };
  }

  history(start = 0, count = 1000): { total: number; exits: ExitRecordInfo[] } {
    return { total: this.log.total, exits: this.log.entries(start, count) };
  }

  stats(): Record<string, unknown> {
    return this.log.stats();
  }
}

/** Text of a VMX stop: carried in StopInfo.data. */
interface StopText {
  id: string;
  description: string;
  lines: string[];
  details?: Record<string, unknown>;
}

/** A control-vector value against the capability MSRs' allowed settings; throws with the bits at fault. */
export function checkControlValue(v: Vmx, vec: ControlVector, value: bigint): void {
  const info = CONTROL_VECTOR_INFO[vec];
  const caps = vec === 'pin' ? v.caps.pin : vec === 'proc1' ? v.caps.proc1 : vec === 'proc2' ? v.caps.proc2 : vec === 'exit' ? v.caps.exit : vec === 'entry' ? v.caps.entry : null;
  const name = (bit: number) => CONTROLS_BY_VECTOR[vec].find((c) => c.bit === bit)?.name ?? `bit ${bit}`;
  if (caps) {
    const val = Number(value & 0xFFFFFFFFn);
    const missing = (caps.must1 & ~val) >>> 0;
    const extra = (val & ~caps.may1) >>> 0;
    const bits = (m: number) => [...Array(32).keys()].filter((b) => (m >>> b) & 1).map(name).join(', ');
    if (missing) throw new ExpressionError(`${info.field}: ${bits(missing)} must be 1 on this CPU model (allowed-0 settings of MSR 0x${(info.trueCapabilityMsr && v.caps.spec.trueControls ? info.trueCapabilityMsr : info.capabilityMsr).toString(16)})`);
    if (extra) throw new ExpressionError(`${info.field}: ${bits(extra)} must be 0 on this CPU model (allowed-1 settings of MSR 0x${info.capabilityMsr.toString(16)})`);
    return;
  }
  const allowed = v.caps.msrs.get(info.capabilityMsr) ?? 0n;
  const extra = value & ~allowed;
  if (extra) throw new ExpressionError(`${info.field}: bits ${hexAddr(extra)} are not allowed on this CPU model (MSR 0x${info.capabilityMsr.toString(16)})`);
}

// ---- scopes ------------------------------------------------------------------------------------------

function fieldBits(f: VmcsField): number {
  return f.width === '16' ? 16 : f.width === '32' ? 32 : 64;
}

function decodedNodes(list: DecodedField[]): VariableNode[] {
  return list.map((d) => ({ name: d.name, value: d.text, type: d.description, readOnly: true }));
}

/** Decoded children of a field, by name: control bits, exit reason, qualification, interruption and instruction info. */
function decodeFieldChildren(v: Vmx, f: VmcsField, value: bigint): VariableNode[] | undefined {
  const vec = CONTROL_VECTORS.find((c) => CONTROL_VECTOR_INFO[c].field === f.name);
  if (vec) {
    return CONTROLS_BY_VECTOR[vec]
      .filter((c) => !c.reserved || ((value >> BigInt(c.bit)) & 1n) !== 0n)
      .map((c) => ({ name: c.name, value: ((value >> BigInt(c.bit)) & 1n) !== 0n ? '1' : '0', type: `bit ${c.bit}: ${c.sdmName}`, readOnly: true }));
  }
  switch (f.name) {
    case 'VM_EXIT_REASON': {
      const d = decodeExitReason(value);
      return [
        { name: 'basic', value: `${d.basic} ${d.reason ? `(${d.reason.name}: ${d.reason.sdmName})` : ''}`, readOnly: true },
        { name: 'class', value: d.reason?.class ?? 'unknown', readOnly: true },
        { name: 'entryFailure', value: d.entryFailure ? 'yes' : 'no', readOnly: true },
        ...(d.enclaveMode ? [{ name: 'enclaveMode', value: 'yes', readOnly: true }] : []),
        ...(d.fromVmxRoot ? [{ name: 'fromVmxRoot', value: 'yes', readOnly: true }] : []),
      ];
    }
    case 'EXIT_QUALIFICATION': {
      const basic = v.vmcs.u32(SL.reason) & 0xFFFF;
      const intr = v.vmcs.i32(SL.intr);
      return decodedNodes(decodeExitQualification(basic, value, intr < 0 ? { vector: intr & 0xFF } : {}));
    }
    case 'VM_EXIT_INTR_INFO': return decodedNodes(decodeInterruptionInfo('exit', value));
    case 'IDT_VECTORING_INFO_FIELD': return decodedNodes(decodeInterruptionInfo('idt-vectoring', value));
    case 'VM_ENTRY_INTR_INFO_FIELD': return decodedNodes(decodeInterruptionInfo('entry', value));
    case 'VMX_INSTRUCTION_INFO': {
      const kind = instructionInfoKindForExit(v.vmcs.u32(SL.reason) & 0xFFFF);
      return kind ? decodedNodes(decodeInstructionInfo(kind, value)) : undefined;
    }
  }
  return undefined;
}

function fieldSummary(f: VmcsField, value: bigint): string {
  if (f.name === 'VM_INSTRUCTION_ERROR') return value ? ` (${formatInstructionError(Number(value))})` : '';
  if (f.name === 'VM_EXIT_REASON') {
    const d = decodeExitReason(value);
    return ` (${d.entryFailure ? 'entry failure: ' : ''}${d.reason?.sdmName ?? '?'})`;
  }
  return '';
}

export class VmcsScope implements ScopeProvider {
  readonly name = 'VMCS';
  readonly expensive = false;
  constructor(private readonly vmx: VmxDebug) {}

  applies(_ctx: ScopeContext, frameIndex: number): boolean {
    return frameIndex === 0 && this.vmx.vmx !== null;
  }

  private node(v: Vmx, f: VmcsField, hex: boolean): VariableNode {
    const slot = slotOf(f.name);
    const value = v.vmcs.big(slot);
    const kids = decodeFieldChildren(v, f, value);
    return {
      name: f.name,
      value: formatValue(value, fieldBits(f), hex) + fieldSummary(f, value),
      type: `${formatEncoding(f.encoding)}, ${f.width === 'natural' ? 'natural-width' : f.width + '-bit'}: ${f.description}`,
      evaluateName: `vmcs.${f.name}`,
      memoryReference: f.pointer && value !== 0n && value !== 0xFFFFFFFFFFFFFFFFn ? `phys:${hexAddr(value)}` : undefined,
      children: kids && kids.length ? `dec:${f.name}` : undefined,
      readOnly: isReadOnlyField(f) && !v.caps.spec.misc.vmwriteAnyField,
    };
  }

  children(_ctx: ScopeContext, path: string, hex: boolean): VariableNode[] {
    const v = this.vmx.vmx;
    if (!v) return [];
    if (path === '') {
      if (!v.inVmx) return [{ name: 'state', value: 'not in VMX operation (no VMXON yet)', readOnly: true }];
      if (!v.hasCurrent) return [{ name: 'state', value: 'in VMX operation, no current VMCS (no VMPTRLD yet)', readOnly: true }];
      const out: VariableNode[] = [
        { name: 'current VMCS', value: hexAddr(v.current), memoryReference: `phys:${hexAddr(v.current)}`, readOnly: true },
        { name: 'launch state', value: v.vmcs.launch === 0 ? 'clear' : v.vmcs.launch === 1 ? 'launched' : 'launched, then VMXOFF', readOnly: true },
      ];
      for (const a of VMCS_AREAS) out.push({ name: VMCS_AREA_TITLES[a], value: `${fieldsInArea(a).length} fields`, children: `area:${a}`, readOnly: true });
      return out;
    }
    if (!v.hasCurrent) return [];
    if (path.startsWith('area:')) {
      const area = path.slice(5);
      return VMCS_FIELDS.filter((f, k) => f.area === area && v.caps.fieldSupported[k]).map((f) => this.node(v, f, hex));
    }
    if (path.startsWith('dec:')) {
      const f = fieldByName(path.slice(4))?.field;
      return f ? decodeFieldChildren(v, f, v.vmcs.big(slotOf(f.name))) ?? [] : [];
    }
    return [];
  }

  set(ctx: ScopeContext, path: string, name: string, value: string, hex: boolean): VariableNode {
    const v = this.vmx.vmx;
    if (!v || !path.startsWith('area:')) throw new ExpressionError(`'${name}' cannot be set`);
    const f = fieldByName(name)?.field;
    if (!f) throw new ExpressionError(`'${name}' cannot be set`);
    this.vmx.writeField(f.name, ctx.evaluate(value));
    return this.node(v, f, hex);
  }
}

export class LastExitScope implements ScopeProvider {
  readonly name = 'Last VM exit';
  readonly expensive = false;
  constructor(private readonly vmx: VmxDebug) {}

  applies(_ctx: ScopeContext, frameIndex: number): boolean {
    return frameIndex === 0 && this.vmx.vmx !== null && this.vmx.vmx.lastExit.reason !== -1;
  }

  children(_ctx: ScopeContext, path: string, hex: boolean): VariableNode[] {
    const d = this.vmx.decodeExit();
    const v = this.vmx.vmx;
    if (!d || !v) return [];
    if (path === 'qual') return decodedNodes(d.qualificationFields);
    if (path === 'intr') return decodedNodes(decodeInterruptionInfo('exit', d.intrInfo));
    const fmt = (x: bigint, bits = 64) => formatValue(x, bits, hex);
    const out: VariableNode[] = [
      { name: 'reason', value: `${d.basic}: ${d.title}${d.entryFailure ? ' (VM-entry failure)' : ''}`, type: d.name, evaluateName: 'exit.reason', readOnly: true },
      { name: 'class', value: d.cls, readOnly: true },
      { name: 'summary', value: d.summary, readOnly: true },
      { name: 'qualification', value: fmt(d.qualification), evaluateName: 'exit.qualification', children: d.qualificationFields.length ? 'qual' : undefined, readOnly: true },
      { name: 'guest RIP', value: fmt(d.guestRip), evaluateName: 'exit.rip', memoryReference: hexAddr(d.guestLinearRip), readOnly: true },
      { name: 'instruction', value: d.instruction ?? '?', readOnly: true },
      { name: 'instruction length', value: String(d.instructionLength), evaluateName: 'exit.length', readOnly: true },
      { name: 'interruption information', value: formatInterruptionInfo('exit', d.intrInfo), children: d.intrInfo < 0 ? 'intr' : undefined, readOnly: true },
      { name: 'instruction count', value: String(v.lastExit.icount), readOnly: true },
      { name: 'exits so far', value: String(v.exitCount), evaluateName: 'exit.count', readOnly: true },
    ];
    if (d.basic === 48 || d.basic === 49) out.push({ name: 'guest-physical address', value: fmt(d.vars.gpa), evaluateName: 'exit.gpa', memoryReference: `phys:${hexAddr(d.vars.gpa)}`, readOnly: true });
    if (v.lastEntryFailure && d.entryFailure) {
      const f = v.lastEntryFailure;
      out.push({ name: 'failed check', value: `${f.check} (${f.section}) on ${f.field}: ${f.detail}`, readOnly: true });
    }
    return out;
  }
}

export { FIELD_COUNT };
