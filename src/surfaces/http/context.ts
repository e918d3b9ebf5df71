// What every route shares: the repo's paths, its config (re-read when a config file changes), the flow
// control plane with its open run store and the launcher its runs' workers start through, the ticket
// queue kept up to date between requests, and the runner that slices long work.
import { statSync } from 'node:fs';
import { agentProcessPort } from '../../agents/orphans.ts';
import { FlowControl, type WorkerLauncher } from '../../control/flow-control.ts';
import { ConfigError, knownAgentIds, type LoadedConfig, loadConfig } from '../../core/config/index.ts';
import { type RepoPaths, repoPaths } from '../../core/paths.ts';
import { createRepoState } from '../../integrations/git/index.ts';
import { ApiError } from './errors.ts';
import { StepRunner } from './step-runner.ts';
import { TicketListing } from './ticket-listing.ts';

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
  /** Runs work that grows with the repo in slices, between requests. */
  readonly steps = new StepRunner();
  /** The ticket queue, parsed files reused while their stat stamps are unchanged. */
  readonly tickets: TicketListing;
  #loaded: LoadedConfig;
  #stamp: string;
  #control: FlowControl | null = null;

  constructor(root: string, env: NodeJS.ProcessEnv, launcher: WorkerLauncher) {
    this.paths = repoPaths(root);
    this.env = env;
    this.#launcher = launcher;
    this.#loaded = loadConfig(root, env);
    this.#stamp = stampOf(this.#loaded);
    this.tickets = new TicketListing(this.paths, this.steps, () => knownAgentIds(this.loaded().config));
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
    this.tickets.close();
    this.steps.close();
    this.#control?.close();
    this.#control = null;
  }
}
