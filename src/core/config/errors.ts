/** One thing wrong with the config: where it came from (file or env var), where in the tree, and what. */
export interface ConfigProblem {
  /** Repo-relative config file (`.codex-autorunner/config.yml`) or the environment variable's name. */
  file: string;
  /** Dotted key path (`ticket_flow.max_total_turns`, `app_server.command[1]`); '' for the whole file. */
  keyPath: string;
  message: string;
  /** 1-based position, for YAML syntax errors. */
  line?: number;
  col?: number;
}

/** Renders a problem as `<file>[:line:col]: [<keyPath> ]<message>`. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.col ?? 1}`;
  return p.keyPath ? `${where}: ${p.keyPath} ${p.message}` : `${where}: ${p.message}`;
}

/** Invalid configuration. `file`/`keyPath` are the first problem's; `problems` lists all of them. */
export class ConfigError extends Error {
  readonly file: string;
  readonly keyPath: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    if (!first) throw new TypeError('ConfigError needs at least one problem');
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.file = first.file;
    this.keyPath = first.keyPath;
    this.problems = problems;
  }
}
