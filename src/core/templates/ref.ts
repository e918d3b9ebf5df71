// Template references as CAR writes them, `<repo_id>:<path>[@<ref>]` (`core/templates/git_mirror.py`),
// and the paths inside a template source car accepts: relative, no `..`, no hidden parts.

/** The repo's own `.codex-autorunner/templates/` and the hub's: sources that are folders, not git repos. */
export const LOCAL_SOURCE = 'local';
export const HUB_SOURCE = 'hub';
export const RESERVED_SOURCE_IDS: readonly string[] = [LOCAL_SOURCE, HUB_SOURCE];

/** A template repo id: letters, digits, `.`, `_`, `-`. */
export const SOURCE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface TemplateRef {
  source: string;
  path: string;
  /** A git ref (branch, tag, commit); git sources only. */
  ref: string | null;
}

export class TemplateRefError extends Error {
  override name = 'TemplateRefError';
}

/**
 * A path inside a template source, posix and normalised, or an error message: absolute paths, `..`,
 * hidden parts (`.git`), backslashes and control characters are refused, so no reference reaches
 * outside its source.
 */
export function checkTemplatePath(path: string): string | { error: string } {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return { error: 'empty template path' };
  if (/[\\\p{C}]/u.test(trimmed))
    return { error: `template path has a backslash or control character: ${JSON.stringify(path)}` };
  if (trimmed.startsWith('/')) return { error: `template path must be relative: ${path}` };
  const parts = trimmed.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    return { error: `template path must not contain empty, . or .. parts: ${path}` };
  if (parts.some((p) => p.startsWith('.')))
    return { error: `template path must not name hidden files: ${path}` };
  return trimmed;
}

/** Parses `source:path[@ref]`; throws TemplateRefError saying what is wrong. */
export function parseTemplateRef(raw: string): TemplateRef {
  const colon = raw.indexOf(':');
  if (colon < 0)
    throw new TemplateRefError(
      `template ref must be SOURCE:PATH[@REF] (e.g. blessed:reviews/review_single.md): ${raw}`,
    );
  const source = raw.slice(0, colon);
  let rest = raw.slice(colon + 1);
  if (!SOURCE_ID_RE.test(source)) throw new TemplateRefError(`template ref has an invalid source id: ${raw}`);
  let ref: string | null = null;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    ref = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(ref) || ref.includes('..'))
      throw new TemplateRefError(`template ref has an invalid git ref after '@': ${raw}`);
    if (RESERVED_SOURCE_IDS.includes(source))
      throw new TemplateRefError(`${source}: templates are files, not git: no @ref (${raw})`);
  }
  const path = checkTemplatePath(rest);
  if (typeof path !== 'string') throw new TemplateRefError(path.error);
  return { source, path, ref };
}
