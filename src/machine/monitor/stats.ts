import { exitReasonByNumber, exitReasonShortName } from '../../cpu/vmx/spec';
import type { Monitor } from './monitor';

/** `--stats` lines for the monitor: exits per reason, per port and MSR, and exits per second. */
export function formatStats(m: Monitor): string {
  const secs = m.runSeconds();
  const lines: string[] = [];
  const rate = secs > 0 ? m.totalExits / secs : 0;
  lines.push(`monitor: ${m.totalExits} VM exits in ${secs.toFixed(3)} s = ${fmtRate(rate)} exits/s`);
  const rows: [string, number][] = [];
  m.exitsByReason.forEach((n, r) => {
    if (n > 0) {
      const e = exitReasonByNumber(r);
      rows.push([`${e ? exitReasonShortName(e) : 'reason'} (${r})`, n]);
    }
  });
  rows.sort((a, b) => b[1] - a[1]);
  for (const [name, n] of rows) lines.push(`  exit ${name.padEnd(28)} ${String(n).padStart(12)}`);
  const ports: [number, number][] = [];
  m.exitsByPort.forEach((n, p) => { if (n > 0) ports.push([p, n]); });
  ports.sort((a, b) => b[1] - a[1]);
  for (const [p, n] of ports.slice(0, 16)) lines.push(`  port 0x${p.toString(16).padStart(4, '0')}${' '.repeat(23)} ${String(n).padStart(12)}`);
  const msrs = [...m.exitsByMsr.entries()].sort((a, b) => b[1] - a[1]);
  for (const [i, n] of msrs.slice(0, 16)) lines.push(`  msr 0x${i.toString(16).padStart(8, '0')}${' '.repeat(20)} ${String(n).padStart(12)}`);
  return lines.join('\n') + '\n';
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} million` : r >= 1e3 ? `${(r / 1e3).toFixed(1)} thousand` : r.toFixed(0);
}
