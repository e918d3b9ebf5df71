// The `templates:` section, CAR's shape (`templates: {enabled, repos: [{id, url, trusted, default_ref}]}`,
// default: the blessed repo, trusted). It is read from, and `car templates repos add|remove|trust|untrust`
// write it to, one config file: the hub's `.codex-autorunner/config.yml` for a hub's repo (as CAR), else
// the repo's own. Edits change the YAML document in place (comments and layout stay) and are atomic.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, isSeq, type YAMLMap } from 'yaml';
import * as z from 'zod';
import { writeFileAtomic } from '../fs/atomic.ts';
import { INPUT_LIMITS, readFileBounded } from '../input-limits.ts';
import { CONFIG_BUDGET, parseDocumentWithinLimits } from '../yaml-limits.ts';
import { RESERVED_SOURCE_IDS, SOURCE_ID_RE } from './ref.ts';

export const BLESSED_REPO = {
  id: 'blessed',
  url: 'https://github.com/Git-on-my-level/car-ticket-templates',
  trusted: true,
  default_ref: 'main',
} as const;

const RepoEntry = z.looseObject({
  id: z
    .string({ error: 'must be a string' })
    .regex(SOURCE_ID_RE, { error: 'must be letters, digits, . _ -' }),
  url: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  trusted: z.boolean({ error: 'must be boolean' }).default(false),
  default_ref: z.string({ error: 'must be a string' }).min(1).default('main'),
});

const Section = z
  .looseObject({
    enabled: z.boolean({ error: 'must be boolean' }).default(true),
    repos: z.array(RepoEntry, { error: 'must be a list' }).default([{ ...BLESSED_REPO }]),
  })
  .prefault({});

export type TemplateRepo = z.output<typeof RepoEntry>;
export type TemplatesSettings = z.output<typeof Section>;

export class TemplatesConfigError extends Error {
  override name = 'TemplatesConfigError';
}

function readDoc(file: string) {
  if (!existsSync(file)) return null;
  const text = readFileBounded(file, INPUT_LIMITS.configFileBytes, 'a config file').toString('utf8');
  const { doc, limit } = parseDocumentWithinLimits(text, { version: '1.1' }, { budget: CONFIG_BUDGET });
  if (!doc || limit) throw new TemplatesConfigError(`${file}: ${limit?.message ?? 'cannot be parsed'}`);
  if (doc.errors.length > 0)
    throw new TemplatesConfigError(`${file}: invalid YAML: ${doc.errors[0]!.message}`);
  return doc;
}

/** The `templates:` settings of `file` (defaults when it or the section is absent). */
export function readTemplatesSettings(file: string): TemplatesSettings {
  const doc = readDoc(file);
  const raw = doc ? (doc.toJS() as Record<string, unknown> | null)?.templates : undefined;
  const parsed = Section.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TemplatesConfigError(`${file}: templates.${issue.path.join('.')}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const repo of parsed.data.repos) {
    if (RESERVED_SOURCE_IDS.includes(repo.id))
      throw new TemplatesConfigError(
        `${file}: templates.repos: id "${repo.id}" is reserved for template folders`,
      );
    if (ids.has(repo.id))
      throw new TemplatesConfigError(`${file}: templates.repos: id "${repo.id}" appears twice`);
    ids.add(repo.id);
  }
  return parsed.data;
}

/**
 * Rewrites `templates.repos` of `file` to `change(current)`, writing CAR's defaults first when the file
 * does not list repos yet (so the blessed repo stays unless removed). Returns the new list.
 */
export function editTemplateRepos(
  file: string,
  change: (repos: TemplateRepo[]) => TemplateRepo[],
): TemplateRepo[] {
  const repos = change(readTemplatesSettings(file).repos.map((r) => ({ ...r })));
  const doc = readDoc(file);
  const plain = repos.map((r) => ({ id: r.id, url: r.url, trusted: r.trusted, default_ref: r.default_ref }));
  if (!doc) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(
      file,
      `templates:\n  repos:${plain.length === 0 ? ' []' : ''}\n${plain.map(yamlItem).join('')}`,
    );
    return repos;
  }
  const section = doc.get('templates');
  if (section !== undefined && !isMap(section))
    throw new TemplatesConfigError(`${file}: templates: must be a mapping`);
  const node = doc.createNode(plain);
  if (isSeq(node)) for (const item of node.items) if (isMap(item)) (item as YAMLMap).flow = false;
  if (section) doc.setIn(['templates', 'repos'], node);
  else doc.set('templates', doc.createNode({ repos: plain }));
  writeFileAtomic(file, doc.toString());
  return repos;
}

function yamlItem(r: Pick<TemplateRepo, 'id' | 'url' | 'trusted' | 'default_ref'>): string {
  return `    - id: ${JSON.stringify(r.id)}\n      url: ${JSON.stringify(r.url)}\n      trusted: ${r.trusted}\n      default_ref: ${JSON.stringify(r.default_ref)}\n`;
}
