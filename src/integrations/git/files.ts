// Reading untracked files for fingerprints and diff stats: streamed in chunks, so a huge file is
// never held in memory whole.
import { createHash } from 'node:crypto';
import { lstat, open, readlink } from 'node:fs/promises';

const CHUNK_BYTES = 64 * 1024;
// git treats a file as binary when its first 8000 bytes hold a NUL.
const BINARY_SNIFF_BYTES = 8000;

/** Feeds the file to `onChunk` piece by piece; `onChunk` returns false to stop early. */
async function forEachChunk(absPath: string, onChunk: (chunk: Buffer) => boolean | undefined): Promise<void> {
  const handle = await open(absPath, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, CHUNK_BYTES, null);
      if (bytesRead === 0 || onChunk(buf.subarray(0, bytesRead)) === false) return;
    }
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * sha256 of what sits at `absPath`: a regular file's bytes, a symlink's target, or a marker for a
 * directory (an embedded repository) or a file that vanished since `git status` listed it.
 */
export async function fileDigest(absPath: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    const st = await lstat(absPath);
    if (st.isSymbolicLink()) hash.update(`link\0${await readlink(absPath)}`);
    else if (st.isFile()) {
      hash.update('file\0');
      await forEachChunk(absPath, (chunk) => {
        hash.update(chunk);
        return true;
      });
    } else hash.update(st.isDirectory() ? 'dir' : 'other');
  } catch (err) {
    if (!isMissing(err)) throw err;
    hash.update('missing');
  }
  return hash.digest('hex');
}

/**
 * Lines git would count as insertions for this file when added: newlines, plus one for an
 * unterminated last line. Binary files (and anything that is not a regular file) count 0.
 */
export async function countFileLines(absPath: string): Promise<number> {
  try {
    const st = await lstat(absPath);
    if (st.isSymbolicLink()) return 1;
    if (!st.isFile()) return 0;
    let lines = 0;
    let seen = 0;
    let binary = false;
    let last = 0x0a;
    await forEachChunk(absPath, (chunk) => {
      if (seen < BINARY_SNIFF_BYTES && chunk.subarray(0, BINARY_SNIFF_BYTES - seen).includes(0)) {
        binary = true;
        return false;
      }
      seen += chunk.length;
      for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) lines++;
      last = chunk[chunk.length - 1]!;
      return true;
    });
    if (binary) return 0;
    return last === 0x0a ? lines : lines + 1;
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
}

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
