// The `car templates` command tree; each action loads commands/templates.ts when it runs.
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.ts';
import type { CliIo } from '../io.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addTemplatesCommand(program: Command, io: CliIo): void {
  const global = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const templates = program
    .command('templates')
    .description(
      "ticket templates: the repo's and the hub's .codex-autorunner/templates/ and template repos",
    );
  templates
    .command('list')
    .description('every template: ref (source:path), ticket or pack, trusted, summary')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./templates.ts')).templatesList(io, global(cmd), opts),
    );
  templates
    .command('search')
    .description('templates whose path, name or summary contains the query')
    .argument('<query>', 'text to look for (case-insensitive)')
    .option('--json', 'machine-readable output')
    .action(async (query: string, opts, cmd: Command) =>
      (await import('./templates.ts')).templatesSearch(io, global(cmd), query, opts),
    );
  templates
    .command('show')
    .description("a template's text, its variables and where it comes from (untrusted ones too)")
    .argument('<template>', 'source:path[@ref], e.g. blessed:reviews/review_single.md or local:fix.md')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./templates.ts')).templatesShow(io, global(cmd), ref, opts),
    );
  templates
    .command('apply')
    .description("write the template's ticket(s) after the queue, with CAR's provenance keys")
    .argument('<template>', 'source:path[@ref] (a pack folder writes all its tickets, in order)')
    .option('--set <name=value>', 'a template variable ({{ name }}); repeat for more', collect)
    .option(
      '--agent <id>',
      "every ticket's agent (default: the template's when configured, else ticket_flow.default_agent)",
    )
    .option('--trust', 'apply a template from an untrusted source')
    .option('--suffix <slug>', "file name suffix of a single ticket (default: the template's name)")
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./templates.ts')).templatesApply(io, global(cmd), ref, opts),
    );
  templates
    .command('fetch')
    .description(
      'update template repos (all, one id) and move their pins; with source:path, also print that template',
    )
    .argument('[target]', 'repo id or template ref (default: every repo)')
    .option('--json', 'machine-readable output')
    .action(async (target: string | undefined, opts, cmd: Command) =>
      (await import('./templates.ts')).templatesFetch(io, global(cmd), target, opts),
    );

  const repos = templates
    .command('repos')
    .description('template repos: git URLs or local paths, trusted or not');
  repos
    .command('list')
    .description('configured template repos with their pinned commits')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => (await import('./templates.ts')).reposList(io, global(cmd), opts));
  repos
    .command('add')
    .description("add a template repo to templates.repos (the hub's config in a hub, else the repo's)")
    .argument('<id>', 'repo id (letters, digits, . _ -)')
    .argument('<url>', 'git URL or local path of a git repo')
    .option('--trusted', 'its templates apply without --trust')
    .option('--untrusted', 'apply needs --trust (the default)')
    .option('--default-ref <ref>', 'branch or tag fetched and pinned', 'main')
    .action(async (id: string, url: string, opts, cmd: Command) =>
      (await import('./templates.ts')).reposAdd(io, global(cmd), id, url, opts),
    );
  repos
    .command('remove')
    .description('remove a template repo and its pin')
    .argument('<id>', 'repo id')
    .action(async (id: string, _opts, cmd: Command) =>
      (await import('./templates.ts')).reposRemove(io, global(cmd), id),
    );
  for (const [name, trusted] of [
    ['trust', true],
    ['untrust', false],
  ] as const) {
    repos
      .command(name)
      .description(
        trusted ? 'mark a template repo trusted' : 'mark a template repo untrusted (apply needs --trust)',
      )
      .argument('<id>', 'repo id')
      .action(async (id: string, _opts, cmd: Command) =>
        (await import('./templates.ts')).reposTrust(io, global(cmd), id, trusted),
      );
  }
}
