/**
 * The VM-exit history view's model: pure TypeScript, no `vscode` import (unit-tested with plain mocha).
 * Input: the bodies of the adapter's `vmx/exitHistory` and `vmx/exitStats` custom requests
 * (src/debug/README.md). Output: a tree of the session's exits (newest first) and totals per reason,
 * per I/O port and per MSR. Qualifications are decoded with the spec tables.
 */
import { describeExitQualification, exitReasonByNumber } from '../../cpu/vmx/spec';
import { parseValue } from '../vmcsTree/model';
import type { ExitRecordInfo } from '../../debug/exitLog';

/** One exit of `vmx/exitHistory`, as the adapter's exit log makes it. */
export type ExitRecord = ExitRecordInfo;

export interface ExitHistoryResponse { total: number; exits: ExitRecord[] }

export interface ExitStatsResponse {
  total: number;
  byReason: { reason: number; name: string; count: number }[];
  byPort: { port: string; in: number; out: number }[];
  byMsr: { msr: string; reads: number; writes: number }[];
}

export type HistoryNode = GroupNode | ExitNode | TotalNode | InfoNode;

interface Base { id: string; label: string; description?: string; tooltip?: string; children?: HistoryNode[] }
export interface GroupNode extends Base { kind: 'group'; children: HistoryNode[] }
export interface ExitNode extends Base {
  kind: 'exit';
  exit: ExitRecord;
  /** Decoded qualification in words. */
  decoded: string;
  /** A VMCS snapshot exists for this exit (the panel can show it). */
  hasSnapshot: boolean;
}
export interface TotalNode extends Base { kind: 'total'; count: number }
export interface InfoNode extends Base { kind: 'info' }

/** A short name for an exit reason (EXIT_REASON_IO_INSTRUCTION → IO_INSTRUCTION). */
export function shortReason(reason: number, name?: string): string {
  const n = name ?? exitReasonByNumber(reason)?.name ?? String(reason);
  return n.replace(/^EXIT_REASON_/, '');
}

export function decodeExit(e: ExitRecord): string {
  try {
    return describeExitQualification(e.reason, parseValue(e.qualification));
  } catch {
    return '';
  }
}

export interface HistoryBuildOptions {
  /** Exit indexes that have a VMCS snapshot in the extension. */
  snapshots?: ReadonlySet<number>;
  /** Show at most this many exits (newest first); default 1000. */
  limit?: number;
}

export function buildHistoryTree(history: ExitHistoryResponse | undefined, stats: ExitStatsResponse | undefined, opts: HistoryBuildOptions = {}): HistoryNode[] {
  if (!history && !stats) return [{ kind: 'info', id: 'none', label: 'No VM-exit history (start a vmx session and stop it)' }];
  const limit = opts.limit ?? 1000;
  const exits = [...(history?.exits ?? [])].reverse().slice(0, limit);
  const exitNodes: HistoryNode[] = exits.map((e): ExitNode => {
    const decoded = decodeExit(e);
    const has = opts.snapshots?.has(e.index) ?? false;
    return {
      kind: 'exit', id: `exit:${e.index}`, exit: e, decoded, hasSnapshot: has,
      label: `#${e.index} ${shortReason(e.reason, e.name)}${e.entryFailure ? ' (entry failure)' : ''}`,
      description: `${decoded || e.qualification} @ ${e.guestRip}`,
      tooltip: `VM exit #${e.index}: ${e.name} (${e.reason})${e.entryFailure ? ', VM-entry failure' : ''}\n` +
        `qualification ${e.qualification}${decoded ? `: ${decoded}` : ''}\nguest RIP ${e.guestRip}\ninstruction count ${e.icount}` +
        `${e.summary ? `\n${e.summary}` : ''}${has ? '\nVMCS snapshot recorded at the stop after this exit' : ''}`,
    };
  });
  const total = history?.total ?? stats?.total ?? 0;
  const shown = history?.exits.length ?? 0;
  const nodes: HistoryNode[] = [{
    kind: 'group', id: 'exits', label: 'Exits', children: exitNodes.length ? exitNodes : [{ kind: 'info', id: 'exits/none', label: 'No VM exits yet' }],
    description: `${total}${shown < total ? ` (last ${shown} kept)` : ''}`,
  }];
  if (stats) {
    const reasons: TotalNode[] = stats.byReason.map((r) => ({
      kind: 'total', id: `reason:${r.reason}`, label: shortReason(r.reason, r.name), count: r.count,
      description: `${r.count}`, tooltip: `${r.name} (${r.reason}): ${r.count} exit${r.count === 1 ? '' : 's'}`,
    }));
    nodes.push({ kind: 'group', id: 'byReason', label: 'By reason', description: `${stats.total}`, children: reasons });
    if (stats.byPort.length) {
      nodes.push({
        kind: 'group', id: 'byPort', label: 'By I/O port', description: `${stats.byPort.length} ports`,
        children: stats.byPort.map((p): TotalNode => ({
          kind: 'total', id: `port:${p.port}`, label: `port ${p.port}`, count: p.in + p.out,
          description: `${p.in + p.out}  (in ${p.in}, out ${p.out})`,
        })),
      });
    }
    if (stats.byMsr.length) {
      nodes.push({
        kind: 'group', id: 'byMsr', label: 'By MSR', description: `${stats.byMsr.length} MSRs`,
        children: stats.byMsr.map((m): TotalNode => ({
          kind: 'total', id: `msr:${m.msr}`, label: `MSR ${m.msr}`, count: m.reads + m.writes,
          description: `${m.reads + m.writes}  (rdmsr ${m.reads}, wrmsr ${m.writes})`,
        })),
      });
    }
  }
  return nodes;
}
