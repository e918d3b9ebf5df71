// Where a repo's templates come from: its own `.codex-autorunner/templates/` (`local:`), its hub's
// (`hub:`), and the template repos of `templates.repos`, read from the hub's config for a repo in a hub
// (as CAR) and from the repo's own config otherwise. Mirrors and pins live under the hub's
// `.codex-autorunner/templates/`, or `~/.codex-autorunner/templates/` for a repo outside a hub.
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { findHubRoot } from '../../core/hub/paths.ts';
import { STATE_DIR } from '../../core/paths.ts';
import { TemplateError, type TemplateSource } from '../../core/templates/catalog.ts';
import { readTemplatesSettings, type TemplatesSettings } from '../../core/templates/config.ts';
import { folderSource } from '../../core/templates/folder.ts';
import { HUB_SOURCE, LOCAL_SOURCE, type TemplateRef } from '../../core/templates/ref.ts';
import { gitSource, type TemplateCache } from './git-source.ts';

export interface TemplatesContext {
  /** The config file whose `templates.repos` lists the template repos. */
  configFile: string;
  settings: TemplatesSettings;
  cache: TemplateCache;
  repoTemplatesDir: string;
  hubTemplatesDir: string | null;
}

export function templatesContext(repoRoot: string, env: NodeJS.ProcessEnv): TemplatesContext {
  const parent = dirname(repoRoot);
  const hubRoot = parent === repoRoot ? null : findHubRoot(parent, env);
  const home = env.HOME || homedir();
  const configFile = join(hubRoot ?? repoRoot, STATE_DIR, 'config.yml');
  return {
    configFile,
    settings: readTemplatesSettings(configFile),
    cache: { dir: hubRoot ? join(hubRoot, STATE_DIR, 'templates') : join(home, STATE_DIR, 'templates') },
    repoTemplatesDir: join(repoRoot, STATE_DIR, 'templates'),
    hubTemplatesDir: hubRoot ? join(hubRoot, STATE_DIR, 'templates') : null,
  };
}

/** Every source, folders first; a disabled `templates:` section leaves the folders only. */
export async function allSources(ctx: TemplatesContext): Promise<TemplateSource[]> {
  const sources = [folderSource(LOCAL_SOURCE, ctx.repoTemplatesDir)];
  if (ctx.hubTemplatesDir) sources.push(folderSource(HUB_SOURCE, ctx.hubTemplatesDir));
  if (!ctx.settings.enabled) return sources;
  for (const repo of ctx.settings.repos) sources.push(await gitSource(ctx.cache, repo));
  return sources;
}

/** The source a reference names (at its `@ref` for a git source). */
export async function sourceFor(ctx: TemplatesContext, ref: TemplateRef): Promise<TemplateSource> {
  if (ref.source === LOCAL_SOURCE) return folderSource(LOCAL_SOURCE, ctx.repoTemplatesDir);
  if (ref.source === HUB_SOURCE) {
    if (!ctx.hubTemplatesDir) throw new TemplateError('not_found', 'hub: this repo is not in a hub');
    return folderSource(HUB_SOURCE, ctx.hubTemplatesDir);
  }
  const repo = ctx.settings.repos.find((r) => r.id === ref.source);
  if (!repo || !ctx.settings.enabled)
    throw new TemplateError(
      'not_found',
      `no template source "${ref.source}" (sources: ${[LOCAL_SOURCE, ...(ctx.hubTemplatesDir ? [HUB_SOURCE] : []), ...(ctx.settings.enabled ? ctx.settings.repos.map((r) => r.id) : [])].join(', ')})`,
    );
  const source = await gitSource(ctx.cache, repo, ref.ref);
  if (source.commit === null)
    throw new TemplateError('not_fetched', `${repo.id}: not fetched yet (car templates fetch ${repo.id})`);
  return source;
}
