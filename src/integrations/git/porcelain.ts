// Parser for `git status --porcelain=v2 -z`. With -z, records end in NUL and paths are raw (never
// quoted), so a path may hold spaces or newlines; only the fixed fields before it are space-separated.

export type StatusEntry =
  | { kind: 'ordinary'; xy: string; path: string }
  | { kind: 'renamed'; xy: string; path: string; origPath: string; score: string }
  | { kind: 'unmerged'; xy: string; path: string }
  | { kind: 'untracked'; xy: '??'; path: string }
  | { kind: 'ignored'; xy: '!!'; path: string };

// Space-separated fields before the path, including the leading type letter.
const FIELDS_BEFORE_PATH = { '1': 8, '2': 9, u: 10 } as const;

export function parsePorcelainV2(out: Buffer | string): StatusEntry[] {
  const records = (typeof out === 'string' ? out : out.toString('utf8')).split('\0');
  if (records.at(-1) === '') records.pop(); // every record, the last one too, ends in NUL
  const entries: StatusEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    if (rec.startsWith('#')) continue;
    const type = rec[0];
    if (type === '?' || type === '!') {
      const path = rec.slice(2);
      entries.push(
        type === '?' ? { kind: 'untracked', xy: '??', path } : { kind: 'ignored', xy: '!!', path },
      );
      continue;
    }
    if (type !== '1' && type !== '2' && type !== 'u')
      throw new Error(`unexpected porcelain v2 record: ${rec}`);
    const fields = splitFields(rec, FIELDS_BEFORE_PATH[type]);
    const xy = fields[1]!;
    const path = fields.at(-1)!;
    if (type === '1') entries.push({ kind: 'ordinary', xy, path });
    else if (type === 'u') entries.push({ kind: 'unmerged', xy, path });
    else {
      // A rename/copy record is followed by a separate NUL-terminated record holding the original path.
      i++;
      const origPath = records[i];
      if (origPath === undefined) throw new Error(`porcelain v2 rename without original path: ${rec}`);
      entries.push({ kind: 'renamed', xy, path, origPath, score: fields[8]! });
    }
  }
  return entries;
}

/** `count` space-separated fields, then the rest of the record (the path) as one more element. */
function splitFields(rec: string, count: number): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let n = 0; n < count; n++) {
    const end = rec.indexOf(' ', start);
    if (end < 0) throw new Error(`truncated porcelain v2 record: ${rec}`);
    fields.push(rec.slice(start, end));
    start = end + 1;
  }
  fields.push(rec.slice(start));
  return fields;
}

/** Human `XY path` line, `XY orig -> path` for renames: the shape of `git status --short`. */
export function formatStatusLine(entry: StatusEntry): string {
  // v2 writes an unchanged side as '.', the short format as a space.
  const xy = entry.xy.replaceAll('.', ' ');
  return entry.kind === 'renamed' ? `${xy} ${entry.origPath} -> ${entry.path}` : `${xy} ${entry.path}`;
}
