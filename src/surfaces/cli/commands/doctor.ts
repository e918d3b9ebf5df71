import { accessSync, constants } from 'node:fs';
import { readGroupLedger } from '../../../agents/group-ledger.ts';
import type { LoadedConfig } from '../../../core/config/index.ts';
import { knownAgentIds } from '../../../core/config/index.ts';
import { readLock } from '../../../core/lock.ts';
import { findRepoRoot, type RepoPaths, repoPaths } from '../../../core/paths.ts';
import { liveGroupMembers } from '../../../core/proc/group.ts';
import { CAR_OPEN_STATUSES, readCarFlowsDb } from '../../../core/store/car-flows-db.ts';
import { loadTicketQueue } from '../../../core/tickets/index.ts';
import { which } from '../../../core/which.ts';
import { gitVersion } from '../../../integrations/git/index.ts';
import { type GlobalOptions, loadRepoConfig, repoSearchStart } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, painter, printJson } from '../io.ts';

type Status = 'ok' | 'warning' | 'error';
interface Check {
  id: string;
  status: Status;
  message: string;
  fix?: string;
}

const MIN_NODE = [20, 19];

function nodeCheck(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > MIN_NODE[0]! || (major === MIN_NODE[0] && minor >= MIN_NODE[1]!);
  return ok
    ? { id: 'node', status: 'ok', message: `node ${process.version}` }
    : {
        id: 'node',
        status: 'error',
        message: `node ${process.version} is too old`,
        fix: 'install Node >= 20.19',
      };
}

function agentChecks(loaded: LoadedConfig, openAgents: Set<string>, env: NodeJS.ProcessEnv): Check[] {
  const checks: Check[] = [];
  for (const [id, agent] of Object.entries(loaded.config.agents)) {
    if (agent.backend === 'demo') {
      checks.push({ id: `agent:${id}`, status: 'ok', message: `${id}: built in (demo agent, no network)` });
      continue;
    }
    const binary = agent.command?.[0] ?? agent.binary ?? id;
    const found = which(binary, env);
    const needed = openAgents.has(id);
    if (found) checks.push({ id: `agent:${id}`, status: 'ok', message: `${id}: ${found}` });
    else {
      checks.push({
        id: `agent:${id}`,
        status: needed ? 'error' : 'warning',
        message: `${id}: \`${binary}\` not found on PATH${needed ? ' (open tickets use it)' : ''}`,
        fix: `install ${binary}, or set agents.${id}.binary in .codex-autorunner/config.yml`,
      });
    }
  }
  for (const [id, agent] of Object.entries(loaded.config.agents)) {
    const fallback = agent.quota_fallback;
    if (fallback !== undefined && (fallback === id || !(fallback in loaded.config.agents))) {
      checks.push({
        id: `agent:${id}:quota_fallback`,
        status: 'error',
        message: `agents.${id}.quota_fallback is "${fallback}", ${fallback === id ? 'the agent itself' : 'which is not configured'}`,
        fix: `name another configured agent in agents.${id}.quota_fallback`,
      });
    }
  }
  for (const id of openAgents) {
    if (id !== 'user' && !(id in loaded.config.agents)) {
      checks.push({
        id: `agent:${id}`,
        status: 'error',
        message: `open tickets use agent "${id}", which is not configured`,
      });
    }
  }
  return checks;
}

/** Keys a config sets that car accepts (CAR's files must load) but does not act on. */
function ignoredKeyChecks(loaded: LoadedConfig): Check[] {
  return loaded.ignored.map(
    (s): Check => ({
      id: `config:ignored:${s.key}`,
      status: 'warning',
      message: `accepted for CAR compatibility but ignored: ${s.key} (set by ${s.source}): ${s.why}`,
      fix: `remove ${s.key} unless CAR reads this config too`,
    }),
  );
}

/** CAR's run history in a repo CAR worked: car reads it for this report only and never imports it. */
function carFlowsDbCheck(root: string): Check | null {
  const car = readCarFlowsDb(root);
  if (!car) return null;
  const id = 'car_flows_db';
  if (car.error) {
    return {
      id,
      status: 'warning',
      message: `CAR's run history ${car.file} cannot be read (${car.error}); car does not need it`,
    };
  }
  const latest = car.latest;
  const what = `${car.file}: ${car.ticket_flow_runs} ticket_flow run(s)${latest ? `, the latest ${latest.run_id} ${latest.status}` : ''}`;
  if (latest && CAR_OPEN_STATUSES.has(latest.status)) {
    return {
      id,
      status: 'warning',
      message: `CAR's run history (${what}) is not imported, and car does not continue CAR's runs: its dispatch and replies stay in CAR's files`,
      fix: "stop CAR's worker if it still runs (CAR's own .codex-autorunner/bin/car ticket-flow stop); car run starts a car run from the first open ticket",
    };
  }
  return {
    id,
    status: 'ok',
    message: `CAR's run history (${what}) is not imported: car keeps its own runs in car.db`,
  };
}

/** Agent processes a killed worker left running (its ledger outlived it), still editing the repo. */
function orphanCheck(paths: RepoPaths): Check {
  const ledger = readGroupLedger(paths.agentGroupsFile);
  const live = (ledger?.groups ?? []).filter((g) => liveGroupMembers(g.pgid).length > 0);
  if (live.length === 0)
    return { id: 'agents_running', status: 'ok', message: 'no agent processes left over' };
  const holder = readLock(paths.lockFile);
  const list = live.map((g) => `${g.command} (process group ${g.pgid})`).join(', ');
  if (holder && !holder.stale && holder.holder?.pid === ledger?.owner_pid) {
    return { id: 'agents_running', status: 'ok', message: `worker pid ${ledger?.owner_pid} runs ${list}` };
  }
  return {
    id: 'agents_running',
    status: 'warning',
    message: `${list} still running, left by a worker that is gone`,
    fix: 'car flow stop (or the next car run / car flow start) stops them',
  };
}

type ChatPlatform = 'telegram' | 'discord';

const CHAT = {
  telegram: {
    section: 'telegram_bot',
    api: 'the Telegram Bot API',
    tokenFrom: 'token from @BotFather',
    newToken: 'get the current token from @BotFather (/token) and export',
  },
  discord: {
    section: 'discord_bot',
    api: 'the Discord API',
    tokenFrom: 'bot token from the Discord Developer Portal, Bot page',
    newToken: 'reset the token in the Discord Developer Portal (Bot page) and export',
  },
} as const;

/**
 * Each enabled chat bot: its token is set, and one bounded request (Telegram getMe, Discord GET
 * /users/@me) reaches api_root and is answered with the bot's identity. The token is never printed.
 */
async function chatChecks(loaded: LoadedConfig, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const platforms = (['telegram', 'discord'] as const).filter((p) => loaded.config[CHAT[p].section].enabled);
  if (platforms.length === 0) return [];
  // grammY and @discordjs/rest load only when a bot is configured
  const probe = await import('../../../integrations/chat/probe.ts');
  return Promise.all(
    platforms.map(async (platform: ChatPlatform): Promise<Check> => {
      const { section, api, tokenFrom, newToken } = CHAT[platform];
      const { bot_token_env: envName, api_root: apiRoot } = loaded.config[section];
      const id = `chat:${platform}`;
      const token = env[envName]?.trim();
      if (!token) {
        return {
          id,
          status: 'error',
          message: `${platform}: no bot token: $${envName} is not set (${section}.bot_token_env)`,
          fix: `export ${envName}=<${tokenFrom}>`,
        };
      }
      const run = platform === 'telegram' ? probe.probeTelegram : probe.probeDiscord;
      const r = await run({ token, apiRoot });
      if (r.kind === 'ok') return { id, status: 'ok', message: `${platform}: @${r.username} via ${apiRoot}` };
      if (r.kind === 'unreachable') {
        return {
          id,
          status: 'error',
          message: `${platform}: cannot reach ${apiRoot}: ${r.cause}`,
          fix: `check the network (proxy, firewall) or ${section}.api_root`,
        };
      }
      if (r.kind === 'not_api') {
        return {
          id,
          status: 'error',
          message: `${platform}: ${apiRoot} answered, but not as ${api} (${r.detail})`,
          fix: `check ${section}.api_root`,
        };
      }
      if (r.status === 401) {
        return {
          id,
          status: 'error',
          message: `${platform}: the platform refused the token in $${envName} (401 Unauthorized)`,
          fix: `${newToken} ${envName}=<token>`,
        };
      }
      return {
        id,
        status: 'error',
        message: `${platform}: ${apiRoot} answered ${r.status} (${r.description})`,
        fix:
          platform === 'telegram' && r.status === 404
            ? `check the token in $${envName} (a malformed one gets 404) and ${section}.api_root`
            : `check ${section}.api_root and the token in $${envName}`,
      };
    }),
  );
}

export async function doctorCommand(
  io: CliIo,
  global: GlobalOptions,
  opts: { json?: boolean },
): Promise<void> {
  const checks: Check[] = [nodeCheck()];
  const git = await gitVersion();
  checks.push(
    git
      ? { id: 'git', status: 'ok', message: git }
      : { id: 'git', status: 'error', message: 'git not found on PATH', fix: 'install git' },
  );

  const start = repoSearchStart(io, global);
  const found = findRepoRoot(start);
  if (!found) {
    checks.push({
      id: 'repo',
      status: 'error',
      message: `not inside a git repo: ${start}`,
      fix: 'cd into a git repo',
    });
  } else {
    checks.push({
      id: 'repo',
      status: found.git ? 'ok' : 'warning',
      message: `repo ${found.root}${found.git ? '' : ' (no .git)'}`,
    });
    if (!found.initialized) {
      checks.push({ id: 'init', status: 'error', message: 'car is not initialized here', fix: 'car init' });
    } else {
      const paths = repoPaths(found.root);
      try {
        accessSync(paths.stateDir, constants.W_OK);
        checks.push({ id: 'state_dir', status: 'ok', message: `${paths.stateDir} is writable` });
      } catch {
        checks.push({ id: 'state_dir', status: 'error', message: `${paths.stateDir} is not writable` });
      }
      let loaded: LoadedConfig | null = null;
      try {
        loaded = await loadRepoConfig(io, found.root);
        const layers = loaded.sources.filter((s) => s.present).map((s) => s.file ?? s.layer);
        checks.push({ id: 'config', status: 'ok', message: `config valid (${layers.join(', ')})` });
        checks.push(...ignoredKeyChecks(loaded));
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        checks.push({ id: 'config', status: 'error', message: err.message });
      }
      if (loaded) {
        const queue = loadTicketQueue(paths.ticketsDir, {
          repoRoot: found.root,
          agents: knownAgentIds(loaded.config),
        });
        const issues = [...queue.issues, ...queue.tickets.flatMap((t) => t.issues)];
        const errors = issues.filter((i) => i.severity === 'error').length;
        const open = queue.tickets.filter((t) => !t.isDone);
        checks.push({
          id: 'tickets',
          status: errors > 0 ? 'error' : issues.length > 0 ? 'warning' : 'ok',
          message: `${queue.tickets.length} tickets, ${open.length} open, ${errors} lint error(s), ${issues.length - errors} warning(s)`,
          ...(issues.length > 0 ? { fix: 'car ticket lint' } : {}),
        });
        const openAgents = new Set(
          open.map((t) => t.agent).filter((a): a is string => typeof a === 'string'),
        );
        checks.push(...agentChecks(loaded, openAgents, io.env));
        checks.push(...(await chatChecks(loaded, io.env)));
      }
      checks.push(orphanCheck(paths));
      const car = carFlowsDbCheck(found.root);
      if (car) checks.push(car);
    }
  }

  const ok = !checks.some((c) => c.status === 'error');
  if (opts.json) printJson(io, { ok, checks });
  else {
    const paint = painter(io);
    const label = {
      ok: paint('green', 'OK'),
      warning: paint('yellow', 'WARN'),
      error: paint('red', 'ERROR'),
    };
    for (const c of checks) io.stdout(`${label[c.status]}: ${c.message}${c.fix ? ` (fix: ${c.fix})` : ''}\n`);
  }
  if (!ok) throw new CliError(opts.json ? '' : 'doctor found errors', EXIT.failed);
}
