import * as vscode from 'vscode';
import type { VmxStopState } from './stopState';
import { SnapshotStore, type StoredSnapshot } from './inspector/protocol';
import { mergeDataBreakpoints, vmcsDataId, type DataBp } from './vmcsTree/edit';

/**
 * Per-session bookkeeping the views share:
 * - a VMCS snapshot at each stop (the adapter's vmx/exitHistory has no per-exit VMCS), tagged with the
 *   number of VM exits seen so far, so the panel can diff any two stops and show the VMCS of an exit;
 * - the tree's "break when this field changes" fields, merged into the client's setDataBreakpoints list.
 * It uses the one `vmx/readVmcs` per stop that VmxStopState already makes.
 */
export class SessionRecorder implements vscode.Disposable {
  readonly snapshots = new SnapshotStore(200);
  private readonly emitter = new vscode.EventEmitter<StoredSnapshot | undefined>();
  /** A snapshot was recorded (or the store was cleared: undefined). */
  readonly onDidRecord = this.emitter.event;
  private recordedStop = -1;
  private session: vscode.DebugSession | undefined;
  private clientDataBps: DataBp[] = [];
  readonly watchedFields = new Set<string>();
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly state: VmxStopState) {
    this.subs.push(
      state.onDidChange(() => void this.onChange()),
      vscode.debug.registerDebugAdapterTrackerFactory('vmx', {
        createDebugAdapterTracker: (session) => ({
          onWillReceiveMessage: (m: { type?: string; command?: string; arguments?: { breakpoints?: DataBp[] } }) => {
            if (m.type !== 'request' || m.command !== 'setDataBreakpoints') return;
            const list = m.arguments?.breakpoints ?? [];
            const ours = new Set([...this.watchedFields].map(vmcsDataId));
            this.clientDataBps = list.filter((b) => !ours.has(b.dataId));
            // VS Code's list replaced ours: send the merged list again once it is answered.
            if ([...ours].some((id) => !list.some((b) => b.dataId === id))) setTimeout(() => void this.sendDataBreakpoints(session), 0);
          },
        }),
      }),
    );
  }

  private async onChange(): Promise<void> {
    const s = this.state;
    if (s.session !== this.session) {
      this.session = s.session;
      this.snapshots.clear();
      this.recordedStop = -1;
      this.clientDataBps = [];
      this.watchedFields.clear();
      this.emitter.fire(undefined);
    }
    if (!s.session || s.running) return;
    const stop = s.stopNumber;
    if (stop === this.recordedStop || stop === 0) return;
    const resp = await s.vmcs();
    if (!resp || stop !== s.stopNumber || stop === this.recordedStop) return;
    this.recordedStop = stop;
    let exitTotal: number | undefined;
    try {
      const h = (await s.session.customRequest('vmx/exitHistory', { start: 0, count: 0 })) as { total?: number };
      exitTotal = typeof h?.total === 'number' ? h.total : undefined;
    } catch {
      exitTotal = undefined;
    }
    const what = s.stopBody?.description ?? s.stopBody?.reason ?? 'stop';
    const snap = this.snapshots.record(resp, `stop ${stop}${exitTotal ? ` (after exit #${exitTotal})` : ''}: ${what}`, exitTotal);
    if (snap) this.emitter.fire(snap);
  }

  /** Adds (or removes, when already there) a VMCS field data breakpoint. Returns true when it is now set. */
  async toggleFieldBreakpoint(field: string): Promise<boolean> {
    const name = field.toUpperCase();
    const on = !this.watchedFields.has(name);
    if (on) this.watchedFields.add(name); else this.watchedFields.delete(name);
    if (this.state.session) await this.sendDataBreakpoints(this.state.session);
    return on;
  }

  private async sendDataBreakpoints(session: vscode.DebugSession): Promise<void> {
    const body = (await session.customRequest('setDataBreakpoints', { breakpoints: mergeDataBreakpoints(this.clientDataBps, this.watchedFields) })) as
      { breakpoints?: { verified?: boolean; message?: string }[] } | undefined;
    const bad = body?.breakpoints?.filter((b) => !b.verified && b.message).map((b) => b.message);
    if (bad?.length) void vscode.window.showWarningMessage(`vmx-debug: ${bad.join('; ')}`);
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
    this.emitter.dispose();
  }
}
