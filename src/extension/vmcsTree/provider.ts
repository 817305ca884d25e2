import * as vscode from 'vscode';
import type { VmxStopState } from '../stopState';
import { buildVmcsTree, type VmcsNode } from './model';

/**
 * The VMCS tree view (Run and Debug side bar): a thin TreeDataProvider over the pure model. Reads the
 * VMCS through VmxStopState (one `vmx/readVmcs` per stop); while the view is hidden it only remembers
 * that it is out of date, and while the guest runs it shows the last tree greyed as "running".
 */
export class VmcsTreeProvider implements vscode.TreeDataProvider<VmcsNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<VmcsNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private visible = false;
  private stale = true;
  private readonly subs: vscode.Disposable[] = [];
  view: vscode.TreeView<VmcsNode> | undefined;

  constructor(private readonly state: VmxStopState) {
    this.subs.push(state.onDidChange(() => this.invalidate()));
  }

  attach(view: vscode.TreeView<VmcsNode>): void {
    this.view = view;
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

  async getChildren(node?: VmcsNode): Promise<VmcsNode[]> {
    if (node) return node.children ?? [];
    if (!this.state.session) return [{ kind: 'message', id: 'nosession', label: 'Start a vmx debug session to see the VMCS' }];
    if (this.state.running) return [{ kind: 'message', id: 'running', label: 'Running… the VMCS is read when the guest stops' }];
    const resp = await this.state.vmcs();
    if (!resp) return [{ kind: 'message', id: 'unavailable', label: 'The VMCS could not be read' }];
    if (this.view) this.view.description = resp.mode;
    return buildVmcsTree(resp, this.state.previous);
  }

  getTreeItem(n: VmcsNode): vscode.TreeItem {
    const collapsible = n.children?.length
      ? n.kind === 'vmcs' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const label: vscode.TreeItemLabel = { label: n.label, highlights: n.changed && n.kind !== 'area' && n.kind !== 'vmcs' ? [[0, n.label.length]] : undefined };
    const item = new vscode.TreeItem(label, collapsible);
    item.id = n.id;
    item.description = n.description;
    item.tooltip = n.tooltip;
    switch (n.kind) {
      case 'field':
        item.contextValue = ['field', n.field.pointer ? 'pointer' : '', n.field.readOnly ? 'readonly' : 'writable'].filter(Boolean).join('.');
        if (n.changed) item.iconPath = new vscode.ThemeIcon('diff-modified', new vscode.ThemeColor('gitDecoration.modifiedResourceForeground'));
        break;
      case 'bit':
        item.contextValue = n.changeable === false ? 'bit.fixed' : 'bit';
        item.iconPath = new vscode.ThemeIcon(n.changeable === false ? 'lock' : n.set ? 'pass-filled' : 'circle-large-outline',
          n.changed ? new vscode.ThemeColor('gitDecoration.modifiedResourceForeground') : n.changeable === false ? new vscode.ThemeColor('disabledForeground') : undefined);
        break;
      case 'area':
        item.contextValue = 'area';
        break;
      case 'vmcs':
        item.contextValue = 'vmcs';
        item.iconPath = new vscode.ThemeIcon('symbol-structure');
        break;
      case 'message':
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
