// A real temp git repo with car initialized, and an in-process API app over it.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRepo } from '../../src/core/init.ts';
import { type RepoPaths, repoPaths } from '../../src/core/paths.ts';
import { newTicketId, renderNewTicket } from '../../src/core/tickets/index.ts';
import { type AppOptions, type CarApp, createApp } from '../../src/surfaces/http/app.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

export interface ApiRepo {
  repo: GitRepo;
  paths: RepoPaths;
  app: CarApp;
  /** A request with JSON body handling; `token` adds the bearer header. */
  call(method: string, path: string, init?: CallInit): Promise<Response>;
  /** Writes a ticket file directly. */
  ticket(name: string, text: string): string;
  read(rel: string): Buffer;
  cleanup(): void;
}

export interface CallInit {
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
}

export function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function demoTicket(title: string, script: string[], extra: Record<string, unknown> = {}): string {
  return renderNewTicket(
    { ticket_id: newTicketId(), agent: 'demo', done: false, title, ...extra },
    `\`\`\`car-demo\n${script.join('\n')}\n\`\`\`\n`,
  );
}

export function makeApiRepo(opts: Partial<AppOptions> = {}): ApiRepo {
  const repo = makeGitRepo();
  initRepo(repo.dir);
  const paths = repoPaths(repo.dir);
  const app = createApp({ root: repo.dir, ...opts });
  const call = (method: string, path: string, init: CallInit = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    return Promise.resolve(app.request(path, { method, headers, ...(body === undefined ? {} : { body }) }));
  };
  return {
    repo,
    paths,
    app,
    call,
    ticket: (name, text) => {
      const path = join(paths.ticketsDir, name);
      writeFileSync(path, text);
      return path;
    },
    read: (rel) => readFileSync(join(repo.dir, rel)),
    cleanup: () => {
      app.close();
      repo.cleanup();
    },
  };
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${text}`);
  }
}
