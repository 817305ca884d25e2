import * as vscode from 'vscode';
import type { VmxStopState } from '../stopState';
import type { SessionRecorder } from '../sessionRecorder';
import { buildHistoryTree, type ExitHistoryResponse, type ExitNode, type ExitStatsResponse, type HistoryNode } from './model';

/**
 * The VM-exit history view (Run and Debug side bar): `vmx/exitHistory` + `vmx/exitStats` once per stop
 * while visible (never while running). Selecting an exit reveals its guest RIP and shows its VMCS in
 * the inspector.
 */
export class ExitHistoryProvider implements vscode.TreeDataProvider<HistoryNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<HistoryNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private visible = false;
  private stale = true;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly state: VmxStopState, private readonly recorder: SessionRecorder) {
    this.subs.push(state.onDidChange(() => this.invalidate()), recorder.onDidRecord(() => this.invalidate()));
  }

  attach(view: vscode.TreeView<HistoryNode>): void {
    this.visible = view.visible;
    this.subs.push(view.onDidChangeVisibility((e) => {
      this.visible = e.visible;
      if (e.visible && this.stale) this.refresh();
    }));
  }

  private invalidate(): void {
    this.stale = true;
    if (this.visible) this.refresh();
  }

  refresh(): void {
    this.stale = false;
    this.emitter.fire(undefined);
  }

  async getChildren(node?: HistoryNode): Promise<HistoryNode[]> {
    if (node) return node.children ?? [];
    const s = this.state;
    if (!s.session) return [{ kind: 'info', id: 'nosession', label: 'Start a vmx debug session to see its VM exits' }];
    if (s.running) return [{ kind: 'info', id: 'running', label: 'Running… the history is read when the guest stops' }];
    const session = s.session;
    const [history, stats] = await Promise.all([
      Promise.resolve(session.customRequest('vmx/exitHistory', { start: 0, count: 10000 })).then((b) => b as ExitHistoryResponse, () => undefined),
      Promise.resolve(session.customRequest('vmx/exitStats')).then((b) => b as ExitStatsResponse, () => undefined),
    ]);
    const snaps = new Set(this.recorder.snapshots.infos().map((i) => i.exitTotal).filter((n): n is number => typeof n === 'number'));
    return buildHistoryTree(history, stats, { snapshots: snaps });
  }

  getTreeItem(n: HistoryNode): vscode.TreeItem {
    const item = new vscode.TreeItem(n.label, n.children?.length
      ? n.kind === 'group' && n.id === 'exits' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None);
    item.id = n.id;
    item.description = n.description;
    item.tooltip = n.tooltip;
    switch (n.kind) {
      case 'exit':
        item.contextValue = n.hasSnapshot ? 'exit.snapshot' : 'exit';
        item.iconPath = new vscode.ThemeIcon(n.exit.entryFailure ? 'error' : 'debug-stackframe-dot');
        item.command = { command: 'vmx-debug.exitHistory.select', title: 'Show VM exit', arguments: [n] };
        break;
      case 'total':
        item.contextValue = 'total';
        break;
      case 'group':
        item.contextValue = 'group';
        break;
      case 'info':
        item.iconPath = new vscode.ThemeIcon('info');
        break;
    }
    return item;
  }

  dispose(): void {
    for (const d of this.subs) d.dispose();
    this.emitter.dispose();
  }
}

/**
 * Reveals the source line of a guest address: the adapter's `disassemble` request carries the line
 * table's location for the instruction; without one, opens the Disassembly view and names the address.
 */
export async function revealGuestAddress(session: vscode.DebugSession | undefined, rip: string): Promise<void> {
  if (!session) return;
  try {
    const body = (await session.customRequest('disassemble', { memoryReference: rip, instructionCount: 1, resolveSymbols: true })) as
      { instructions?: { address: string; location?: { path?: string }; line?: number }[] } | undefined;
    const ins = body?.instructions?.[0];
    if (ins?.location?.path && ins.line) {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(ins.location.path));
      const line = Math.max(0, ins.line - 1);
      const range = new vscode.Range(line, 0, line, 0);
      const editor = await vscode.window.showTextDocument(doc, { selection: range, preserveFocus: true, preview: true, viewColumn: vscode.ViewColumn.One });
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
  } catch {
    // fall through to the Disassembly view
  }
  await vscode.commands.executeCommand('debug.action.openDisassemblyView');
  void vscode.window.setStatusBarMessage(`vmx-debug: guest RIP ${rip} has no source line; VS Code's Disassembly view cannot be scrolled to an address by an extension`, 8000);
}

export function exitRip(n: ExitNode): string {
  return n.exit.guestRip;
}
