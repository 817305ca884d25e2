import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';

/**
 * The TextMate grammars in syntaxes/, tokenized with VS Code's own engine (vscode-textmate + Oniguruma):
 * the NASM grammar with the VMX instructions and VMCS field names in %define, and the VMCS dump grammar on
 * text in the format of `vmx-debug run --dump-vmcs`. Also checks that package.json registers them.
 */

const root = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

let registry: vsctm.Registry;

async function grammar(scope: string): Promise<vsctm.IGrammar> {
  const g = await registry.loadGrammar(scope);
  assert.ok(g, scope);
  return g;
}

/** The scopes of the token covering `text` in `line` (first occurrence). */
function scopesOf(g: vsctm.IGrammar, line: string, text: string, state: vsctm.StateStack = vsctm.INITIAL): string[] {
  const r = g.tokenizeLine(line, state);
  const at = line.indexOf(text);
  assert.ok(at >= 0, `${text} in ${line}`);
  const tok = r.tokens.find((t) => t.startIndex <= at && at < t.endIndex);
  assert.ok(tok);
  assert.equal(line.slice(tok.startIndex, tok.endIndex).trim().includes(text) || text.includes(line.slice(tok.startIndex, tok.endIndex).trim()), true, `token boundaries for ${text}: '${line.slice(tok.startIndex, tok.endIndex)}'`);
  return tok.scopes;
}

describe('extension: grammars', () => {
  before(async () => {
    const wasm = fs.readFileSync(path.join(root, 'node_modules/vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const byScope = new Map<string, string>((pkg.contributes.grammars as { scopeName: string; path: string }[]).map((g) => [g.scopeName, path.join(root, g.path)]));
    registry = new vsctm.Registry({
      onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
      loadGrammar: async (scope) => {
        const file = byScope.get(scope);
        return file ? vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file) : null;
      },
    });
  });

  it('are valid JSON, registered in package.json with their languages', () => {
    for (const g of pkg.contributes.grammars as { language: string; scopeName: string; path: string }[]) {
      const json = JSON.parse(fs.readFileSync(path.join(root, g.path), 'utf8'));
      assert.equal(json.scopeName, g.scopeName);
      assert.ok((pkg.contributes.languages as { id: string }[]).some((l) => l.id === g.language), g.language);
      assert.ok(!JSON.stringify(json).includes('GENERATED'), `${g.path}: run scripts/gen-schema.mjs`);
    }
    assert.deepEqual(pkg.activationEvents, ['onDebug', 'onDebugResolve:vmx', 'onLanguage:nasm']);
    assert.deepEqual((pkg.contributes.breakpoints as { language: string }[]).map((b) => b.language).sort(), ['asm', 'c', 'nasm']);
  });

  it('NASM: the VMX instructions', async () => {
    const g = await grammar('source.asm.nasm');
    for (const ins of ['vmxon', 'vmlaunch', 'vmresume', 'vmread', 'vmwrite', 'vmcall', 'vmptrld', 'vmptrst', 'vmclear', 'vmxoff', 'invept', 'invvpid', 'vmfunc']) {
      const line = `    ${ins} rax`;
      assert.ok(scopesOf(g, line, ins).includes('keyword.other.instruction.vmx.nasm'), ins);
    }
    assert.ok(scopesOf(g, '    VMLAUNCH', 'VMLAUNCH').includes('keyword.other.instruction.vmx.nasm'));
  });

  it('NASM: registers, instructions, directives, labels, numbers, comments', async () => {
    const g = await grammar('source.asm.nasm');
    const line = 'entry:  mov rax, [rbx + 0x10]   ; load';
    assert.ok(scopesOf(g, line, 'entry').includes('entity.name.function.label.nasm'));
    assert.ok(scopesOf(g, line, 'mov').includes('keyword.other.instruction.nasm'));
    assert.ok(scopesOf(g, line, 'rax').includes('variable.language.register.nasm'));
    assert.ok(scopesOf(g, line, 'rbx').includes('variable.language.register.nasm'));
    assert.ok(scopesOf(g, line, '0x10').includes('constant.numeric.nasm'));
    assert.ok(scopesOf(g, line, '; load').includes('comment.line.semicolon.nasm'));
    assert.ok(scopesOf(g, 'bits 64', 'bits').includes('keyword.control.directive.nasm'));
    assert.ok(scopesOf(g, 'section .text', 'section').includes('keyword.control.directive.nasm'));
    assert.ok(scopesOf(g, '    out 0x80, al', 'out').includes('keyword.other.instruction.system.nasm'));
    assert.ok(scopesOf(g, '    mov cr4, rax', 'cr4').includes('variable.language.register.nasm'));
    assert.ok(scopesOf(g, '%include "vmcs.inc"', '%include').includes('keyword.control.directive.preprocessor.nasm'));
  });

  it('NASM: VMCS field names in %define and as operands', async () => {
    const g = await grammar('source.asm.nasm');
    const line = '%define GUEST_RIP 0x681e';
    assert.ok(scopesOf(g, line, '%define').includes('keyword.control.directive.define.nasm'));
    assert.ok(scopesOf(g, line, 'GUEST_RIP').includes('support.constant.vmcs-field.nasm'));
    assert.ok(scopesOf(g, line, '0x681e').includes('constant.numeric.nasm'));
    assert.ok(scopesOf(g, '%define MY_CONST 5', 'MY_CONST').includes('entity.name.function.preprocessor.nasm'));
    assert.ok(scopesOf(g, '    mov rax, CPU_BASED_VM_EXEC_CONTROL', 'CPU_BASED_VM_EXEC_CONTROL').includes('support.constant.vmcs-field.nasm'));
    assert.ok(scopesOf(g, '%assign VMCS_LINK_POINTER_HIGH 0x2801', 'VMCS_LINK_POINTER_HIGH').includes('support.constant.vmcs-field.nasm'));
  });

  it('VMCS dump: the format of vmx-debug run --dump-vmcs', async () => {
    const g = await grammar('text.vmcs-dump');
    const lines = [
      "VMCS revision id 0x1, VMCS region size 4096 bytes, CPU model 'default'",
      '  Primary processor-based VM-execution controls (CPU_BASED_VM_EXEC_CONTROL) = 0x8401e172: CPU_BASED_HLT_EXITING',
      'Guest-state area:',
      '  GUEST_RIP                          0x10080',
      '  VM_EXIT_REASON                     0x1e (IO_INSTRUCTION)',
    ];
    let state = vsctm.INITIAL;
    const scoped = lines.map((l) => { const r = g.tokenizeLine(l, state); state = r.ruleStack; return l; });
    assert.equal(scoped.length, 5);
    assert.ok(scopesOf(g, lines[0], 'VMCS').includes('keyword.other.vmcs.vmcs-dump'));
    assert.ok(scopesOf(g, lines[1], 'CPU_BASED_VM_EXEC_CONTROL').includes('support.constant.vmcs-field.vmcs-dump'));
    assert.ok(scopesOf(g, lines[1], '0x8401e172').includes('constant.numeric.hex.vmcs-dump'));
    assert.ok(scopesOf(g, lines[2], 'Guest-state area').includes('markup.heading.area.vmcs-dump'));
    assert.ok(scopesOf(g, lines[3], 'GUEST_RIP').includes('support.constant.vmcs-field.vmcs-dump'));
    assert.ok(scopesOf(g, lines[3], '0x10080').includes('constant.numeric.hex.vmcs-dump'));
    assert.ok(scopesOf(g, lines[4], 'IO_INSTRUCTION').includes('comment.decoded.vmcs-dump'));
  });

  it('VMCS dump: the real CLI output and the tree view\'s copy are fully recognized', async () => {
    const g = await grammar('text.vmcs-dump');
    const { vmcsToText } = await import('../../src/extension/vmcsTree/model');
    const stops = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/extension/readVmcs.json'), 'utf8'));
    // mini-hypervisor.vmcs: stderr of `node dist/cli.js run samples/mini-hypervisor/mini-hypervisor.bin --mode long --dump-vmcs`
    const cli = fs.readFileSync(path.join(root, 'test/fixtures/extension/mini-hypervisor.vmcs'), 'utf8');
    const text: string = vmcsToText(stops[0].readVmcs) + cli;
    for (const line of text.split('\n').filter(Boolean)) {
      const r = g.tokenizeLine(line, vsctm.INITIAL);
      assert.ok(r.tokens.some((t) => t.scopes.length > 1), `unrecognized line: ${line}`);
    }
  });
});
