// What the CLI (`car hub status|list`) and the HTTP API (`GET /api/hub/repos`) report about a hub: one
// JSON shape for both, and the one place the hub is wired to the git adapter.
import { readFileSync } from 'node:fs';
import { loadHubConfig } from '../core/hub/config.ts';
import { type Manifest, readManifest } from '../core/hub/manifest.ts';
import { type Hub, openHub } from '../core/hub/registry.ts';
import { type HubRepoStatus, type HubStatusReader, summarize } from '../core/hub/status.ts';
import { readLock } from '../core/lock.ts';
import { createHubGit } from '../integrations/git/worktree.ts';

/** The hub at `root` with its settings and the git adapter (throws ConfigError on bad settings). */
export function openHubAt(root: string, env: NodeJS.ProcessEnv): Hub {
  return openHub(root, loadHubConfig(root, env).hub, createHubGit());
}

/** The supervisor's last state file, with whether it is still running. */
export function supervisorReport(hub: Hub): Record<string, unknown> | null {
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(readFileSync(hub.paths.supervisorFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  const lock = readLock(hub.paths.supervisorLock);
  return { ...state, alive: lock !== null && !lock.stale && lock.holder?.pid === state.pid };
}

/** Every registered repo's latest run, worker and tickets, plus counts by state and the supervisor. */
export function hubStatusReport(hub: Hub, reader: HubStatusReader) {
  const manifest = readManifest(hub.paths.manifestFile);
  return hubReport(hub, manifest, reader.list(hub.root, manifest.repos));
}

/** The report around the statuses of `manifest`'s repos, read by the caller. */
export function hubReport(hub: Hub, manifest: Manifest, repos: HubRepoStatus[]) {
  return {
    hub_root: hub.root,
    generated_at: new Date().toISOString(),
    summary: { repos: repos.length, ...summarize(repos) },
    // CAR's `hub repos --json` names a repo's id and state `repo_id` and `status`
    repos: repos.map((r) => ({ repo_id: r.id, status: r.state, ...r })),
    supervisor: supervisorReport(hub),
    manifest_issues: manifest.issues,
  };
}
