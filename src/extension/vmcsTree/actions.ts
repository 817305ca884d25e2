import * as vscode from 'vscode';
import type { VmxStopState } from '../stopState';
import type { SessionRecorder } from '../sessionRecorder';
import { parseValue, type BitNode, type FieldNode, type ReadVmcsEntry, type ReadVmcsField } from './model';
import { flipBit, formatValue, validateFieldInput, parseUserNumber, type FieldFormat } from './edit';

/**
 * The VMCS tree's actions: edit a field, flip a control bit (validated with the model, written with
 * `vmx/writeVmcs`, which validates again), copy a value, open the memory a pointer field refers to,
 * break when a field changes. Registered by extension.ts.
 */
export class VmcsActions {
  constructor(private readonly state: VmxStopState, private readonly recorder: SessionRecorder, private readonly format: () => FieldFormat) {}

  private async entryFor(pointer: string | undefined): Promise<ReadVmcsEntry | undefined> {
    const resp = await this.state.vmcs();
    return resp?.vmcs.find((v) => v.available && v.pointer === pointer) ?? resp?.vmcs.find((v) => v.current);
  }

  private async write(field: string, value: bigint, pointer?: string): Promise<void> {
    const s = this.state;
    if (!s.session || s.running) {
      void vscode.window.showWarningMessage('vmx-debug: the VMCS can be written only while the guest is stopped');
      return;
    }
    const entry = await this.entryFor(pointer);
    if (entry && !entry.current) {
      void vscode.window.showWarningMessage(`vmx-debug: VMCS ${entry.pointer} is not the current VMCS; the adapter writes the current one only`);
      return;
    }
    try {
      await s.session.customRequest('vmx/writeVmcs', { field, value: '0x' + value.toString(16) });
    } catch (e) {
      void vscode.window.showErrorMessage(`vmx-debug: ${field}: ${e instanceof Error ? e.message : String(e)}`);
    }
    // The adapter sends `invalidated`; VmxStopState re-reads the VMCS without moving the change baseline.
  }

  async editField(node?: FieldNode): Promise<void> {
    if (node?.kind !== 'field') return;
    const entry = await this.entryFor(node.vmcsPointer);
    const field: ReadVmcsField = entry?.fields?.find((f) => f.name === node.field.name) ?? node.field;
    const text = await vscode.window.showInputBox({
      title: `Edit ${field.name}`,
      prompt: `${field.description} (${field.width === 'natural' ? 'natural width' : `${field.width}-bit`})`,
      value: formatValue(node.value, this.format()),
      validateInput: (t) => validateFieldInput(field, t, entry),
    });
    if (text === undefined) return;
    const v = parseUserNumber(text);
    if (v !== undefined) await this.write(field.name, v, node.vmcsPointer);
  }

  async flip(node?: BitNode): Promise<void> {
    if (node?.kind !== 'bit') return;
    const resp = await this.state.vmcs();
    const entry = resp?.vmcs.find((v) => v.current) ?? resp?.vmcs[0];
    const field = entry?.fields?.find((f) => f.name === node.field);
    if (!entry || !field) return;
    const r = flipBit(field, parseValue(field.value), node.bit, entry);
    if ('error' in r) {
      void vscode.window.showErrorMessage(`vmx-debug: ${r.error}`);
      return;
    }
    await this.write(field.name, r.value, entry.pointer);
  }

  async copyValue(node?: FieldNode | BitNode): Promise<void> {
    if (node?.kind === 'field') await vscode.env.clipboard.writeText(formatValue(node.value, this.format()));
    else if (node?.kind === 'bit') await vscode.env.clipboard.writeText(node.set ? '1' : '0');
  }

  /** Opens the guest-physical memory a pointer field holds: in the hex editor when installed, else a hex dump. */
  async openMemory(node?: FieldNode): Promise<void> {
    const session = this.state.session;
    if (node?.kind !== 'field' || !session) return;
    if (node.value === 0n) {
      void vscode.window.showInformationMessage(`vmx-debug: ${node.field.name} is 0 (no memory to show)`);
      return;
    }
    // EPTP and the like carry flags in the low 12 bits.
    const addr = node.field.name.startsWith('EPT_POINTER') || node.field.name === 'EPTP_LIST_ADDRESS' ? node.value & ~0xFFFn : node.value;
    const memoryReference = `phys:0x${addr.toString(16)}`;
    if (vscode.extensions.getExtension('ms-vscode.hexeditor')) {
      const uri = vscode.Uri.from({
        scheme: 'vscode-debug-memory', authority: session.id,
        path: '/' + encodeURIComponent(memoryReference) + `/${encodeURIComponent(node.field.name)}.bin`,
      });
      await vscode.commands.executeCommand('vscode.openWith', uri, 'hexEditor.hexedit', { preview: true, viewColumn: vscode.ViewColumn.Beside });
      return;
    }
    try {
      const body = (await session.customRequest('readMemory', { memoryReference, count: 4096 })) as { address?: string; data?: string; unreadableBytes?: number };
      const bytes = Buffer.from(body?.data ?? '', 'base64');
      const lines = [`; ${node.field.name} = 0x${node.value.toString(16)}: guest-physical memory at 0x${addr.toString(16)} (${bytes.length} bytes)`,
        '; install the Hex Editor extension (ms-vscode.hexeditor) to browse and edit it'];
      for (let off = 0; off < bytes.length; off += 16) {
        const row = bytes.subarray(off, off + 16);
        const hexs = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
        const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
        lines.push(`${(addr + BigInt(off)).toString(16).padStart(12, '0')}  ${hexs.padEnd(47)}  ${ascii}`);
      }
      const doc = await vscode.workspace.openTextDocument({ content: lines.join('\n') + '\n' });
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    } catch (e) {
      void vscode.window.showErrorMessage(`vmx-debug: cannot read ${memoryReference}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async breakOnChange(node?: FieldNode): Promise<void> {
    if (node?.kind !== 'field') return;
    if (!this.state.session) return;
    const on = await this.recorder.toggleFieldBreakpoint(node.field.name);
    void vscode.window.setStatusBarMessage(`vmx-debug: ${on ? 'break' : 'no longer breaking'} when ${node.field.name} changes`, 5000);
  }
}
