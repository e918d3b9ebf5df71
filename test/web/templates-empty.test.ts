// The template picker with nothing to pick: a fresh repo (the blessed repo configured, never fetched)
// says how to add templates and that the blessed repo is not fetched; desktop and phone screenshots.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initRepo } from '../../src/core/init.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { browserSuite, shot } from './browser.ts';

const suite = browserSuite(async (cleanups) => {
  const home = mkdtempSync(join(tmpdir(), 'car-home-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  return { root: repo.dir, env: { HOME: home } };
});

test('no templates: the picker says how to add some', { skip: suite.skip, timeout: 60_000 }, async () => {
  const page = await suite.browser().context.newPage();
  await page.goto(suite.server().url);
  await page.getByRole('button', { name: 'From template' }).click();
  const picker = page.getByTestId('template-picker');
  await picker.getByTestId('no-templates').waitFor();
  await picker.getByText('blessed: not fetched yet (car templates fetch blessed)').waitFor();
  await page.screenshot({ path: shot('templates-picker-empty-desktop.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: shot('templates-picker-empty-phone.png'), fullPage: true });
  assert.deepEqual(suite.browser().errors, []);
  await page.close();
});
