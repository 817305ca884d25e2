import * as fs from 'fs';
import { type Machine, EXIT_USAGE, EXIT_INTERNAL, type RunOutcome } from '../machine/machine';
import { bootMachine } from '../machine/boot';
import { LoadError } from '../machine/loaders/loadPlan';
import { parseRunArgs, UsageError, USAGE, type RunOptions } from './args';
import { Tracer } from './trace';
import { VMX_MODELS } from '../cpu/vmx/capabilities';
import { Monitor, MonitorConfigError, MonitorError, dumpVmcs, formatStats, parseMonitorConfig, traceLine, type MonitorConfig } from '../machine/monitor';

/**
 * The headless runner: `vmx-debug run IMAGE [options]`. Serial and debugcon output stream to stdout
 * as the guest produces it; the exit status says how the guest stopped (README "Exit codes").
 */

/** Writes buffered --trace-exits lines. */
let flushTrace: () => void = () => {};

/** How many instructions run between checks for Ctrl-C and flushing output. */
const SLICE = 20_000_000;

function fail(message: string, code = EXIT_USAGE): never {
  process.stderr.write(`vmx-debug: ${message}\n`);
  process.exit(code);
}

function readFile(path: string, what: string): Uint8Array {
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) fail(`${what} '${path}' is not a file`);
    return new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    if (e instanceof Error && 'code' in e && (e as NodeJS.ErrnoException).code === 'ENOENT') fail(`${what} '${path}' does not exist`);
    if (e instanceof Error && 'code' in e) fail(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code}`);
    throw e;
  }
}

function sink(file: string | undefined, what: string): (bytes: Uint8Array) => void {
  if (!file) return (bytes) => { process.stdout.write(bytes); };
  let fd: number;
  try {
    fd = fs.openSync(file, 'w');
  } catch (e) {
    fail(`cannot open ${what} file '${file}': ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return (bytes) => { fs.writeSync(fd, bytes); };
}

/** Reads and validates --vmx-config (errors name the file and the bad key). */
function readConfig(file: string): MonitorConfig {
  const text = Buffer.from(readFile(file, 'VMX configuration')).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    return parseMonitorConfig(json);
  } catch (e) {
    if (e instanceof MonitorConfigError) fail(`${file}: ${e.message}`);
    throw e;
  }
}

async function run(o: RunOptions): Promise<number> {
  if (o.vmxModel !== undefined && !VMX_MODELS[o.vmxModel]) fail(`--vmx-model: unknown model '${o.vmxModel}' (known: ${Object.keys(VMX_MODELS).join(', ')})`);
  const config = o.vmxConfig ? readConfig(o.vmxConfig) : undefined;
  const image = readFile(o.image, 'image');
  const modules = o.modules.map((m) => ({ name: m, bytes: readFile(m, 'module') }));
  let machine: Machine;
  try {
    ({ machine } = bootMachine(image, {
      ramMiB: o.ramMiB,
      onSerial: sink(o.serial, 'serial'),
      onDebugcon: sink(o.debugcon, 'debugcon'),
      onPost: o.post ? (r) => process.stderr.write(`POST 0x${r.value.toString(16).padStart(2, '0')} at instruction ${r.instructions}\n`) : undefined,
      format: o.format,
      loadAddress: o.loadAddress,
      entry: o.entry,
      mode: o.mode,
      cmdline: o.cmdline,
      modules,
      vmxModel: o.vmxModel,
    }));
  } catch (e) {
    if (e instanceof LoadError) fail(`${o.image}: ${e.message}`);
    throw e;
  }
  let tracer: Tracer | null = null;
  if (o.trace) {
    const out = o.traceFile ? sink(o.traceFile, 'trace') : (b: Uint8Array) => { process.stderr.write(b); };
    tracer = new Tracer((text) => out(Buffer.from(text)));
    machine.cpu.observer = tracer;
    machine.cpu.singleStepChanged();
  }
  let monitor: Monitor | null = null;
  let launchFailure: RunOutcome | null = null;
  if (o.monitor) {
    const traceBuf: string[] = [];
    const flushExits = () => { if (traceBuf.length) { process.stderr.write(traceBuf.join('')); traceBuf.length = 0; } };
    try {
      monitor = new Monitor(machine, {
        config,
        onNote: (t) => process.stderr.write(`vmx-debug: ${t}\n`),
        onExit: o.traceExits
          ? (e) => {
            traceBuf.push(traceLine(e.index, e.reason, e.qualification, e.guestRip, e.intrInfo) + '\n');
            if (traceBuf.length >= 4096) flushExits();
          }
          : undefined,
      });
    } catch (e) {
      if (e instanceof MonitorError) fail(`--monitor: ${e.message}`, EXIT_INTERNAL);
      throw e;
    }
    machine.vmm = monitor;
    flushTrace = flushExits;
    launchFailure = monitor.launch();
  }
  let interrupted = false;
  process.once('SIGINT', () => { interrupted = true; });
  const t0 = process.hrtime.bigint();
  let outcome: RunOutcome;
  for (;;) {
    if (launchFailure) { outcome = launchFailure; break; }
    const limit = Math.min(o.maxInstructions, machine.cpu.icount + SLICE);
    outcome = machine.run(limit);
    if (outcome.kind !== 'limit' || machine.cpu.icount >= o.maxInstructions) break;
    tracer?.flush();
    flushTrace();
    // let signals and output through between slices
    await new Promise((r) => setImmediate(r));
    if (interrupted) {
      outcome = { kind: 'stop', code: 130, detail: 'interrupted (Ctrl-C)' };
      break;
    }
  }
  tracer?.flush();
  flushTrace();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = machine.cpu;
  if (outcome.kind !== 'exit' && outcome.kind !== 'halt') {
    process.stderr.write(`vmx-debug: ${outcome.detail} at ${cpu.segSel[1].toString(16)}:${cpu.rip.toString(16)} after ${cpu.icount} instructions\n`);
  }
  if (o.stats) {
    const mips = cpu.icount / secs / 1e6;
    process.stderr.write(`stats: ${cpu.icount} instructions in ${secs.toFixed(3)} s = ${mips.toFixed(1)} MIPS; stopped: ${outcome.kind} (${outcome.detail})\n`);
    if (monitor) process.stderr.write(formatStats(monitor));
  }
  if (o.dumpVmcs) {
    const v = machine.vmx;
    if (monitor) process.stderr.write(dumpVmcs(monitor.vmx, monitor.vmcsSize));
    else if (v && v.hasCurrent) process.stderr.write(dumpVmcs(v, Number((v.caps.msrs.get(0x480) ?? 0n) >> 32n & 0x1FFFn)));
    else process.stderr.write('vmx-debug: --dump-vmcs: the guest has no current VMCS\n');
  }
  return outcome.code;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? EXIT_USAGE : 0;
  }
  if (cmd !== 'run') fail(`unknown command '${cmd}' (see vmx-debug --help)`);
  let opts: RunOptions;
  try {
    opts = parseRunArgs(rest);
  } catch (e) {
    if (e instanceof UsageError) fail(`${e.message} (see vmx-debug --help)`);
    throw e;
  }
  return run(opts);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vmx-debug: internal error: ${msg}\n`);
    if (process.env.VMX_DEBUG_STACK) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = EXIT_INTERNAL;
  },
);
