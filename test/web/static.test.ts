// Serving the built UI (in-process, no browser): long cache for hashed assets, index.html for the app's
// routes but never for /api or missing files, the Host check first, and no token needed for the files.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeApiRepo } from '../http/helpers.ts';
import { ROOT } from './browser.ts';

const web = mkdtempSync(join(tmpdir(), 'car-web-'));
mkdirSync(join(web, 'assets'));
writeFileSync(join(web, 'index.html'), '<!doctype html><title>car</title><div id="app"></div>');
writeFileSync(join(web, 'assets', 'index-abc123.js'), 'console.log(1)');
writeFileSync(join(tmpdir(), 'car-web-secret.txt'), 'TOPSECRET');
const api = makeApiRepo({ webRoot: web, token: 'tok' });
after(() => {
  api.cleanup();
  rmSync(web, { recursive: true, force: true });
});

test('the UI is served at / and for its routes, with a CSP and no-cache', async () => {
  for (const path of ['/', '/runs/abc', '/tickets/TICKET-001.md', '/inbox']) {
    const res = await api.call('GET', path);
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), /<div id="app">/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  }
});

test('hashed assets are cached for a year; a missing asset or file is 404, not the app', async () => {
  const asset = await api.call('GET', '/assets/index-abc123.js');
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.match(asset.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await api.call('GET', '/assets/index-gone.js')).status, 404);
  assert.equal((await api.call('GET', '/robots.txt')).status, 404);
});

test('the icon is served from the build (dist/web/favicon.ico, copied from the web app public/ folder)', async () => {
  writeFileSync(join(web, 'favicon.ico'), Buffer.from([0, 0, 1, 0, 1, 0]));
  const icon = await api.call('GET', '/favicon.ico');
  assert.equal(icon.status, 200);
  assert.match(icon.headers.get('content-type') ?? '', /^image\//);
  assert.match(icon.headers.get('content-security-policy') ?? '', /img-src 'self'/);
  assert.ok(existsSync(join(ROOT, 'src/surfaces/web/public/favicon.ico')), 'the app ships one');
});

test('/api never falls back to the app, and still needs the token', async () => {
  const missing = await api.call('GET', '/api/nope', { token: 'tok' });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: string }).error, 'not_found');
  assert.equal((await api.call('GET', '/api/health')).status, 401);
  assert.equal((await api.call('GET', '/api')).status, 401);
});

test('a foreign Host is refused and paths cannot climb out of the web folder', async () => {
  const res = await api.call('GET', '/', { headers: { host: 'evil.example' } });
  assert.equal(res.status, 421);
  for (const path of [
    '/../car-web-secret.txt',
    '/%2e%2e/car-web-secret.txt',
    '/assets/..%2f..%2fcar-web-secret.txt',
  ]) {
    const r = await api.call('GET', path);
    assert.doesNotMatch(await r.text(), /TOPSECRET/, path);
  }
});
