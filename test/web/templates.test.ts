// The board's template picker and "New plan" form in a real browser, against `car serve` (the built CLI)
// over a repo with its own templates folder and an untrusted local git template repo fetched by the
// built CLI: preview, variables, the trust box, a pack that would not lint refused with the reason shown,
// and a plan that writes the spec and the planning ticket. Screenshots: desktop and phone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { CAR_JS } from '../helpers/built-car.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite, shot } from './browser.ts';

let root = '';
let tickets = '';

const suite = browserSuite(async (cleanups) => {
  const home = mkdtempSync(join(tmpdir(), 'car-home-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home, PATH: process.env.PATH, NO_COLOR: '1' };
  const templates = makeGitRepo();
  cleanups.push(templates.cleanup);
  templates.write(
    'reviews/review.md',
    '---\nagent: codex\ndone: false\ntitle: Review the release\n---\n\nRead the diff.\n',
  );
  templates.write('loop/TICKET-001-a.md', '---\nagent: codex\ndone: false\ndepends_on: [2]\n---\na\n');
  templates.write('loop/TICKET-002-b.md', '---\nagent: codex\ndone: false\ndepends_on: [1]\n---\nb\n');
  templates.commitAll('templates');
  symlinkSync('/etc/hostname', join(templates.dir, 'leak.md'));
  templates.commitAll('a link');

  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  root = repo.dir;
  tickets = repoPaths(repo.dir).ticketsDir;
  repo.write(
    '.codex-autorunner/templates/fix.md',
    '---\nagent: codex\ndone: false\ntitle: "Fix {{ area }}"\n---\n\n# Fix {{ area }}\n\nSeverity: {{ severity | normal }}\n',
  );
  repo.commitAll('car');
  const car = (args: string[]) =>
    execFileSync(process.execPath, [CAR_JS, ...args], { cwd: repo.dir, env, encoding: 'utf8' });
  // "Plan and run" starts a run worker, whose codex has no model to talk to: stopped before the repo goes
  cleanups.push(async () => {
    const lock = join(repo.dir, '.codex-autorunner/flow.lock');
    const pid = existsSync(lock)
      ? Number((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid)
      : 0;
    if (!pid) return;
    car(['flow', 'stop']);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the run worker to stop', () => !alive(), 60_000);
  });
  car(['templates', 'repos', 'add', 'mine', templates.dir]);
  car(['templates', 'repos', 'remove', 'blessed']);
  car(['templates', 'fetch']);
  return { root: repo.dir, env };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();
const names = () =>
  readdirSync(tickets)
    .filter((n) => n.startsWith('TICKET-'))
    .sort();

test('the template picker: preview, variables, trust, a refused pack, filters', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(server().url);
  await page.getByRole('button', { name: 'From template' }).click();
  const picker = page.getByTestId('template-picker');
  await picker.locator('[data-ref="local:fix.md"]').waitFor();
  const refs: (string | null)[] = [];
  for (const item of await picker.locator('[data-ref]').all()) refs.push(await item.getAttribute('data-ref'));
  assert.deepEqual(refs, ['local:fix.md', 'mine:loop', 'mine:reviews/review.md']);
  await picker.getByText(/mine:leak\.md is a symbolic link/).waitFor();

  // a local template: preview, a required variable, a default
  await picker.locator('[data-ref="local:fix.md"]').click();
  await picker.getByLabel('preview').getByText('Severity: {{ severity | normal }}').waitFor();
  const apply = picker.getByRole('button', { name: 'Apply' });
  assert.equal(await apply.isDisabled(), true, 'a required variable is empty');
  await picker.getByLabel('area (required)').fill('login');
  await page.screenshot({ path: shot('templates-picker-desktop.png'), fullPage: true });
  await apply.click();
  await page.getByTestId('intake-notice').getByText('Created: TICKET-001-fix.md').waitFor();
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Fix login').waitFor();
  const fix = readFileSync(join(tickets, 'TICKET-001-fix.md'), 'utf8');
  assert.match(fix, /^title: "Fix login"$/m);
  assert.match(fix, /^Severity: normal$/m);
  assert.match(fix, /^template: local:fix.md$/m);

  // an untrusted repo's template: the box must be ticked
  await page.getByRole('button', { name: 'From template' }).click();
  await picker.locator('[data-ref="mine:reviews/review.md"]').click();
  await picker.getByText('untrusted', { exact: true }).waitFor();
  assert.equal(await apply.isDisabled(), true, 'not applied without the trust box');
  await picker.getByLabel(/I have read this template/).check();
  await apply.click();
  await page.getByTestId('intake-notice').getByText('Created: TICKET-002-review.md').waitFor();
  assert.match(readFileSync(join(tickets, 'TICKET-002-review.md'), 'utf8'), /^template_trusted: false$/m);

  // a pack whose tickets wait for each other: refused, the reason shown, nothing written
  await page.getByRole('button', { name: 'From template' }).click();
  await picker.locator('[data-ref="mine:loop"]').click();
  await picker.getByRole('button', { name: 'Apply (2 tickets)' }).waitFor();
  await picker.getByLabel(/I have read this template/).check();
  await picker.getByRole('button', { name: 'Apply (2 tickets)' }).click();
  await picker
    .getByRole('alert')
    .getByText(/would not lint/)
    .waitFor();
  await page.screenshot({ path: shot('templates-picker-refused-desktop.png'), fullPage: true });
  assert.deepEqual(names(), ['TICKET-001-fix.md', 'TICKET-002-review.md']);

  await picker.getByLabel('filter templates').fill('nothing like it');
  await picker.getByText('No template matches “nothing like it”.').waitFor();

  await page.setViewportSize({ width: 390, height: 844 });
  await picker.getByLabel('filter templates').fill('');
  await picker.locator('[data-ref="local:fix.md"]').click();
  await page.screenshot({ path: shot('templates-picker-phone.png'), fullPage: true });
  assert.deepEqual(browser().errors, []);
  await page.close();
});

test('New plan writes the spec and a planning ticket, and asks before replacing a spec', {
  skip,
  timeout: 90_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(server().url);
  await page.getByRole('button', { name: 'New plan' }).click();
  const form = page.getByTestId('new-plan');
  await form.getByLabel('spec').fill('# Export to CSV\n\nEvery report can be downloaded as CSV.\n');
  await page.screenshot({ path: shot('templates-new-plan-desktop.png'), fullPage: true });
  await form.getByRole('button', { name: 'Plan and run' }).click();
  await page
    .getByTestId('intake-notice')
    .getByText(/Planning ticket written and run started: TICKET-\d+-plan\.md/)
    .waitFor();
  const spec = join(root, '.codex-autorunner/contextspace/spec.md');
  assert.equal(readFileSync(spec, 'utf8'), '# Export to CSV\n\nEvery report can be downloaded as CSV.\n');
  const plan = names().find((n) => n.endsWith('-plan.md'));
  assert.ok(plan && existsSync(join(tickets, plan)));

  await page.getByRole('button', { name: 'New plan' }).click();
  await form.getByLabel('spec').fill('# Something else\n');
  await form.getByRole('button', { name: 'Plan and run' }).click();
  await form
    .getByRole('alert')
    .getByText(/already holds a different spec/)
    .waitFor();
  await form.getByLabel('Replace the spec that is there').waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: shot('templates-new-plan-phone.png'), fullPage: true });
  assert.match(readFileSync(spec, 'utf8'), /Export to CSV/, 'not replaced without the box');
  await page.close();
});
