// /repos/<id>/api/*: at a hub's root, each registered repo's own API (the app of app.ts, the same routes
// a `car serve` in that repo answers) under the repo's prefix. A repo's app is built the first time one
// of its routes is asked for and kept for the server's life (CAR mounts its repo apps lazily the same
// way), so a hub of many repos pays only for the repos someone looks at. The hub's Host, Origin and token
// rules apply: each repo app is made with the hub server's security options.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Manifest, type ManifestRepo, readManifest, repoDir } from '../../core/hub/manifest.ts';
import { STATE_DIR } from '../../core/paths.ts';
import { ApiError } from './errors.ts';

/** The manifest, parsed again only when its file changed (its stat stamp). */
export class ManifestFile {
  readonly #file: () => string;
  #stamp = '';
  #manifest: Manifest | null = null;

  constructor(file: () => string) {
    this.#file = file;
  }

  current(): Manifest {
    const file = this.#file();
    const st = statSync(file, { throwIfNoEntry: false });
    const stamp = st ? `${file}:${st.ino}:${st.size}:${st.mtimeMs}` : `${file}:none`;
    if (!this.#manifest || stamp !== this.#stamp) {
      this.#manifest = readManifest(file);
      this.#stamp = stamp;
    }
    return this.#manifest;
  }
}

/** What a mount needs of a repo's app (app.ts's App, named here so this module does not import it). */
export interface MountedApp {
  fetch(req: Request, env: unknown): Response | Promise<Response>;
  close(): void;
}

export class RepoMounts<App extends MountedApp = MountedApp> {
  readonly #hubRoot: string;
  readonly #manifest: ManifestFile;
  readonly #make: (root: string) => App;
  readonly #apps = new Map<string, { dir: string; app: App }>();

  constructor(hubRoot: string, manifest: ManifestFile, make: (root: string) => App) {
    this.#hubRoot = hubRoot;
    this.#manifest = manifest;
    this.#make = make;
  }

  /** The entry for `id`, or an ApiError saying why it cannot be opened. */
  entry(id: string): { entry: ManifestRepo; dir: string } {
    const entry = this.#manifest.current().repos.find((r) => r.id === id);
    if (!entry) throw new ApiError(404, 'repo_not_found', `no repo ${id} in the hub`, { repo_id: id });
    const dir = repoDir(this.#hubRoot, entry);
    if (!existsSync(dir)) {
      throw new ApiError(404, 'repo_missing', `repo ${id}: ${dir} does not exist`, { repo_id: id });
    }
    if (!existsSync(join(dir, STATE_DIR))) {
      throw new ApiError(409, 'repo_uninitialized', `repo ${id} is not initialized (car init in ${dir})`, {
        repo_id: id,
      });
    }
    return { entry, dir };
  }

  /** The repo's app, built on first use; one whose entry moved or left the manifest is closed. */
  app(id: string): App {
    let dir: string;
    try {
      dir = this.entry(id).dir;
    } catch (err) {
      this.#drop(id);
      throw err;
    }
    const kept = this.#apps.get(id);
    if (kept && kept.dir === dir) return kept.app;
    this.#drop(id);
    const app = this.#make(dir);
    this.#apps.set(id, { dir, app });
    return app;
  }

  /** Answers `req` (path already without `/repos/<id>`) with the repo's app. */
  fetch(id: string, req: Request, env: unknown): Promise<Response> | Response {
    return this.app(id).fetch(req, env);
  }

  #drop(id: string): void {
    const kept = this.#apps.get(id);
    if (!kept) return;
    this.#apps.delete(id);
    kept.app.close();
  }

  close(): void {
    for (const id of [...this.#apps.keys()]) this.#drop(id);
  }
}

/** `req` with `/repos/<id>` taken off the front of its path (query kept; body streamed through). */
export function withoutPrefix(req: Request, prefix: string): Request {
  const url = new URL(req.url);
  url.pathname = url.pathname.slice(prefix.length) || '/';
  const init: RequestInit & { duplex?: 'half' } = {
    method: req.method,
    headers: req.headers,
    signal: req.signal,
  };
  if (req.body !== null) {
    init.body = req.body;
    init.duplex = 'half';
  }
  return new Request(url, init);
}
