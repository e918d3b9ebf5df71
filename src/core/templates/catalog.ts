// Templates across their sources (the repo's and the hub's `.codex-autorunner/templates/` folders, git
// template repos): a markdown file is a ticket template; a folder of `TICKET-<n>*.md` files is a pack
// (several tickets, in number order, their `depends_on` naming each other). Every file is checked
// before it is used: no links, at most MAX_TEMPLATE_BYTES, valid UTF-8.
import { MAX_PACK_TICKETS } from '../tickets/pack.ts';
import { ticketIndexFromName } from '../tickets/ticket.ts';
import { templateSummary } from './provenance.ts';
import { type TemplateVariable, templateVariables } from './render.ts';

/** A template file larger than this is refused: templates are short programs, not data. */
export const MAX_TEMPLATE_BYTES = 256 * 1024;

/** Files CAR's indexer never lists as templates. */
const NOT_TEMPLATES = new Set(['README.md', 'CONTRIBUTING.md', 'LICENSE.md']);

export interface SourceFile {
  /** Posix path inside the source. */
  path: string;
  size: number;
  /** A symbolic link (never read). */
  link: boolean;
}

/** Where templates come from; the git adapter and the folder reader implement it. */
export interface TemplateSource {
  id: string;
  kind: 'folder' | 'git';
  trusted: boolean;
  /** git: the ref the pinned commit was fetched from. */
  ref: string | null;
  /** git: the pinned commit (null: not fetched yet). */
  commit: string | null;
  files(): Promise<SourceFile[]>;
  /** The file's bytes and git blob id; only called for files `files()` listed, not links, within size. */
  read(path: string): Promise<{ bytes: Buffer; blob: string }>;
}

export interface TemplateInfo {
  ref: string;
  source: string;
  path: string;
  kind: 'ticket' | 'pack';
  name: string;
  summary: string;
  trusted: boolean;
  /** A pack's ticket files (source paths), in order; a ticket template: its one file. */
  files: string[];
}

export interface TemplateFile {
  path: string;
  text: string;
  blob: string;
}

export interface LoadedTemplate extends TemplateInfo {
  contents: TemplateFile[];
  variables: TemplateVariable[];
  commit: string | null;
  /** The ref recorded in provenance (git: the one fetched or asked for). */
  gitRef: string | null;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
  /** not_found | refused (unsafe or invalid template) | untrusted | not_fetched */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const parentOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** Groups a source's files into templates: ticket files of one folder make a pack. */
function groupTemplates(
  files: readonly SourceFile[],
): { path: string; kind: 'ticket' | 'pack'; files: string[] }[] {
  const out: { path: string; kind: 'ticket' | 'pack'; files: string[] }[] = [];
  const packs = new Map<string, string[]>();
  for (const f of files) {
    if (!f.path.endsWith('.md') || NOT_TEMPLATES.has(baseOf(f.path))) continue;
    const dir = parentOf(f.path);
    if (dir !== '' && ticketIndexFromName(baseOf(f.path)) !== null) {
      const list = packs.get(dir) ?? [];
      list.push(f.path);
      packs.set(dir, list);
    } else out.push({ path: f.path, kind: 'ticket', files: [f.path] });
  }
  for (const [dir, list] of packs) out.push({ path: dir, kind: 'pack', files: sortPack(list) });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function sortPack(paths: string[]): string[] {
  return [...paths].sort(
    (a, b) => ticketIndexFromName(baseOf(a))! - ticketIndexFromName(baseOf(b))! || (a < b ? -1 : 1),
  );
}

async function readChecked(source: TemplateSource, file: SourceFile): Promise<TemplateFile> {
  const where = `${source.id}:${file.path}`;
  if (file.link)
    throw new TemplateError('refused', `${where} is a symbolic link; templates must be plain files`);
  if (file.size > MAX_TEMPLATE_BYTES)
    throw new TemplateError(
      'refused',
      `${where} is ${file.size} bytes; a template may have at most ${MAX_TEMPLATE_BYTES}`,
    );
  const { bytes, blob } = await source.read(file.path);
  if (bytes.length > MAX_TEMPLATE_BYTES)
    throw new TemplateError('refused', `${where} is over ${MAX_TEMPLATE_BYTES} bytes`);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new TemplateError('refused', `${where} is not valid UTF-8`);
  }
  return { path: file.path, text, blob };
}

/** Every template of the sources, with CAR's summary; a file that cannot be read is left out, with a note. */
export async function listTemplates(
  sources: readonly TemplateSource[],
): Promise<{ templates: TemplateInfo[]; notes: string[] }> {
  const templates: TemplateInfo[] = [];
  const notes: string[] = [];
  for (const source of sources) {
    if (source.kind === 'git' && source.commit === null) {
      notes.push(`${source.id}: not fetched yet (car templates fetch ${source.id})`);
      continue;
    }
    const files = await source.files();
    const byPath = new Map(files.map((f) => [f.path, f]));
    for (const t of groupTemplates(files)) {
      try {
        const first = await readChecked(source, byPath.get(t.files[0]!)!);
        templates.push({
          ref: `${source.id}:${t.path}`,
          source: source.id,
          path: t.path,
          kind: t.kind,
          name: baseOf(t.path).replace(/\.md$/, ''),
          summary: templateSummary(first.text),
          trusted: source.trusted,
          files: t.files,
        });
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        notes.push(err.message);
      }
    }
  }
  return { templates, notes };
}

/** One template with its files read and checked; `path` is a `.md` file or a pack folder. */
export async function loadTemplate(
  source: TemplateSource,
  path: string,
  gitRef: string | null,
): Promise<LoadedTemplate> {
  const files = await source.files();
  const byPath = new Map(files.map((f) => [f.path, f]));
  const file = byPath.get(path);
  let kind: 'ticket' | 'pack';
  let members: SourceFile[];
  if (file) {
    if (!path.endsWith('.md'))
      throw new TemplateError('refused', `${source.id}:${path} is not a markdown file`);
    kind = 'ticket';
    members = [file];
  } else {
    const inside = files.filter(
      (f) => parentOf(f.path) === path && ticketIndexFromName(baseOf(f.path)) !== null,
    );
    if (inside.length === 0) throw new TemplateError('not_found', `no template ${source.id}:${path}`);
    if (inside.length > MAX_PACK_TICKETS)
      throw new TemplateError(
        'refused',
        `${source.id}:${path} has ${inside.length} tickets (at most ${MAX_PACK_TICKETS})`,
      );
    kind = 'pack';
    members = sortPack(inside.map((f) => f.path)).map((p) => byPath.get(p)!);
  }
  const contents: TemplateFile[] = [];
  for (const m of members) contents.push(await readChecked(source, m));
  return {
    ref: `${source.id}:${path}`,
    source: source.id,
    path,
    kind,
    name: baseOf(path).replace(/\.md$/, ''),
    summary: templateSummary(contents[0]!.text),
    trusted: source.trusted,
    files: members.map((m) => m.path),
    contents,
    variables: templateVariables(contents.map((c) => c.text).join('\n')),
    commit: source.commit,
    gitRef,
  };
}
