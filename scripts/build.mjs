// Bundles the CLI into dist/car.js; lazily imported command modules (HTTP, chat, agents...) are split
// into dist/chunks/ so a command only parses what it uses. better-sqlite3 stays external (native addon).
import { chmodSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: clear the old ones so dist/ holds exactly one build.
rmSync('dist/chunks', { recursive: true, force: true });

await build({
  entryPoints: { car: 'src/surfaces/cli/main.ts' },
  outdir: 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  sourcemap: 'linked',
  // Bundling renames classes that share a name (abort-controller's AbortSignal becomes AbortSignal2),
  // and node-fetch 2, which grammY uses, checks a signal by its constructor's name: without the names
  // kept, every Telegram request failed before it was sent and grammY retried getMe forever.
  keepNames: true,
  logLevel: 'warning',
  // commander and others still call require() for node built-ins; ESM bundles need a real require.
  banner: {
    js: "#!/usr/bin/env node\nimport{createRequire as __carRequire}from'node:module';const require=__carRequire(import.meta.url);",
  },
});
chmodSync('dist/car.js', 0o755);
