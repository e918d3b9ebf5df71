// Parser for `git diff --numstat -z`. A record is `added\tdeleted\tpath\0`; with rename detection a
// renamed file is `added\tdeleted\t\0orig\0path\0`. Binary files show `-` for both counts.

export interface NumstatEntry {
  path: string;
  origPath?: string;
  /** null for a binary file. */
  insertions: number | null;
  deletions: number | null;
}

export function parseNumstat(out: Buffer | string): NumstatEntry[] {
  const records = (typeof out === 'string' ? out : out.toString('utf8')).split('\0');
  if (records.at(-1) === '') records.pop(); // every record, the last one too, ends in NUL
  const entries: NumstatEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const match = /^(\d+|-)\t(\d+|-)\t(.*)$/s.exec(rec);
    if (!match) throw new Error(`unexpected numstat record: ${rec}`);
    const insertions = match[1] === '-' ? null : Number(match[1]);
    const deletions = match[2] === '-' ? null : Number(match[2]);
    if (match[3] !== '') {
      entries.push({ path: match[3]!, insertions, deletions });
      continue;
    }
    const origPath = records[i + 1];
    const path = records[i + 2];
    if (origPath === undefined || path === undefined) throw new Error(`truncated numstat rename: ${rec}`);
    i += 2;
    entries.push({ path, origPath, insertions, deletions });
  }
  return entries;
}
