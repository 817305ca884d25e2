// Writes the generated parts of package.json (the `vmx` launch schema with enums from the spec tables:
// exit-reason classes, exit-reason names, control names) and the VMCS field-name patterns of the
// grammars in syntaxes/, from the compiled spec tables in out/ (run `npx tsc -p tsconfig.test.json` first).
// The output is committed; rerun after changing the spec tables or the launch attributes:
//   npx tsc -p tsconfig.test.json && node scripts/gen-schema.mjs
import { readFileSync, writeFileSync } from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const spec = require(path.join(root, 'out/src/cpu/vmx/spec/index.js'));
const { VM_EXIT_FILTER_NAMES } = require(path.join(root, 'out/src/debug/launchConfig.js'));

const number = (description, extra = {}) => ({ type: ['number', 'string'], description, ...extra });
const classes = [...VM_EXIT_FILTER_NAMES, 'entry-failure', 'vmfail'];
const classDoc = (id) => {
  if (id === 'vmfail') return 'VMfailValid / VMfailInvalid of a VMX instruction, with the VM-instruction error in words';
  const c = spec.EXIT_REASON_CLASSES.find((x) => x.id === id);
  const members = spec.EXIT_REASONS.filter((r) => r.class === id && !r.reserved).map((r) => r.name);
  return `${c ? c.label : id}${members.length ? ` (${members.join(', ')})` : ''}`;
};
const exitClass = { type: 'string', enum: classes, enumDescriptions: classes.map(classDoc) };
const exitNames = spec.EXIT_REASONS.filter((r) => !r.reserved).map((r) => r.name);
const controlNames = spec.ALL_CONTROLS.filter((c) => !c.reserved).map((c) => c.name);
const controlList = (what) => ({ type: 'array', description: what, items: { type: 'string', enum: controlNames, enumDescriptions: spec.ALL_CONTROLS.filter((c) => !c.reserved).map((c) => `${spec.CONTROL_VECTOR_INFO[c.vector].title}, bit ${c.bit}: ${c.description}`) }, uniqueItems: true });
const range = { anyOf: [{ type: 'number' }, { type: 'string', pattern: '^(0x[0-9a-fA-F]+|[0-9]+)(-(0x[0-9a-fA-F]+|[0-9]+))?$' }] };

const launch = {
  required: ['program'],
  properties: {
    program: { type: 'string', description: 'The firmware image to run: ELF, flat binary, ROM (mapped below 4 GiB, reset vector) or multiboot kernel. Relative paths resolve against cwd.', default: '${workspaceFolder}/firmware.bin' },
    format: { type: 'string', enum: ['elf', 'flat', 'rom', 'multiboot'], enumDescriptions: ['ELF executable (entry point and segments from the file)', 'flat binary loaded at loadAddress', 'ROM image ending at 0xFFFFFFFF, started at the reset vector', 'multiboot kernel (cmdline, modules)'], description: 'Image format (default: detected from the file).' },
    loadAddress: number('Physical address of a flat image (format "flat"), e.g. "0x7c00".'),
    entry: number('Entry point (flat and ELF images; default: the load address or the ELF entry).'),
    mode: { type: 'string', enum: ['real', 'protected', 'long'], enumDescriptions: ['16-bit real mode', '32-bit protected mode, flat segments', '64-bit long mode, identity-mapped paging'], description: 'CPU mode at the entry point (flat and ELF images).' },
    ram: { type: ['number', 'string'], description: 'Guest RAM in MiB (1..4080).', default: 256 },
    cpuModel: { type: 'string', enum: ['default', 'core2-no-ug', 'none'], enumDescriptions: ['a modern VT-x with EPT, VPID and unrestricted guest', 'an early VT-x without unrestricted guest (real mode needs vm86)', 'no VMX: CPUID.1:ECX.VMX = 0'], default: 'default', description: 'VMX capability model of the CPU (capability MSRs); IA32_FEATURE_CONTROL is locked with VMX enabled, as firmware leaves it.' },
    stopOnEntry: { type: 'boolean', default: true, description: 'Stop at the first instruction.' },
    serial: { type: 'string', enum: ['debugConsole', 'none'], default: 'debugConsole', description: 'Where the UART (COM1), debugcon (0xE9) and POST port output go.' },
    symbols: { type: ['string', 'array'], items: { type: 'string' }, description: 'Extra debug information: ELF files with symbols and DWARF line tables, or NASM listings (.lst) of flat images.' },
    maxInstructions: number('Stop the session after this many instructions (default: no limit).'),
    cmdline: { type: 'string', description: 'Multiboot command line (format "multiboot").' },
    modules: { type: ['string', 'array'], items: { type: 'string' }, description: 'Multiboot modules (format "multiboot").' },
    cwd: { type: 'string', description: 'Base directory for relative paths (default: the workspace folder).', default: '${workspaceFolder}' },
    history: { anyOf: [{ type: 'boolean' }, { type: 'object', properties: { instructions: number('How many executed instructions to keep (1..10000000).', { default: 100000 }) }, required: ['instructions'], additionalProperties: false }], description: 'Reverse execution (stepBack, reverseContinue): true keeps 100000 instructions.' },
    stopOnVmExit: {
      description: 'Stop on VM exits: true (every class), or a list of exit classes, optionally with a condition ("port == 0x80", "msr == 0x1b", "leaf == 1"). Merged with the Breakpoints view\'s VM-exit filters.',
      anyOf: [{ type: 'boolean' }, { type: 'array', items: { anyOf: [exitClass, { type: 'object', properties: { reason: exitClass, condition: { type: 'string', description: 'Condition over reason qualification rip length port size in out direction string rep leaf subleaf msr vector error cr gpa linear and registers.' } }, required: ['reason'], additionalProperties: false }] } }],
    },
    monitor: {
      description: 'Run the program as a guest of the built-in monitor (a VMM in TypeScript), as KVM would: true for its defaults, or its configuration (the same JSON as the CLI\'s --vmx-config).',
      anyOf: [{ type: 'boolean' }, {
        type: 'object', additionalProperties: false,
        properties: {
          controls: { type: 'object', additionalProperties: false, description: 'VM-execution, VM-exit and VM-entry controls on top of the monitor\'s own.', properties: {
            required: controlList('Controls the monitor must set (fails when the CPU model does not allow them).'),
            optional: controlList('Controls set when the CPU model allows them (dropped ones are reported).'),
            disabled: controlList('Controls the monitor would set that stay off.'),
          } },
          io: { type: 'object', additionalProperties: false, properties: {
            exiting: { type: 'string', enum: ['unconditional', 'bitmap'], description: 'Every IN/OUT exits, or only exitPorts (I/O bitmaps).' },
            exitPorts: { type: 'array', items: range, description: 'Ports (or "first-last" ranges) that exit with "bitmap".' },
          } },
          msrs: { type: 'object', additionalProperties: false, properties: { exit: { anyOf: [{ const: 'all' }, { type: 'array', items: range }], description: '"all" (no MSR bitmap) or the MSRs that exit.' } } },
          exceptionBitmap: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'array', items: { type: 'number', minimum: 0, maximum: 31 } }], description: 'Exception bitmap: a number, or a list of vectors that exit.' },
          cpuid: { type: 'array', description: 'CPUID results the guest sees.', items: { type: 'object', required: ['leaf'], additionalProperties: false, properties: Object.fromEntries(['leaf', 'subleaf', 'eax', 'ebx', 'ecx', 'edx'].map((k) => [k, { type: ['number', 'string'] }])) } },
          entry: { type: 'string', enum: ['auto', 'real', 'protected', 'long'], description: 'Guest entry state; auto follows the image loader.' },
          stopOn: { type: 'array', description: 'Exit reasons that stop the run (after the monitor handled them).', items: { anyOf: [{ type: 'string', enum: exitNames }, { type: 'number' }] } },
          description: { type: 'string' },
        },
      }],
    },
  },
};

const pkgPath = path.join(root, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const dbg = pkg.contributes.debuggers.find((d) => d.type === 'vmx');
dbg.configurationAttributes = { launch };
writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');

// Grammars: VMCS field names (NASM %define / %assign and the dump) from the spec table.
const fieldAlt = spec.VMCS_FIELDS.map((f) => f.name).sort((a, b) => b.length - a.length).join('|');
for (const [file, key] of [['syntaxes/nasm.tmLanguage.json', 'vmcs-field-name'], ['syntaxes/vmcs-dump.tmLanguage.json', 'vmcs-field-name']]) {
  const p = path.join(root, file);
  const g = JSON.parse(readFileSync(p, 'utf8'));
  g.repository[key].match = `\\b(?:${fieldAlt})(?:_HIGH)?\\b`;
  writeFileSync(p, JSON.stringify(g, null, 2) + '\n');
}
console.log(`gen-schema: ${classes.length} exit classes, ${exitNames.length} exit reasons, ${controlNames.length} controls, ${spec.VMCS_FIELDS.length} VMCS fields`);
