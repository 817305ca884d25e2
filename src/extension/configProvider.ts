import * as vscode from 'vscode';

/**
 * Debug configurations for `type: "vmx"`: the initial launch.json entries, and a working default for the
 * file in the editor when there is no launch.json (F5 on a .rom/.bin/.elf, or on a .asm next to its image).
 */

const IMAGE_EXTS = ['.elf', '.bin', '.rom'];

export function initialConfigurations(): vscode.DebugConfiguration[] {
  return [{ type: 'vmx', request: 'launch', name: 'vmx-debug: launch firmware', program: '${workspaceFolder}/firmware.bin', stopOnEntry: true }];
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** The launch configuration for an image or assembly file, or an error message. */
export async function configurationForFile(uri: vscode.Uri): Promise<vscode.DebugConfiguration | string> {
  const p = uri.path;
  const dot = p.lastIndexOf('.');
  const ext = dot > p.lastIndexOf('/') ? p.slice(dot).toLowerCase() : '';
  const base = dot > p.lastIndexOf('/') ? p.slice(0, dot) : p;
  let image: vscode.Uri | undefined;
  if (IMAGE_EXTS.includes(ext)) image = uri;
  else if (ext === '.asm' || ext === '.s' || ext === '.nasm') {
    for (const e of IMAGE_EXTS) {
      const cand = uri.with({ path: base + e });
      if (await exists(cand)) { image = cand; break; }
    }
    if (!image) return `vmx-debug: no image next to ${p.slice(p.lastIndexOf('/') + 1)} (looked for ${IMAGE_EXTS.map((e) => base.slice(base.lastIndexOf('/') + 1) + e).join(', ')}); assemble it first or add a launch.json`;
  } else {
    return 'vmx-debug: open a firmware image (.rom, .bin, .elf) or its .asm source, or add a launch.json with "program"';
  }
  const cfg: vscode.DebugConfiguration = { type: 'vmx', request: 'launch', name: `vmx-debug: ${image.path.slice(image.path.lastIndexOf('/') + 1)}`, program: image.fsPath, stopOnEntry: true };
  const imgExt = image.path.slice(image.path.lastIndexOf('.')).toLowerCase();
  if (imgExt === '.rom') cfg.format = 'rom';
  if (imgExt === '.bin') {
    const lst = image.with({ path: image.path.slice(0, -4) + '.lst' });
    if (await exists(lst)) cfg.symbols = [lst.fsPath];
  }
  return cfg;
}

export class VmxConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.ProviderResult<vscode.DebugConfiguration[]> {
    return initialConfigurations();
  }

  async resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (!config.type && !config.request && !config.name) {
      const doc = vscode.window.activeTextEditor?.document;
      if (!doc) {
        await vscode.window.showErrorMessage('vmx-debug: open a firmware image or its .asm source, or add a launch.json');
        return undefined;
      }
      const made = await configurationForFile(doc.uri);
      if (typeof made === 'string') {
        await vscode.window.showErrorMessage(made);
        return undefined;
      }
      return made;
    }
    if (!config.program) {
      await vscode.window.showErrorMessage('vmx-debug: the launch configuration has no "program" (the firmware image to run)');
      return undefined;
    }
    return config;
  }
}
