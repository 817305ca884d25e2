import * as vscode from 'vscode';
import type { VmxStopState } from './stopState';
import { parseValue } from './vmcsTree/model';
import { formatExitReason } from '../cpu/vmx/spec';

/** Status bar: VMX root / non-root and the last exit reason at each stop; a click opens the VMCS inspector. */
export class VmxStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('vmx-debug.status', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;
  private seq = 0;

  constructor(private readonly state: VmxStopState, command: string) {
    this.item.name = 'vmx-debug';
    this.item.command = command;
    this.sub = state.onDidChange(() => void this.update());
  }

  private async update(): Promise<void> {
    const seq = ++this.seq;
    const s = this.state;
    if (!s.session) {
      this.item.hide();
      return;
    }
    if (s.running) {
      this.item.text = '$(debug-continue) VMX: running';
      this.item.tooltip = 'vmx-debug: the guest is running';
      this.item.show();
      return;
    }
    const resp = await s.vmcs();
    if (seq !== this.seq) return;
    const cur = resp?.vmcs.find((v) => v.current) ?? resp?.vmcs[0];
    const world = cur?.nonRoot ? 'VMX non-root' : cur?.inVmx ? 'VMX root' : resp?.mode ?? 'no VMX';
    const reasonField = cur?.fields?.find((f) => f.name === 'VM_EXIT_REASON');
    const reason = reasonField && parseValue(reasonField.value) !== 0n ? formatExitReason(parseValue(reasonField.value)) : undefined;
    this.item.text = `$(chip) ${world}${reason ? ` · last exit: ${reason}` : ''}`;
    this.item.tooltip = `vmx-debug: ${world}${reason ? `\nLast VM exit: ${reason}` : ''}${s.stopBody?.description ? `\nStopped: ${s.stopBody.description}` : ''}\nClick to open the VMCS inspector`;
    this.item.show();
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
