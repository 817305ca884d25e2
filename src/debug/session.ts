import {
  Breakpoint, DebugSession, ExitedEvent, Handles, InitializedEvent, InvalidatedEvent, MemoryEvent, OutputEvent, Scope, Source,
  StackFrame, StoppedEvent, TerminatedEvent, Thread,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Machine, RunOutcome } from '../machine/machine';
import { EXIT_INTERNAL } from '../machine/machine';
import { bootMachine } from '../machine/boot';
import { Monitor, MonitorError, type MonitorConfig } from '../machine/monitor';
import type { SerialTerminal, SerialTerminalHost } from './serialTerminalHost';
import { LoadError, type LoadPlan } from '../machine/loaders/loadPlan';
import { parseElf } from '../machine/loaders/elf';
import * as K from '../cpu/constants';
import { CombinedDebugInfo, SymbolTableInfo, type SymbolLister } from './debugInfo';
import { disassembleAround, ListingCache } from './disassembly';
import { Engine, parseHitCondition, type CodeBreakpoint, type DataBreakpoint, type Granularity } from './engine';
import { assign, evaluate as evaluateExpression, ExpressionError, parseExpression, type AssignContext } from './expressions';
import { cpuBits, linearPc } from './instructions';
import { LaunchConfigError, resolvePath, validateLaunchArgs, type LaunchOptions } from './launchConfig';
import { formatMemoryReference, hexAddr, parseMemoryReference } from './memory';
import { findRegister, registerNames, RegisterError } from './registers';
import {
  defaultExceptionFilters, defaultStopDescribers, type ExceptionFilterRegistry, type FilterSetting, type StopDescription,
  type StopDescribers, type StopInfo,
} from './stops';
import type { DebugInfo, SourceLocation } from './symbols/types';
import { formatValue, RegistersScope, type ScopeContext, type ScopeProvider } from './variables';
import { LastExitScope, VmcsScope, VmxDebug } from './vmx';
import { ExecutionHistory } from './history';
import { fieldByName } from '../cpu/vmx/spec';

/**
 * The DAP session for `type: "vmx"`. One class serves every way of hosting the adapter: inline in
 * the extension host, `node dist/debugAdapter.js` over stdio, and `--server=PORT` on loopback.
 * It never touches the file system itself: files come through the injected FileAccessor, so the
 * same session can run in a browser. Nothing here imports `vscode`.
 *
 * Extension points for the VMX parts: `scopeProviders` (VMCS, last VM exit), `exceptionFilters`
 * (one per exit-reason class), `stopDescribers` (VM exit, failed VM entry, VMfail), and
 * `threadNameParts` (VMX root / non-root in the thread name).
 */

export interface FileAccessor {
  readFile(path: string): Promise<Uint8Array>;
}

/** Optional debug-information loaders (src/debug/symbols), injected so the session works without them. */
export interface DebugInfoLoaders {
  /** ELF with symbols and DWARF line tables. */
  elf?(bytes: Uint8Array, path: string): DebugInfo;
  /** NASM listing of a flat image; `loadAddress` is where offset 0 of the listing lies. */
  nasmListing?(text: string, path: string, loadAddress: bigint | undefined, plan: LoadPlan): DebugInfo;
}

const THREAD_ID = 1;
const FRAME_BASE = 1000;

interface VarRef {
  provider: ScopeProvider;
  path: string;
}

interface FrameInfo {
  pc: bigint;
  name: string;
  location?: SourceLocation;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toBase64(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return out;
}

export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 4) {
    const c = [0, 1, 2, 3].map((k) => (i + k < clean.length ? B64.indexOf(clean[i + k]) : -1));
    const n = ((c[0] & 63) << 18) | ((c[1] & 63) << 12) | ((Math.max(c[2], 0) & 63) << 6) | (Math.max(c[3], 0) & 63);
    out.push((n >> 16) & 0xFF);
    if (c[2] >= 0) out.push((n >> 8) & 0xFF);
    if (c[3] >= 0) out.push(n & 0xFF);
  }
  return new Uint8Array(out);
}

function basename(p: string): string {
  const m = /[^\\/]*$/.exec(p);
  return m ? m[0] : p;
}

export class VmxDebugSession extends DebugSession {
  /** Scopes listed for every frame, in order. */
  readonly scopeProviders: ScopeProvider[] = [new RegistersScope()];
  readonly exceptionFilters: ExceptionFilterRegistry = defaultExceptionFilters();
  readonly stopDescribers: StopDescribers = defaultStopDescribers();
  /** Extra words for the thread name ("VMX non-root"), asked on every threads request. */
  readonly threadNameParts: ((machine: Machine) => string | undefined)[] = [];
  /** The VMX side: filters, describers, scopes, names, custom requests. */
  vmx: VmxDebug;
  private launchFilters: { filter: string; condition?: string }[] = [];
  private userFilters = new Map<string, FilterSetting>();

  private options: LaunchOptions | null = null;
  private machine: Machine | null = null;
  private plan: LoadPlan | null = null;
  private engine: Engine | null = null;
  private debugInfo = new CombinedDebugInfo();
  private symbolListers: SymbolLister[] = [];
  private listings: ListingCache | null = null;
  private frames: FrameInfo[] = [];
  private varRefs = new Handles<VarRef>();
  /** The highest variables reference ever handed out (Handles start again at 1000 on reset). */
  private maxVarRef = 0;
  private lastStop: { stop: StopInfo; description: StopDescription } | null = null;
  private configurationDone: (() => void) | null = null;
  private configured = false;
  private launching = false;
  private nextBreakpointId = 1;
  private sourceBreakpoints = new Map<string, DebugProtocol.SourceBreakpoint[]>();
  private functionBreakpoints: DebugProtocol.FunctionBreakpoint[] = [];
  private instructionBreakpoints: DebugProtocol.InstructionBreakpoint[] = [];
  private gotoTargets = new Map<number, bigint>();
  private nextGotoId = 1;
  private serialDecoder = new TextDecoder('utf-8');
  private serialText = '';
  private serialFlushScheduled = false;
  private linesStartAt1 = true;

  /** serial: "integratedTerminal": the terminal connection, when the client ran one. */
  private terminal: SerialTerminal | null = null;
  private clientRunsTerminals = false;

  constructor(private readonly files: FileAccessor, private readonly loaders: DebugInfoLoaders = {}, private readonly terminalHost: SerialTerminalHost | null = null) {
    super();
    VmxDebug.registerFilters(this.exceptionFilters);
    VmxDebug.registerDescribers(this.stopDescribers);
    this.vmx = new VmxDebug(this.exceptionFilters, (expr, extra) => evaluateExpression(expr, this.evalContext(extra)), () => this.engine?.memory ?? null);
    this.scopeProviders.push(new VmcsScope(this.vmx), new LastExitScope(this.vmx));
    this.threadNameParts.push(() => this.vmx.modeText());
    this.userFilters = new Map(this.exceptionFilters.all().filter((f) => f.default).map((f) => [f.filter, {}] as [string, FilterSetting]));
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  // ================================================================================================
  // Request plumbing: every handler is guarded so an unexpected error becomes an error response.
  // ================================================================================================

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    try {
      super.dispatchRequest(request);
    } catch (e) {
      this.sendErrorResponse(new ResponseFor(request), 1100, `${request.command}: ${errMessage(e)}`);
    }
  }

  private guard<T extends DebugProtocol.Response>(response: T, fn: () => void | Promise<void>): void {
    const fail = (e: unknown) => {
      const code = e instanceof LaunchConfigError ? 2001 : e instanceof ExpressionError ? 2002 : e instanceof RegisterError ? 2003 : 2000;
      if (!(e instanceof LaunchConfigError || e instanceof ExpressionError || e instanceof RegisterError || e instanceof UserError || e instanceof LoadError)) {
        this.sendEvent(new OutputEvent(`vmx-debug: internal error in ${response.command}: ${(e as Error)?.stack ?? e}\n`, 'stderr'));
      }
      this.sendErrorResponse(response, code, errMessage(e).replace(/[{}]/g, (c) => (c === '{' ? '(' : ')')));
    };
    try {
      const r = fn();
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(fail);
    } catch (e) {
      fail(e);
    }
  }

  private newVarRef(ref: VarRef): number {
    const n = this.varRefs.create(ref);
    if (n > this.maxVarRef) this.maxVarRef = n;
    return n;
  }

  /** A reference this session handed out at some stop (it may have expired since). */
  private issuedVarRef(n: number): boolean {
    return Number.isInteger(n) && n >= 1000 && n <= this.maxVarRef;
  }

  private requireEngine(): Engine {
    if (!this.engine) throw new UserError('no program is running: launch one first');
    return this.engine;
  }

  private requireStopped(what: string): Engine {
    const e = this.requireEngine();
    if (e.state === 'running') throw new UserError(`${what} needs the guest to be paused`);
    if (e.state === 'ended') throw new UserError(`${what}: the guest has ended`);
    return e;
  }

  // ================================================================================================
  // Initialization, launch, restart, end
  // ================================================================================================

  protected override initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    this.linesStartAt1 = args.linesStartAt1 !== false;
    this.clientRunsTerminals = args.supportsRunInTerminalRequest === true;
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsLogPoints: true,
      supportsFunctionBreakpoints: true,
      supportsInstructionBreakpoints: true,
      supportsDataBreakpoints: true,
      supportsDataBreakpointBytes: true,
      supportsBreakpointLocationsRequest: true,
      supportsExceptionInfoRequest: true,
      supportsExceptionFilterOptions: true,
      exceptionBreakpointFilters: this.exceptionFilters.all().map((f) => ({
        filter: f.filter, label: f.label, description: f.description, default: f.default,
        supportsCondition: f.supportsCondition, conditionDescription: f.conditionDescription,
      })),
      supportsSteppingGranularity: true,
      supportsGotoTargetsRequest: true,
      supportsSetVariable: true,
      supportsSetExpression: true,
      supportsEvaluateForHovers: true,
      supportsCompletionsRequest: true,
      completionTriggerCharacters: ['.', '['],
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: true,
      supportsDisassembleRequest: true,
      supportsRestartRequest: true,
      supportsTerminateRequest: true,
      supportsValueFormattingOptions: true,
      supportsLoadedSourcesRequest: false,
      supportsStepBack: true,
    };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.configured = true;
    this.sendResponse(response);
    const done = this.configurationDone;
    this.configurationDone = null;
    done?.();
  }

  protected override launchRequest(response: DebugProtocol.LaunchResponse, args: DebugProtocol.LaunchRequestArguments): void {
    this.guard(response, async () => {
      if (this.engine) throw new UserError('a program is already running in this session (use restart)');
      if (this.launching) throw new UserError('a launch is already in progress');
      this.launching = true;
      try {
        const opts = validateLaunchArgs(args);
        await this.boot(opts);
      } finally {
        this.launching = false;
      }
      this.sendEvent(new InitializedEvent());
      if (!this.configured) {
        await new Promise<void>((resolve) => {
          this.configurationDone = resolve;
          // clients that never send configurationDone still get their program started
          setTimeout(() => { if (this.configurationDone === resolve) { this.configurationDone = null; resolve(); } }, 5000);
        });
      }
      this.sendResponse(response);
      this.startAfterLaunch();
    });
  }

  private startAfterLaunch(): void {
    const engine = this.engine;
    if (!engine) return;
    if (this.options!.stopOnEntry) engine.reportStop({ kind: 'entry' });
    else engine.continue();
  }

  /** Reads the files, builds the machine and loads debug information. Throws with a user message. */
  private async boot(opts: LaunchOptions): Promise<void> {
    const base = opts.cwd;
    const programPath = resolvePath(base, opts.program);
    const image = await this.read(programPath, 'program');
    const modules = [];
    for (const m of opts.modules) modules.push({ name: m, bytes: await this.read(resolvePath(base, m), 'modules') });
    const extra: { path: string; bytes: Uint8Array }[] = [];
    for (const s of opts.symbols) {
      const p = resolvePath(base, s);
      extra.push({ path: p, bytes: await this.read(p, 'symbols') });
    }
    let booted;
    try {
      booted = bootMachine(image, {
        ramMiB: opts.ramMiB,
        onSerial: opts.serial !== 'none' ? (b) => this.serialOut(b) : undefined,
        onDebugcon: opts.serial !== 'none' ? (b) => this.consoleOut(b) : undefined,
        vmxModel: opts.cpuModel === 'none' ? false : opts.cpuModel,
        format: opts.format,
        loadAddress: opts.loadAddress,
        entry: opts.entry,
        mode: opts.mode,
        cmdline: opts.cmdline,
        modules,
      });
    } catch (e) {
      if (e instanceof LoadError || e instanceof RangeError) throw new UserError(`cannot load program '${programPath}': ${e.message}`);
      throw e;
    }
    this.options = opts;
    this.machine = booted.machine;
    this.plan = booted.plan;
    this.loadDebugInfo(image, programPath, extra);
    this.engine = new Engine(this.machine, this.engineHost(), opts.maxInstructions);
    this.vmx = new VmxDebug(this.exceptionFilters, (expr, extra) => evaluateExpression(expr, this.evalContext(extra)), () => this.engine?.memory ?? null);
    this.scopeProviders.splice(1, this.scopeProviders.length - 1, new VmcsScope(this.vmx), new LastExitScope(this.vmx));
    this.vmx.attach(this.machine, this.engine, opts.cpuModel);
    if (opts.monitor) {
      try {
        this.startMonitor(opts.monitor);
      } catch (e) {
        this.engine = null;
        this.machine = null;
        throw e;
      }
    }
    this.launchFilters = opts.stopOnVmExit;
    this.exceptionFilters.set(new Map([...this.userFilters, ...this.launchFilters.map((f) => [f.filter, { condition: f.condition }] as const)]));
    // reverse execution records VM exits and entries as they complete: none handled in place then
    this.vmx.monitorInPlace = this.vmx.monitorMode && opts.historyInstructions === 0;
    if (opts.historyInstructions > 0) {
      const h = new ExecutionHistory(opts.historyInstructions, this.machine.cpu, this.engine.memory);
      this.engine.history = h;
      this.machine.cpu.observer = h;
      this.machine.cpu.singleStepChanged();
    }
    this.listings = new ListingCache(this.engine.memory, () => this.debugInfo);
    this.closeTerminal();
    if (opts.serial === 'integratedTerminal') await this.openTerminal(opts);
    for (const note of booted.plan.notes) this.sendEvent(new OutputEvent(`vmx-debug: ${note}\n`, 'console'));
    for (const key of opts.ignored) this.sendEvent(new OutputEvent(`vmx-debug: ignoring launch attribute '${key}'\n`, 'console'));
    this.rebindAll();
  }

  /**
   * Monitor mode: the built-in monitor (src/machine/monitor) takes the loaded CPU state as its
   * guest's entry state and VMLAUNCHes it; VM exits reach the VMX layer through the monitor's onExit.
   */
  private startMonitor(config: MonitorConfig): void {
    const machine = this.machine!;
    let monitor: Monitor;
    try {
      monitor = new Monitor(machine, {
        config,
        onNote: (t) => this.sendEvent(new OutputEvent(`vmx-debug: monitor: ${t}\n`, 'console')),
        onExit: () => this.vmx.onMonitorExit(),
        afterInPlace: () => this.vmx.afterMonitorResume(),
      });
    } catch (e) {
      if (e instanceof MonitorError) throw new LaunchConfigError('monitor', e.message);
      throw e;
    }
    this.vmx.monitorMode = true;
    machine.vmm = monitor;
    const failure = monitor.launch();
    if (failure) throw new LaunchConfigError('monitor', `the monitor could not start the guest: ${failure.detail}`);
  }

  private async read(path: string, attribute: string): Promise<Uint8Array> {
    try {
      return await this.files.readFile(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code ?? errMessage(e);
      throw new LaunchConfigError(attribute, `cannot read '${path}': ${why}`);
    }
  }

  private loadDebugInfo(image: Uint8Array, programPath: string, extra: { path: string; bytes: Uint8Array }[]): void {
    const info = new CombinedDebugInfo();
    this.symbolListers = [];
    const plan = this.plan!;
    const isElf = (b: Uint8Array) => b.length > 4 && b[0] === 0x7F && b[1] === 0x45 && b[2] === 0x4C && b[3] === 0x46;
    const addPart = (part: DebugInfo) => {
      info.add(part);
      const list = part.symbols?.bind(part);
      if (list) this.symbolListers.push({ symbolNames: () => list().map((s) => s.name) });
    };
    const addElf = (bytes: Uint8Array, path: string, symbols: LoadPlan['symbols'] | undefined) => {
      if (this.loaders.elf) {
        try {
          addPart(this.loaders.elf(bytes, path));
          return;
        } catch (e) {
          this.sendEvent(new OutputEvent(`vmx-debug: no line information from '${path}': ${errMessage(e)}\n`, 'console'));
        }
      }
      let syms = symbols;
      if (!syms) {
        try { syms = parseElf(bytes).symbols; } catch (e) {
          this.sendEvent(new OutputEvent(`vmx-debug: cannot read symbols from '${path}': ${errMessage(e)}\n`, 'console'));
        }
      }
      if (syms && syms.length) {
        const t = new SymbolTableInfo(syms);
        info.add(t);
        this.symbolListers.push(t);
      }
    };
    if (isElf(image)) addElf(image, programPath, plan.symbols);
    for (const x of extra) {
      if (isElf(x.bytes)) {
        addElf(x.bytes, x.path, undefined);
      } else if (this.loaders.nasmListing) {
        try {
          const text = new TextDecoder('utf-8').decode(x.bytes);
          const load = this.options?.loadAddress !== undefined ? BigInt(this.options.loadAddress) : undefined;
          addPart(this.loaders.nasmListing(text, x.path, load, plan));
        } catch (e) {
          this.sendEvent(new OutputEvent(`vmx-debug: cannot read the listing '${x.path}': ${errMessage(e)}\n`, 'console'));
        }
      } else {
        this.sendEvent(new OutputEvent(`vmx-debug: '${x.path}' is not an ELF file, and this build cannot read NASM listings\n`, 'console'));
      }
    }
    this.debugInfo = info;
  }

  private engineHost() {
    return {
      stopped: (stop: StopInfo) => this.onStopped(stop),
      ended: (outcome: RunOutcome) => this.onEnded(outcome),
      output: (text: string, category: 'console' | 'stdout' | 'stderr' | 'important') => {
        this.flushSerial();
        this.sendEvent(new OutputEvent(text, category));
      },
      evaluate: (expression: string, extra?: Record<string, bigint>) => evaluateExpression(expression, this.evalContext(extra)),
      interpolate: (message: string) => this.interpolate(message),
      lineForAddress: (a: bigint) => this.debugInfo.lineForAddress(a),
      hasLineInfo: () => this.debugInfo.hasLines(),
      stopOnException: (vector: number, errorCode: number) => this.stopOnException(vector, errorCode),
      stopOnEnd: (kind: 'halt' | 'triple fault') => this.exceptionFilters.setting(kind) !== undefined,
      afterRun: () => this.vmx.afterRun(),
      describeCurrentExit: () => this.vmx.currentExitStop(),
      afterReverse: () => { this.vmx.afterReverse(); this.listings?.clear(); },
      beforeRun: () => this.vmx.beforeRun(),
      inputPossible: () => this.terminal !== null,
    };
  }

  private stopOnException(vector: number, errorCode: number): boolean {
    const s = this.exceptionFilters.setting('exception');
    if (!s) return false;
    if (s.condition) {
      try {
        return evaluateExpression(s.condition, this.evalContext({ vector: BigInt(vector), error: BigInt(Math.max(errorCode, 0)) })) !== 0n;
      } catch {
        return true;
      }
    }
    return !this.guestHandles(vector);
  }

  /** Does the guest have a usable handler for this exception vector (IDT/IVT entry present)? */
  private guestHandles(vector: number): boolean {
    const cpu = this.machine!.cpu;
    if (vector === K.EXC_DF) return false;
    const mem = this.engine!.memory;
    const base = BigInt.asUintN(64, BigInt(cpu.idtrBase));
    if (!cpu.protectedMode) {
      if (vector * 4 + 3 > cpu.idtrLimit) return false;
      try {
        return mem.readValue('linear', base + BigInt(vector * 4), 4) !== 0n;
      } catch {
        return false;
      }
    }
    const size = cpu.mode64 ? 16 : 8;
    if (vector * size + size - 1 > cpu.idtrLimit) return false;
    try {
      const hi = mem.readValue('linear', base + BigInt(vector * size + 4), 4);
      return (hi & 0x8000n) !== 0n;
    } catch {
      return false;
    }
  }

  /**
   * serial: "integratedTerminal": a loopback port for the terminal script and a runInTerminal
   * request that starts it; without runInTerminal (or a Node host), the Debug Console with a note.
   */
  private async openTerminal(opts: LaunchOptions): Promise<void> {
    const fallback = (why: string) => this.sendEvent(new OutputEvent(`vmx-debug: serial "integratedTerminal": ${why}; COM1 output goes to the Debug Console\n`, 'console'));
    if (!this.clientRunsTerminals) return fallback('this client does not support the runInTerminal request');
    if (!this.terminalHost) return fallback('this adapter host cannot open a terminal connection');
    const machine = this.machine!;
    const engine = this.engine!;
    const term = await this.terminalHost.open((bytes) => {
      if (this.machine !== machine) return;
      machine.uart.pushInput(bytes);
      engine.wake();
    });
    this.terminal = term;
    this.runInTerminalRequest({ kind: 'integrated', title: `vmx-debug: COM1 of ${basename(opts.program)}`, cwd: opts.cwd ?? '', args: term.args }, 10000, (r) => {
      if (r.success || this.terminal !== term) return;
      this.terminal = null;
      term.close();
      fallback(`the client could not start the terminal (${r.message ?? 'no reason given'})`);
    });
  }

  private closeTerminal(): void {
    const t = this.terminal;
    this.terminal = null;
    t?.close();
  }

  /** Debug console output that is not the serial port (debugcon 0xE9). */
  private consoleOut(bytes: Uint8Array): void {
    if (this.terminal) {
      this.sendEvent(new OutputEvent(new TextDecoder('utf-8').decode(bytes), 'stdout'));
      return;
    }
    this.serialOut(bytes);
  }

  private serialOut(bytes: Uint8Array): void {
    if (this.terminal) {
      this.terminal.write(bytes);
      return;
    }
    this.serialText += this.serialDecoder.decode(bytes, { stream: true });
    if (!this.serialFlushScheduled) {
      this.serialFlushScheduled = true;
      setTimeout(() => this.flushSerial(), 0);
    }
  }

  private flushSerial(): void {
    this.serialFlushScheduled = false;
    if (this.serialText) {
      const t = this.serialText;
      this.serialText = '';
      this.sendEvent(new OutputEvent(t, 'stdout'));
    }
  }

  private onStopped(stop: StopInfo): void {
    this.flushSerial();
    this.frames = [];
    this.varRefs.reset();
    this.gotoTargets.clear();
    const description = this.stopDescribers.describe(stop);
    this.lastStop = { stop, description };
    const ev = new StoppedEvent(description.reason, THREAD_ID, description.text) as DebugProtocol.StoppedEvent;
    ev.body.description = description.description;
    ev.body.allThreadsStopped = true;
    if (stop.hitBreakpointIds?.length) ev.body.hitBreakpointIds = stop.hitBreakpointIds;
    this.sendEvent(ev);
  }

  private onEnded(outcome: RunOutcome): void {
    this.flushSerial();
    const cpu = this.machine?.cpu;
    const where = cpu ? ` at ${hexAddr(linearPc(cpu))} after ${cpu.icount} instructions` : '';
    this.sendEvent(new OutputEvent(`vmx-debug: ${outcome.kind === 'exit' ? 'exit' : outcome.kind}: ${outcome.detail}${where}\n`, 'console'));
    this.sendEvent(new ExitedEvent(outcome.code));
    this.sendEvent(new TerminatedEvent());
    this.closeTerminal();
  }

  protected override restartRequest(response: DebugProtocol.RestartResponse, args: DebugProtocol.RestartArguments): void {
    this.guard(response, async () => {
      const opts = args.arguments ? validateLaunchArgs(args.arguments) : this.options;
      if (!opts) throw new UserError('nothing to restart: launch a program first');
      if (this.engine) this.engine.state = 'ended'; // no exited/terminated: the session goes on
      this.engine = null;
      this.lastStop = null;
      this.sendEvent(new InvalidatedEvent(['all']));
      try {
        await this.boot(opts);
      } catch (e) {
        this.sendEvent(new TerminatedEvent());
        throw e;
      }
      this.sendResponse(response);
      this.startAfterLaunch();
    });
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.guard(response, () => {
      const e = this.engine;
      this.sendResponse(response);
      if (e && e.state !== 'ended') e.end({ kind: 'stop', code: EXIT_INTERNAL, detail: 'terminated by the debugger' });
      else this.sendEvent(new TerminatedEvent());
    });
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse, args: DebugProtocol.DisconnectArguments, request?: DebugProtocol.Request): void {
    const e = this.engine;
    if (e && e.state === 'running') e.pause();
    if (e) e.state = 'ended';
    this.engine = null;
    this.flushSerial();
    this.closeTerminal();
    super.disconnectRequest(response, args, request);
  }

  // ================================================================================================
  // Breakpoints
  // ================================================================================================

  private rebindAll(): void {
    for (const [path, bps] of this.sourceBreakpoints) this.bindSource(path, bps, false);
    this.bindFunctions(this.functionBreakpoints, false);
    this.bindInstructions(this.instructionBreakpoints, false);
  }

  /** Checks condition / hit condition syntax; returns a message when wrong. */
  private checkBreakpointOptions(condition?: string, hitCondition?: string, logMessage?: string): string | undefined {
    try {
      if (condition) parseExpression(condition);
    } catch (e) {
      return `condition: ${errMessage(e)}`;
    }
    if (hitCondition) {
      const t = parseHitCondition(hitCondition);
      if (typeof t === 'string') return t;
    }
    if (logMessage) {
      for (const m of logMessage.matchAll(/\{([^}]*)\}/g)) {
        try { parseExpression(m[1]); } catch (e) { return `log message {${m[1]}}: ${errMessage(e)}`; }
      }
    }
    return undefined;
  }

  /** Build-time source paths (from DWARF) mapped to the paths the client set breakpoints in. */
  private readonly clientPaths = new Map<string, string>();

  /** The path to show for a source file named by the debug information. */
  private clientPath(recorded: string): string {
    return this.clientPaths.get(recorded) ?? recorded;
  }

  private bindSource(path: string, bps: DebugProtocol.SourceBreakpoint[], notify: boolean): DebugProtocol.Breakpoint[] {
    const out: DebugProtocol.Breakpoint[] = [];
    const code: CodeBreakpoint[] = [];
    const info = this.debugInfo;
    const lines = this.engine ? info.linesWithCode(path) : [];
    for (const bp of bps) {
      const id = this.nextBreakpointId++;
      const b = new Breakpoint(false, bp.line) as DebugProtocol.Breakpoint;
      b.id = id;
      b.source = new Source(basename(path), path);
      const bad = this.checkBreakpointOptions(bp.condition, bp.hitCondition, bp.logMessage);
      if (!this.engine) {
        b.message = 'not bound yet: the program is not loaded';
        b.reason = 'pending';
      } else if (bad) {
        b.message = bad;
        b.reason = 'failed';
      } else if (lines.length === 0) {
        b.message = info.files().length === 0
          ? 'no line information: the program has no DWARF line tables and no NASM listing was given (launch attribute "symbols")'
          : `no line information for ${basename(path)} (the debug information covers ${info.files().map(basename).join(', ')})`;
        b.reason = 'failed';
      } else {
        let line = bp.line;
        let addresses = info.addressesForLine(path, line);
        if (!addresses.length) {
          const next = lines.find((l) => l > bp.line);
          if (next !== undefined) { line = next; addresses = info.addressesForLine(path, line); }
        }
        if (!addresses.length) {
          b.message = `line ${bp.line} has no code, and no line after it does`;
          b.reason = 'failed';
        } else {
          b.verified = true;
          b.line = line;
          b.instructionReference = hexAddr(addresses[0]);
          if (line !== bp.line) b.message = `line ${bp.line} has no code: moved to line ${line}`;
          for (const a of addresses) {
            code.push({ id, kind: 'source', address: a, condition: bp.condition, hitCondition: bp.hitCondition, logMessage: bp.logMessage, hits: 0 });
            // the debug info may name the file by the path it was built at: remember the client's path
            const recorded = info.lineForAddress(a)?.file;
            if (recorded !== undefined && recorded !== path) this.clientPaths.set(recorded, path);
          }
        }
      }
      out.push(b);
    }
    if (this.engine) {
      const others = this.engine.codeBreakpoints().filter((c) => c.kind === 'source' && !this.sourceIds(path).has(c.id));
      this.engine.setCodeBreakpoints('source', others.concat(code));
      this.sourceBreakpointIds.set(path, new Set(code.map((c) => c.id)));
    }
    void notify;
    return out;
  }

  private sourceBreakpointIds = new Map<string, Set<number>>();

  private sourceIds(path: string): Set<number> {
    return this.sourceBreakpointIds.get(path) ?? new Set();
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    this.guard(response, () => {
      const src = args.source ?? {};
      let bps = args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
      if (!Array.isArray(bps)) throw new UserError('setBreakpoints: breakpoints must be an array');
      bps = bps.filter((b) => b && typeof b.line === 'number');
      if (src.sourceReference && !src.path) {
        response.body = { breakpoints: this.bindListing(src.sourceReference, bps) };
        this.sendResponse(response);
        return;
      }
      const path = src.path;
      if (!path) throw new UserError('setBreakpoints: the source has neither a path nor a sourceReference');
      this.sourceBreakpoints.set(path, bps);
      response.body = { breakpoints: this.bindSource(path, bps, false) };
      this.sendResponse(response);
    });
  }

  /** Breakpoints in a generated disassembly listing: instruction breakpoints at the line's address. */
  private bindListing(ref: number, bps: DebugProtocol.SourceBreakpoint[]): DebugProtocol.Breakpoint[] {
    const listing = this.listings?.get(ref);
    const out: DebugProtocol.Breakpoint[] = [];
    const code: CodeBreakpoint[] = [];
    for (const bp of bps) {
      const id = this.nextBreakpointId++;
      const a = listing?.addressOn[bp.line];
      const b = new Breakpoint(a !== undefined, bp.line) as DebugProtocol.Breakpoint;
      b.id = id;
      if (a === undefined) b.message = listing ? 'no instruction on this line' : 'this disassembly is no longer current';
      else {
        b.instructionReference = hexAddr(a);
        code.push({ id, kind: 'instruction', address: a, condition: bp.condition, hitCondition: bp.hitCondition, logMessage: bp.logMessage, hits: 0 });
      }
      out.push(b);
    }
    if (this.engine) {
      const others = this.engine.codeBreakpoints().filter((c) => c.kind === 'source' && !this.sourceIds(`ref:${ref}`).has(c.id));
      this.engine.setCodeBreakpoints('source', others.concat(code.map((c) => ({ ...c, kind: 'source' as const }))));
      this.sourceBreakpointIds.set(`ref:${ref}`, new Set(code.map((c) => c.id)));
    }
    return out;
  }

  protected override breakpointLocationsRequest(response: DebugProtocol.BreakpointLocationsResponse, args: DebugProtocol.BreakpointLocationsArguments): void {
    this.guard(response, () => {
      const path = args.source?.path;
      const end = args.endLine ?? args.line;
      const lines = path ? this.debugInfo.linesWithCode(path).filter((l) => l >= args.line && l <= end) : [];
      response.body = { breakpoints: lines.map((line) => ({ line })) };
      this.sendResponse(response);
    });
  }

  private resolveFunction(name: string): bigint | undefined {
    const a = this.debugInfo.addressOfSymbol(name);
    if (a !== undefined) return a;
    if (this.engine && /^[0-9]/.test(name.trim())) {
      try { return evaluateExpression(name, this.evalContext()); } catch { return undefined; }
    }
    return undefined;
  }

  private bindFunctions(bps: DebugProtocol.FunctionBreakpoint[], _notify: boolean): DebugProtocol.Breakpoint[] {
    const out: DebugProtocol.Breakpoint[] = [];
    const code: CodeBreakpoint[] = [];
    for (const bp of bps) {
      const id = this.nextBreakpointId++;
      const b = new Breakpoint(false) as DebugProtocol.Breakpoint;
      b.id = id;
      const bad = this.checkBreakpointOptions(bp.condition, bp.hitCondition);
      const a = this.engine ? this.resolveFunction(bp.name) : undefined;
      if (!this.engine) { b.message = 'not bound yet: the program is not loaded'; b.reason = 'pending'; }
      else if (bad) { b.message = bad; b.reason = 'failed'; }
      else if (a === undefined) { b.message = `no symbol named '${bp.name}'`; b.reason = 'failed'; }
      else {
        b.verified = true;
        b.instructionReference = hexAddr(a);
        const loc = this.debugInfo.lineForAddress(a);
        if (loc) { b.source = new Source(basename(loc.file), this.clientPath(loc.file)); b.line = loc.line; }
        code.push({ id, kind: 'function', address: a, condition: bp.condition, hitCondition: bp.hitCondition, hits: 0 });
      }
      out.push(b);
    }
    this.engine?.setCodeBreakpoints('function', code);
    return out;
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    this.guard(response, () => {
      const bps = Array.isArray(args.breakpoints) ? args.breakpoints.filter((b) => b && typeof b.name === 'string') : [];
      this.functionBreakpoints = bps;
      response.body = { breakpoints: this.bindFunctions(bps, false) };
      this.sendResponse(response);
    });
  }

  private bindInstructions(bps: DebugProtocol.InstructionBreakpoint[], _notify: boolean): DebugProtocol.Breakpoint[] {
    const out: DebugProtocol.Breakpoint[] = [];
    const code: CodeBreakpoint[] = [];
    for (const bp of bps) {
      const id = this.nextBreakpointId++;
      const b = new Breakpoint(false) as DebugProtocol.Breakpoint;
      b.id = id;
      const ref = parseMemoryReference(bp.instructionReference ?? '');
      const bad = this.checkBreakpointOptions(bp.condition, bp.hitCondition);
      if (!ref || ref.space !== 'linear') { b.message = `'${bp.instructionReference}' is not a linear address such as 0x7c00`; b.reason = 'failed'; }
      else if (bad) { b.message = bad; b.reason = 'failed'; }
      else {
        const a = BigInt.asUintN(64, ref.address + BigInt(bp.offset ?? 0));
        b.verified = true;
        b.instructionReference = hexAddr(a);
        code.push({ id, kind: 'instruction', address: a, condition: bp.condition, hitCondition: bp.hitCondition, hits: 0 });
      }
      out.push(b);
    }
    this.engine?.setCodeBreakpoints('instruction', code);
    return out;
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    this.guard(response, () => {
      const bps = Array.isArray(args.breakpoints) ? args.breakpoints.filter((b) => b && typeof b.instructionReference === 'string') : [];
      this.instructionBreakpoints = bps;
      response.body = { breakpoints: this.bindInstructions(bps, false) };
      this.sendResponse(response);
    });
  }

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    this.guard(response, () => {
      const settings = new Map<string, FilterSetting>();
      const result: DebugProtocol.Breakpoint[] = [];
      const add = (filter: string, condition?: string) => {
        const b = new Breakpoint(true) as DebugProtocol.Breakpoint;
        if (!this.exceptionFilters.has(filter)) {
          b.verified = false;
          b.message = `unknown exception filter '${filter}'`;
        } else if (condition) {
          const def = this.exceptionFilters.all().find((d) => d.filter === filter)!;
          try {
            if (!def.supportsCondition) throw new Error(`the '${filter}' filter takes no condition`);
            parseExpression(condition);
            settings.set(filter, { condition });
          } catch (e) {
            b.verified = false;
            b.message = errMessage(e);
          }
        } else {
          settings.set(filter, {});
        }
        result.push(b);
      };
      for (const f of args.filters ?? []) add(f);
      for (const o of args.filterOptions ?? []) add(o.filterId, o.condition);
      this.userFilters = new Map(settings);
      for (const f of this.launchFilters) if (!settings.has(f.filter)) settings.set(f.filter, { condition: f.condition });
      this.exceptionFilters.set(settings);
      response.body = { breakpoints: result };
      this.sendResponse(response);
    });
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    this.guard(response, () => {
      const unavailable = (why: string) => {
        response.body = { dataId: null, description: why };
        this.sendResponse(response);
      };
      const a = args as DebugProtocol.DataBreakpointInfoArguments & { asAddress?: boolean; bytes?: number };
      if (!this.engine) return unavailable('no program is running');
      let address: bigint;
      let size = a.bytes ?? 4;
      if (a.asAddress) {
        const ref = parseMemoryReference(a.name);
        if (!ref || ref.space !== 'linear') return unavailable(`'${a.name}' is not a linear address`);
        address = ref.address;
      } else if (a.variablesReference || /^\s*vmcs\./i.test(a.name)) {
        const fname = a.name.replace(/^\s*vmcs\./i, '').trim().toUpperCase();
        const ref = a.variablesReference ? this.varRefs.get(a.variablesReference) : undefined;
        const isVmcs = (!a.variablesReference || ref?.provider.name === 'VMCS') && fieldByName(fname) !== undefined && !fieldByName(fname)!.high;
        if (isVmcs) {
          if (!this.vmx.vmx) return unavailable('VMX is not attached');
          response.body = { dataId: `vmcs:${fname}`, description: `VMCS field ${fname} (VMWRITE or a change by the CPU)`, accessTypes: ['write'], canPersist: true };
          this.sendResponse(response);
          return;
        }
        return unavailable('registers cannot be watched; watch memory, e.g. dword [0x1000], or a VMCS field');
      } else {
        let e;
        try { e = parseExpression(a.name); } catch (err) { return unavailable(errMessage(err)); }
        if (e.kind === 'mem') {
          size = e.size ?? this.pointerSize();
          try { address = evaluateExpression(a.name.replace(/^\s*(byte|word|dword|qword)?\s*(ptr)?\s*\[/i, '(').replace(/\]\s*$/, ')'), this.evalContext()); } catch (err) { return unavailable(errMessage(err)); }
        } else if (e.kind === 'name' && this.debugInfo.addressOfSymbol(e.name) !== undefined) {
          address = this.debugInfo.addressOfSymbol(e.name)!;
        } else {
          return unavailable('only memory can be watched: use a symbol or a memory reference such as dword [0x1000]');
        }
      }
      if (![1, 2, 4, 8].includes(size) && (size < 1 || size > 4096)) return unavailable(`a data breakpoint covers 1 to 4096 bytes, not ${size}`);
      response.body = {
        dataId: `${hexAddr(address)}/${size}`,
        description: `${size} byte${size > 1 ? 's' : ''} at ${hexAddr(address)}`,
        accessTypes: ['read', 'write', 'readWrite'],
        canPersist: true,
      };
      this.sendResponse(response);
    });
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    this.guard(response, () => {
      const out: DebugProtocol.Breakpoint[] = [];
      const list: DataBreakpoint[] = [];
      const fields: { id: number; field: string }[] = [];
      for (const bp of Array.isArray(args.breakpoints) ? args.breakpoints : []) {
        const id = this.nextBreakpointId++;
        const b = new Breakpoint(false) as DebugProtocol.Breakpoint;
        b.id = id;
        const vm = /^vmcs:([A-Z0-9_]+)$/.exec(bp?.dataId ?? '');
        if (vm) {
          if (!fieldByName(vm[1])) b.message = `no VMCS field ${vm[1]}`;
          else { b.verified = true; fields.push({ id, field: vm[1] }); }
          out.push(b);
          continue;
        }
        const m = /^(0x[0-9a-f]+)\/(\d+)$/i.exec(bp?.dataId ?? '');
        const bad = this.checkBreakpointOptions(bp?.condition, bp?.hitCondition);
        if (!m) b.message = `'${bp?.dataId}' is not a data breakpoint id from dataBreakpointInfo`;
        else if (bad) b.message = bad;
        else {
          b.verified = true;
          b.message = 'data breakpoints single-step the guest: it runs much slower while any is set';
          list.push({ id, address: BigInt(m[1]), size: Number(m[2]), access: bp.accessType ?? 'write', condition: bp.condition, hitCondition: bp.hitCondition, hits: 0 });
        }
        out.push(b);
      }
      this.engine?.setDataBreakpoints(list);
      this.vmx.setFieldWatches(fields);
      response.body = { breakpoints: out };
      this.sendResponse(response);
    });
  }

  // ================================================================================================
  // Execution control
  // ================================================================================================

  private resumed(): void {
    this.frames = [];
    this.varRefs.reset();
    this.lastStop = null;
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    this.guard(response, () => {
      const e = this.requireStopped('continue');
      response.body = { allThreadsContinued: true };
      this.sendResponse(response);
      this.resumed();
      e.continue();
    });
  }

  private granularity(g: DebugProtocol.SteppingGranularity | undefined): Granularity {
    return g === 'instruction' ? 'instruction' : 'line';
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    this.startStep(response, 'next', 'over', args.granularity);
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    this.startStep(response, 'stepIn', 'in', args.granularity);
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    this.startStep(response, 'stepOut', 'out', args.granularity);
  }

  /** next / stepIn / stepOut: answer at once, then let the engine run the step in slices. */
  private startStep(response: DebugProtocol.Response, request: string, kind: 'over' | 'in' | 'out', g: DebugProtocol.SteppingGranularity | undefined): void {
    this.guard(response, () => {
      const e = this.requireStopped(request);
      this.sendResponse(response);
      this.resumed();
      e.step(kind, this.granularity(g));
    });
  }

  protected override stepBackRequest(response: DebugProtocol.StepBackResponse): void {
    this.guard(response, () => {
      const e = this.requireStopped('stepBack');
      if (!e.history) throw new UserError('stepBack needs the execution history: set the launch attribute "history": { "instructions": 100000 }');
      this.sendResponse(response);
      this.resumed();
      e.reverse('step');
    });
  }

  protected override reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse): void {
    this.guard(response, () => {
      const e = this.requireStopped('reverseContinue');
      if (!e.history) throw new UserError('reverseContinue needs the execution history: set the launch attribute "history": { "instructions": 100000 }');
      this.sendResponse(response);
      this.resumed();
      e.reverse('continue');
    });
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.guard(response, () => {
      const e = this.requireEngine();
      this.sendResponse(response);
      if (e.state === 'running') e.pause();
    });
  }

  protected override gotoTargetsRequest(response: DebugProtocol.GotoTargetsResponse, args: DebugProtocol.GotoTargetsArguments): void {
    this.guard(response, () => {
      this.requireEngine();
      let addresses: bigint[] = [];
      const line = args.line;
      if (args.source?.sourceReference && !args.source.path) {
        const a = this.listings?.get(args.source.sourceReference)?.addressOn[line];
        if (a !== undefined) addresses = [a];
      } else if (args.source?.path) {
        addresses = this.debugInfo.addressesForLine(args.source.path, line);
      }
      response.body = {
        targets: addresses.map((a) => {
          const id = this.nextGotoId++;
          this.gotoTargets.set(id, a);
          return { id, label: `${hexAddr(a)}`, line, instructionPointerReference: hexAddr(a) };
        }),
      };
      this.sendResponse(response);
    });
  }

  protected override gotoRequest(response: DebugProtocol.GotoResponse, args: DebugProtocol.GotoArguments): void {
    this.guard(response, () => {
      const e = this.requireStopped('goto');
      const a = this.gotoTargets.get(args.targetId);
      if (a === undefined) throw new UserError(`goto: unknown target ${args.targetId} (ask gotoTargets first)`);
      e.goto(a);
      this.sendResponse(response);
      e.reportStop({ kind: 'goto' });
    });
  }

  // ================================================================================================
  // State: threads, stack, scopes, variables
  // ================================================================================================

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const parts = ['vCPU 0'];
    if (this.machine) for (const f of this.threadNameParts) { const p = f(this.machine); if (p) parts.push(p); }
    response.body = { threads: [new Thread(THREAD_ID, parts.join(' '))] };
    this.sendResponse(response);
  }

  private pointerSize(): number {
    const cpu = this.machine?.cpu;
    return cpu ? (cpu.mode64 ? 8 : cpu.bits === 16 ? 2 : 4) : 4;
  }

  private frameName(pc: bigint): string {
    const s = this.debugInfo.symbolForAddress(pc);
    if (s) return s.offset ? `${s.name}+0x${s.offset.toString(16)}` : s.name;
    return hexAddr(pc);
  }

  /** Frames: the current one, then callers along the RBP chain when the code keeps frame pointers. */
  private computeFrames(): FrameInfo[] {
    const cpu = this.machine!.cpu;
    const pc = linearPc(cpu);
    const frames: FrameInfo[] = [{ pc, name: this.frameName(pc), location: this.debugInfo.lineForAddress(pc) }];
    if (cpu.bits === 16) return frames;
    const mem = this.engine!.memory;
    const ws = cpu.mode64 ? 8 : 4;
    const hasPrologue = (address: bigint): boolean => {
      const s = this.debugInfo.symbolForAddress(address);
      if (!s || s.offset === 0) return false;
      const b = mem.read('linear', s.address, 4);
      const sig = Array.from(b).map((x) => x.toString(16).padStart(2, '0')).join('');
      const len = cpu.mode64 ? (sig.startsWith('554889e5') || sig.startsWith('55488bec') ? 4 : 0) : (sig.startsWith('5589e5') || sig.startsWith('558bec') ? 3 : 0);
      return len > 0 && s.offset >= len;
    };
    if (!hasPrologue(pc)) return frames;
    let fp = (BigInt(cpu.rh[5] >>> 0) << 32n) | BigInt(cpu.r[5] >>> 0);
    if (!cpu.mode64) fp &= 0xFFFFFFFFn;
    for (let depth = 0; depth < 64; depth++) {
      let ret: bigint, next: bigint;
      try {
        next = mem.readValue('linear', fp, ws);
        ret = mem.readValue('linear', fp + BigInt(ws), ws);
      } catch {
        break;
      }
      if (ret === 0n || !this.debugInfo.symbolForAddress(ret)) break;
      frames.push({ pc: ret, name: this.frameName(ret), location: this.debugInfo.lineForAddress(ret - 1n) ?? this.debugInfo.lineForAddress(ret) });
      if (next <= fp || next % BigInt(ws) !== 0n) break;
      fp = next;
    }
    return frames;
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    this.guard(response, () => {
      const e = this.requireEngine();
      if (e.state === 'ended') throw new UserError('the guest has ended');
      if (args.threadId !== THREAD_ID) throw new UserError(`no thread ${args.threadId} (the only thread is ${THREAD_ID}, vCPU 0)`);
      if (!this.frames.length || e.state === 'running') this.frames = this.computeFrames();
      const start = Math.max(0, args.startFrame ?? 0);
      const levels = args.levels && args.levels > 0 ? args.levels : this.frames.length;
      const cpu = this.machine!.cpu;
      const out: DebugProtocol.StackFrame[] = [];
      this.frames.slice(start, start + levels).forEach((f, k) => {
        const sf = new StackFrame(FRAME_BASE + start + k, f.name) as DebugProtocol.StackFrame;
        sf.instructionPointerReference = hexAddr(f.pc);
        if (f.location) {
          sf.source = new Source(basename(f.location.file), this.clientPath(f.location.file));
          sf.line = f.location.line;
          sf.column = f.location.column ?? 1;
        } else {
          const l = this.listings!.forAddress(f.pc, cpuBits(cpu));
          if (l) {
            sf.source = new Source(l.listing.name, undefined, l.listing.ref, 'vmx-debug disassembly', { listing: l.listing.ref });
            (sf.source as DebugProtocol.Source).presentationHint = 'normal';
            sf.line = l.line;
            sf.column = 1;
          } else {
            sf.line = 0;
            sf.column = 0;
            sf.presentationHint = 'subtle';
            sf.name += ' (memory not readable)';
          }
        }
        out.push(sf);
      });
      response.body = { stackFrames: out, totalFrames: this.frames.length };
      this.sendResponse(response);
    });
  }

  protected override sourceRequest(response: DebugProtocol.SourceResponse, args: DebugProtocol.SourceArguments): void {
    this.guard(response, async () => {
      const ref = args.source?.sourceReference ?? args.sourceReference;
      const listing = ref ? this.listings?.get(ref) : undefined;
      if (listing) {
        response.body = { content: listing.text, mimeType: 'text/x-asm' };
        this.sendResponse(response);
        return;
      }
      if (args.source?.path) {
        const bytes = await this.files.readFile(args.source.path);
        response.body = { content: new TextDecoder('utf-8').decode(bytes) };
        this.sendResponse(response);
        return;
      }
      throw new UserError(`no source with reference ${ref}: disassembly listings are replaced when memory changes`);
    });
  }

  private scopeContext(): ScopeContext {
    return {
      cpu: this.machine!.cpu,
      memory: this.engine!.memory,
      evaluate: (expr) => evaluateExpression(expr, this.evalContext()),
    };
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    this.guard(response, () => {
      this.requireEngine();
      const index = args.frameId - FRAME_BASE;
      if (!Number.isInteger(index) || index < 0 || (this.frames.length && index >= this.frames.length)) throw new UserError(`no frame ${args.frameId}`);
      const ctx = this.scopeContext();
      const scopes: DebugProtocol.Scope[] = [];
      for (const p of this.scopeProviders) {
        if (!p.applies(ctx, index)) continue;
        const s = new Scope(p.name, this.newVarRef({ provider: p, path: '' }), p.expensive) as DebugProtocol.Scope;
        if (p.presentationHint) s.presentationHint = p.presentationHint;
        scopes.push(s);
      }
      response.body = { scopes };
      this.sendResponse(response);
    });
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    this.guard(response, () => {
      this.requireEngine();
      const ref = this.varRefs.get(args.variablesReference);
      if (!ref) {
        // VS Code may still ask for a reference of an earlier stop after the guest went on: that is
        // a race, not a mistake, so the answer is "nothing there" rather than an error it would show
        if (this.issuedVarRef(args.variablesReference)) {
          response.body = { variables: [] };
          this.sendResponse(response);
          return;
        }
        throw new UserError(`no variables with reference ${args.variablesReference} (references are valid until the guest runs again)`);
      }
      const hex = args.format?.hex !== false;
      let nodes = ref.provider.children(this.scopeContext(), ref.path, hex);
      if (args.start !== undefined || args.count !== undefined) nodes = nodes.slice(args.start ?? 0, (args.start ?? 0) + (args.count || nodes.length));
      response.body = {
        variables: nodes.map((n) => ({
          name: n.name,
          value: n.value,
          type: n.type,
          evaluateName: n.evaluateName,
          memoryReference: n.memoryReference,
          variablesReference: n.children !== undefined ? this.newVarRef({ provider: ref.provider, path: n.children }) : 0,
          presentationHint: n.readOnly ? { attributes: ['readOnly'] } : undefined,
        })),
      };
      this.sendResponse(response);
    });
  }

  protected override setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): void {
    this.guard(response, () => {
      this.requireStopped('setVariable');
      const ref = this.varRefs.get(args.variablesReference);
      if (!ref) throw new UserError(`no variables with reference ${args.variablesReference}`);
      if (!ref.provider.set) throw new UserError(`${ref.provider.name} cannot be changed`);
      const node = ref.provider.set(this.scopeContext(), ref.path, args.name, args.value, args.format?.hex !== false);
      this.afterStateEdit(false);
      response.body = { value: node.value, memoryReference: node.memoryReference };
      this.sendResponse(response);
    });
  }

  /** After the user changed registers or memory: drop cached views and tell the client. */
  private afterStateEdit(memory: boolean, memRef?: { ref: string; offset: number; count: number }): void {
    this.frames = [];
    if (memory) {
      this.listings?.clear();
      if (memRef) this.sendEvent(new MemoryEvent(memRef.ref, memRef.offset, memRef.count));
    }
    this.sendEvent(new InvalidatedEvent(memory ? ['all'] : ['variables', 'stacks'], THREAD_ID));
  }

  // ================================================================================================
  // Expressions
  // ================================================================================================

  private lookupName(name: string, extra?: Record<string, bigint>): bigint | undefined {
    if (extra && name in extra) return extra[name];
    const vm = this.vmx.lookup(name);
    if (vm !== undefined) return vm;
    const cpu = this.machine?.cpu;
    if (cpu) {
      const r = findRegister(name);
      if (r) return r.read(cpu);
    }
    return this.debugInfo.addressOfSymbol(name);
  }

  private evalContext(extra?: Record<string, bigint>): AssignContext {
    const engine = this.requireEngine();
    const cpu = this.machine!.cpu;
    return {
      lookup: (name) => this.lookupName(name, extra),
      readMemory: (address, size) => engine.memory.readValue('linear', address, size),
      pointerSize: () => this.pointerSize(),
      assignName: (name, value) => {
        if (this.vmx.assign(name, value)) return;
        const r = findRegister(name);
        if (!r) throw new ExpressionError(`'${name}' is not a register; only registers and memory can be assigned`);
        if (!r.write) throw new ExpressionError(`${r.name} is read-only`);
        r.write(cpu, value);
        // a VM exit in place re-saves the guest's registers only when this counter moved
        cpu.sysGen++;
      },
      writeMemory: (address, size, value) => engine.memory.writeValue('linear', address, size, value),
    };
  }

  private interpolate(message: string): string {
    return message.replace(/\{([^}]*)\}/g, (_m, expr: string) => {
      try {
        return hexAddr(evaluateExpression(expr, this.evalContext()));
      } catch (e) {
        return `<${errMessage(e)}>`;
      }
    });
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    this.guard(response, () => {
      this.requireEngine();
      const expr = (args.expression ?? '').trim();
      const ast = parseExpression(expr);
      const v = evaluateExpression(expr, this.evalContext());
      const hex = args.format?.hex !== false;
      let bits = 64;
      if (ast.kind === 'name') bits = findRegister(ast.name)?.bits ?? 64;
      else if (ast.kind === 'mem') bits = (ast.size ?? this.pointerSize()) * 8;
      const result = hex ? formatValue(v, bits <= 64 && ast.kind !== 'num' && ast.kind !== 'bin' && ast.kind !== 'unary' ? bits : 1, true) : v.toString(10);
      const isPointer = (ast.kind === 'name' && (findRegister(ast.name)?.pointer || this.debugInfo.addressOfSymbol(ast.name) !== undefined))
        || this.engine!.memory.translate(v) >= 0;
      response.body = {
        result: hex && ast.kind === 'name' && !findRegister(ast.name) ? `${result}` : result,
        variablesReference: 0,
        memoryReference: isPointer ? hexAddr(v) : undefined,
      };
      this.sendResponse(response);
    });
  }

  protected override setExpressionRequest(response: DebugProtocol.SetExpressionResponse, args: DebugProtocol.SetExpressionArguments): void {
    this.guard(response, () => {
      this.requireStopped('setExpression');
      const ctx = this.evalContext();
      const value = evaluateExpression(args.value, ctx);
      const target = parseExpression(args.expression);
      assign(args.expression, value, ctx);
      const after = evaluateExpression(args.expression, ctx);
      this.afterStateEdit(target.kind === 'mem');
      response.body = { value: args.format?.hex === false ? after.toString(10) : hexAddr(after) };
      this.sendResponse(response);
    });
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    this.guard(response, () => {
      const col = Math.max(0, (args.column ?? args.text.length + 1) - 1);
      const before = args.text.slice(0, col);
      const m = /[A-Za-z_.@?][A-Za-z0-9_.@?$#]*$/.exec(before);
      const prefix = m ? m[0] : '';
      const lower = prefix.toLowerCase();
      const names = new Set<string>([...registerNames(), 'byte', 'word', 'dword', 'qword', ...this.vmx.completionNames()]);
      for (const l of this.symbolListers) for (const n of l.symbolNames()) names.add(n);
      const targets: DebugProtocol.CompletionItem[] = [];
      for (const n of names) {
        if (!n.toLowerCase().startsWith(lower)) continue;
        const isReg = !!findRegister(n);
        targets.push({ label: n, type: isReg ? 'variable' : ['byte', 'word', 'dword', 'qword'].includes(n) ? 'keyword' : 'function', start: col - prefix.length, length: prefix.length });
        if (targets.length >= 500) break;
      }
      targets.sort((a, b) => a.label.localeCompare(b.label));
      response.body = { targets };
      this.sendResponse(response);
    });
  }

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): void {
    this.guard(response, () => {
      const info = this.lastStop?.description.exceptionInfo;
      if (!info) throw new UserError('the guest is not stopped on an exception');
      response.body = info;
      this.sendResponse(response);
    });
  }

  // ================================================================================================
  // Memory and disassembly
  // ================================================================================================

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    this.guard(response, () => {
      const e = this.requireEngine();
      const ref = parseMemoryReference(args.memoryReference ?? '');
      if (!ref) throw new UserError(`'${args.memoryReference}' is not a memory reference: write a linear address such as 0x7c00, or phys:0x1000`);
      const count = Math.max(0, Math.min(args.count ?? 0, 16 * 1024 * 1024));
      const start = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const data = e.memory.read(ref.space, start, count);
      response.body = {
        address: formatMemoryReference({ space: ref.space, address: start }),
        data: toBase64(data),
        unreadableBytes: count - data.length,
      };
      this.sendResponse(response);
    });
  }

  protected override writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): void {
    this.guard(response, () => {
      const e = this.requireEngine();
      const ref = parseMemoryReference(args.memoryReference ?? '');
      if (!ref) throw new UserError(`'${args.memoryReference}' is not a memory reference: write a linear address such as 0x7c00, or phys:0x1000`);
      const bytes = fromBase64(args.data ?? '');
      const start = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const n = e.memory.write(ref.space, start, bytes);
      if (n < bytes.length && !args.allowPartial) {
        throw new UserError(`only ${n} of ${bytes.length} bytes could be written: ${hexAddr(start + BigInt(n))} is not mapped`);
      }
      response.body = { bytesWritten: n, offset: args.offset ?? 0 };
      this.sendResponse(response);
      this.afterStateEdit(true, { ref: args.memoryReference, offset: args.offset ?? 0, count: n });
    });
  }

  protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    this.guard(response, () => {
      const e = this.requireEngine();
      const ref = parseMemoryReference(args.memoryReference ?? '');
      if (!ref || ref.space !== 'linear') throw new UserError(`'${args.memoryReference}' is not a linear address such as 0x7c00`);
      const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const lines = disassembleAround(e.memory, this.debugInfo, address, args.instructionOffset ?? 0, args.instructionCount, cpuBits(this.machine!.cpu));
      response.body = {
        instructions: lines.map((l) => {
          const d: DebugProtocol.DisassembledInstruction = {
            address: hexAddr(l.address),
            instruction: l.text,
            instructionBytes: l.bytes ? Array.from(l.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') : undefined,
          };
          if (l.invalid) d.presentationHint = 'invalid';
          if (l.symbol && args.resolveSymbols !== false) d.symbol = l.symbol;
          if (l.location) {
            d.location = new Source(basename(l.location.file), this.clientPath(l.location.file));
            d.line = l.location.line;
          }
          return d;
        }),
      };
      this.sendResponse(response);
    });
  }

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    const a = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
    const num = (v: unknown, what: string): number | undefined => {
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'string') { const n = parseMemoryReference(v); if (n) return Number(n.address); }
      throw new UserError(`${command}: '${what}' must be a number or a hex string`);
    };
    switch (command) {
      case 'vmx/readVmcs':
        this.guard(response, () => {
          this.requireEngine();
          const list = [this.vmx.readVmcs(num(a.pointer, 'pointer'))];
          if (a.all === true) for (const p of this.vmx.knownVmcs) if (p !== this.vmx.vmx?.current) list.push(this.vmx.readVmcs(p));
          response.body = { mode: this.vmx.modeText(), vmcs: list };
          this.sendResponse(response);
        });
        return;
      case 'vmx/writeVmcs':
        this.guard(response, () => {
          this.requireStopped('vmx/writeVmcs');
          if (typeof a.field !== 'string') throw new UserError('vmx/writeVmcs: "field" (a VMCS field name) is required');
          const value = typeof a.value === 'string' ? evaluateExpression(a.value, this.evalContext()) : typeof a.value === 'number' ? BigInt(a.value) : undefined;
          if (value === undefined) throw new UserError('vmx/writeVmcs: "value" (a number or an expression string) is required');
          const after = this.vmx.writeField(a.field.toUpperCase(), value);
          response.body = { field: a.field.toUpperCase(), value: hexAddr(after) };
          this.sendResponse(response);
          this.afterStateEdit(false);
        });
        return;
      case 'vmx/exitHistory':
        this.guard(response, () => {
          response.body = this.vmx.history(num(a.start, 'start') ?? 0, num(a.count, 'count') ?? 1000);
          this.sendResponse(response);
        });
        return;
      case 'vmx/instructionCount':
        this.guard(response, () => {
          response.body = { icount: this.requireEngine().cpu.icount };
          this.sendResponse(response);
        });
        return;
      case 'vmx/exitStats':
        this.guard(response, () => {
          response.body = this.vmx.stats();
          this.sendResponse(response);
        });
        return;
    }
    this.sendErrorResponse(response, 1014, `unrecognized request '${command}'`);
  }
}

/** A mistake by the user or client, reported as-is in the error response. */
export class UserError extends Error {}

/** A response object for a request whose handler threw before making one. */
class ResponseFor implements DebugProtocol.Response {
  seq = 0;
  type = 'response' as const;
  request_seq: number;
  success = false;
  command: string;
  constructor(request: DebugProtocol.Request) {
    this.request_seq = request.seq;
    this.command = request.command;
  }
}
