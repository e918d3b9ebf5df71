// Ticket templates through the built CLI, offline: local git repos as template repos (added untrusted,
// fetched into the cache under HOME, pinned to a commit, moved by `car templates fetch`), CAR's
// provenance keys checked against git's own ids, variables, packs renumbered after the queue, the
// repo's own templates folder, and templates that try to escape (path traversal, links, oversized
// files, frontmatter injection) refused with nothing written.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { type BuiltCarRepo, json, makeBuiltCarRepo, runCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

const TICKETS = '.codex-autorunner/tickets';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function repo(): Promise<BuiltCarRepo> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  return r;
}

function templateRepo(files: Record<string, string>): GitRepo {
  const t = makeGitRepo();
  cleanups.push(t.cleanup);
  for (const [path, text] of Object.entries(files)) t.write(path, text);
  t.commitAll('templates');
  return t;
}

const BUG = [
  '---',
  'agent: <strong coding agent>',
  'done: false',
  'title: "Fix {{ area }}"',
  '# keep this comment',
  '---',
  '',
  '# Fix {{area}}',
  '',
  'Details: {{ details | none given }}',
  '',
].join('\n');

const PACK = {
  'packs/api/TICKET-001-schema.md':
    '---\nagent: codex\ndone: false\ntitle: Schema\n---\nSchema for {{ service }}.\n',
  'packs/api/TICKET-002-handlers.md':
    '---\nagent: codex\ndone: false\ntitle: Handlers\ndepends_on: [1]\n---\nHandlers.\n',
  'packs/api/TICKET-003-docs.md':
    '---\nagent: codex\ndone: false\ntitle: Docs\ndepends_on:\n  - TICKET-001-schema\n  - "2"\n---\nDocs.\n',
};

const ticketNames = (r: BuiltCarRepo) =>
  readdirSync(join(r.dir, TICKETS))
    .filter((n) => n.startsWith('TICKET-'))
    .sort();
const read = (r: BuiltCarRepo, name: string) => readFileSync(join(r.dir, TICKETS, name), 'utf8');

/** A repo with the template repo `t` added as `mine` (the blessed default removed: no network). */
async function withSource(t: GitRepo, trusted = false): Promise<BuiltCarRepo> {
  const r = await repo();
  const add = await r.run(['templates', 'repos', 'add', 'mine', t.dir, ...(trusted ? ['--trusted'] : [])]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await r.run(['templates', 'repos', 'remove', 'blessed'])).code, 0);
  return r;
}

test("an untrusted template repo: listed after fetch, shown, refused by apply until --trust; provenance is git's", async () => {
  const t = templateRepo({ 'fix/bug.md': BUG, 'README.md': '# Templates\n' });
  const r = await withSource(t);

  const before = json<{ templates: unknown[]; notes: string[] }>(
    await r.run(['templates', 'list', '--json']),
  );
  assert.deepEqual(before.templates, []);
  assert.match(before.notes.join('\n'), /mine: not fetched yet \(car templates fetch mine\)/);

  const fetched = await r.run(['templates', 'fetch']);
  assert.equal(fetched.code, 0, fetched.stderr);
  const head = t.git(['rev-parse', 'HEAD']).trim();
  assert.match(fetched.stdout, new RegExp(`mine: main at ${head.slice(0, 12)} \\(pinned\\)`));
  // the mirror and its pin live in the cache under HOME (this repo is not in a hub)
  const home = r.env.HOME!;
  assert.ok(existsSync(join(home, '.codex-autorunner/templates/git/mine.git/HEAD')));
  const repos = json<{ repos: { id: string; pinned_commit: string; trusted: boolean }[] }>(
    await r.run(['templates', 'repos', 'list', '--json']),
  );
  assert.deepEqual(
    repos.repos.map((x) => [x.id, x.pinned_commit, x.trusted]),
    [['mine', head, false]],
  );

  const list = json<{ templates: { ref: string; kind: string; summary: string; trusted: boolean }[] }>(
    await r.run(['templates', 'list', '--json']),
  );
  assert.deepEqual(list.templates, [
    {
      ref: 'mine:fix/bug.md',
      source: 'mine',
      path: 'fix/bug.md',
      kind: 'ticket',
      name: 'bug',
      summary: 'Fix {{ area }}',
      trusted: false,
      files: ['fix/bug.md'],
    },
  ]);
  const search = json<{ templates: unknown[] }>(await r.run(['templates', 'search', 'FIX', '--json']));
  assert.equal(search.templates.length, 1);
  assert.equal(
    json<{ templates: unknown[] }>(await r.run(['templates', 'search', 'nothing-like-it', '--json']))
      .templates.length,
    0,
  );

  const show = json<{ variables: unknown[]; contents: { text: string }[]; commit: string }>(
    await r.run(['templates', 'show', 'mine:fix/bug.md', '--json']),
  );
  assert.deepEqual(show.variables, [
    { name: 'area', default: null },
    { name: 'details', default: 'none given' },
  ]);
  assert.equal(show.contents[0]!.text, BUG);
  assert.equal(show.commit, head);

  const untrusted = await r.run(['templates', 'apply', 'mine:fix/bug.md', '--set', 'area=login']);
  assert.equal(untrusted.code, 2);
  assert.match(untrusted.stderr, /untrusted source "mine".*--trust/);
  assert.deepEqual(ticketNames(r), []);

  const missing = await r.run(['templates', 'apply', 'mine:fix/bug.md', '--trust']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing template variable: area \(give --set area=\.\.\.\)/);
  const unknown = await r.run([
    'templates',
    'apply',
    'mine:fix/bug.md',
    '--trust',
    '--set',
    'area=x',
    '--set',
    'colour=red',
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown template variable: colour \(the template has: area, details\)/);
  const injected = await r.run([
    'templates',
    'apply',
    'mine:fix/bug.md',
    '--trust',
    '--set',
    'area=x"\ndone: true',
  ]);
  assert.equal(injected.code, 2);
  assert.match(injected.stderr, /value of area goes into frontmatter and must be one line/);
  assert.deepEqual(ticketNames(r), [], 'no refusal wrote anything');

  const applied = json<{ created: string[]; agents_replaced: unknown[] }>(
    await r.run(['templates', 'apply', 'mine:fix/bug.md', '--trust', '--set', 'area=login', '--json']),
  );
  assert.deepEqual(applied.created, [`${TICKETS}/TICKET-001-bug.md`]);
  // the template's agent is a placeholder: the repo's default agent takes its place
  const replaced = applied.agents_replaced as { file: string; from: string; to: string }[];
  assert.deepEqual(
    replaced.map((x) => [x.file, x.from]),
    [['fix/bug.md', '<strong coding agent>']],
  );
  const agent = replaced[0]!.to;
  const text = read(r, 'TICKET-001-bug.md');
  const blob = t.git(['rev-parse', 'HEAD:fix/bug.md']).trim();
  const id = /^ticket_id: (tkt_[0-9a-f]{32})$/m.exec(text)?.[1];
  assert.ok(id, text);
  // the template's own lines (quoting, the comment) stay; the keys CAR writes are added before the fence
  assert.equal(
    text,
    [
      '---',
      `agent: ${agent}`,
      'done: false',
      'title: "Fix login"',
      '# keep this comment',
      `ticket_id: ${id}`,
      'template: mine:fix/bug.md@main',
      `template_commit: ${head}`,
      `template_blob: ${blob}`,
      'template_trusted: false',
      'template_scan: skipped',
      '---',
      '',
      '# Fix login',
      '',
      'Details: none given',
      '',
    ].join('\n'),
  );
  assert.equal((await r.run(['ticket', 'lint'])).code, 0);

  // trusted: no --trust needed, and the next free number
  assert.equal((await r.run(['templates', 'repos', 'trust', 'mine'])).code, 0);
  const again = await r.run([
    'templates',
    'apply',
    'mine:fix/bug.md',
    '--set',
    'area=signup',
    '--suffix',
    'signup',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(ticketNames(r), ['TICKET-001-bug.md', 'TICKET-002-signup.md']);
  assert.match(read(r, 'TICKET-002-signup.md'), /^template_trusted: true$/m);
  assert.equal((await r.run(['templates', 'repos', 'untrust', 'mine'])).code, 0);
  assert.equal((await r.run(['templates', 'apply', 'mine:fix/bug.md', '--set', 'area=x'])).code, 2);
});

test('the pin holds until car templates fetch moves it; @ref applies another commit', async () => {
  const t = templateRepo({ 'one.md': '---\nagent: codex\ndone: false\ntitle: Version one\n---\nv1\n' });
  const first = t.git(['rev-parse', 'HEAD']).trim();
  const r = await withSource(t, true);
  assert.equal((await r.run(['templates', 'fetch', 'mine'])).code, 0);

  t.write('one.md', '---\nagent: codex\ndone: false\ntitle: Version two\n---\nv2\n');
  const second = t.commitAll('v2');
  // not fetched: the pinned commit still gives version one
  assert.equal((await r.run(['templates', 'apply', 'mine:one.md'])).code, 0);
  assert.match(
    read(r, 'TICKET-001-one.md'),
    new RegExp(`title: Version one[\\s\\S]*template_commit: ${first}`),
  );

  const update = await r.run(['templates', 'fetch']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(
    update.stdout,
    new RegExp(`mine: main at ${second.slice(0, 12)} \\(was ${first.slice(0, 12)}\\)`),
  );
  assert.equal((await r.run(['templates', 'apply', 'mine:one.md'])).code, 0);
  assert.match(
    read(r, 'TICKET-002-one.md'),
    new RegExp(`title: Version two[\\s\\S]*template_commit: ${second}`),
  );

  // an explicit ref the mirror has: CAR's template value names it
  assert.equal((await r.run(['templates', 'apply', `mine:one.md@${first}`])).code, 0);
  const old = read(r, 'TICKET-003-one.md');
  assert.match(old, /title: Version one/);
  assert.match(old, new RegExp(`^template: mine:one.md@${first}$`, 'm'));
  const described = json<{
    templates: { repos: { id: string; pinned_commit: string }[]; provenance_keys: string[] };
    commands: { command: string }[];
  }>(await r.run(['describe', '--json']));
  assert.deepEqual(
    described.templates.repos.map((x) => [x.id, x.pinned_commit]),
    [['mine', second]],
  );
  assert.deepEqual(described.templates.provenance_keys.slice(0, 4), [
    'template',
    'template_commit',
    'template_blob',
    'template_trusted',
  ]);
  const commands = described.commands.map((c) => c.command);
  for (const c of [
    'car templates apply',
    'car templates repos add',
    'car templates fetch',
    'car ticket import',
    'car flow bootstrap',
  ])
    assert.ok(commands.includes(c), c);
  const noRef = await r.run(['templates', 'apply', 'mine:one.md@no-such-branch']);
  assert.equal(noRef.code, 2);
  assert.match(noRef.stderr, /mine: no ref no-such-branch/);
  assert.equal(ticketNames(r).length, 3);
});

test('a pack keeps its order and renumbers depends_on after the queue', async () => {
  const t = templateRepo(PACK);
  const r = await withSource(t, true);
  assert.equal((await r.run(['templates', 'fetch'])).code, 0);
  r.write(`${TICKETS}/TICKET-004-existing.md`, '---\nagent: codex\ndone: false\n---\nalready here\n');

  const list = json<{ templates: { ref: string; kind: string; files: string[] }[] }>(
    await r.run(['templates', 'list', '--json']),
  );
  assert.deepEqual(
    list.templates.map((x) => [x.ref, x.kind, x.files.length]),
    [['mine:packs/api', 'pack', 3]],
  );
  const missing = await r.run(['templates', 'apply', 'mine:packs/api']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing template variable: service/);

  const applied = await r.run(['templates', 'apply', 'mine:packs/api', '--set', 'service=billing']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual(ticketNames(r), [
    'TICKET-004-existing.md',
    'TICKET-005-schema.md',
    'TICKET-006-handlers.md',
    'TICKET-007-docs.md',
  ]);
  assert.match(read(r, 'TICKET-005-schema.md'), /Schema for billing\./);
  assert.match(read(r, 'TICKET-006-handlers.md'), /^depends_on: \[TICKET-005\]$/m);
  assert.match(read(r, 'TICKET-007-docs.md'), /^depends_on:\n {2}- TICKET-005\n {2}- TICKET-006\n/m);
  assert.match(read(r, 'TICKET-007-docs.md'), /^template: mine:packs\/api\/TICKET-003-docs.md@main$/m);
  const listed = json<{ tickets: { name: string; blocked_by?: unknown }[]; next: string }>(
    await r.run(['ticket', 'list', '--json']),
  );
  assert.equal(listed.next, `${TICKETS}/TICKET-004-existing.md`);
  assert.equal((await r.run(['ticket', 'lint'])).code, 0);
});

test('malicious templates are refused and nothing is written', async () => {
  const t = templateRepo({
    'ok.md': '---\nagent: codex\ndone: false\n---\nfine\n',
    'huge.md': `---\nagent: codex\ndone: false\n---\n${'x'.repeat(300 * 1024)}\n`,
    'loop/TICKET-001-a.md': '---\nagent: codex\ndone: false\ndepends_on: [2]\n---\na\n',
    'loop/TICKET-002-b.md': '---\nagent: codex\ndone: false\ndepends_on: [1]\n---\nb\n',
  });
  symlinkSync('/etc/passwd', join(t.dir, 'passwd.md'));
  t.commitAll('a link');
  const r = await withSource(t, true);
  assert.equal((await r.run(['templates', 'fetch'])).code, 0);

  const list = json<{ templates: { ref: string }[]; notes: string[] }>(
    await r.run(['templates', 'list', '--json']),
  );
  assert.deepEqual(list.templates.map((x) => x.ref).sort(), ['mine:loop', 'mine:ok.md']);
  assert.match(list.notes.join('\n'), /mine:huge\.md is \d+ bytes; a template may have at most 262144/);
  assert.match(list.notes.join('\n'), /mine:passwd\.md is a symbolic link/);

  for (const [ref, code, message] of [
    ['mine:../../etc/passwd', 2, /must not contain empty, \. or \.\. parts/],
    ['mine:/etc/passwd', 2, /must be relative/],
    ['mine:.git/config', 2, /must not name hidden files/],
    ['local:../config.yml', 2, /must not contain empty, \. or \.\. parts/],
    ['mine:passwd.md', 3, /is a symbolic link; templates must be plain files/],
    ['mine:huge.md', 3, /a template may have at most/],
    ['mine:loop', 3, /nothing written: the pack would not lint:[\s\S]*cycle/i],
    ['mine:ok.md@--upload-pack=evil', 2, /invalid git ref/],
    ['nosuch:ok.md', 2, /no template source "nosuch"/],
  ] as const) {
    const res = await r.run(['templates', 'apply', ref]);
    assert.equal(res.code, code, `${ref}: ${res.stderr}`);
    assert.match(res.stderr, message, ref);
  }
  assert.deepEqual(ticketNames(r), []);
  const runs = join(r.dir, '.codex-autorunner/runs');
  const claims = existsSync(runs) ? readdirSync(runs).filter((n) => n.endsWith('.claim')) : [];
  assert.deepEqual(claims, [], 'no claim is left');
});

test("the repo's own templates folder: local: refs, trusted, no commit; links out of it refused", async () => {
  const r = await repo();
  assert.equal((await r.run(['templates', 'repos', 'remove', 'blessed'])).code, 0);
  r.write(
    '.codex-autorunner/templates/chores/deps.md',
    '---\nagent: codex\ndone: false\ntitle: Update deps\n---\nUpdate.\n',
  );
  symlinkSync('/etc/hostname', join(r.dir, '.codex-autorunner/templates/escape.md'));
  const list = json<{ templates: { ref: string; trusted: boolean }[]; notes: string[] }>(
    await r.run(['templates', 'list', '--json']),
  );
  assert.deepEqual(
    list.templates.map((x) => [x.ref, x.trusted]),
    [['local:chores/deps.md', true]],
  );
  const applied = await r.run(['templates', 'apply', 'local:chores/deps.md']);
  assert.equal(applied.code, 0, applied.stderr);
  const text = read(r, 'TICKET-001-deps.md');
  assert.match(text, /^template: local:chores\/deps.md$/m);
  assert.match(text, /^template_commit: null$/m);
  assert.match(text, /^template_trusted: true$/m);
  const escaping = await r.run(['templates', 'apply', 'local:escape.md']);
  assert.equal(escaping.code, 3);
  assert.match(escaping.stderr, /local:escape.md is a symbolic link/);
  assert.deepEqual(ticketNames(r), ['TICKET-001-deps.md']);
});

test('car templates repos: bad ids, reserved names and duplicates are usage errors; CAR apply flags map', async () => {
  const r = await repo();
  const config = () => readFileSync(join(r.dir, '.codex-autorunner/config.yml'), 'utf8');
  const before = config();
  for (const [args, message] of [
    [['templates', 'repos', 'add', 'local', '/tmp/x'], /reserved/],
    [['templates', 'repos', 'add', '../x', '/tmp/x'], /invalid repo id/],
    [['templates', 'repos', 'add', 'x', '--upload-pack=evil'], /unknown option|invalid URL/],
    [['templates', 'repos', 'add', 'blessed', '/tmp/x'], /already exists/],
    [['templates', 'repos', 'remove', 'nope'], /no template repo "nope"/],
    [['templates', 'repos', 'trust', 'nope'], /no template repo "nope"/],
  ] as const) {
    const res = await r.run(args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
  }
  assert.equal(config(), before, 'a refused change leaves the config alone');
  const repos = json<{ repos: { id: string; trusted: boolean; url: string }[] }>(
    await r.run(['templates', 'repos', 'list', '--json']),
  );
  assert.deepEqual(
    repos.repos.map((x) => [x.id, x.trusted, x.url]),
    [['blessed', true, 'https://github.com/Git-on-my-level/car-ticket-templates']],
  );

  r.write('.codex-autorunner/templates/t.md', '---\nagent: user\ndone: false\n---\nx\n');
  const viaCar = await r.run(['templates', 'apply', 'local:t.md', '--set-agent', 'codex', '--next']);
  assert.equal(viaCar.code, 0, viaCar.stderr);
  assert.match(read(r, 'TICKET-001-t.md'), /^agent: codex$/m);
  const at = await r.run(['templates', 'apply', 'local:t.md', '--at', '5']);
  assert.equal(at.code, 2);
  assert.match(at.stderr, /--at: not supported/);
});

test("in a hub: repos go to the hub's config, mirrors under the hub, and the hub's templates folder is hub:", async () => {
  const r = await repo();
  const hub = mkdtempSync(join(tmpdir(), 'car-hub-'));
  cleanups.push(() => rmSync(hub, { recursive: true, force: true }));
  const init = await runCar(['init', hub, '--mode', 'hub'], { cwd: hub, env: r.env });
  assert.equal(init.code, 0, init.stderr);
  const run = (args: string[], cwd: string) => runCar(args, { cwd, env: r.env, timeoutMs: 120_000 });
  const created = await run(['hub', 'create', 'app'], hub);
  assert.equal(created.code, 0, created.stderr);
  const app = join(hub, 'repos/app');
  const t = templateRepo({ 'chore.md': '---\nagent: codex\ndone: false\ntitle: Chore\n---\nx\n' });
  assert.equal((await run(['templates', 'repos', 'add', 'team', t.dir, '--trusted'], app)).code, 0);
  assert.equal((await run(['templates', 'repos', 'remove', 'blessed'], app)).code, 0);
  assert.match(
    readFileSync(join(hub, '.codex-autorunner/config.yml'), 'utf8'),
    /templates:\n {2}repos:\n {4}- id: team/,
  );
  assert.doesNotMatch(readFileSync(join(app, '.codex-autorunner/config.yml'), 'utf8'), /templates/);
  assert.equal((await run(['templates', 'fetch'], app)).code, 0);
  assert.ok(existsSync(join(hub, '.codex-autorunner/templates/git/team.git/HEAD')));
  mkdirSync(join(hub, '.codex-autorunner/templates/shared'), { recursive: true });
  writeFileSync(
    join(hub, '.codex-autorunner/templates/shared/review.md'),
    '---\nagent: codex\ndone: false\ntitle: Review\n---\nr\n',
  );
  const list = json<{ templates: { ref: string }[] }>(await run(['templates', 'list', '--json'], app));
  // the mirrors under the hub's templates folder are not templates of hub:
  assert.deepEqual(
    list.templates.map((x) => x.ref),
    ['hub:shared/review.md', 'team:chore.md'],
  );
  const applied = await run(['templates', 'apply', 'hub:shared/review.md'], app);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(
    readFileSync(join(app, TICKETS, 'TICKET-001-review.md'), 'utf8'),
    /^template: hub:shared\/review.md$/m,
  );
});
