// Bundles the entry points into dist/ with esbuild. Entries whose source does not exist yet are
// skipped, so the build works at every stage of the project. iced-x86 is bundled too; it loads its
// WebAssembly from `__dirname`, so iced_x86_bg.wasm is copied next to the bundles (dist/ then runs
// without node_modules, as in the .vsix).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'fs';

const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.js', banner: '#!/usr/bin/env node' },
  { in: 'src/debug/debugAdapter.ts', out: 'dist/debugAdapter.js' },
  { in: 'src/debug/serialTerminal.ts', out: 'dist/serialTerminal.js' },
  { in: 'src/extension/extension.ts', out: 'dist/extension.js' },
  { in: 'bench/bench.ts', out: 'dist/bench.js' },
];

await Promise.all(
  entries
    .filter((e) => existsSync(e.in))
    .map((e) =>
      build({
        entryPoints: [e.in],
        outfile: e.out,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        sourcemap: true,
        external: ['vscode'],
        banner: e.banner ? { js: e.banner } : undefined,
        logLevel: 'warning',
      }),
    ),
);

mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/iced-x86/iced_x86_bg.wasm', 'dist/iced_x86_bg.wasm');
