import * as vscode from 'vscode';
import { VmxDebugSession } from '../debug/session';
import { nodeFileAccessor } from '../debug/nodeFiles';
import { debugInfoLoaders } from '../debug/loaders';
import { nodeSerialTerminalHost } from '../debug/serialTerminalHost';
import { VmxConfigurationProvider } from './configProvider';
import { VmxStopState } from './stopState';
import { VmxStatusBar } from './statusBar';
import { VmcsTreeProvider } from './vmcsTree/provider';
import { vmcsToText } from './vmcsTree/model';

/**
 * vmx-debug's VS Code side: the adapter factory (inline by default, `vmx-debug.adapter: "process"` runs
 * dist/debugAdapter.js), the configuration provider, the VMCS tree view and the status bar. Emulation and
 * DAP live in src/debug and below; nothing here decodes more than the spec tables offer.
 */

export const VMCS_VIEW_ID = 'vmx-debug.vmcs';

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
  const tree = new VmcsTreeProvider(state);
  const view = vscode.window.createTreeView(VMCS_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  tree.attach(view);
  const showView = 'vmx-debug.showVmcs';
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('vmx', new AdapterFactory(context)),
    vscode.debug.registerDebugConfigurationProvider('vmx', new VmxConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider('vmx', new VmxConfigurationProvider(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    state,
    tree,
    view,
    new VmxStatusBar(state, showView),
    vscode.commands.registerCommand(showView, async () => {
      await vscode.commands.executeCommand(`${VMCS_VIEW_ID}.focus`);
    }),
    vscode.commands.registerCommand('vmx-debug.vmcs.refresh', () => tree.refresh()),
    vscode.commands.registerCommand('vmx-debug.vmcs.copyAll', async () => {
      const resp = await state.vmcs();
      if (resp) await vscode.env.clipboard.writeText(vmcsToText(resp));
    }),
    vscode.commands.registerCommand('vmx-debug.vmcs.copyValue', async (node?: { description?: string; kind?: string; value?: bigint }) => {
      if (node?.kind === 'field' && node.value !== undefined) await vscode.env.clipboard.writeText('0x' + node.value.toString(16));
    }),
  );
}

export function deactivate(): void {}
