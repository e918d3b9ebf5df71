// A line diff for the editor's conflict view: what is on disk against what is in the editor. Common
// lines at both ends are cut first; the middle is an LCS table, bounded (past the bound the middle
// shows as all removed, then all added, which is still a true difference).

export interface DiffLine {
  /** ' ' same, '-' only on disk, '+' only in the editor. */
  op: ' ' | '-' | '+';
  text: string;
}

const MAX_CELLS = 4_000_000;

export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = a.slice(0, start).map((text) => ({ op: ' ', text }));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const n = midA.length;
  const m = midB.length;
  if (n * m > MAX_CELLS) {
    out.push(...midA.map((text) => ({ op: '-' as const, text })));
    out.push(...midB.map((text) => ({ op: '+' as const, text })));
  } else {
    // lcs[i][j]: the longest common subsequence of midA[i..] and midB[j..]
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i]![j] =
          midA[i] === midB[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        out.push({ op: ' ', text: midA[i]! });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
        // what is only on disk first, then what replaces it
        out.push({ op: '-', text: midA[i]! });
        i++;
      } else {
        out.push({ op: '+', text: midB[j]! });
        j++;
      }
    }
  }
  out.push(...a.slice(endA).map((text) => ({ op: ' ' as const, text })));
  return out;
}

/** The changed lines with `context` unchanged lines around each change; `null` marks a gap. */
export function hunks(lines: DiffLine[], context = 3): (DiffLine | null)[] {
  const keep = new Uint8Array(lines.length);
  for (const [k, l] of lines.entries()) {
    if (l.op === ' ') continue;
    for (let d = Math.max(0, k - context); d <= Math.min(lines.length - 1, k + context); d++) keep[d] = 1;
  }
  const out: (DiffLine | null)[] = [];
  for (const [k, l] of lines.entries()) {
    if (keep[k]) out.push(l);
    else if (out.length === 0 || out.at(-1) !== null) out.push(null);
  }
  return out;
}
