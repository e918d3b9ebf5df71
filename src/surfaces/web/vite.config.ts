// Builds the single-page UI into the root dist/web, which `car serve` serves at /.
// `npm run dev -w @car/web` proxies /api to a `car serve` on 127.0.0.1:4173.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('../../../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: { proxy: { '/api': 'http://127.0.0.1:4173' } },
});
