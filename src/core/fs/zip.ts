// Reads the files of a zip archive (a ticket pack) with node's zlib: stored and deflated entries, their
// CRC checked, within limits set before anything is inflated (entry count, each file's size, the total),
// so a zip bomb costs nothing. Zip64, encrypted entries and other methods are refused, not guessed at.
import { crc32, inflateRawSync } from 'node:zlib';

export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
}

export interface ZipEntry {
  /** The name as stored (`/` separated); folders end with `/`. */
  name: string;
  /** A symbolic link, by its unix mode (never read). */
  link: boolean;
  /** Null for folders and links. */
  data: Buffer | null;
}

export class ZipError extends Error {
  override name = 'ZipError';
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function readZip(bytes: Buffer, limits: ZipLimits): ZipEntry[] {
  // the end record is in the last 22 bytes plus a comment of at most 65535
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (bytes.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError('not a zip archive (no end of central directory)');
  const count = bytes.readUInt16LE(eocd + 10);
  const dirSize = bytes.readUInt32LE(eocd + 12);
  const dirOffset = bytes.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirOffset === 0xffffffff) throw new ZipError('zip64 archives are not read');
  if (count > limits.maxEntries)
    throw new ZipError(`the archive has ${count} entries (at most ${limits.maxEntries})`);
  if (dirOffset + dirSize > eocd) throw new ZipError('the central directory is out of bounds');
  const entries: ZipEntry[] = [];
  let total = 0;
  let at = dirOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > eocd || bytes.readUInt32LE(at) !== CENTRAL)
      throw new ZipError('a central directory entry is damaged');
    const flags = bytes.readUInt16LE(at + 8);
    const method = bytes.readUInt16LE(at + 10);
    const crc = bytes.readUInt32LE(at + 16);
    const packed = bytes.readUInt32LE(at + 20);
    const size = bytes.readUInt32LE(at + 24);
    const nameLen = bytes.readUInt16LE(at + 28);
    const extraLen = bytes.readUInt16LE(at + 30);
    const commentLen = bytes.readUInt16LE(at + 32);
    const mode = bytes.readUInt32LE(at + 38) >>> 16;
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
    const link = (mode & 0o170000) === 0o120000;
    if (name.endsWith('/') || link) {
      entries.push({ name, link, data: null });
      continue;
    }
    if (flags & 1) throw new ZipError(`${name}: encrypted entries are not read`);
    if (size > limits.maxEntryBytes)
      throw new ZipError(`${name}: ${size} bytes (at most ${limits.maxEntryBytes})`);
    total += size;
    if (total > limits.maxTotalBytes)
      throw new ZipError(`the archive unpacks to more than ${limits.maxTotalBytes} bytes`);
    if (local + 30 > bytes.length || bytes.readUInt32LE(local) !== LOCAL)
      throw new ZipError(`${name}: local header is damaged`);
    const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    if (start + packed > bytes.length) throw new ZipError(`${name}: data is out of bounds`);
    const raw = bytes.subarray(start, start + packed);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        // one byte over the declared size shows a lying header without inflating further
        data = inflateRawSync(raw, { maxOutputLength: size + 1 });
      } catch (err) {
        throw new ZipError(`${name}: cannot inflate (${(err as Error).message})`);
      }
    } else throw new ZipError(`${name}: compression method ${method} is not read`);
    if (data.length !== size || crc32(data) !== crc)
      throw new ZipError(`${name}: size or CRC does not match`);
    entries.push({ name, link: false, data });
  }
  return entries;
}
