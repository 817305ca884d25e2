import * as vscode from 'vscode';
import { snapshot, type ReadVmcsResponse, type Snapshots } from './vmcsTree/model';

/**
 * Follows the active `vmx` debug session through a debug-adapter tracker: running or stopped, and the
 * VMCS of the current stop, read with one `vmx/readVmcs` request per stop (shared by the status bar and
 * the tree view; never sent while the guest runs). Keeps the previous stop's values for change marking.
 */
export class VmxStopState implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  session: vscode.DebugSession | undefined;
  running = false;
  /** The stopped event's body of the current stop. */
  stopBody: { reason?: string; description?: string; text?: string } | undefined;
  private stopSeq = 0;
  /** Increments at every stop (views use it to do per-stop work once). */
  get stopNumber(): number {
    return this.stopSeq;
  }
  private fetchSeq = -1;
  private fetching: Promise<ReadVmcsResponse | undefined> | undefined;
  private last: Snapshots | undefined;
  private lastSeq = -1;
  /** Snapshots of the stop before the current one. */
  previous: Snapshots | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor() {
    this.subs.push(
      vscode.debug.registerDebugAdapterTrackerFactory('vmx', {
        createDebugAdapterTracker: (session) => ({
          onDidSendMessage: (m: { type?: string; event?: string; body?: Record<string, unknown> }) => {
            if (m.type !== 'event') return;
            if (m.event === 'stopped') this.onStopped(session, m.body ?? {});
            else if (m.event === 'continued') this.onRunning(session);
            else if (m.event === 'invalidated' && session === this.session && !this.running) this.refetch();
          },
          onWillReceiveMessage: (m: { type?: string; command?: string }) => {
            if (m.type === 'request' && m.command && /^(continue|next|stepIn|stepOut|stepBack|reverseContinue|goto|restart)$/.test(m.command)) this.onRunning(session);
          },
        }),
      }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        if (s === this.session) this.reset();
      }),
      vscode.debug.onDidChangeActiveDebugSession((s) => {
        if (s && s.type === 'vmx' && s !== this.session) {
          this.reset();
          this.session = s;
          this.changed.fire();
        }
      }),
    );
  }

  private reset(): void {
    this.session = undefined;
    this.running = false;
    this.stopBody = undefined;
    this.fetching = undefined;
    this.last = this.previous = undefined;
    this.changed.fire();
  }

  private onStopped(session: vscode.DebugSession, body: Record<string, unknown>): void {
    if (this.session !== session) {
      this.reset();
      this.session = session;
    }
    this.running = false;
    this.stopBody = body as VmxStopState['stopBody'];
    this.stopSeq++;
    this.changed.fire();
  }

  private onRunning(session: vscode.DebugSession): void {
    if (session !== this.session || this.running) return;
    this.running = true;
    this.changed.fire();
  }

  /** Re-reads the VMCS of the current stop (after an edit) without moving the change baseline. */
  private refetch(): void {
    this.fetchSeq = -1;
    this.fetching = undefined;
    this.changed.fire();
  }

  /** The VMCS at the current stop (one request per stop), or undefined while running or without a session. */
  vmcs(): Promise<ReadVmcsResponse | undefined> {
    const session = this.session;
    if (!session || this.running) return Promise.resolve(undefined);
    if (this.fetching && this.fetchSeq === this.stopSeq) return this.fetching;
    const seq = this.stopSeq;
    this.fetchSeq = seq;
    this.fetching = Promise.resolve(session.customRequest('vmx/readVmcs', { all: true })).then(
      (body: ReadVmcsResponse) => {
        // A new stop moves the change baseline; a re-read after an edit at the same stop does not.
        if (seq !== this.lastSeq) this.previous = this.last;
        this.last = snapshot(body);
        this.lastSeq = seq;
        return body;
      },
      () => undefined,
    );
    return this.fetching;
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
    this.changed.dispose();
  }
}
