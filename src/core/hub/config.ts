// Hub settings: the `hub:` section of the hub root's layered config (CAR's DEFAULT_HUB_CONFIG keys,
// plus car's supervisor caps and worktree set-up). The repo config schema keeps unknown sections, so
// this section is validated here, with the same "key path + message" errors.
import * as z from 'zod';
import { type CarConfig, ConfigError, type LoadedConfig, loadConfig } from '../config/index.ts';

const str = () => z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const positiveInt = () =>
  z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' });

const HubSection = z
  .looseObject(
    {
      /** Where `car hub scan` looks for repos (CAR's default is "."; car keeps repos under `repos/`). */
      repos_root: str().default('repos'),
      /** Where `car worktree new` puts worktrees; also scanned. */
      worktrees_root: str().default('worktrees'),
      manifest: str().default('.codex-autorunner/manifest.yml'),
      /** How deep under each root scan looks for a `.git` (1 = direct children). */
      discover_depth: z.int({ error: 'must be an integer 1-5' }).min(1).max(5).default(1),
      /** Create `.codex-autorunner/` in scanned or added repos that lack it. */
      auto_init_missing: z.boolean({ error: 'must be boolean' }).default(true),
      /** Supervisor: at most this many flows at once across the hub. */
      max_parallel: positiveInt().default(4),
      /** Supervisor: at most this many flows at once per base repo (its worktrees included). */
      per_repo: positiveInt().default(1),
      /** Supervisor: seconds between checks. */
      poll_seconds: z.number({ error: 'must be a number' }).positive().default(3),
      /**
       * Supervisor admission control: no new worker while the 1-minute load per core is over
       * max_load_per_core or less memory than min_available_memory_mb is available (null: no limit).
       * Running workers are never stopped.
       */
      admission: z
        .looseObject({
          max_load_per_core: z
            .number({ error: 'must be a number or null' })
            .positive({ error: 'must be positive' })
            .nullable()
            .default(2),
          min_available_memory_mb: z
            .number({ error: 'must be a number or null' })
            .nonnegative({ error: 'must not be negative' })
            .nullable()
            .default(512),
        })
        .prefault({}),
      /**
       * Where `car hub run` puts runnable repos: `sqlite` (default) starts local workers; `postgres` enqueues
       * one job per repo in PostgreSQL for `car worker --hub-queue` processes on any machine. The database
       * URL is read from the environment variable `url_env` names, never from a file.
       */
      queue: z
        .looseObject({
          kind: z.enum(['sqlite', 'postgres'], { error: 'must be sqlite or postgres' }).default('sqlite'),
          url_env: z
            .string({ error: 'must be an environment variable name' })
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
            .default('CAR_PG_URL'),
          /** A worker that has not heartbeated for this long loses its job to another worker. */
          lease_seconds: z.int({ error: 'must be an integer of seconds' }).min(2).max(3600).default(30),
          /** How often a worker extends its lease (and mirrors its run to the database). */
          heartbeat_seconds: z.number({ error: 'must be a number of seconds' }).positive().default(5),
        })
        .refine((q) => q.heartbeat_seconds * 2 <= q.lease_seconds, {
          error: 'must be at most half of hub.queue.lease_seconds',
          path: ['heartbeat_seconds'],
        })
        .prefault({}),
      /** What `car worktree new` does after `git worktree add`. */
      worktree_setup: z
        .looseObject({
          /**
           * Git-ignored folders (repo-relative) to symlink from the base checkout instead of rebuilding,
           * e.g. [node_modules]. Only linked when present in the base and absent in the worktree.
           */
          symlink: z.array(str(), { error: 'must be a list of paths' }).default([]),
          /**
           * `git config --worktree gc.auto 0` in the new worktree: agents commit often, and an automatic
           * gc in one worktree of a shared object store can race another's commit (cline/kanban#424).
           */
          disable_auto_gc: z.boolean({ error: 'must be boolean' }).default(true),
        })
        .prefault({}),
    },
    { error: 'must be a mapping' },
  )
  .prefault({});

export type HubSettings = z.output<typeof HubSection>;

/** The `hub:` settings of a loaded config; a bad value is a ConfigError naming the file it came from. */
export function hubSettingsFrom({ config, origin }: Pick<LoadedConfig, 'config' | 'origin'>): HubSettings {
  const raw = (config as Record<string, unknown>).hub;
  const result = HubSection.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const path = ['hub', ...issue.path.map(String)];
      return { file: origin(path), keyPath: path.join('.'), message: issue.message };
    }),
  );
}

export interface LoadedHub {
  config: CarConfig;
  hub: HubSettings;
}

/** The hub root's layered config and its `hub:` settings (throws ConfigError). */
export function loadHubConfig(hubRoot: string, env: NodeJS.ProcessEnv = process.env): LoadedHub {
  const loaded = loadConfig(hubRoot, env);
  return { config: loaded.config, hub: hubSettingsFrom(loaded) };
}
