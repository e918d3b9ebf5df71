// `car chat run` from the built CLI (`node dist/car.js`, a child process), at its edges: a start-up that
// cannot reach the platform fails within `startup_timeout_seconds` with one line naming api_root (exit 1,
// the token never printed); SIGTERM stops it whatever state it is in (start-up included) with exit 0; a
// stop that hangs is forced after the grace, or at once by a second signal (exit 1). The platforms are the
// local fakes of test/fakes, a port nothing listens on, or a server that accepts requests and never
// answers (or answers only some methods). Every wait is on an event (output, a request, the exit).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { type CarChild, carEnv, exitWithin, output, running, tempHome } from '../helpers/built-car.ts';
import { type CarRepo, makeCarRepo } from '../helpers/cli.ts';
import { serving, startChat, stopChat, withOutput } from './built-chat.ts';

const TELEGRAM_TOKEN = '123456:TEST-telegram-token-abc';
const DISCORD_TOKEN = 'TEST.discord-token.xyz123';
const FAILED = /^car: chat service failed to start: .*$/gm;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

type Platform = 'telegram' | 'discord';

/** A car repo whose override points the platform's api_root at `apiRoot`. */
async function repoFor(platform: Platform, apiRoot: string, extra: string[] = []): Promise<CarRepo> {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  const section = platform === 'telegram' ? 'telegram_bot' : 'discord_bot';
  const ids = platform === 'telegram' ? '[1]' : "['1']";
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [`${section}:`, `  api_root: ${apiRoot}`, `  allowed_user_ids: ${ids}`, ...extra, ''].join('\n'),
  );
  return repo;
}

function tokenEnv(platform: Platform): Record<string, string> {
  return platform === 'telegram'
    ? { CAR_TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN }
    : { CAR_DISCORD_BOT_TOKEN: DISCORD_TOKEN };
}

function chat(repo: CarRepo, platforms: Platform[], tokens: Record<string, string>): CarChild {
  const home = tempHome();
  cleanups.push(home.cleanup);
  return startChat(
    ['chat', 'run', ...platforms.map((p) => `--${p}`), '--poll-ms', '100'],
    { cwd: repo.dir, env: carEnv(home.home, tokens) },
    cleanups,
  );
}

function assertNoToken(car: CarChild): void {
  for (const token of [TELEGRAM_TOKEN, DISCORD_TOKEN]) {
    assert.ok(!car.stdout.includes(token) && !car.stderr.includes(token), `the token leaked\n${output(car)}`);
  }
}

/** A port nothing listens on: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Stub {
  url: string;
  /** Every request, as `METHOD path` with the bot token taken out of Telegram paths. */
  requests: string[];
  /** When the first request arrived (Date.now()), or null. */
  firstAt(): number | null;
  /** Resolves once `n` requests (whose path ends with `suffix`, if given) have arrived. */
  requested(n: number, suffix?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * An HTTP server that accepts every request and never answers it, unless `answer` returns a body for
 * it (then 200 with that JSON).
 */
async function stubServer(answer: (path: string) => unknown = () => undefined): Promise<Stub> {
  const requests: string[] = [];
  let firstAt: number | null = null;
  const watchers = new Set<() => void>();
  const held = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0]!.replace(/^\/bot[^/]+\//, '/bot<token>/');
    firstAt ??= Date.now();
    requests.push(`${req.method} ${path}`);
    for (const w of [...watchers]) w();
    req.resume();
    req.on('end', () => {
      const body = answer(path);
      if (body === undefined) {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const stub: Stub = {
    url: `http://127.0.0.1:${port}`,
    requests,
    firstAt: () => firstAt,
    requested: (n, suffix = '') =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (requests.filter((r) => r.endsWith(suffix)).length >= n) {
            watchers.delete(check);
            resolve();
          }
        };
        watchers.add(check);
        check();
      }),
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  cleanups.push(() => stub.close());
  return stub;
}

/** Races `p` against a bound; fails with the child's output when the bound comes first. */
async function within<T>(car: CarChild, p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  try {
    return await withOutput(car, Promise.race([p, late]));
  } finally {
    clearTimeout(timer);
  }
}

/** The start-up failed: exit 1, one error line naming api_root (returned), never a serving line. */
function assertStartFailed(car: CarChild, exit: { code: number | null; signal: unknown }, apiRoot: string) {
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, output(car));
  const lines = car.stderr.match(FAILED) ?? [];
  assert.equal(lines.length, 1, `one start-up error line\n${output(car)}`);
  assert.ok(lines[0]!.includes(apiRoot), `the error names api_root ${apiRoot}: ${lines[0]}`);
  assert.ok(!car.stdout.includes('serving'), output(car));
  assertNoToken(car);
  return lines[0]!;
}

for (const platform of ['telegram', 'discord'] as const) {
  test(`${platform}: api_root on a closed port fails the start-up with one line naming it (exit 1, no token)`, async () => {
    const apiRoot = `http://127.0.0.1:${await closedPort()}`;
    const repo = await repoFor(platform, apiRoot, ['  startup_timeout_seconds: 1']);
    const car = chat(repo, [platform], tokenEnv(platform));
    const exit = await exitWithin(car, 30_000, 'a start-up against a closed port');
    const line = assertStartFailed(car, exit, apiRoot);
    assert.ok(line.includes(`${platform}:`), line);
  });

  test(`${platform}: an api_root that never answers fails after startup_timeout_seconds (2 s), naming it`, async () => {
    const stub = await stubServer();
    const repo = await repoFor(platform, stub.url, ['  startup_timeout_seconds: 2']);
    const t0 = Date.now();
    const car = chat(repo, [platform], tokenEnv(platform));
    await within(car, stub.requested(1), 30_000, 'the first request at api_root');
    const exit = await exitWithin(car, 30_000, 'a start-up against a silent api_root');
    // the 2 s count from the start-up (just before the first request), not from the spawn: loading car
    // takes seconds on a loaded machine
    const sinceSpawn = Date.now() - t0;
    const sinceRequest = Date.now() - stub.firstAt()!;
    const line = assertStartFailed(car, exit, stub.url);
    assert.match(line, /within 2 s/);
    assert.ok(sinceSpawn >= 2000, `it waited the 2 s first (${sinceSpawn} ms since the spawn)`);
    assert.ok(sinceRequest >= 1000, `it waited the 2 s first (${sinceRequest} ms since the request)`);
    // it does not linger on the request in flight (Discord REST: 15 s timeout, 3 retries, ~60 s)
    assert.ok(
      sinceRequest < 15_000,
      `it exited soon after the 2 s (${sinceRequest} ms since the first request)\n${output(car)}`,
    );
    assert.deepEqual(
      stub.requests.slice(0, 1),
      [platform === 'telegram' ? 'POST /bot<token>/getMe' : 'GET /v10/gateway/bot'],
      'the start-up asked api_root',
    );
  });

  test(`${platform}: SIGTERM during the start-up (api_root never answers, default timeout) stops it promptly, exit 0`, async () => {
    const stub = await stubServer();
    const repo = await repoFor(platform, stub.url);
    const car = chat(repo, [platform], tokenEnv(platform));
    // the request is in flight: car is in the start-up, its signal handlers installed
    await within(car, stub.requested(1), 30_000, 'the first request at api_root');
    assert.ok(running(car), output(car));
    car.child.kill('SIGTERM');
    const exit = await exitWithin(car, 10_000, 'SIGTERM during the start-up');
    // exit 0: a graceful stop, before the 5 s grace would have forced exit 1
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, output(car));
    assert.match(car.stderr, /chat: stopping\n/);
    assert.doesNotMatch(car.stderr, /failed to start|did not stop/, output(car));
    assert.ok(!car.stdout.includes('serving'), output(car));
    assertNoToken(car);
  });
}

test('telegram and discord in one process: both serve; SIGTERM stops both, exit 0', async () => {
  const tg = await startFakeTelegram(TELEGRAM_TOKEN);
  cleanups.push(() => tg.close());
  const dc = await startFakeDiscord(DISCORD_TOKEN);
  cleanups.push(() => dc.close());
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'telegram_bot:',
      `  api_root: ${tg.url}`,
      '  allowed_user_ids: [1]',
      '  allowed_chat_ids: [1]',
      '  poll_timeout_seconds: 1',
      'discord_bot:',
      `  api_root: ${dc.url}`,
      "  allowed_user_ids: ['1']",
      '',
    ].join('\n'),
  );
  const car = chat(repo, ['telegram', 'discord'], { ...tokenEnv('telegram'), ...tokenEnv('discord') });
  await serving(car);
  assert.match(car.stdout, /\(telegram, discord\); Ctrl-C stops/);
  assert.equal(dc.ready(), 1, 'the gateway session is up');
  // a command on each platform is answered: both bots serve
  tg.userMessage({ chatId: 1, userId: 1, text: '/status' });
  dc.userMessage({ channelId: '1100000000000000042', userId: '1', content: '/status' });
  await withOutput(
    car,
    tg.waitFor(() => tg.sent.length === 1, 10_000, 'the Telegram answer'),
  );
  await withOutput(
    car,
    dc.waitFor(() => dc.messages.length === 1, 10_000, 'the Discord answer'),
  );
  await stopChat(car);
  await dc.waitFor(() => dc.ready() === 0, 10_000, 'the gateway session closed');
  assertNoToken(car);
});

/** A Bot API that answers getMe and deleteWebhook and holds every getUpdates. */
function stuckTelegram(): Promise<Stub> {
  return stubServer((path) => {
    if (path.endsWith('/getMe')) {
      return { ok: true, result: { id: 1, is_bot: true, first_name: 'car', username: 'car_test_bot' } };
    }
    if (path.endsWith('/deleteWebhook')) return { ok: true, result: true };
    return undefined;
  });
}

const getUpdates = (stub: Stub) => stub.requests.filter((r) => r.endsWith('/getUpdates')).length;

async function servingStuck(): Promise<{ car: CarChild; stub: Stub }> {
  const stub = await stuckTelegram();
  const repo = await repoFor('telegram', stub.url, ['  poll_timeout_seconds: 1']);
  const car = chat(repo, ['telegram'], tokenEnv('telegram'));
  await serving(car);
  // polling runs: its getUpdates is held
  await within(car, stub.requested(1, '/getUpdates'), 10_000, 'the first getUpdates');
  return { car, stub };
}

test('telegram: a stop that hangs (getUpdates never answers) is forced after the 5 s grace, exit 1', async () => {
  const { car, stub } = await servingStuck();
  car.child.kill('SIGTERM');
  const exit = await exitWithin(car, 20_000, 'the forced stop');
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, output(car));
  assert.match(car.stderr, /^car: car chat did not stop within 5 s; exiting now$/m);
  assert.ok(exit.ms >= 4500, `it waited out the grace (${exit.ms} ms)`);
  // the stop did hang on the platform: grammY's closing getUpdates (confirming the offset) was held
  assert.equal(getUpdates(stub), 2, stub.requests.join('\n'));
  assertNoToken(car);
});

test('telegram: a second SIGTERM while the stop hangs forces exit 1 at once', async () => {
  const { car, stub } = await servingStuck();
  car.child.kill('SIGTERM');
  // the stop is under way and stuck: its closing getUpdates is held
  await within(car, stub.requested(2, '/getUpdates'), 10_000, 'the closing getUpdates');
  car.child.kill('SIGTERM');
  const exit = await exitWithin(car, 10_000, 'the second signal');
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, output(car));
  assert.match(car.stderr, /^car: car chat did not stop after a second signal; exiting now$/m);
  assert.ok(exit.ms < 4500, `before the grace ran out (${exit.ms} ms)`);
  assertNoToken(car);
});
