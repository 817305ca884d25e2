import * as fs from 'fs';
import { type Machine, EXIT_USAGE, EXIT_INTERNAL, type RunOutcome } from '../machine/machine';
import { bootMachine } from '../machine/boot';
import { LoadError } from '../machine/loaders/loadPlan';
import { parseRunArgs, UsageError, USAGE, type RunOptions } from './args';
import { Tracer } from './trace';

/**
 * The headless runner: `vmx-debug run IMAGE [options]`. Serial and debugcon output stream to stdout
 * as the guest produces it; the exit status says how the guest stopped (README "Exit codes").
 */

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

async function run(o: RunOptions): Promise<number> {
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
  let interrupted = false;
  process.once('SIGINT', () => { interrupted = true; });
  const t0 = process.hrtime.bigint();
  let outcome: RunOutcome;
  for (;;) {
    const limit = Math.min(o.maxInstructions, machine.cpu.icount + SLICE);
    outcome = machine.run(limit);
    if (outcome.kind !== 'limit' || machine.cpu.icount >= o.maxInstructions) break;
    tracer?.flush();
    // let signals and output through between slices
    await new Promise((r) => setImmediate(r));
    if (interrupted) {
      outcome = { kind: 'stop', code: 130, detail: 'interrupted (Ctrl-C)' };
      break;
    }
  }
  tracer?.flush();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = machine.cpu;
  if (outcome.kind !== 'exit' && outcome.kind !== 'halt') {
    process.stderr.write(`vmx-debug: ${outcome.detail} at ${cpu.segSel[1].toString(16)}:${cpu.rip.toString(16)} after ${cpu.icount} instructions\n`);
  }
  if (o.stats) {
    const mips = cpu.icount / secs / 1e6;
    process.stderr.write(`stats: ${cpu.icount} instructions in ${secs.toFixed(3)} s = ${mips.toFixed(1)} MIPS; stopped: ${outcome.kind} (${outcome.detail})\n`);
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
