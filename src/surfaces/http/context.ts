// What every route shares: the repo's paths, its config (re-read when a config file changes), and the
// flow control plane with its open run store and the launcher its runs' workers start through.
import { statSync } from 'node:fs';
import { agentProcessPort } from '../../agents/orphans.ts';
import { FlowControl, type WorkerLauncher } from '../../control/flow-control.ts';
import { ConfigError, type LoadedConfig, loadConfig } from '../../core/config/index.ts';
import { type RepoPaths, repoPaths } from '../../core/paths.ts';
import type { TicketCache } from '../../core/tickets/index.ts';
import { createRepoState } from '../../integrations/git/index.ts';
import { ApiError } from './errors.ts';

function stampOf(loaded: LoadedConfig): string {
  return loaded.sources
    .filter((s) => s.file !== undefined)
    .map((s) => {
      try {
        const st = statSync(s.file!);
        return `${st.mtimeMs}:${st.size}:${st.ino}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

export class ApiContext {
  readonly paths: RepoPaths;
  readonly env: NodeJS.ProcessEnv;
  readonly #launcher: WorkerLauncher;
  /** Parsed tickets reused while a file's stat stamp is unchanged; keyed by the agent set. */
  readonly ticketCaches = new Map<string, TicketCache>();
  #loaded: LoadedConfig;
  #stamp: string;
  #control: FlowControl | null = null;

  constructor(root: string, env: NodeJS.ProcessEnv, launcher: WorkerLauncher) {
    this.paths = repoPaths(root);
    this.env = env;
    this.#launcher = launcher;
    this.#loaded = loadConfig(root, env);
    this.#stamp = stampOf(this.#loaded);
  }

  /** The repo's config, re-read when one of its files changed since the last request. */
  loaded(): LoadedConfig {
    const probe = stampOf(this.#loaded);
    if (probe !== this.#stamp) {
      try {
        this.#loaded = loadConfig(this.paths.root, this.env);
      } catch (err) {
        if (err instanceof ConfigError) throw new ApiError(500, 'config_invalid', err.message);
        throw err;
      }
      this.#stamp = stampOf(this.#loaded);
    }
    return this.#loaded;
  }

  /**
   * The control plane, opened on first use with the config of that moment (runs read their settings
   * from the worker's own config; the server only creates, steers and reads runs).
   */
  control(): FlowControl {
    if (!this.#control) {
      this.#control = new FlowControl(this.paths, this.loaded().config, createRepoState(this.paths.root), {
        agentProcesses: agentProcessPort,
        launcher: this.#launcher,
      });
    }
    return this.#control;
  }

  close(): void {
    this.#control?.close();
    this.#control = null;
  }
}
