// `car templates list|show|search|apply|fetch` and `car templates repos list|add|remove|trust|untrust`:
// ticket templates from the repo's and the hub's `.codex-autorunner/templates/` and from template repos
// (git URLs or local paths, mirrored and pinned to a commit; `fetch` moves the pin).
import { resolve } from 'node:path';
import { defaultAgentId, knownAgentIds } from '../../../core/config/index.ts';
import {
  type LoadedTemplate,
  listTemplates,
  loadTemplate,
  TemplateError,
  type TemplateInfo,
} from '../../../core/templates/catalog.ts';
import {
  editTemplateRepos,
  type TemplateRepo,
  TemplatesConfigError,
} from '../../../core/templates/config.ts';
import {
  parseTemplateRef,
  RESERVED_SOURCE_IDS,
  SOURCE_ID_RE,
  TemplateRefError,
} from '../../../core/templates/ref.ts';
import { parseAssignments, TemplateRenderError } from '../../../core/templates/render.ts';
import { TicketCreateError, TicketEditError } from '../../../core/tickets/index.ts';
import { applyTemplate } from '../../../integrations/templates/apply.ts';
import { fetchTemplateRepo, forgetTemplateRepo, pinOf } from '../../../integrations/templates/git-source.ts';
import {
  allSources,
  sourceFor,
  type TemplatesContext,
  templatesContext,
} from '../../../integrations/templates/sources.ts';
import { type GlobalOptions, loadRepoConfig, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

interface JsonFlag {
  json?: boolean;
}

const EXIT_FOR: Record<string, number> = {
  not_found: EXIT.usage,
  not_fetched: EXIT.usage,
  untrusted: EXIT.usage,
  refused: EXIT.invalidInput,
  fetch_failed: EXIT.failed,
};

/** Runs `fn`, turning the templates layer's errors into CLI errors with their exit codes. */
export async function templateErrors<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(err.message, EXIT_FOR[err.code] ?? EXIT.failed);
    if (err instanceof TemplateRefError || err instanceof TemplateRenderError)
      throw new CliError(err.message, EXIT.usage);
    if (err instanceof TemplatesConfigError) throw new CliError(err.message, EXIT.invalidInput);
    if (err instanceof TicketEditError)
      throw new CliError(`template refused: ${err.message}`, EXIT.invalidInput);
    if (err instanceof TicketCreateError)
      throw new CliError(
        err.message,
        err.code === 'no_free_number'
          ? EXIT.conflict
          : err.code === 'unknown_agent'
            ? EXIT.usage
            : EXIT.invalidInput,
      );
    throw err;
  }
}

function context(io: CliIo, global: GlobalOptions) {
  const repo = resolveRepo(io, global);
  return { repo, ctx: templatesContext(repo.paths.root, io.env) };
}

const infoJson = (t: TemplateInfo) => ({
  ref: t.ref,
  source: t.source,
  path: t.path,
  kind: t.kind,
  name: t.name,
  summary: t.summary,
  trusted: t.trusted,
  files: t.files,
});

function printList(io: CliIo, templates: TemplateInfo[], notes: string[], json?: boolean): void {
  if (json) {
    printJson(io, { templates: templates.map(infoJson), notes });
    return;
  }
  if (templates.length === 0) io.stdout('no templates\n');
  else {
    const rows = [['REF', 'KIND', 'TRUSTED', 'SUMMARY']];
    for (const t of templates)
      rows.push([
        t.ref,
        t.kind === 'pack' ? `pack(${t.files.length})` : 'ticket',
        t.trusted ? 'yes' : 'no',
        t.summary,
      ]);
    io.stdout(`${formatTable(rows)}\n`);
  }
  for (const note of notes) io.stdout(`note: ${note}\n`);
}

export async function templatesList(io: CliIo, global: GlobalOptions, opts: JsonFlag): Promise<void> {
  const { ctx } = context(io, global);
  const { templates, notes } = await templateErrors(async () => listTemplates(await allSources(ctx)));
  printList(io, templates, notes, opts.json);
}

export async function templatesSearch(
  io: CliIo,
  global: GlobalOptions,
  query: string,
  opts: JsonFlag,
): Promise<void> {
  const { ctx } = context(io, global);
  const { templates, notes } = await templateErrors(async () => listTemplates(await allSources(ctx)));
  const q = query.toLowerCase();
  const hits = templates.filter((t) => [t.path, t.name, t.summary].some((s) => s.toLowerCase().includes(q)));
  printList(io, hits, notes, opts.json);
}

async function load(ctx: TemplatesContext, raw: string): Promise<LoadedTemplate> {
  return templateErrors(async () => {
    const ref = parseTemplateRef(raw);
    const source = await sourceFor(ctx, ref);
    return loadTemplate(source, ref.path, ref.ref ?? source.ref);
  });
}

const loadedJson = (t: LoadedTemplate) => ({
  ...infoJson(t),
  commit: t.commit,
  git_ref: t.gitRef,
  variables: t.variables,
  contents: t.contents.map((c) => ({ path: c.path, blob: c.blob, text: c.text })),
});

export async function templatesShow(
  io: CliIo,
  global: GlobalOptions,
  raw: string,
  opts: JsonFlag,
): Promise<void> {
  const { ctx } = context(io, global);
  const t = await load(ctx, raw);
  if (opts.json) {
    printJson(io, loadedJson(t));
    return;
  }
  io.stdout(
    `# ${t.ref} (${t.kind}${t.kind === 'pack' ? `, ${t.contents.length} tickets` : ''}; ${t.trusted ? 'trusted' : 'UNTRUSTED: apply needs --trust'})\n`,
  );
  if (t.commit) io.stdout(`# commit ${t.commit}${t.gitRef ? ` (${t.gitRef})` : ''}\n`);
  if (t.variables.length > 0)
    io.stdout(
      `# variables: ${t.variables.map((v) => (v.default === null ? `${v.name} (required)` : `${v.name}=${v.default}`)).join(', ')}\n`,
    );
  for (const c of t.contents) {
    if (t.kind === 'pack') io.stdout(`\n## ${c.path}\n`);
    io.stdout(c.text.endsWith('\n') ? c.text : `${c.text}\n`);
  }
}

export async function templatesApply(
  io: CliIo,
  global: GlobalOptions,
  raw: string,
  opts: JsonFlag & { set?: string[]; agent?: string; trust?: boolean; suffix?: string },
): Promise<void> {
  const { repo, ctx } = context(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  const agents = knownAgentIds(config);
  if (opts.agent !== undefined && !agents.has(opts.agent.trim().toLowerCase()))
    throw new CliError(
      `--agent ${opts.agent}: unknown agent (configured: ${[...agents].sort().join(', ')})`,
      EXIT.usage,
    );
  const t = await load(ctx, raw);
  const applied = await templateErrors(() =>
    applyTemplate(repo.paths, agents, t, {
      values: parseAssignments(opts.set ?? []),
      agent: opts.agent?.trim().toLowerCase(),
      defaultAgent: defaultAgentId(config),
      trust: opts.trust,
      suffix: opts.suffix,
    }),
  );
  if (opts.json) {
    printJson(io, {
      template: t.ref,
      commit: t.commit,
      created: applied.tickets.map((tk) => tk.relPath),
      agents_replaced: applied.agentsReplaced,
    });
    return;
  }
  for (const r of applied.agentsReplaced)
    io.stdout(
      `${r.file}: ${r.from === null ? 'no agent' : `agent ${JSON.stringify(r.from)} is not a configured agent`}; using ${r.to} (--agent to choose)\n`,
    );
  for (const tk of applied.tickets) io.stdout(`created ${tk.relPath}\n`);
}

export async function templatesFetch(
  io: CliIo,
  global: GlobalOptions,
  target: string | undefined,
  opts: JsonFlag,
): Promise<void> {
  const { ctx } = context(io, global);
  if (!ctx.settings.enabled)
    throw new CliError(`templates are disabled (templates.enabled: false in ${ctx.configFile})`, EXIT.usage);
  // CAR's `templates fetch <ref>`: update that template's repo, then print the template
  const ref = target?.includes(':') ? await templateErrors(() => parseTemplateRef(target)) : null;
  const id = ref ? ref.source : target;
  const repos = id === undefined ? ctx.settings.repos : ctx.settings.repos.filter((r) => r.id === id);
  if (repos.length === 0 && id !== undefined)
    throw new CliError(`no template repo "${id}" (car templates repos list)`, EXIT.usage);
  const fetched = [];
  for (const repo of repos) {
    const before = pinOf(ctx.cache, repo)?.commit ?? null;
    const pin = await templateErrors(() => fetchTemplateRepo(ctx.cache, repo));
    fetched.push({ id: repo.id, ref: pin.ref, commit: pin.commit, previous: before });
    if (!opts.json && !ref)
      io.stdout(
        `${repo.id}: ${pin.ref} at ${pin.commit.slice(0, 12)}${before === null ? ' (pinned)' : before === pin.commit ? ' (unchanged)' : ` (was ${before.slice(0, 12)})`}\n`,
      );
  }
  if (ref) {
    const t = await load(ctx, target!);
    if (opts.json) printJson(io, loadedJson(t));
    else for (const c of t.contents) io.stdout(c.text.endsWith('\n') ? c.text : `${c.text}\n`);
    return;
  }
  if (opts.json) printJson(io, { fetched });
  else if (fetched.length === 0) io.stdout('no template repos (car templates repos add <id> <url>)\n');
}

const repoJson = (ctx: TemplatesContext, r: TemplateRepo) => {
  const pin = pinOf(ctx.cache, r);
  return {
    id: r.id,
    url: r.url,
    trusted: r.trusted,
    default_ref: r.default_ref,
    pinned_commit: pin?.commit ?? null,
    pinned_ref: pin?.ref ?? null,
    fetched_at: pin?.fetched_at ?? null,
  };
};

export async function reposList(io: CliIo, global: GlobalOptions, opts: JsonFlag): Promise<void> {
  const { ctx } = context(io, global);
  const repos = ctx.settings.repos.map((r) => repoJson(ctx, r));
  if (opts.json) {
    printJson(io, {
      config_file: ctx.configFile,
      enabled: ctx.settings.enabled,
      cache: ctx.cache.dir,
      repos,
    });
    return;
  }
  if (repos.length === 0) io.stdout('no template repos\n');
  else {
    const rows = [['ID', 'TRUSTED', 'PINNED', 'URL']];
    for (const r of repos)
      rows.push([
        r.id,
        r.trusted ? 'yes' : 'no',
        r.pinned_commit ? r.pinned_commit.slice(0, 12) : '(not fetched)',
        r.url,
      ]);
    io.stdout(`${formatTable(rows)}\n`);
  }
  io.stdout(`(from ${ctx.configFile}${ctx.settings.enabled ? '' : '; templates.enabled is false'})\n`);
}

export async function reposAdd(
  io: CliIo,
  global: GlobalOptions,
  id: string,
  url: string,
  opts: { trusted?: boolean; defaultRef?: string },
): Promise<void> {
  const { ctx } = context(io, global);
  if (!SOURCE_ID_RE.test(id))
    throw new CliError(`invalid repo id "${id}" (letters, digits, . _ -)`, EXIT.usage);
  if (RESERVED_SOURCE_IDS.includes(id))
    throw new CliError(`"${id}" is reserved for template folders`, EXIT.usage);
  if (url.startsWith('-') || /[\p{C}]/u.test(url))
    throw new CliError(`invalid URL: ${JSON.stringify(url)}`, EXIT.usage);
  // a local path is kept absolute, so it means the same from every repo of the hub
  const isUrl = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url) || /^[^/]+@[^/]+:/.test(url);
  const location = isUrl ? url : resolve(io.cwd, url);
  const ref = opts.defaultRef ?? 'main';
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(ref))
    throw new CliError(`invalid --default-ref ${ref}`, EXIT.usage);
  await templateErrors(() =>
    editTemplateRepos(ctx.configFile, (repos) => {
      if (repos.some((r) => r.id === id))
        throw new CliError(
          `template repo "${id}" already exists (car templates repos remove ${id})`,
          EXIT.usage,
        );
      return [...repos, { id, url: location, trusted: opts.trusted ?? false, default_ref: ref }];
    }),
  );
  io.stdout(
    `added ${id} (${opts.trusted ? 'trusted' : 'untrusted'}) to ${ctx.configFile}; fetch it: car templates fetch ${id}\n`,
  );
}

export async function reposRemove(io: CliIo, global: GlobalOptions, id: string): Promise<void> {
  const { ctx } = context(io, global);
  await templateErrors(() =>
    editTemplateRepos(ctx.configFile, (repos) => {
      if (!repos.some((r) => r.id === id)) throw new CliError(`no template repo "${id}"`, EXIT.usage);
      return repos.filter((r) => r.id !== id);
    }),
  );
  forgetTemplateRepo(ctx.cache, id);
  io.stdout(`removed ${id}\n`);
}

export async function reposTrust(
  io: CliIo,
  global: GlobalOptions,
  id: string,
  trusted: boolean,
): Promise<void> {
  const { ctx } = context(io, global);
  await templateErrors(() =>
    editTemplateRepos(ctx.configFile, (repos) => {
      const repo = repos.find((r) => r.id === id);
      if (!repo) throw new CliError(`no template repo "${id}"`, EXIT.usage);
      repo.trusted = trusted;
      return repos;
    }),
  );
  io.stdout(`${id}: ${trusted ? 'trusted' : 'untrusted (apply needs --trust)'}\n`);
}
