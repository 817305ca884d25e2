import type { CpuMode, LoaderFormat } from '../machine/loaders/loadPlan';

/** Parsed `vmx-debug run` options. */
export interface RunOptions {
  image: string;
  format?: LoaderFormat;
  loadAddress?: number;
  entry?: number;
  mode?: CpuMode;
  ramMiB: number;
  maxInstructions: number;
  trace: boolean;
  traceFile?: string;
  stats: boolean;
  post: boolean;
  serial?: string;
  debugcon?: string;
  cmdline?: string;
  modules: string[];
  /** Run the image as a VMX guest of the built-in monitor. */
  monitor: boolean;
  vmxConfig?: string;
  traceExits: boolean;
  dumpVmcs: boolean;
  /** VMX capability model of the CPU (src/cpu/vmx/capabilities.ts). */
  vmxModel?: string;
}

/** A command-line mistake: the message is printed as one line, with the usage hint. */
export class UsageError extends Error {}

export const USAGE = `usage: vmx-debug run IMAGE [options]
  --format elf|flat|rom|multiboot   image format (default: detected)
  --load-address A                  flat images: where to load (default 0x7c00 real, 0x100000 otherwise)
  --entry A                         start address (flat, elf)
  --mode real|protected|long        start mode (flat, elf)
  --ram MiB                         guest RAM (default 256)
  --max-instructions N              stop after N instructions (exit code 6)
  --trace                           print every instruction to stderr (--trace-file FILE to write it there)
  --stats                           print instructions, wall time and MIPS at the end
  --post                            print each POST code written to port 0x80
  --serial FILE                     COM1 output to FILE instead of stdout
  --debugcon FILE                   port 0xE9 output to FILE instead of stdout
  --cmdline S, --module FILE        multiboot command line and modules (repeatable)
  --monitor                         run the image as a VMX guest of the built-in monitor (a VMM in TypeScript)
  --vmx-config FILE                 monitor configuration (JSON: controls, io, msrs, exceptionBitmap, cpuid, entry, stopOn)
  --trace-exits                     print one line per VM exit (reason, decoded qualification, guest RIP) to stderr
  --dump-vmcs                       print the final VMCS by area with decoded controls (also the guest VMM's VMCS in bare-metal mode)
  --vmx-model NAME                  VMX capability model of the CPU (default, core2-no-ug)
  With --monitor, --stats adds exits per reason, per port and MSR, and exits per second.
  Bare-metal images that run their own VMM need no flag: the firmware leaves IA32_FEATURE_CONTROL locked with VMX on.`;

/** Parses a number in decimal, 0x hex, 0o octal or 0b binary; underscores allowed. */
export function parseNumber(text: string, what: string): number {
  const t = text.replace(/_/g, '').trim();
  if (!/^(0x[0-9a-f]+|0o[0-7]+|0b[01]+|[0-9]+)$/i.test(t)) throw new UsageError(`${what}: '${text}' is not a number`);
  const v = Number(t);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${what}: '${text}' is too large`);
  return v;
}

const FORMATS = ['elf', 'flat', 'rom', 'multiboot'];
const MODES = ['real', 'protected', 'long'];

export function parseRunArgs(argv: string[]): RunOptions {
  const o: RunOptions = { image: '', ramMiB: 256, maxInstructions: Infinity, trace: false, stats: false, post: false, modules: [], monitor: false, traceExits: false, dumpVmcs: false };
  const value = (k: number, flag: string): string => {
    const v = argv[k + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (!a.startsWith('--')) {
      if (o.image) throw new UsageError(`unexpected argument '${a}' (the image is already '${o.image}')`);
      o.image = a;
      continue;
    }
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(k, flag);
      k++;
      return v;
    };
    switch (flag) {
      case '--format': {
        const v = take();
        if (!FORMATS.includes(v)) throw new UsageError(`--format: '${v}' is not one of ${FORMATS.join(', ')}`);
        o.format = v as LoaderFormat;
        break;
      }
      case '--mode': {
        const v = take();
        if (!MODES.includes(v)) throw new UsageError(`--mode: '${v}' is not one of ${MODES.join(', ')}`);
        o.mode = v as CpuMode;
        break;
      }
      case '--load-address': o.loadAddress = parseNumber(take(), '--load-address'); break;
      case '--entry': o.entry = parseNumber(take(), '--entry'); break;
      case '--ram': {
        const v = parseNumber(take(), '--ram');
        if (v < 1 || v > 4080) throw new UsageError(`--ram: ${v} MiB is outside 1..4080`);
        o.ramMiB = v;
        break;
      }
      case '--max-instructions': {
        const v = parseNumber(take(), '--max-instructions');
        if (v < 1) throw new UsageError('--max-instructions must be at least 1');
        o.maxInstructions = v;
        break;
      }
      case '--trace': o.trace = true; break;
      case '--trace-file': o.trace = true; o.traceFile = take(); break;
      case '--stats': o.stats = true; break;
      case '--post': o.post = true; break;
      case '--serial': o.serial = take(); break;
      case '--debugcon': o.debugcon = take(); break;
      case '--cmdline': o.cmdline = take(); break;
      case '--module': o.modules.push(take()); break;
      case '--monitor': o.monitor = true; break;
      case '--vmx-config': o.vmxConfig = take(); break;
      case '--trace-exits': o.traceExits = true; break;
      case '--dump-vmcs': o.dumpVmcs = true; break;
      case '--vmx-model': o.vmxModel = take(); break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!o.image) throw new UsageError('no image given');
  if (!o.monitor && o.vmxConfig) throw new UsageError('--vmx-config configures the built-in monitor: add --monitor');
  if (!o.monitor && o.traceExits) throw new UsageError('--trace-exits traces the built-in monitor\'s VM exits: add --monitor');
  return o;
}
