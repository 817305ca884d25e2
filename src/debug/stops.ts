import type { DebugProtocol } from '@vscode/debugprotocol';
import * as K from '../cpu/constants';
import { hexAddr } from './memory';

/**
 * Stops that explain themselves. The engine reports a StopInfo (what happened, as data); a
 * describer registered for its `kind` turns it into the DAP stopped-event reason, the one-line
 * description VS Code shows in the call stack and the `exceptionInfo` answer. The VMX layer adds
 * describers for its own kinds ('vm exit', 'vm entry failure', 'vmfail') without touching the
 * session.
 *
 * Exception filters (the Breakpoints view's check boxes) live in a registry for the same reason:
 * the session lists whatever is registered in its capabilities, and asks the registry whether a
 * filter is on and what its condition is.
 */

export type StopReason = 'entry' | 'step' | 'pause' | 'breakpoint' | 'function breakpoint' | 'instruction breakpoint'
  | 'data breakpoint' | 'exception' | 'goto';

/** A CPU exception the debugger stopped on, before the guest saw it. */
export interface CpuException {
  vector: number;
  /** -1 when the exception has no error code. */
  errorCode: number;
  /** The core's own words for why it raised it. */
  why: string;
  /** Linear address of the faulting instruction. */
  pc: bigint;
  cr2: bigint;
  /** Disassembly of the faulting instruction. */
  instruction?: string;
}

export interface StopInfo {
  /** Describer key: 'entry', 'step', 'pause', 'goto', 'breakpoint', 'data breakpoint', 'exception', 'halt', 'triple fault', ... */
  kind: string;
  /** For breakpoints: which kind of breakpoint stopped (source, function, instruction). */
  breakpointKind?: 'source' | 'function' | 'instruction';
  hitBreakpointIds?: number[];
  exception?: CpuException;
  /** Free text from the engine (a condition that failed to evaluate, the halt detail...). */
  detail?: string;
  /** Anything a later describer needs (VM-exit information...). */
  data?: Record<string, unknown>;
}

export type ExceptionInfoBody = DebugProtocol.ExceptionInfoResponse['body'];

export interface StopDescription {
  reason: StopReason;
  /** Shown in the Call Stack next to the thread ("Paused on exception: #GP ..."). */
  description: string;
  /** Longer text VS Code shows with exceptions. */
  text?: string;
  exceptionInfo?: ExceptionInfoBody;
}

export type StopDescriber = (stop: StopInfo) => StopDescription;

export class StopDescribers {
  private readonly byKind = new Map<string, StopDescriber>();

  register(kind: string, describer: StopDescriber): void {
    this.byKind.set(kind, describer);
  }

  describe(stop: StopInfo): StopDescription {
    const d = this.byKind.get(stop.kind);
    if (d) return d(stop);
    return { reason: 'pause', description: stop.detail ? `${stop.kind}: ${stop.detail}` : stop.kind };
  }
}

// ---- exception decoding ----------------------------------------------------------------------

const HAS_SELECTOR_ERROR = new Set([K.EXC_TS, K.EXC_NP, K.EXC_SS, K.EXC_GP, 17 /* #AC: always 0 */]);

export function vectorName(vec: number): string {
  return K.EXCEPTION_NAMES[vec] ?? `vector ${vec}`;
}

/** Short mnemonic: "#GP". */
export function vectorMnemonic(vec: number): string {
  const n = K.EXCEPTION_NAMES[vec];
  return n ? n.split(' ')[0] : `vector ${vec}`;
}

/** Page-fault error code in words (SDM 4.7). */
export function decodePageFaultError(err: number): string {
  const parts = [
    err & K.PFEC_P ? 'protection violation (page present)' : 'page not present',
    err & K.PFEC_W ? 'write' : 'read',
    err & K.PFEC_U ? 'user mode' : 'supervisor mode',
  ];
  if (err & K.PFEC_RSVD) parts.push('reserved bit set in a paging entry');
  if (err & K.PFEC_I) parts.push('instruction fetch');
  if (err & 0x20) parts.push('protection key');
  if (err & 0x40) parts.push('shadow stack');
  if (err & 0x8000) parts.push('SGX');
  return parts.join(', ');
}

/** Selector-format error code in words (SDM 6.13): EXT, IDT, TI and the index. */
export function decodeSelectorError(err: number): string {
  if (err === 0) return 'no selector involved';
  const ext = err & 1 ? ', external event' : '';
  const index = err >>> 3;
  if (err & 2) return `IDT vector ${(err >>> 3)}${ext}`;
  return `${err & 4 ? 'LDT' : 'GDT'} selector 0x${(err & 0xFFFC).toString(16)} (index ${index})${ext}`;
}

export function decodeErrorCode(vec: number, err: number): string | undefined {
  if (err < 0) return undefined;
  if (vec === K.EXC_PF) return decodePageFaultError(err);
  if (HAS_SELECTOR_ERROR.has(vec)) return decodeSelectorError(err);
  return undefined;
}

export function describeException(x: CpuException): { title: string; lines: string[] } {
  const name = vectorName(x.vector);
  const lines: string[] = [];
  lines.push(`${name} (vector ${x.vector})${x.why ? ': ' + x.why : ''}`);
  if (x.errorCode >= 0) {
    const d = decodeErrorCode(x.vector, x.errorCode);
    lines.push(`error code 0x${x.errorCode.toString(16)}${d ? ' = ' + d : ''}`);
  }
  if (x.vector === K.EXC_PF) lines.push(`CR2 (faulting address) ${hexAddr(x.cr2)}`);
  lines.push(`at ${hexAddr(x.pc)}${x.instruction ? ': ' + x.instruction : ''}`);
  const title = `${vectorMnemonic(x.vector)}${x.errorCode >= 0 ? `(0x${x.errorCode.toString(16)})` : ''}${x.vector === K.EXC_PF ? ` at ${hexAddr(x.cr2)}` : ''}${x.why ? ': ' + x.why : ''}`;
  return { title, lines };
}

/** The describers for the stops the core debugger produces. */
export function defaultStopDescribers(): StopDescribers {
  const d = new StopDescribers();
  d.register('entry', () => ({ reason: 'entry', description: 'Paused on entry' }));
  d.register('step', () => ({ reason: 'step', description: 'Paused after step' }));
  d.register('pause', (s) => ({ reason: 'pause', description: s.detail ? `Paused: ${s.detail}` : 'Paused' }));
  d.register('goto', () => ({ reason: 'goto', description: 'Paused after goto' }));
  d.register('breakpoint', (s) => {
    const reason: StopReason = s.breakpointKind === 'function' ? 'function breakpoint' : s.breakpointKind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
    const what = s.breakpointKind === 'function' ? 'function breakpoint' : s.breakpointKind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
    return { reason, description: `Paused on ${what}${s.detail ? ` (${s.detail})` : ''}`, text: s.detail };
  });
  d.register('data breakpoint', (s) => ({ reason: 'data breakpoint', description: `Paused on data breakpoint${s.detail ? ': ' + s.detail : ''}`, text: s.detail }));
  d.register('exception', (s) => {
    const x = s.exception!;
    const { title, lines } = describeException(x);
    return {
      reason: 'exception',
      description: `Paused on exception: ${title}`,
      text: lines.join('\n'),
      exceptionInfo: {
        exceptionId: vectorMnemonic(x.vector),
        description: lines.join('\n'),
        breakMode: 'always',
        details: { message: lines.join('\n'), typeName: vectorName(x.vector) },
      },
    };
  });
  d.register('halt', (s) => {
    const msg = s.detail ?? 'HLT with interrupts disabled';
    return {
      reason: 'exception',
      description: `Paused on halt: ${msg}`,
      text: msg,
      exceptionInfo: { exceptionId: 'HLT', description: `${msg}. The guest cannot continue; continuing ends the session.`, breakMode: 'always', details: { message: msg, typeName: 'halt' } },
    };
  });
  d.register('triple fault', (s) => {
    const msg = s.detail ?? 'triple fault';
    return {
      reason: 'exception',
      description: `Paused on triple fault: ${msg}`,
      text: msg,
      exceptionInfo: { exceptionId: 'triple fault', description: `${msg}. The CPU is in shutdown; continuing ends the session.`, breakMode: 'always', details: { message: msg, typeName: 'shutdown' } },
    };
  });
  return d;
}

// ---- exception filters -------------------------------------------------------------------------

export interface ExceptionFilterDef {
  filter: string;
  label: string;
  description: string;
  default: boolean;
  supportsCondition: boolean;
  conditionDescription?: string;
}

export interface FilterSetting {
  condition?: string;
}

export class ExceptionFilterRegistry {
  private readonly defs: ExceptionFilterDef[] = [];
  private readonly enabled = new Map<string, FilterSetting>();

  register(def: ExceptionFilterDef): void {
    this.defs.push(def);
    if (def.default) this.enabled.set(def.filter, {});
  }

  all(): readonly ExceptionFilterDef[] {
    return this.defs;
  }

  has(filter: string): boolean {
    return this.defs.some((d) => d.filter === filter);
  }

  /** Replaces the settings (setExceptionBreakpoints is always the full list). */
  set(settings: Map<string, FilterSetting>): void {
    this.enabled.clear();
    for (const [k, v] of settings) this.enabled.set(k, v);
  }

  setting(filter: string): FilterSetting | undefined {
    return this.enabled.get(filter);
  }
}

export function defaultExceptionFilters(): ExceptionFilterRegistry {
  const r = new ExceptionFilterRegistry();
  r.register({
    filter: 'exception',
    label: 'Unexpected CPU exception',
    description: 'Stop before the guest receives an exception it has no handler for (IDT/IVT entry missing or '
      + 'not present, or a double fault). With a condition, stop on every exception for which the condition is '
      + 'true instead (names: vector, error, plus registers).',
    default: true,
    supportsCondition: true,
    conditionDescription: 'e.g. vector == 14 && error & 2',
  });
  r.register({
    filter: 'triple fault',
    label: 'Triple fault',
    description: 'Stop when the CPU enters shutdown (triple fault), before the session ends.',
    default: true,
    supportsCondition: false,
  });
  r.register({
    filter: 'halt',
    label: 'Halt',
    description: 'Stop when the guest halts for good (HLT with interrupts disabled, or waiting for an interrupt nothing will raise), before the session ends.',
    default: false,
    supportsCondition: false,
  });
  return r;
}
