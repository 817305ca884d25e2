import * as vscode from 'vscode';
import type { VmxStopState } from '../stopState';
import type { SessionRecorder } from '../sessionRecorder';
import {
  buildInspectorState, diffSnapshots, filterRows, parseFromWebview, responseOf,
  type InspectorState, type RowFilter, type ToWebview,
} from './protocol';

/**
 * The VMCS inspector: a webview panel in the editor area (one instance). It follows the debug session
 * (rebuilt at each stop from the shared `vmx/readVmcs` of VmxStopState, never read while running or
 * while the panel is hidden), applies the webview's filter with the pure protocol module, and diffs
 * the VMCS snapshots SessionRecorder keeps per stop. Assets: media/inspector.js and media/inspector.css.
 */
export class InspectorPanel implements vscode.Disposable {
  static readonly viewType = 'vmx-debug.inspector';
  private panel: vscode.WebviewPanel | undefined;
  private filter: RowFilter = {};
  private state: InspectorState | undefined;
  private viewing: number | undefined;
  /** The stop at which a snapshot was chosen: the next stop goes back to the live VMCS. */
  private viewingStop = -1;
  private stale = true;
  private seq = 0;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext, private readonly stop: VmxStopState, private readonly recorder: SessionRecorder) {
    this.filter = context.workspaceState.get<RowFilter>('vmx-debug.inspector.filter', {});
    this.subs.push(
      stop.onDidChange(() => this.invalidate()),
      recorder.onDidRecord(() => this.invalidate()),
    );
  }

  /** Opens (or reveals) the panel; with `exitIndex`, shows the VMCS snapshot recorded after that VM exit. */
  show(exitIndex?: number): void {
    if (exitIndex !== undefined) {
      const snap = this.recorder.snapshots.forExit(exitIndex);
      this.viewing = snap?.id;
      this.viewingStop = this.stop.stopNumber;
      if (!snap) void vscode.window.showInformationMessage(`vmx-debug: no VMCS snapshot for VM exit #${exitIndex} (snapshots are taken when the session stops; this exit happened while running)`);
    }
    if (this.panel) {
      this.panel.reveal(undefined, true);
      this.invalidate();
      return;
    }
    const media = vscode.Uri.joinPath(this.context.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel(InspectorPanel.viewType, 'VMCS Inspector', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: false,
    });
    panel.webview.html = this.html(panel.webview, media);
    this.panel = panel;
    this.stale = true;
    panel.onDidDispose(() => { this.panel = undefined; }, undefined, this.subs);
    panel.onDidChangeViewState((e) => { if (e.webviewPanel.visible && this.stale) void this.update(); }, undefined, this.subs);
    panel.webview.onDidReceiveMessage((m) => void this.onMessage(m), undefined, this.subs);
  }

  private invalidate(): void {
    this.stale = true;
    if (this.panel?.visible) void this.update();
  }

  private post(m: ToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  private async update(): Promise<void> {
    if (!this.panel) return;
    const seq = ++this.seq;
    this.stale = false;
    const s = this.stop;
    const snapshots = this.recorder.snapshots.infos();
    let state: InspectorState;
    if (this.viewing !== undefined && this.stop.stopNumber !== this.viewingStop) this.viewing = undefined;
    const viewing = this.viewing !== undefined ? this.recorder.snapshots.get(this.viewing) : undefined;
    if (viewing) {
      const before = this.recorder.snapshots.before(viewing.id);
      state = buildInspectorState({ status: 'stopped', resp: responseOf(viewing), previous: before?.pointer === viewing.pointer ? before.values : undefined, snapshots, viewing: { id: viewing.id, label: viewing.label, exitTotal: viewing.exitTotal, pointer: viewing.pointer } });
    } else if (!s.session) {
      state = buildInspectorState({ status: 'no-session', snapshots, message: 'Start a vmx debug session: the inspector follows it.' });
    } else if (s.running) {
      // Never read while running: keep the last table, marked as running.
      state = this.state ? { ...this.state, status: 'running', snapshots } : buildInspectorState({ status: 'running', snapshots });
    } else {
      const resp = await s.vmcs();
      if (seq !== this.seq) return;
      const cur = resp?.vmcs.find((v) => v.current) ?? resp?.vmcs[0];
      state = buildInspectorState({
        status: resp ? 'stopped' : 'unavailable', resp, previous: s.previous?.get(cur?.pointer ?? '?'),
        stopText: s.stopBody?.description, snapshots, message: resp ? undefined : 'The VMCS could not be read',
      });
    }
    this.state = state;
    this.post({ type: 'state', state, rows: filterRows(state.rows, this.filter), filter: this.filter });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseFromWebview(raw);
    if (!m) return;
    switch (m.type) {
      case 'ready':
      case 'refresh':
        await this.update();
        return;
      case 'filter':
        this.filter = m.filter;
        void this.context.workspaceState.update('vmx-debug.inspector.filter', m.filter);
        if (this.state) this.post({ type: 'rows', rows: filterRows(this.state.rows, m.filter), filter: m.filter });
        return;
      case 'diff': {
        const a = this.recorder.snapshots.get(m.a);
        const b = this.recorder.snapshots.get(m.b);
        this.post(a && b ? { type: 'diff', diff: diffSnapshots(a, b) } : { type: 'diff', diff: null, error: 'Pick two recorded stops' });
        return;
      }
      case 'view':
        this.viewing = this.recorder.snapshots.get(m.snapshot) ? m.snapshot : undefined;
        this.viewingStop = this.stop.stopNumber;
        await this.update();
        return;
      case 'live':
        this.viewing = undefined;
        await this.update();
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(m.text);
        return;
    }
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = [...Array(32)].map(() => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 62)]).join('');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'inspector.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'inspector.css'));
    const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; img-src ${webview.cspSource}; font-src ${webview.cspSource};`;
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>VMCS Inspector</title>
</head>
<body>
<header id="header"><span id="status">Waiting for the debug session…</span></header>
<nav id="toolbar">
  <input id="search" type="search" placeholder="Search name, description, value (/regex/)" aria-label="Search fields">
  <select id="area" aria-label="Area"><option value="">All areas</option></select>
  <label><input id="onlyChanged" type="checkbox"> only changed</label>
  <label><input id="onlyNonZero" type="checkbox"> only non-zero</label>
  <button id="refresh" type="button">Refresh</button>
  <button id="live" type="button" hidden>Back to the live stop</button>
</nav>
<section id="exit" aria-label="Last VM exit"></section>
<details id="controlsSection"><summary>Control vectors and allowed settings</summary><div id="allowedNote"></div><div id="controls"></div></details>
<details id="diffSection" open><summary>Diff between two recorded stops</summary>
  <div class="diffPick"><select id="diffA" aria-label="From"></select> → <select id="diffB" aria-label="To"></select> <button id="diffGo" type="button">Diff</button> <button id="viewA" type="button">Show this stop's VMCS</button></div>
  <div id="diff"></div>
</details>
<section><div id="count"></div><table id="fields"><thead><tr><th>Field</th><th>Area</th><th>Encoding</th><th>Value</th><th>Decoded</th></tr></thead><tbody></tbody></table></section>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.subs) d.dispose();
  }
}
