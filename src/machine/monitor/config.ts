import { controlByName, exitReasonByName, type ControlVector } from '../../cpu/vmx/spec';

/**
 * The built-in monitor's configuration: plain data, so the same object can come from a
 * `--vmx-config` JSON file today and from launch-configuration attributes later. Every key is
 * validated with an error that names it (`MonitorConfigError`).
 */

export type IoExiting = 'unconditional' | 'bitmap';
export type EntryMode = 'auto' | 'real' | 'protected' | 'long';

/** An inclusive port or MSR range. */
export interface Range {
  first: number;
  last: number;
}

export interface CpuidEntry {
  leaf: number;
  /** Omitted: the entry answers every subleaf. */
  subleaf?: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface MonitorConfig {
  /** Control names (spec table names, e.g. CPU_BASED_HLT_EXITING) the monitor needs on top of its own. */
  requiredControls: string[];
  /** Control names it would like; dropped (and reported) when the CPU model does not allow them. */
  optionalControls: string[];
  /** Names the monitor would otherwise set that the configuration turns off (e.g. to replay old KVM). */
  disabledControls: string[];
  /** 'unconditional': every IN/OUT exits; 'bitmap': only `exitPorts` exit (I/O bitmaps A and B). */
  ioExiting: IoExiting;
  /** With 'bitmap': ports that exit. Others go straight to the machine's devices without a VM exit. */
  exitPorts: Range[];
  /** 'all': no MSR bitmap, every RDMSR/WRMSR exits; otherwise the MSRs that exit (MSR bitmap). */
  exitMsrs: 'all' | Range[];
  /** Exception bitmap (bit n: vector n exits; the monitor reflects it into the guest and counts it). */
  exceptionBitmap: number;
  /** CPUID results the guest sees instead of the CPU's (after the monitor hides VMX). */
  cpuid: CpuidEntry[];
  /** Guest entry state: 'auto' follows the image loader's start mode. */
  entry: EntryMode;
  /** Exit reasons that stop the run (after handling), e.g. for a debugger's VM-exit filter. */
  stopOn: number[];
}

export const DEFAULT_CONFIG: Readonly<MonitorConfig> = Object.freeze({
  requiredControls: [],
  optionalControls: [],
  disabledControls: [],
  ioExiting: 'unconditional',
  exitPorts: [],
  exitMsrs: 'all',
  exceptionBitmap: 0,
  cpuid: [],
  entry: 'auto',
  stopOn: [],
});

export class MonitorConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
  }
}

const KEYS = ['controls', 'io', 'msrs', 'exceptionBitmap', 'cpuid', 'entry', 'stopOn', '$comment', 'description'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A number or a string in 0x / decimal form. */
function num(key: string, v: unknown, max: number): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim())) n = Number(v.trim());
  else throw new MonitorConfigError(key, `${JSON.stringify(v)} is not a number (use 128 or "0x80")`);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new MonitorConfigError(key, `${n} is outside 0..0x${max.toString(16)}`);
  return n;
}

/** 0x80, "0x80", "0x3f8-0x3ff" or {first, last}. */
function range(key: string, v: unknown, max: number): Range {
  if (typeof v === 'string' && v.includes('-')) {
    const [a, b] = v.split('-');
    const r = { first: num(key, a, max), last: num(key, b, max) };
    if (r.last < r.first) throw new MonitorConfigError(key, `range '${v}' ends before it starts`);
    return r;
  }
  if (isObject(v)) {
    const r = { first: num(`${key}.first`, v.first, max), last: num(`${key}.last`, v.last ?? v.first, max) };
    if (r.last < r.first) throw new MonitorConfigError(key, 'range ends before it starts');
    return r;
  }
  const n = num(key, v, max);
  return { first: n, last: n };
}

function names(key: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw new MonitorConfigError(key, 'must be a list of control names');
  return v.map((n, k) => {
    if (typeof n !== 'string' || !controlByName(n)) {
      throw new MonitorConfigError(`${key}[${k}]`, `${JSON.stringify(n)} is not a VMX control name (see src/cpu/vmx/spec/controls.ts, e.g. CPU_BASED_HLT_EXITING)`);
    }
    return n;
  });
}

function unknownKeys(key: string, o: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new MonitorConfigError(key ? `${key}.${k}` : k, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

/**
 * Validates a parsed JSON configuration and fills in defaults. Shape:
 *
 *   { "controls": { "required": [...], "optional": [...], "disabled": [...] },
 *     "io": { "exiting": "unconditional" | "bitmap", "exitPorts": [128, "0x3f8-0x3ff"] },
 *     "msrs": { "exit": "all" | ["0x10", "0xc0000080"] },
 *     "exceptionBitmap": 0 | [6, 13],
 *     "cpuid": [ { "leaf": 0, "subleaf": 0, "eax": 1, "ebx": ..., "ecx": ..., "edx": ... } ],
 *     "entry": "auto" | "real" | "protected" | "long",
 *     "stopOn": ["CPUID", "EXIT_REASON_HLT", 30] }
 */
export function parseMonitorConfig(json: unknown): MonitorConfig {
  if (!isObject(json)) throw new MonitorConfigError('(top level)', 'must be a JSON object');
  unknownKeys('', json, KEYS);
  const c: MonitorConfig = { ...DEFAULT_CONFIG, requiredControls: [], optionalControls: [], disabledControls: [], exitPorts: [], cpuid: [], stopOn: [] };
  if (json.controls !== undefined) {
    if (!isObject(json.controls)) throw new MonitorConfigError('controls', 'must be an object with required / optional / disabled lists');
    unknownKeys('controls', json.controls, ['required', 'optional', 'disabled']);
    if (json.controls.required !== undefined) c.requiredControls = names('controls.required', json.controls.required);
    if (json.controls.optional !== undefined) c.optionalControls = names('controls.optional', json.controls.optional);
    if (json.controls.disabled !== undefined) c.disabledControls = names('controls.disabled', json.controls.disabled);
  }
  if (json.io !== undefined) {
    if (!isObject(json.io)) throw new MonitorConfigError('io', 'must be an object');
    unknownKeys('io', json.io, ['exiting', 'exitPorts']);
    if (json.io.exiting !== undefined) {
      if (json.io.exiting !== 'unconditional' && json.io.exiting !== 'bitmap') throw new MonitorConfigError('io.exiting', `${JSON.stringify(json.io.exiting)} is not "unconditional" or "bitmap"`);
      c.ioExiting = json.io.exiting;
    }
    if (json.io.exitPorts !== undefined) {
      if (!Array.isArray(json.io.exitPorts)) throw new MonitorConfigError('io.exitPorts', 'must be a list of ports or "first-last" ranges');
      c.exitPorts = json.io.exitPorts.map((p, k) => range(`io.exitPorts[${k}]`, p, 0xFFFF));
      if (json.io.exiting === undefined) c.ioExiting = 'bitmap';
    }
    if (c.ioExiting === 'unconditional' && c.exitPorts.length) throw new MonitorConfigError('io.exitPorts', 'only applies with "exiting": "bitmap" (unconditional I/O exiting makes every port exit)');
  }
  if (json.msrs !== undefined) {
    if (!isObject(json.msrs)) throw new MonitorConfigError('msrs', 'must be an object');
    unknownKeys('msrs', json.msrs, ['exit']);
    const e = json.msrs.exit;
    if (e === 'all') c.exitMsrs = 'all';
    else if (Array.isArray(e)) c.exitMsrs = e.map((m, k) => range(`msrs.exit[${k}]`, m, 0xFFFFFFFF));
    else throw new MonitorConfigError('msrs.exit', 'must be "all" or a list of MSR indices / ranges');
  }
  if (json.exceptionBitmap !== undefined) {
    const e = json.exceptionBitmap;
    if (Array.isArray(e)) c.exceptionBitmap = e.reduce((m: number, v, k) => (m | (1 << num(`exceptionBitmap[${k}]`, v, 31))) >>> 0, 0);
    else c.exceptionBitmap = num('exceptionBitmap', e, 0xFFFFFFFF);
  }
  if (json.cpuid !== undefined) {
    if (!Array.isArray(json.cpuid)) throw new MonitorConfigError('cpuid', 'must be a list of { leaf, subleaf?, eax, ebx, ecx, edx }');
    c.cpuid = json.cpuid.map((e, k) => {
      const key = `cpuid[${k}]`;
      if (!isObject(e)) throw new MonitorConfigError(key, 'must be an object');
      unknownKeys(key, e, ['leaf', 'subleaf', 'eax', 'ebx', 'ecx', 'edx']);
      if (e.leaf === undefined) throw new MonitorConfigError(`${key}.leaf`, 'is required');
      const reg = (r: string) => (e[r] === undefined ? 0 : num(`${key}.${r}`, e[r], 0xFFFFFFFF));
      return {
        leaf: num(`${key}.leaf`, e.leaf, 0xFFFFFFFF),
        ...(e.subleaf !== undefined ? { subleaf: num(`${key}.subleaf`, e.subleaf, 0xFFFFFFFF) } : {}),
        eax: reg('eax'), ebx: reg('ebx'), ecx: reg('ecx'), edx: reg('edx'),
      };
    });
  }
  if (json.entry !== undefined) {
    if (!['auto', 'real', 'protected', 'long'].includes(json.entry as string)) throw new MonitorConfigError('entry', `${JSON.stringify(json.entry)} is not one of auto, real, protected, long`);
    c.entry = json.entry as EntryMode;
  }
  if (json.stopOn !== undefined) {
    if (!Array.isArray(json.stopOn)) throw new MonitorConfigError('stopOn', 'must be a list of exit reasons (names or numbers)');
    c.stopOn = json.stopOn.map((r, k) => {
      if (typeof r === 'string' && !/^[0-9]/.test(r)) {
        const e = exitReasonByName(r);
        if (!e) throw new MonitorConfigError(`stopOn[${k}]`, `${JSON.stringify(r)} is not an exit reason name (e.g. IO_INSTRUCTION, EXIT_REASON_CPUID)`);
        return e.number;
      }
      return num(`stopOn[${k}]`, r, 0xFFFF);
    });
  }
  return c;
}

/** Which vector a control name belongs to (names are validated already). */
export function vectorOf(name: string): ControlVector {
  const c = controlByName(name);
  if (!c) throw new MonitorConfigError('controls', `unknown control ${name}`);
  return c.vector;
}
