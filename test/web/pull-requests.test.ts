// The web ticket page shows the pull requests car opened with the ticket's work, as `car pr watch` last
// saw them: a PR whose check failed (the ticket sent back), against the fake GitHub API and a bare remote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prRepo } from '../scm/helpers.ts';
import { browserSuite, shot } from './browser.ts';

const suite = browserSuite(async (cleanups) => {
  const r = await prRepo();
  cleanups.push(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  r.gh.addCheckRun({
    head_sha: r.repo.git(['rev-parse', 'HEAD']).trim(),
    name: 'ci',
    status: 'completed',
    conclusion: 'failure',
    output: { title: 'tests failed', summary: null, text: 'AssertionError' },
  });
  assert.equal((await r.car(['pr', 'watch', '--once'])).code, 0);
  return { root: r.repo.dir };
});
const { skip } = suite;

for (const [label, viewport] of [
  ['desktop', { width: 1280, height: 860 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`ticket page (${label}): the PR with its state, checks and link`, {
    skip,
    timeout: 60_000,
  }, async () => {
    const page = await suite.browser().context.newPage();
    await page.setViewportSize(viewport);
    await page.goto(`${suite.server().url}/tickets/TICKET-001.md`);
    const prs = page.getByRole('region', { name: 'pull requests' });
    await prs.getByRole('link', { name: '#1' }).waitFor();
    assert.equal(
      await prs.getByRole('link', { name: '#1' }).getAttribute('href'),
      'https://github.example/acme/widgets/pull/1',
    );
    await prs.getByText('checks failure').waitFor();
    await prs.getByText('open', { exact: true }).waitFor();
    await prs.getByText('feature → main').waitFor();
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok((overflow as number) <= 0, 'no horizontal scrolling');
    await page.screenshot({ path: shot(`ticket-pull-requests-${label}.png`), fullPage: true });

    // the open_pr ticket the PR was opened for shows it too
    await page.goto(`${suite.server().url}/tickets/TICKET-002.md`);
    await page.getByRole('heading', { name: 'Open the PR' }).waitFor();
    await page.getByRole('region', { name: 'pull requests' }).getByRole('link', { name: '#1' }).waitFor();
    await page.close();
  });
}

test('no page errors in the browser', { skip }, () => {
  assert.deepEqual(suite.browser().errors, []);
});
