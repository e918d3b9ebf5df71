// Request input at the boundary: JSON bodies and query strings checked with zod; refusals name the field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from './errors.ts';

/** `a.b[2].c` from a zod issue path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function invalid(where: 'body' | 'query', error: z.ZodError): ApiError {
  const issues = error.issues.map((i) => ({ field: fieldPath(i.path), message: i.message }));
  const first = issues[0];
  const message = first
    ? `invalid ${where}: ${first.field ? `${first.field}: ` : ''}${first.message}`
    : `invalid ${where}`;
  return new ApiError(400, `invalid_${where}`, message, { issues });
}

/**
 * Reads and validates a JSON body. An empty body reads as `{}` (so optional-only bodies may be left
 * out); a non-empty one must be `application/json`, which also keeps cross-site forms from posting.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '') {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError(415, 'unsupported_media_type', 'the request body must be application/json');
    }
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `the request body is not JSON: ${(err as Error).message}`);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid('body', parsed.error);
  return parsed.data;
}

/** Validates the query string (every value a string; repeated keys as arrays). */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const all = c.req.queries();
  const flat: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(all)) flat[key] = values.length === 1 ? values[0]! : values;
  const parsed = schema.safeParse(flat);
  if (!parsed.success) throw invalid('query', parsed.error);
  return parsed.data;
}
