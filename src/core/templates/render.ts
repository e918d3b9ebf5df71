// A template's variables: `{{ name }}` (required) and `{{ name | default }}` anywhere in its text, filled
// from `--set name=value`. CAR's templates carry free-form placeholders (`[FILL_ME]`) that are left as
// they are; these are car's, checked before anything is written.
import { splitFrontmatter } from '../tickets/frontmatter.ts';

const VARIABLE_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^}\n]*))?\}\}/g;

export interface TemplateVariable {
  name: string;
  /** The default after `|`, trimmed; null when the variable is required. */
  default: string | null;
}

export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

/** The variables a template's text uses, each once, in order of first use. */
export function templateVariables(text: string): TemplateVariable[] {
  const seen = new Map<string, TemplateVariable>();
  for (const m of text.matchAll(VARIABLE_RE)) {
    const name = m[1]!;
    const def = m[2] === undefined ? null : m[2].trim();
    const known = seen.get(name);
    if (!known) seen.set(name, { name, default: def });
    else if (known.default === null && def !== null) known.default = def;
  }
  return [...seen.values()];
}

/** Parses `key=value` pairs (`--set`); throws on one without `=` or with a bad name. */
export function parseAssignments(pairs: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new TemplateRenderError(`--set ${pair}: expected name=value (name: letters, digits, _)`);
    values.set(name, pair.slice(eq + 1));
  }
  return values;
}

/**
 * Fills the variables of each text (a pack's files share one set of values). Throws TemplateRenderError
 * naming every required variable without a value, every value no text uses, and a value with a line
 * break or control character going into frontmatter (it could add keys).
 */
export function renderTemplates(
  texts: readonly { source: string; text: string }[],
  values: ReadonlyMap<string, string>,
): string[] {
  const vars = templateVariables(texts.map((t) => t.text).join('\n'));
  const names = new Set(vars.map((v) => v.name));
  const missing = vars.filter((v) => v.default === null && !values.has(v.name)).map((v) => v.name);
  if (missing.length > 0)
    throw new TemplateRenderError(
      `missing template variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (give --set ${missing[0]}=...)`,
    );
  const unused = [...values.keys()].filter((k) => !names.has(k));
  if (unused.length > 0)
    throw new TemplateRenderError(
      `unknown template variable${unused.length > 1 ? 's' : ''}: ${unused.join(', ')} (the template has: ${[...names].join(', ') || 'none'})`,
    );
  return texts.map(({ source, text }) => {
    const split = splitFrontmatter(text);
    const fmEnd = split.yaml === null ? 0 : split.yamlOffset + split.yaml.length;
    return text.replace(VARIABLE_RE, (_all, name: string, def: string | undefined, offset: number) => {
      const value = values.get(name) ?? def?.trim() ?? '';
      if (offset < fmEnd && /[\p{C}\p{Zl}\p{Zp}]/u.test(value))
        throw new TemplateRenderError(
          `${source}: the value of ${name} goes into frontmatter and must be one line without control characters`,
        );
      return value;
    });
  });
}
