// Applying a template: trust checked, variables filled, CAR's provenance keys and a fresh ticket_id
// added, then the ticket (or a pack's tickets, in order, `depends_on` renumbered) written after the
// queue through the one ticket-set writer (`core/tickets/pack.ts`), all or nothing.
import type { RepoPaths } from '../../core/paths.ts';
import { type LoadedTemplate, TemplateError } from '../../core/templates/catalog.ts';
import { frontmatterOf, withProvenance } from '../../core/templates/provenance.ts';
import { renderTemplates } from '../../core/templates/render.ts';
import { addTicketPack, type PackResult } from '../../core/tickets/index.ts';

export interface ApplyOptions {
  values: ReadonlyMap<string, string>;
  /** The agent every ticket gets; default: the template's when it is a configured one, else `defaultAgent`. */
  agent?: string | undefined;
  defaultAgent: string;
  /** Apply a template from an untrusted source. */
  trust?: boolean | undefined;
  /** The file name suffix of a single ticket (default: from the template's name). */
  suffix?: string | undefined;
}

export interface Applied extends PackResult {
  /** Tickets whose template named an agent that is not configured, and the agent they got instead. */
  agentsReplaced: { file: string; from: unknown; to: string }[];
}

const slugOf = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');

export function applyTemplate(
  paths: Pick<RepoPaths, 'root' | 'ticketsDir' | 'runsDir'>,
  agents: ReadonlySet<string>,
  t: LoadedTemplate,
  opts: ApplyOptions,
): Applied {
  if (!t.trusted && !opts.trust)
    throw new TemplateError(
      'untrusted',
      `${t.ref} comes from the untrusted source "${t.source}": read it (car templates show ${t.ref}), then apply with --trust, or trust the source (car templates repos trust ${t.source})`,
    );
  const texts = renderTemplates(
    t.contents.map((c) => ({ source: `${t.source}:${c.path}`, text: c.text })),
    opts.values,
  );
  const agentsReplaced: Applied['agentsReplaced'] = [];
  const pack = t.contents.map((c, i) => {
    const written = frontmatterOf(texts[i]!).agent;
    let agent = opts.agent;
    if (agent === undefined && !(typeof written === 'string' && agents.has(written.trim().toLowerCase()))) {
      agent = opts.defaultAgent;
      agentsReplaced.push({ file: c.path, from: written ?? null, to: agent });
    }
    const template = `${t.source}:${c.path}${t.gitRef ? `@${t.gitRef}` : ''}`;
    const text = withProvenance(
      texts[i]!,
      { template, commit: t.commit, blob: c.blob, trusted: t.trusted },
      { agent, source: `${t.source}:${c.path}` },
    );
    const name = c.path.slice(c.path.lastIndexOf('/') + 1);
    const slug = t.kind === 'ticket' ? slugOf(opts.suffix ?? t.name) || undefined : undefined;
    return { source: `${t.source}:${c.path}`, name, text, slug };
  });
  return { ...addTicketPack(paths, agents, pack), agentsReplaced };
}
