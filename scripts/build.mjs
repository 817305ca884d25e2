// Bundles the entry points into dist/ with esbuild. Entries whose source does not exist yet are
// skipped, so the build works at every stage of the project.
import { build } from 'esbuild';
import { existsSync } from 'fs';

const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.js', banner: '#!/usr/bin/env node' },
  { in: 'src/debug/debugAdapter.ts', out: 'dist/debugAdapter.js' },
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
        external: ['vscode', 'iced-x86'],
        banner: e.banner ? { js: e.banner } : undefined,
        logLevel: 'warning',
      }),
    ),
);
