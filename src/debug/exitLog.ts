import { hexAddr } from './memory';
import { describeExitQualification, exitReasonByNumber, formatInterruptionInfo } from '../cpu/vmx/spec';

/** One VM exit as the history lists it. */
export interface ExitRecordInfo {
  index: number;
  reason: number;
  name: string;
  entryFailure: boolean;
  qualification: string;
  guestRip: string;
  icount: number;
  time: number;
  summary: string;
}

/** The facts of one exit the log keeps, as the core left them (numbers only). */
export interface ExitFacts {
  /** VM_EXIT_REASON (bit 31: VM-entry failure). */
  raw: number;
  qualLo: number;
  qualHi: number;
  ripLo: number;
  ripHi: number;
  /** VM_EXIT_INTR_INFO. */
  intr: number;
  /** The guest's EAX and ECX at the exit (CPUID leaf and subleaf, MSR index). */
  eax: number;
  ecx: number;
  icount: number;
}

const TWO32 = 0x100000000;

/** The one-line summary of an exit for lists and stops: the qualification in words, CPUID leaf, MSR, exception. */
export function exitSummary(basic: number, qual: bigint, intr: number, eax: number, ecx: number): string {
  const vector = intr < 0 ? intr & 0xFF : -1;
  if (basic === 10) return `CPUID leaf ${hexAddr(BigInt(eax >>> 0))} subleaf ${hexAddr(BigInt(ecx >>> 0))}`;
  if (basic === 31 || basic === 32) return `${basic === 31 ? 'RDMSR' : 'WRMSR'} ${hexAddr(BigInt(ecx >>> 0))}`;
  if (basic === 0 && vector >= 0) return formatInterruptionInfo('exit', intr);
  try {
    return describeExitQualification(basic, qual, vector >= 0 ? { vector } : {});
  } catch {
    return '';
  }
}

/**
 * The VM exits a debug session has seen: counts by reason, I/O port and MSR, and the last CAPACITY
 * exits as numbers in typed arrays. A guest under the debugger may exit a million times a second;
 * recording one costs a few stores, and the words of the list are made when a view asks for them.
 */
export class ExitLog {
  static readonly CAPACITY = 10_000;
  /** Exits recorded since the session started (the list keeps the last CAPACITY). */
  total = 0;
  private readonly raw = new Int32Array(ExitLog.CAPACITY);
  private readonly qualLo = new Int32Array(ExitLog.CAPACITY);
  private readonly qualHi = new Int32Array(ExitLog.CAPACITY);
  private readonly ripLo = new Int32Array(ExitLog.CAPACITY);
  private readonly ripHi = new Int32Array(ExitLog.CAPACITY);
  private readonly intr = new Int32Array(ExitLog.CAPACITY);
  private readonly eax = new Int32Array(ExitLog.CAPACITY);
  private readonly ecx = new Int32Array(ExitLog.CAPACITY);
  private readonly icount = new Float64Array(ExitLog.CAPACITY);
  private readonly time = new Float64Array(ExitLog.CAPACITY);
  /** Exits per basic reason; per port, [in, out]; per MSR, [reads, writes]. */
  private readonly byReason = new Map<number, number>();
  private readonly byPort = new Map<number, [number, number]>();
  private readonly byMsr = new Map<number, [number, number]>();

  add(f: ExitFacts): void {
    const k = this.total % ExitLog.CAPACITY;
    this.total++;
    this.raw[k] = f.raw; this.qualLo[k] = f.qualLo; this.qualHi[k] = f.qualHi; this.ripLo[k] = f.ripLo; this.ripHi[k] = f.ripHi;
    this.intr[k] = f.intr; this.eax[k] = f.eax; this.ecx[k] = f.ecx; this.icount[k] = f.icount;
    // a millisecond clock read per exit; Date.now is cheap next to everything else a stop does
    this.time[k] = Date.now();
    const basic = f.raw & 0xFFFF;
    this.byReason.set(basic, (this.byReason.get(basic) ?? 0) + 1);
    if (f.raw < 0) return;
    if (basic === 30) {
      const port = f.qualLo >>> 16;
      let s = this.byPort.get(port);
      if (s === undefined) this.byPort.set(port, s = [0, 0]);
      s[f.qualLo & 8 ? 0 : 1]++;
    } else if (basic === 31 || basic === 32) {
      const msr = f.ecx >>> 0;
      let s = this.byMsr.get(msr);
      if (s === undefined) this.byMsr.set(msr, s = [0, 0]);
      s[basic === 31 ? 0 : 1]++;
    }
  }

  /** Exits `start`.. of the kept list (oldest first), at most `count`. */
  entries(start: number, count: number): ExitRecordInfo[] {
    const kept = Math.min(this.total, ExitLog.CAPACITY);
    const first = this.total - kept;
    const out: ExitRecordInfo[] = [];
    for (let n = Math.max(0, start); n < kept && out.length < Math.max(0, count); n++) {
      const k = (first + n) % ExitLog.CAPACITY;
      const raw = this.raw[k], basic = raw & 0xFFFF, entryFailure = raw < 0;
      const qual = (BigInt(this.qualHi[k] >>> 0) << 32n) | BigInt(this.qualLo[k] >>> 0);
      out.push({
        index: first + n + 1, reason: basic, name: exitReasonByNumber(basic)?.name ?? `EXIT_REASON_${basic}`, entryFailure,
        qualification: hexAddr(qual), guestRip: hexAddr(BigInt.asUintN(64, BigInt(this.ripHi[k]) * BigInt(TWO32) + BigInt(this.ripLo[k] >>> 0))),
        icount: this.icount[k], time: this.time[k], summary: exitSummary(basic, qual, this.intr[k], this.eax[k], this.ecx[k]),
      });
    }
    return out;
  }

  stats(): Record<string, unknown> {
    return {
      total: this.total,
      byReason: [...this.byReason].sort((a, b) => b[1] - a[1]).map(([reason, count]) => ({ reason, name: exitReasonByNumber(reason)?.name ?? String(reason), count })),
      byPort: [...this.byPort].sort((a, b) => a[0] - b[0]).map(([port, s]) => ({ port: hexAddr(port), in: s[0], out: s[1] })),
      byMsr: [...this.byMsr].sort((a, b) => a[0] - b[0]).map(([msr, s]) => ({ msr: hexAddr(msr), reads: s[0], writes: s[1] })),
    };
  }
}
