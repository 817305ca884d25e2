import * as vscode from 'vscode';
import type { VmxStopState } from '../stopState';
import { buildVmcsTree, type VmcsNode } from './model';
import { formatValue, type FieldFormat } from './edit';

const FORMAT_KEY = 'vmx-debug.vmcs.format';
const EXPANDED_KEY = 'vmx-debug.vmcs.expanded';

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
  /** Value format and expanded node ids, persisted per workspace (context.workspaceState). */
  format: FieldFormat;
  private readonly expanded: Set<string>;
  /** Fields with a "break when this field changes" data breakpoint (context value `.watched`). */
  watched: ReadonlySet<string> = new Set();

  constructor(private readonly state: VmxStopState, private readonly memento?: vscode.Memento) {
    this.format = memento?.get<FieldFormat>(FORMAT_KEY, 'hex') ?? 'hex';
    this.expanded = new Set(memento?.get<string[]>(EXPANDED_KEY, []) ?? []);
    this.subs.push(state.onDidChange(() => this.invalidate()));
  }

  setFormat(f: FieldFormat): void {
    this.format = f;
    void this.memento?.update(FORMAT_KEY, f);
    void vscode.commands.executeCommand('setContext', 'vmx-debug.vmcs.decimal', f === 'dec');
    this.refresh();
  }

  private saveExpanded(n: VmcsNode, open: boolean): void {
    // VMCS roots start expanded: remember when they are collapsed (`!id`); other nodes: when expanded.
    const id = n.kind === 'vmcs' ? `!${n.id}` : n.id;
    if (open === (n.kind !== 'vmcs')) this.expanded.add(id); else this.expanded.delete(id);
    // Bounded: a long list of ids from old VMCS regions is of no use.
    const list = [...this.expanded].slice(-500);
    void this.memento?.update(EXPANDED_KEY, list);
  }

  attach(view: vscode.TreeView<VmcsNode>): void {
    this.view = view;
    this.visible = view.visible;
    void vscode.commands.executeCommand('setContext', 'vmx-debug.vmcs.decimal', this.format === 'dec');
    this.subs.push(
      view.onDidExpandElement((e) => this.saveExpanded(e.element, true)),
      view.onDidCollapseElement((e) => this.saveExpanded(e.element, false)),
    );
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
    const open = n.kind === 'vmcs' ? !this.expanded.has(`!${n.id}`) : this.expanded.has(n.id);
    const collapsible = n.children?.length
      ? open ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const label: vscode.TreeItemLabel = { label: n.label, highlights: n.changed && n.kind !== 'area' && n.kind !== 'vmcs' ? [[0, n.label.length]] : undefined };
    const item = new vscode.TreeItem(label, collapsible);
    item.id = n.id;
    item.description = n.kind === 'field' && this.format === 'dec' ? `${formatValue(n.value, 'dec')}${n.decoded ? `  ${n.decoded}` : ''}` : n.description;
    item.tooltip = n.tooltip;
    switch (n.kind) {
      case 'field':
        item.contextValue = ['field', n.field.pointer ? 'pointer' : '', n.field.readOnly || !n.field.supported ? 'readonly' : 'writable', this.watched.has(n.field.name) ? 'watched' : 'unwatched'].filter(Boolean).join('.');
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
