import type { CpuMode, LoaderFormat } from '../machine/loaders/loadPlan';
import { MonitorConfigError, parseMonitorConfig, type MonitorConfig } from '../machine/monitor/config';

/**
 * The `launch` request of `type: "vmx"`: every attribute checked, with an error that names the
 * attribute and says what was expected. Numbers accept a JSON number or a string in any base the
 * expressions accept ("0x7c00", "0b1010", "0o17", "4096", "7c00h"). Validation is pure: files are
 * read later by the session through its injected file access.
 */

export interface LaunchOptions {
  program: string;
  format?: LoaderFormat;
  loadAddress?: number;
  entry?: number;
  mode?: CpuMode;
  /** Guest RAM in MiB. */
  ramMiB: number;
  /** VMX capability model attached to the CPU; 'none' runs without VMX. */
  cpuModel: 'default' | 'core2-no-ug' | 'none';
  /** Reverse execution: how many executed instructions to keep (0 = off, the default). */
  historyInstructions: number;
  /** Exception filters turned on by the launch configuration, with conditions. */
  stopOnVmExit: { filter: string; condition?: string }[];
  stopOnEntry: boolean;
  serial: 'debugConsole' | 'integratedTerminal' | 'none';
  /** Run the program as a guest of the built-in monitor (null: bare metal). */
  monitor: MonitorConfig | null;
  /** Extra debug information: ELF files with symbols/DWARF, or NASM listings (.lst). */
  symbols: string[];
  maxInstructions: number;
  cmdline?: string;
  modules: string[];
  /** Base directory for relative paths. */
  cwd?: string;
  /** Attributes present but not understood (typos, or features not built yet), for a warning. */
  ignored: string[];
}

/** A launch attribute is wrong: the message names it. */
export class LaunchConfigError extends Error {
  constructor(readonly attribute: string, message: string) {
    super(`launch attribute '${attribute}': ${message}`);
  }
}

const FORMATS: readonly LoaderFormat[] = ['elf', 'flat', 'rom', 'multiboot'];
const MODES: readonly CpuMode[] = ['real', 'protected', 'long'];
const CPU_MODELS = ['default', 'core2-no-ug', 'none'] as const;
const SERIAL = ['debugConsole', 'integratedTerminal', 'none'] as const;

/** Attributes VS Code or the DAP itself adds, or that other parts of the launch configuration use. */
const GENERIC = new Set(['type', 'request', 'name', 'noDebug', 'presentation', 'preLaunchTask', 'postDebugTask',
  'internalConsoleOptions', 'debugServer', 'suppressMultipleSessionWarning', '__restart', '__sessionId',
  '__configurationTarget', '__parentId', 'console', 'trace']);
const KNOWN = new Set(['program', 'format', 'loadAddress', 'entry', 'mode', 'ram', 'cpuModel', 'stopOnEntry', 'serial',
  'symbols', 'maxInstructions', 'cmdline', 'modules', 'cwd', 'history', 'stopOnVmExit', 'monitor']);
/** Attributes of the issue that later parts of the adapter implement. */
const NOT_YET = new Set<string>([]);

/** Exit-reason classes and VMX events `stopOnVmExit` may name (filter ids without the 'vmexit:' prefix). */
export const VM_EXIT_FILTER_NAMES = ['exception', 'interrupt', 'triple-fault', 'task-switch', 'cpuid', 'hlt', 'io', 'cr', 'dr', 'msr', 'ept',
  'apic', 'vmcall', 'vmx-instruction', 'instruction', 'other'];

function historyAttr(args: Record<string, unknown>): number {
  const v = args.history;
  if (v === undefined || v === null || v === false) return 0;
  if (v === true) return 100_000;
  if (typeof v !== 'object' || Array.isArray(v)) throw new LaunchConfigError('history', `expected an object such as { "instructions": 100000 }, got ${describe(v)}`);
  const n = numberAttr(v as Record<string, unknown>, 'instructions', 1, 10_000_000);
  if (n === undefined) throw new LaunchConfigError('history', 'missing "instructions": how many executed instructions to keep for stepBack / reverseContinue');
  for (const k of Object.keys(v)) if (k !== 'instructions') throw new LaunchConfigError(`history.${k}`, 'unknown (only "instructions")');
  return n;
}

/**
 * `monitor`: true (the built-in monitor's defaults) or its configuration, the same schema as the
 * CLI's --vmx-config JSON, checked by the monitor's own parser; errors name `monitor.<key>`.
 */
function monitorAttr(args: Record<string, unknown>): MonitorConfig | null {
  const v = args.monitor;
  if (v === undefined || v === null || v === false) return null;
  if (v === true) return parseMonitorConfig({});
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new LaunchConfigError('monitor', `expected true or an object with the built-in monitor's configuration (controls, io, msrs, exceptionBitmap, cpuid, entry, stopOn), got ${describe(v)}`);
  }
  try {
    return parseMonitorConfig(v);
  } catch (e) {
    if (!(e instanceof MonitorConfigError)) throw e;
    const key = e.key === '(top level)' || e.key === '' ? 'monitor' : `monitor.${e.key}`;
    const prefix = `${e.key}: `;
    throw new LaunchConfigError(key, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
  }
}

function stopOnVmExitAttr(args: Record<string, unknown>): { filter: string; condition?: string }[] {
  const v = args.stopOnVmExit;
  if (v === undefined || v === null || v === false) return [];
  const all = [...VM_EXIT_FILTER_NAMES, 'entry-failure', 'vmfail'];
  const id = (name: string, where: string): string => {
    if (!all.includes(name)) throw new LaunchConfigError(where, `'${name}' is not an exit class; expected one of ${all.join(', ')}`);
    return name === 'entry-failure' ? 'vm entry failure' : name === 'vmfail' ? 'vmfail' : `vmexit:${name}`;
  };
  if (v === true) return VM_EXIT_FILTER_NAMES.map((n) => ({ filter: `vmexit:${n}` }));
  if (!Array.isArray(v)) throw new LaunchConfigError('stopOnVmExit', `expected true or an array of exit classes (or { "reason": class, "condition": ... }), got ${describe(v)}`);
  return v.map((e, k) => {
    if (typeof e === 'string') return { filter: id(e, `stopOnVmExit[${k}]`) };
    if (!e || typeof e !== 'object' || typeof (e as { reason?: unknown }).reason !== 'string') throw new LaunchConfigError(`stopOnVmExit[${k}]`, 'expected an exit class or { "reason": class, "condition": "port == 0x80" }');
    const c = (e as { condition?: unknown }).condition;
    if (c !== undefined && typeof c !== 'string') throw new LaunchConfigError(`stopOnVmExit[${k}].condition`, `expected a string, got ${describe(c)}`);
    return { filter: id((e as { reason: string }).reason, `stopOnVmExit[${k}].reason`), condition: c as string | undefined };
  });
}

/**
 * Parses a number written in decimal, 0x/0o/0b prefixed, or with a trailing h (NASM style);
 * underscores allowed. Returns undefined when the text is not such a number.
 */
export function parseNumberText(text: string): bigint | undefined {
  const t = text.replace(/_/g, '').trim().toLowerCase();
  try {
    if (/^0x[0-9a-f]+$/.test(t) || /^0o[0-7]+$/.test(t) || /^0b[01]+$/.test(t) || /^[0-9]+$/.test(t)) return BigInt(t);
    if (/^[0-9][0-9a-f]*h$/.test(t)) return BigInt('0x' + t.slice(0, -1));
  } catch {
    return undefined;
  }
  return undefined;
}

function numberAttr(args: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new LaunchConfigError(key, `${v} is not a whole number`);
    n = v;
  } else if (typeof v === 'string') {
    const b = parseNumberText(v);
    if (b === undefined) throw new LaunchConfigError(key, `'${v}' is not a number (write e.g. 4096 or "0x1000")`);
    if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new LaunchConfigError(key, `'${v}' is too large`);
    n = Number(b);
  } else {
    throw new LaunchConfigError(key, `expected a number or a hex string such as "0x7c00", got ${describe(v)}`);
  }
  if (n < min || n > max) throw new LaunchConfigError(key, `${typeof v === 'string' ? v : n} is outside ${fmt(min)}..${fmt(max)}`);
  return n;
}

function fmt(n: number): string {
  return n >= 0x10000 ? '0x' + n.toString(16) : String(n);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${v}'`;
  return `a ${typeof v}`;
}

function enumAttr<T extends string>(args: Record<string, unknown>, key: string, values: readonly T[]): T | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw new LaunchConfigError(key, `expected one of ${values.map((x) => `"${x}"`).join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

function boolAttr(args: Record<string, unknown>, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new LaunchConfigError(key, `expected true or false, got ${describe(v)}`);
  return v;
}

function stringAttr(args: Record<string, unknown>, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new LaunchConfigError(key, `expected a string, got ${describe(v)}`);
  return v;
}

function pathList(args: Record<string, unknown>, key: string): string[] {
  const v = args[key];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw new LaunchConfigError(key, `expected a file path or an array of file paths, got ${describe(v)}`);
  return list.map((p, k) => {
    if (typeof p !== 'string' || p.trim() === '') throw new LaunchConfigError(`${key}[${k}]`, `expected a file path, got ${describe(p)}`);
    return p;
  });
}

/** Checks a launch request's arguments; throws LaunchConfigError naming the first bad attribute. */
export function validateLaunchArgs(raw: unknown): LaunchOptions {
  if (raw === undefined) raw = {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new LaunchConfigError('arguments', 'the launch arguments must be an object');
  const args = raw as Record<string, unknown>;
  const program = args.program;
  if (program === undefined || program === null || program === '') {
    throw new LaunchConfigError('program', 'missing: set it to the firmware image to run (ELF, flat binary, ROM or multiboot kernel)');
  }
  if (typeof program !== 'string') throw new LaunchConfigError('program', `expected a file path, got ${describe(program)}`);
  const ram = numberAttr(args, 'ram', 1, 4080);
  const maxInstructions = numberAttr(args, 'maxInstructions', 1, Number.MAX_SAFE_INTEGER);
  const opts: LaunchOptions = {
    program,
    format: enumAttr(args, 'format', FORMATS),
    loadAddress: numberAttr(args, 'loadAddress', 0, 0xFFFFFFFF),
    entry: numberAttr(args, 'entry', 0, Number.MAX_SAFE_INTEGER),
    mode: enumAttr(args, 'mode', MODES),
    ramMiB: ram ?? 256,
    cpuModel: enumAttr(args, 'cpuModel', CPU_MODELS) ?? 'default',
    historyInstructions: historyAttr(args),
    stopOnVmExit: stopOnVmExitAttr(args),
    stopOnEntry: boolAttr(args, 'stopOnEntry') ?? false,
    serial: enumAttr(args, 'serial', SERIAL) ?? 'debugConsole',
    monitor: monitorAttr(args),
    symbols: pathList(args, 'symbols'),
    maxInstructions: maxInstructions ?? Infinity,
    cmdline: stringAttr(args, 'cmdline'),
    modules: pathList(args, 'modules'),
    cwd: stringAttr(args, 'cwd'),
    ignored: [],
  };
  const format = opts.format;
  if (format !== undefined) {
    const uses: Record<LoaderFormat, string[]> = { elf: ['entry', 'mode'], flat: ['loadAddress', 'entry', 'mode'], rom: [], multiboot: ['cmdline', 'modules'] };
    for (const key of ['loadAddress', 'entry', 'mode', 'cmdline']) {
      if (args[key] !== undefined && args[key] !== null && !uses[format].includes(key)) {
        throw new LaunchConfigError(key, `does not apply to format "${format}" (it applies to ${FORMATS.filter((f) => uses[f].includes(key)).join(', ')} images)`);
      }
    }
    if (opts.modules.length && format !== 'multiboot') throw new LaunchConfigError('modules', `does not apply to format "${format}" (multiboot only)`);
  }
  if (opts.monitor && opts.cpuModel === 'none') throw new LaunchConfigError('monitor', 'the built-in monitor needs a CPU with VMX: cpuModel "none" has none');
  for (const key of Object.keys(args)) {
    if (KNOWN.has(key) || GENERIC.has(key) || key.startsWith('__')) continue;
    opts.ignored.push(NOT_YET.has(key) ? `${key} (not supported by this version of the adapter yet)` : key);
  }
  return opts;
}

/** True for '/x', 'C:\x', 'C:/x', '\\server\x'. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** Resolves `p` against `base` without Node's path module (the session may run in a browser). */
export function resolvePath(base: string | undefined, p: string): string {
  if (isAbsolutePath(p) || !base) return p;
  const sep = base.includes('\\') && !base.includes('/') ? '\\' : '/';
  return base.replace(/[\\/]+$/, '') + sep + p.replace(/^\.[\\/]/, '');
}
