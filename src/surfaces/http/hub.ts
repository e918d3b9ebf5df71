// /api/hub: the hub view when `car serve` runs at a hub root (config.yml says `mode: hub`).
//
//   GET  /api/hub/repos        every repo's latest run, worker (alive/stale/none), tickets; same JSON as
//                              `car hub status --json` (with a postgres hub queue, `queue`: its jobs and
//                              the worker and host working each)
//   GET  /api/hub/repos/:id    one repo
//   POST /api/hub/scan         `car hub scan`
//   GET  /api/hub/git          each checkout's git state: branch, upstream, ahead/behind, uncommitted files
//                              (one `git status` per checkout, one at a time, at most every GIT_TTL_MS)
//
// The listing is the hot path (CAR#1367: 7-30 s): the status reader stays open for the server's life,
// so store connections and parsed tickets are reused between requests; repos are read one per step
// (StepRunner), so a large hub does not hold up other requests.

import { existsSync } from 'node:fs';
import { Hono } from 'hono';
import { ConfigError } from '../../core/config/index.ts';
import { ManifestError, repoDir } from '../../core/hub/manifest.ts';
import { isHubRoot } from '../../core/hub/paths.ts';
import { type Hub, HubError, scanHub } from '../../core/hub/registry.ts';
import { type HubRepoStatus, HubStatusReader } from '../../core/hub/status.ts';
import { type GitState, gitState } from '../../integrations/git/work.ts';
import { QueueReader } from '../hub-queue-report.ts';
import { hubReport, openHubAt } from '../hub-report.ts';
import { type Answer, jsonAnswer, sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';
import { ManifestFile } from './repo-mounts.ts';

export interface HubRoutes {
  routes: Hono;
  /** The hub's manifest, re-read when its file changes. */
  manifest: ManifestFile;
  close(): void;
}

export function hubRoutes(ctx: ApiContext): HubRoutes {
  const reader = new HubStatusReader();
  const queueReader = new QueueReader();
  let hub: Hub | null = null;
  const currentHub = (): Hub => {
    if (!isHubRoot(ctx.paths.root)) {
      throw new ApiError(404, 'not_a_hub', `${ctx.paths.root} is not a hub (car init --mode hub)`);
    }
    // settings come from the same config files the context watches; re-open when they changed
    const settings = ctx.loaded();
    if (!hub || hubSettingsStamp.get(hub) !== settings) {
      try {
        hub = openHubAt(ctx.paths.root, ctx.env);
      } catch (err) {
        if (err instanceof ConfigError) throw new ApiError(500, 'config_invalid', err.message);
        throw err;
      }
      hubSettingsStamp.set(hub, settings);
    }
    return hub;
  };
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ManifestError) throw new ApiError(500, 'manifest_invalid', err.message);
      throw err;
    }
  };

  const manifestFile = new ManifestFile(() => currentHub().paths.manifestFile);

  const readReport = async () => {
    const hub = currentHub();
    const manifest = guard(() => manifestFile.current());
    const repos: HubRepoStatus[] = [];
    await ctx.steps.drive(
      (function* () {
        for (const entry of manifest.repos) {
          repos.push(reader.repo(hub.root, entry));
          yield;
        }
      })(),
    );
    const report = hubReport(hub, manifest, repos);
    const queue = await queueReader.read(hub, ctx.env);
    return queue ? { ...report, queue } : report;
  };

  // git status walks each work tree: the answer is made at most every GIT_TTL_MS, however many ask
  let git: { at: number; answer: Promise<Answer> } | null = null;
  const readGit = async (): Promise<Answer> => {
    const hub = currentHub();
    const manifest = guard(() => manifestFile.current());
    const repos: { id: string; git: GitState | null; error?: string }[] = [];
    for (const entry of manifest.repos) {
      const dir = repoDir(hub.root, entry);
      if (!existsSync(dir)) {
        repos.push({ id: entry.id, git: null, error: `${dir} does not exist` });
        continue;
      }
      try {
        repos.push({ id: entry.id, git: await gitState(dir) });
      } catch (err) {
        repos.push({ id: entry.id, git: null, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return jsonAnswer({ generated_at: new Date().toISOString(), repos });
  };

  const routes = new Hono();
  routes.get('/repos', async (c) => c.json(await readReport()));
  routes.get('/git', async (c) => {
    const now = Date.now();
    if (!git || now - git.at >= GIT_TTL_MS) {
      const made = { at: now, answer: readGit() };
      git = made;
      made.answer.catch(() => {
        if (git === made) git = null;
      });
    }
    return sendAnswer(c, await git.answer);
  });
  routes.get('/repos/:id', async (c) => {
    const report = await readReport();
    const repo = report.repos.find((r) => r.id === c.req.param('id'));
    if (!repo) throw new ApiError(404, 'not_found', `no repo ${c.req.param('id')} in the hub`);
    return c.json(repo);
  });
  routes.post('/scan', async (c) => {
    try {
      return c.json(await scanHub(currentHub()));
    } catch (err) {
      if (err instanceof HubError) throw new ApiError(err.code === 'busy' ? 409 : 400, err.code, err.message);
      if (err instanceof ManifestError) throw new ApiError(500, 'manifest_invalid', err.message);
      throw err;
    }
  });
  return {
    routes,
    manifest: manifestFile,
    close: () => {
      reader.close();
      void queueReader.close();
    },
  };
}

/** How long a hub's git states are reused. */
const GIT_TTL_MS = 10_000;

/** Which loaded config a Hub was opened with (ctx.loaded() returns a new object after a config change). */
const hubSettingsStamp = new WeakMap<Hub, object>();
