// The `templates` part of `car describe --json`: where templates come from for this repo, the template
// repos with their pins (read from the config and the pins file; no git runs), and the formats.

import { MAX_TEMPLATE_BYTES } from '../../core/templates/catalog.ts';
import { MAX_PACK_TICKETS, MAX_SPEC_BYTES } from '../../core/tickets/index.ts';
import { pinOf } from './git-source.ts';
import { templatesContext } from './sources.ts';

export function templatesDescription(repoRoot: string | null, env: NodeJS.ProcessEnv) {
  let where: Record<string, unknown> = {};
  if (repoRoot) {
    try {
      const ctx = templatesContext(repoRoot, env);
      where = {
        enabled: ctx.settings.enabled,
        config_file: ctx.configFile,
        folders: { local: ctx.repoTemplatesDir, hub: ctx.hubTemplatesDir },
        // under HOME as ~/…: the same description for every user
        cache:
          env.HOME && ctx.cache.dir.startsWith(`${env.HOME}/`)
            ? `~${ctx.cache.dir.slice(env.HOME.length)}`
            : ctx.cache.dir,
        repos: ctx.settings.repos.map((r) => ({
          id: r.id,
          url: r.url,
          trusted: r.trusted,
          default_ref: r.default_ref,
          pinned_commit: pinOf(ctx.cache, r)?.commit ?? null,
        })),
      };
    } catch (err) {
      where = { error: (err as Error).message };
    }
  }
  return {
    ...where,
    ref_format:
      "<source>:<path>[@<ref>]: source is local (the repo's .codex-autorunner/templates/), hub (the hub's) or a templates.repos id; @ref (git sources) a branch, tag or commit, default the pinned commit",
    kinds: {
      ticket: 'a markdown file: one ticket',
      pack: `a folder of TICKET-<number>*.md files: up to ${MAX_PACK_TICKETS} tickets, applied in number order, depends_on entries naming each other renumbered`,
    },
    variables:
      '{{ name }} (required) or {{ name | default }} anywhere in a template; car templates apply --set name=value',
    trust:
      'folders are trusted; a repo is trusted when templates.repos[].trusted; apply of an untrusted template needs --trust',
    pinning:
      'car templates fetch [id] fetches a repo into its mirror and pins the commit of its default_ref; list, show and apply read the pinned commit only',
    provenance_keys: ['template', 'template_commit', 'template_blob', 'template_trusted', 'template_scan'],
    limits: {
      template_bytes: MAX_TEMPLATE_BYTES,
      pack_tickets: MAX_PACK_TICKETS,
      spec_bytes: MAX_SPEC_BYTES,
    },
    intake: {
      import:
        'car ticket import <folder or .zip>: a pack of TICKET-<number>*.md files (in a zip: at its top or in one folder) appended after the queue, renumbered with its depends_on; nothing written unless the queue with it lints',
      bootstrap:
        'car flow bootstrap --from <file|->: the text into .codex-autorunner/contextspace/spec.md, a planning ticket (split the work into tickets that lint) after the queue, then a run',
    },
  };
}
