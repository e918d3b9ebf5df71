// The server's defences: which Host and Origin headers are accepted, the API token, and keeping every
// path a request names inside the repo.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** A bind address only this machine can reach: `localhost`, `::1`, `127.0.0.0/8`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host name of a Host header value, lowercased, without the port (`[::1]:80` → `[::1]`). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export interface HostPolicy {
  /** The address the server binds. */
  bindHost: string;
  /** Extra host names to accept (config `server.allowed_hosts`). */
  allowedHosts: readonly string[];
}

/**
 * Refuses requests whose Host header names another site (DNS rebinding: a page on evil.example whose
 * name resolves to 127.0.0.1). A loopback bind accepts the loopback names plus `allowedHosts`; any other
 * bind checks only when `allowedHosts` is given (it needs a token anyway).
 */
export function hostGuard(policy: HostPolicy): MiddlewareHandler {
  const extra = new Set(policy.allowedHosts.map((h) => hostName(h)));
  const loopback = isLoopbackHost(policy.bindHost);
  return async (c, next) => {
    if (!loopback && extra.size === 0) return next();
    const header = c.req.header('host') ?? new URL(c.req.url).host;
    const name = hostName(header);
    const ok = extra.has(name) || (loopback && (LOOPBACK_NAMES.has(name) || isLoopbackHost(name)));
    if (!ok) return c.json({ error: 'host_not_allowed', message: `Host "${header}" is not allowed` }, 421);
    return next();
  };
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * For state-changing requests, a browser's Origin must be this server or one of `allowedOrigins`, so
 * another site's page cannot drive the API of a token-less loopback server. Requests without Origin
 * (CLI tools, curl) pass; they cannot be made by a foreign page.
 */
export function originGuard(allowedOrigins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return async (c, next) => {
    if (!UNSAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    const o = origin.toLowerCase();
    let sameOrigin = false;
    try {
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      sameOrigin = new URL(o).host === host.toLowerCase();
    } catch {
      sameOrigin = false;
    }
    if (!sameOrigin && !allowed.has(o)) {
      return c.json({ error: 'origin_not_allowed', message: `Origin "${origin}" is not allowed` }, 403);
    }
    return next();
  };
}

export interface TokenChoice {
  token: string | null;
  /** Where it came from; `generated` tokens are printed once for the user. */
  source: 'CAR_WEB_TOKEN' | 'auth_token_env' | 'generated' | 'none';
}

/**
 * The API token: `CAR_WEB_TOKEN`, else the variable named by `server.auth_token_env`. A non-loopback
 * bind without one gets a random token; a loopback bind may run without.
 */
export function chooseToken(env: NodeJS.ProcessEnv, authTokenEnv: string, bindHost: string): TokenChoice {
  const direct = env.CAR_WEB_TOKEN?.trim();
  if (direct) return { token: direct, source: 'CAR_WEB_TOKEN' };
  const named = authTokenEnv ? env[authTokenEnv]?.trim() : undefined;
  if (named) return { token: named, source: 'auth_token_env' };
  if (isLoopbackHost(bindHost)) return { token: null, source: 'none' };
  return { token: randomBytes(32).toString('base64url'), source: 'generated' };
}

/** The worker's environment: the server's, without the API token variables. */
export function envWithoutToken(
  env: NodeJS.ProcessEnv,
  authTokenEnv: string,
  viewerTokenEnv = '',
): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.CAR_WEB_TOKEN;
  if (authTokenEnv) delete out[authTokenEnv];
  if (viewerTokenEnv) delete out[viewerTokenEnv];
  return out;
}

/** Compares in constant time (over digests, so lengths do not leak either). */
function sameToken(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export type TokenRole = 'full' | 'viewer';

/** What a presented bearer token may do: everything, read only, or nothing (null). */
export function tokenRole(
  presented: string,
  tokens: { full: string; viewer: string | null },
): TokenRole | null {
  if (sameToken(presented, tokens.full)) return 'full';
  if (tokens.viewer !== null && sameToken(presented, tokens.viewer)) return 'viewer';
  return null;
}

const READS = new Set(['GET', 'HEAD']);

/** After authentication: a read-only token gets 403 on anything but GET and HEAD. */
export function viewerGuard(tokens: { full: string; viewer: string }): MiddlewareHandler {
  return async (c, next) => {
    if (!READS.has(c.req.method)) {
      const presented = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? '';
      if (tokenRole(presented, tokens) === 'viewer') {
        throw new ApiError(
          403,
          'forbidden',
          'this token is read-only (server.viewer_token_env); changes need the full API token',
        );
      }
    }
    await next();
  };
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hash a client says it edited: `If-Match` (quotes and `W/` stripped) or the body's `base_hash`. */
export function expectedHash(ifMatch: string | undefined, bodyHash: string | undefined): string | null {
  if (ifMatch !== undefined && ifMatch.trim() !== '') {
    return ifMatch
      .trim()
      .replace(/^W\//, '')
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return bodyHash === undefined ? null : bodyHash.toLowerCase();
}

/** `child` is `dir` itself or inside it (both absolute, already resolved). */
export function isInside(dir: string, child: string): boolean {
  const rel = relative(dir, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path to read or write for `file` (absolute, already known to name a file directly in a car
 * folder): links are followed and the result must stay inside the repo; a dangling link is refused. A
 * missing file resolves through its real parent folder.
 */
export function confinedPath(repoRoot: string, file: string): string {
  let target: string;
  try {
    target = realpathSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let dangling = false;
    try {
      dangling = lstatSync(file).isSymbolicLink();
    } catch {
      // missing altogether
    }
    if (dangling) throw new ApiError(403, 'path_outside_repo', 'the file is a link to nothing');
    // resolve through the nearest existing folder, so a link anywhere above is followed too
    let dir = dirname(file);
    let rest = basename(file);
    for (;;) {
      try {
        target = join(realpathSync(dir), rest);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw e;
        rest = join(basename(dir), rest);
        dir = dirname(dir);
      }
    }
  }
  if (!isInside(realpathSync(repoRoot), target)) {
    throw new ApiError(403, 'path_outside_repo', 'the file resolves to a path outside the repo');
  }
  return target;
}
