import * as vscode from 'vscode';
import { VmxDebugSession } from '../debug/session';
import { nodeFileAccessor } from '../debug/nodeFiles';
import { debugInfoLoaders } from '../debug/loaders';
import { nodeSerialTerminalHost } from '../debug/serialTerminalHost';
import { VmxConfigurationProvider } from './configProvider';
import { VmxStopState } from './stopState';
import { VmxStatusBar } from './statusBar';
import { VmcsTreeProvider } from './vmcsTree/provider';
import { vmcsToText, type BitNode, type FieldNode } from './vmcsTree/model';
import { VmcsActions } from './vmcsTree/actions';
import { SessionRecorder } from './sessionRecorder';
import { InspectorPanel } from './inspector/panel';
import { ExitHistoryProvider, revealGuestAddress } from './exitHistory/provider';
import type { ExitNode, HistoryNode } from './exitHistory/model';

/**
 * vmx-debug's VS Code side: the adapter factory (inline by default, `vmx-debug.adapter: "process"` runs
 * dist/debugAdapter.js), the configuration provider, the VMCS tree view and its actions, the VMCS
 * inspector panel, the VM-exit history view and the status bar. Emulation and
 * DAP live in src/debug and below; nothing here decodes more than the spec tables offer.
 */

export const VMCS_VIEW_ID = 'vmx-debug.vmcs';
export const EXIT_HISTORY_VIEW_ID = 'vmx-debug.exitHistory';

class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly context: vscode.ExtensionContext) {}

  createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    const how = vscode.workspace.getConfiguration('vmx-debug').get<string>('adapter', 'inline');
    if (how === 'process') {
      return new vscode.DebugAdapterExecutable(process.execPath, [this.context.asAbsolutePath('dist/debugAdapter.js')], {
        env: { ELECTRON_RUN_AS_NODE: '1' },
      });
    }
    // COM1 can go to an integrated terminal: the helper script ships as dist/serialTerminal.js
    const terminal = nodeSerialTerminalHost(this.context.asAbsolutePath('dist/serialTerminal.js'));
    const session = new VmxDebugSession(nodeFileAccessor, debugInfoLoaders, terminal);
    return new vscode.DebugAdapterInlineImplementation(session as unknown as vscode.DebugAdapter);
  }
}

export function activate(context: vscode.ExtensionContext): void {
  const state = new VmxStopState();
  const recorder = new SessionRecorder(state);
  const tree = new VmcsTreeProvider(state, context.workspaceState);
  const view = vscode.window.createTreeView(VMCS_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  tree.attach(view);
  tree.watched = recorder.watchedFields;
  const history = new ExitHistoryProvider(state, recorder);
  const historyView = vscode.window.createTreeView<HistoryNode>(EXIT_HISTORY_VIEW_ID, { treeDataProvider: history, showCollapseAll: true });
  history.attach(historyView);
  const panel = new InspectorPanel(context, state, recorder);
  const actions = new VmcsActions(state, recorder, () => tree.format);
  const showView = 'vmx-debug.showVmcs';
  const showInspector = 'vmx-debug.showInspector';
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('vmx', new AdapterFactory(context)),
    vscode.debug.registerDebugConfigurationProvider('vmx', new VmxConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider('vmx', new VmxConfigurationProvider(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    state,
    recorder,
    tree,
    view,
    history,
    historyView,
    panel,
    new VmxStatusBar(state, showInspector),
    vscode.commands.registerCommand(showView, async () => {
      await vscode.commands.executeCommand(`${VMCS_VIEW_ID}.focus`);
    }),
    vscode.commands.registerCommand(showInspector, () => panel.show()),
    vscode.commands.registerCommand('vmx-debug.vmcs.refresh', () => tree.refresh()),
    vscode.commands.registerCommand('vmx-debug.vmcs.copyAll', async () => {
      const resp = await state.vmcs();
      if (resp) await vscode.env.clipboard.writeText(vmcsToText(resp));
    }),
    vscode.commands.registerCommand('vmx-debug.vmcs.copyValue', (node?: FieldNode | BitNode) => actions.copyValue(node)),
    vscode.commands.registerCommand('vmx-debug.vmcs.editField', (node?: FieldNode) => actions.editField(node)),
    vscode.commands.registerCommand('vmx-debug.vmcs.flipBit', (node?: BitNode) => actions.flip(node)),
    vscode.commands.registerCommand('vmx-debug.vmcs.openMemory', (node?: FieldNode) => actions.openMemory(node)),
    vscode.commands.registerCommand('vmx-debug.vmcs.breakOnChange', async (node?: FieldNode) => {
      await actions.breakOnChange(node);
      tree.refresh();
    }),
    vscode.commands.registerCommand('vmx-debug.vmcs.removeBreakOnChange', async (node?: FieldNode) => {
      await actions.breakOnChange(node);
      tree.refresh();
    }),
    vscode.commands.registerCommand('vmx-debug.vmcs.formatDecimal', () => tree.setFormat('dec')),
    vscode.commands.registerCommand('vmx-debug.vmcs.formatHex', () => tree.setFormat('hex')),
    vscode.commands.registerCommand('vmx-debug.exitHistory.refresh', () => history.refresh()),
    vscode.commands.registerCommand('vmx-debug.exitHistory.select', async (node?: ExitNode) => {
      if (node?.kind !== 'exit') return;
      panel.show(node.exit.index);
      await revealGuestAddress(state.session, node.exit.guestRip);
    }),
    vscode.commands.registerCommand('vmx-debug.exitHistory.copy', async (node?: HistoryNode) => {
      if (node) await vscode.env.clipboard.writeText(`${node.label}  ${node.description ?? ''}`.trim());
    }),
  );
}

export function deactivate(): void {}
