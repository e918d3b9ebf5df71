// A throwaway PostgreSQL cluster (Debian's package, /usr/lib/postgresql/<v>/bin) for tests: initdb in a temp
// folder owned by the `postgres` user (the server refuses to run as root), started on a free port on
// 127.0.0.1 with password authentication, one per test file; each test makes its own database. `.ci/run`
// installs the package, so only a machine without it skips, saying why.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';

/** The binaries folder of the newest installed PostgreSQL, or null. */
export function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

/** Why the PostgreSQL tests cannot run here, or null when they can. */
export function postgresMissing(): string | null {
  return postgresBin() === null
    ? 'PostgreSQL is not installed (apt-get install postgresql; .ci/run does): /usr/lib/postgresql/*/bin/pg_ctl missing'
    : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface PgCluster {
  port: number;
  /** The superuser's URL for database `db` (TCP on 127.0.0.1). */
  url(db?: string, user?: string, password?: string): string;
  /**
   * The same through the server's Unix socket: reachable from another network namespace (a process
   * under `unshare --net` has no way to this machine's 127.0.0.1).
   */
  socketUrl(db: string, user: string, password: string): string;
  /** Creates a fresh database owned by the superuser; returns its name. */
  createDatabase(prefix: string): Promise<string>;
  /** Runs SQL as the superuser in `db`. */
  sql(db: string, text: string): Promise<pg.QueryResult>;
  /** Stops the server (clients are disconnected) and starts it again on the same port: an outage. */
  down(): void;
  up(): void;
  stop(): void;
}

const SUPER_PASSWORD = 'car-test-super';
let dbCounter = 0;

export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error(postgresMissing() ?? 'no PostgreSQL');
  const dir = mkdtempSync(join(tmpdir(), 'car-pg-'));
  chmodSync(dir, 0o700);
  const asRoot = userInfo().uid === 0;
  const runAs = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (asRoot) {
    const pw = execFileSync('id', ['-u', 'postgres']).toString().trim();
    const gid = execFileSync('id', ['-g', 'postgres']).toString().trim();
    chownSync(dir, Number(pw), Number(gid));
  }
  const data = join(dir, 'data');
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${SUPER_PASSWORD}\n`);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    chownSync(pwFile, uid, -1);
  }
  runAs('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8']);
  const port = await freePort();
  const startServer = () =>
    runAs('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
      'start',
    ]);
  startServer();
  const url = (db = 'postgres', user = 'postgres', password = SUPER_PASSWORD) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  const sql = async (db: string, text: string) => {
    const client = new pg.Client({ connectionString: url(db) });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  };
  const socketUrl = (db: string, user: string, password: string) =>
    `${url(db, user, password).replace('@127.0.0.1:', '@localhost:')}?host=${encodeURIComponent(dir)}`;
  return {
    port,
    url,
    socketUrl,
    async createDatabase(prefix) {
      const name = `${prefix}_${process.pid}_${++dbCounter}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
      await sql('postgres', `CREATE DATABASE ${name}`);
      return name;
    },
    sql,
    down: () => runAs('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    up: startServer,
    stop() {
      try {
        runAs('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A test file's PostgreSQL: a throwaway cluster started before its tests (`skip` says why not, when
 * PostgreSQL is missing) and stopped after them, once `cleanups` (what the tests made) ran, last first.
 */
export function pgTestFile(): {
  skip: string | false;
  cluster: () => PgCluster;
  cleanups: (() => unknown)[];
} {
  const skip = postgresMissing() ?? false;
  let cluster: PgCluster | null = null;
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    if (!skip) cluster = await startPostgres();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    cluster?.stop();
  });
  return {
    skip,
    cleanups,
    cluster: () => {
      if (!cluster) throw new Error(`no PostgreSQL cluster: ${skip || 'not started yet'}`);
      return cluster;
    },
  };
}
