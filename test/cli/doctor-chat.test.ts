// `car doctor` checks each enabled chat bot: its token is set and one bounded request (Telegram getMe,
// Discord GET /users/@me) reaches api_root and names the bot. The built CLI runs against the local fakes
// of the Telegram Bot API and Discord REST (real grammY and @discordjs/rest on the wire); the probe
// functions' timeout is checked in-process against a server that accepts and never answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PROBE_TIMEOUT_MS, probeDiscord, probeTelegram } from '../../src/integrations/chat/probe.ts';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord-api.ts';
import { type FakeTelegram, startFakeTelegram } from '../fakes/telegram-api.ts';
import { runCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

interface Doctor {
  ok: boolean;
  checks: { id: string; status: 'ok' | 'warning' | 'error'; message: string; fix?: string }[];
}

const OVERRIDE = '.codex-autorunner/repo.override.yml';

let repo: GitRepo;
let home: string;
let telegram: FakeTelegram;
let discord: FakeDiscord;

before(async () => {
  repo = makeGitRepo();
  home = mkdtempSync(join(tmpdir(), 'car-doctor-chat-home-'));
  const init = await runCar(['init'], { cwd: repo.dir, env: baseEnv() });
  assert.equal(init.code, 0, init.stderr);
  telegram = await startFakeTelegram();
  discord = await startFakeDiscord();
});

after(async () => {
  await telegram?.close();
  await discord?.close();
  repo?.cleanup();
  if (home) rmSync(home, { recursive: true, force: true });
});

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...extra };
}

function configure(opts: { telegram?: string; discord?: string; telegramEnv?: string }): void {
  let yml = '';
  if (opts.telegram !== undefined) {
    yml += `telegram_bot:\n  enabled: true\n  api_root: ${opts.telegram}\n`;
    if (opts.telegramEnv) yml += `  bot_token_env: ${opts.telegramEnv}\n`;
  }
  if (opts.discord !== undefined) yml += `discord_bot:\n  enabled: true\n  api_root: ${opts.discord}\n`;
  repo.write(OVERRIDE, yml);
}

async function doctor(env: NodeJS.ProcessEnv) {
  const text = await runCar(['doctor'], { cwd: repo.dir, env });
  const asJson = await runCar(['doctor', '--json'], { cwd: repo.dir, env });
  let parsed: Doctor;
  try {
    parsed = JSON.parse(asJson.stdout) as Doctor;
  } catch {
    throw new Error(
      `doctor --json printed no JSON (exit ${asJson.code}):\n${asJson.stdout}\n${asJson.stderr}`,
    );
  }
  return { text, json: asJson, d: parsed };
}

const row = (d: Doctor, id: string) => d.checks.find((c) => c.id === id);

/** A port nothing listens on: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function assertNoToken(outputs: string[], tokens: string[]): void {
  for (const out of outputs) for (const t of tokens) assert.ok(!out.includes(t), `the token leaked:\n${out}`);
}

describe('car doctor: chat bots', () => {
  test('no chat bot enabled: no chat rows', async () => {
    repo.write(OVERRIDE, '');
    const { d, json } = await doctor(baseEnv());
    assert.equal(json.code, 0, json.stdout);
    assert.deepEqual(
      d.checks.filter((c) => c.id.startsWith('chat:')),
      [],
    );
  });

  test('both bots answer: ok rows naming the bot and api_root, exit 0, token not printed', async () => {
    configure({ telegram: telegram.url, discord: discord.url });
    const env = baseEnv({ CAR_TELEGRAM_BOT_TOKEN: telegram.token, CAR_DISCORD_BOT_TOKEN: discord.token });
    const before = { telegram: telegram.calls.length, discord: discord.calls.length };
    const { text, json, d } = await doctor(env);
    assert.equal(json.code, 0, json.stdout);
    assert.equal(d.ok, true);
    assert.deepEqual(row(d, 'chat:telegram'), {
      id: 'chat:telegram',
      status: 'ok',
      message: `telegram: @car_test_bot via ${telegram.url}`,
    });
    assert.deepEqual(row(d, 'chat:discord'), {
      id: 'chat:discord',
      status: 'ok',
      message: `discord: @car-bot via ${discord.url}`,
    });
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^OK: telegram: @car_test_bot via ${telegram.url}$`, 'm'));
    assert.match(text.stdout, new RegExp(`^OK: discord: @car-bot via ${discord.url}$`, 'm'));
    // one request per platform per doctor run (text + json: two runs), with the token as the platform wants it
    const tgCalls = telegram.calls.slice(before.telegram);
    assert.deepEqual(
      tgCalls.map((c) => [c.method, c.status]),
      [
        ['getMe', 200],
        ['getMe', 200],
      ],
    );
    const dcCalls = discord.calls.slice(before.discord);
    assert.deepEqual(
      dcCalls.map((c) => [c.method, c.path, c.status, c.auth]),
      [
        ['GET', '/v10/users/@me', 200, `Bot ${discord.token}`],
        ['GET', '/v10/users/@me', 200, `Bot ${discord.token}`],
      ],
    );
    assertNoToken([text.stdout, text.stderr, json.stdout, json.stderr], [telegram.token, discord.token]);
  });

  test('a missing token: error with the export fix, nothing requested, exit 1', async () => {
    configure({ telegram: telegram.url, discord: discord.url, telegramEnv: 'MY_TG_TOKEN' });
    const before = { telegram: telegram.calls.length, discord: discord.calls.length };
    // set but blank counts as missing, as in `car chat run`
    const { text, json, d } = await doctor(baseEnv({ CAR_DISCORD_BOT_TOKEN: '  ' }));
    assert.equal(json.code, 1);
    assert.equal(text.code, 1);
    assert.equal(d.ok, false);
    assert.deepEqual(row(d, 'chat:telegram'), {
      id: 'chat:telegram',
      status: 'error',
      message: 'telegram: no bot token: $MY_TG_TOKEN is not set (telegram_bot.bot_token_env)',
      fix: 'export MY_TG_TOKEN=<token from @BotFather>',
    });
    assert.equal(row(d, 'chat:discord')?.status, 'error');
    assert.match(
      row(d, 'chat:discord')?.fix ?? '',
      /^export CAR_DISCORD_BOT_TOKEN=<bot token from the Discord/,
    );
    assert.match(
      text.stdout,
      /^ERROR: telegram: no bot token: \$MY_TG_TOKEN is not set \(telegram_bot\.bot_token_env\) \(fix: export MY_TG_TOKEN=<token from @BotFather>\)$/m,
    );
    assert.match(text.stderr, /doctor found errors/);
    assert.equal(telegram.calls.length, before.telegram);
    assert.equal(discord.calls.length, before.discord);
  });

  test('a wrong token: the platform refused it (401), exit 1, the token not printed', async () => {
    configure({ telegram: telegram.url, discord: discord.url });
    const wrong = { telegram: '999999:WRONG-telegram-token-zzz', discord: 'WRONG.discord-token.qqq999' };
    const before = { telegram: telegram.calls.length, discord: discord.calls.length };
    const env = baseEnv({ CAR_TELEGRAM_BOT_TOKEN: wrong.telegram, CAR_DISCORD_BOT_TOKEN: wrong.discord });
    const { text, json, d } = await doctor(env);
    assert.equal(json.code, 1);
    assert.equal(text.code, 1);
    assert.deepEqual(row(d, 'chat:telegram'), {
      id: 'chat:telegram',
      status: 'error',
      message: 'telegram: the platform refused the token in $CAR_TELEGRAM_BOT_TOKEN (401 Unauthorized)',
      fix: 'get the current token from @BotFather (/token) and export CAR_TELEGRAM_BOT_TOKEN=<token>',
    });
    assert.deepEqual(row(d, 'chat:discord'), {
      id: 'chat:discord',
      status: 'error',
      message: 'discord: the platform refused the token in $CAR_DISCORD_BOT_TOKEN (401 Unauthorized)',
      fix: 'reset the token in the Discord Developer Portal (Bot page) and export CAR_DISCORD_BOT_TOKEN=<token>',
    });
    // the requests did reach the fakes, which answered 401
    assert.deepEqual(
      telegram.calls.slice(before.telegram).map((c) => [c.method, c.status]),
      [
        ['getMe', 401],
        ['getMe', 401],
      ],
    );
    assert.deepEqual(
      discord.calls.slice(before.discord).map((c) => [c.path, c.status]),
      [
        ['/v10/users/@me', 401],
        ['/v10/users/@me', 401],
      ],
    );
    assertNoToken([text.stdout, text.stderr, json.stdout, json.stderr], [wrong.telegram, wrong.discord]);
  });

  test('an unreachable api_root fails fast, naming it, the token not printed', async () => {
    const tgRoot = `http://127.0.0.1:${await closedPort()}`;
    const dcRoot = `http://127.0.0.1:${await closedPort()}`;
    configure({ telegram: tgRoot, discord: dcRoot });
    const env = baseEnv({ CAR_TELEGRAM_BOT_TOKEN: telegram.token, CAR_DISCORD_BOT_TOKEN: discord.token });
    const json = await runCar(['doctor', '--json'], { cwd: repo.dir, env });
    assert.equal(json.code, 1, json.stdout);
    const d = JSON.parse(json.stdout) as Doctor;
    const tg = row(d, 'chat:telegram');
    assert.equal(tg?.status, 'error');
    assert.match(tg?.message ?? '', new RegExp(`^telegram: cannot reach ${tgRoot}: .*ECONNREFUSED`));
    assert.equal(tg?.fix, 'check the network (proxy, firewall) or telegram_bot.api_root');
    const dc = row(d, 'chat:discord');
    assert.equal(dc?.status, 'error');
    assert.match(dc?.message ?? '', new RegExp(`^discord: cannot reach ${dcRoot}: .*ECONNREFUSED`));
    assert.equal(dc?.fix, 'check the network (proxy, firewall) or discord_bot.api_root');
    const text = await runCar(['doctor'], { cwd: repo.dir, env });
    assert.equal(text.code, 1);
    assert.match(text.stdout, new RegExp(`^ERROR: telegram: cannot reach ${tgRoot}: `, 'm'));
    assertNoToken([text.stdout, text.stderr, json.stdout, json.stderr], [telegram.token, discord.token]);
    // the rows name ECONNREFUSED, not a timeout: the probes did not wait out their bound, and the refusal
    // comes well within it. Timed in-process, probe by probe: a whole doctor run is node start-up and
    // every other check too, seconds on a loaded machine before any probe starts
    for (const [probe, root] of [
      [probeTelegram, tgRoot],
      [probeDiscord, dcRoot],
    ] as const) {
      const started = Date.now();
      const r = await probe({ token: '123456:SECRET-token-value', apiRoot: root });
      const took = Date.now() - started;
      assert.match(r.kind === 'unreachable' ? r.cause : JSON.stringify(r), /ECONNREFUSED/);
      assert.ok(took < PROBE_TIMEOUT_MS, `a probe of a closed port took ${took} ms`);
    }
  });
});

describe('chat probes', () => {
  let silent: Server;
  let silentRoot: string;
  const sockets = new Set<Socket>();
  before(async () => {
    // accepts connections and never answers: the request hangs until the probe's bound
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentRoot = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  for (const [name, probe] of [
    ['telegram', probeTelegram],
    ['discord', probeDiscord],
  ] as const) {
    test(`${name}: an api_root that never answers is unreachable after the bound`, async () => {
      const started = Date.now();
      const r = await probe({ token: '123456:SECRET-token-value', apiRoot: silentRoot, timeoutMs: 300 });
      const took = Date.now() - started;
      assert.deepEqual(r, { kind: 'unreachable', cause: 'no answer within 0.3 s' });
      assert.ok(took >= 250 && took < 2000, `took ${took} ms`);
    });
  }

  test('an api_root that answers, but not as the platform: not_api / not a Discord error, no token', async () => {
    const { createServer: createHttp } = await import('node:http');
    // a captive portal: HTML for every path, 200 at the root's paths, 404 below /missing
    const html = createHttp((req, res) => {
      res.writeHead(req.url?.startsWith('/missing') ? 404 : 200, { 'content-type': 'text/html' });
      res.end('<html>captive portal</html>');
    });
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    try {
      const root = `http://127.0.0.1:${(html.address() as { port: number }).port}`;
      const token = '123456:SECRET-token-value';
      const results = {
        telegram: await probeTelegram({ token, apiRoot: root }),
        discord: await probeDiscord({ token, apiRoot: root }),
        discord404: await probeDiscord({ token, apiRoot: `${root}/missing` }),
      };
      assert.deepEqual(results, {
        telegram: { kind: 'not_api', detail: 'the answer is not JSON' },
        discord: { kind: 'not_api', detail: 'the answer is not a Discord user' },
        discord404: { kind: 'refused', status: 404, description: 'not a Discord API error' },
      });
    } finally {
      html.closeAllConnections();
      await new Promise<void>((r) => html.close(() => r()));
    }
  });
});
