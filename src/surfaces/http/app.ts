// The HTTP API for one repo: a hono app, testable in-process with `app.request()`. Security first:
// Host check (DNS rebinding), Origin check for writes, bearer token when one is set, CORS closed unless
// configured, bounded bodies; every route validates its input and keeps paths inside the repo.
//
//   GET  /api/health                      GET  /api/repo
//   GET  /api/tickets?offset&limit        GET  /api/tickets/lint         GET /api/tickets/:name
//   POST /api/tickets                     PUT  /api/tickets/:name[?force=1]   PATCH /api/tickets/:name
//   POST /api/tickets/:name/lint (text checked as that ticket's content, nothing written)
//   GET  /api/tickets/:name/evidence      GET  /api/tickets/:name/work[?run] (its diff: ticket-work.ts)
//   GET  /api/contextspace                GET|PUT /api/contextspace/:kind
//   GET  /api/flow/status[?run]           POST /api/flow/start|resume|pause|stop|reply|finish-user-ticket|bootstrap
//   GET  /api/templates   GET /api/templates/show?ref   POST /api/templates/apply (the board's template picker)
//   GET  /api/runs?offset&limit&status    GET  /api/runs/:id             GET /api/runs/:id/events?after&limit&types
//   GET  /api/runs/:id/stream (SSE; `id:` = event seq, resumes from Last-Event-ID or ?after; a client too
//        slow to follow gets `event: dropped` with the reason)
//   GET  /api/usage?by=day|ticket[&run][&since]
//   GET  /api/pma   POST /api/pma/messages (SSE answer)   POST /api/pma/reset   (the project manager agent; pma.ts)
//   GET  /api/approvals[?all=1][&run]     GET  /api/approvals/:id        POST /api/approvals/:id {decision}
//   GET  /api/hub/repos   GET /api/hub/repos/:id   POST /api/hub/scan   GET /api/hub/git   (at a hub root; see hub.ts; a hub's
//        root has no tickets, runs or flow of its own: those routes answer 409 `hub_root` there)
//   GET  /api/hub/inbox   GET /api/hub/live   GET /api/hub/stream (SSE)   (at a hub root; hub-activity.ts)
//   *    /repos/:id/api/...   at a hub root: repo <id>'s own API, every route above (repo-mounts.ts), with
//        the hub server's token; 404 `repo_not_found` / `repo_missing`, 409 `repo_uninitialized`
//   GET  /*  the web UI from `webRoot` (see web.ts): files, else index.html for the app's own routes
//
// Writes to tickets and contextspace need the sha256 of the bytes the client read (If-Match or
// `base_hash`): a stale one is 409 with `current_hash`, none is 428. Errors are `{error, message, ...}`.
// Listings, flow status and runs carry strong ETags; `If-None-Match` with the current one is a 304.
import { type Context, Hono, type MiddlewareHandler, type Next } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { reportAgents } from '../../agents/report.ts';
import { FlowControlError, type WorkerLauncher } from '../../control/flow-control.ts';
import { ConfigError, defaultAgentId } from '../../core/config/index.ts';
import { diskErrorOf } from '../../core/fs/disk-error.ts';
import { ManifestError } from '../../core/hub/manifest.ts';
import { isHubRoot } from '../../core/hub/paths.ts';
import { CAR_VERSION } from '../version.ts';
import { spawnWorker, WorkerSpawnError } from '../worker-spawn.ts';
import { approvalRoutes } from './approvals.ts';
import { ApiContext } from './context.ts';
import { contextspaceRoutes } from './contextspace.ts';
import { ApiError } from './errors.ts';
import { flowRoutes } from './flow.ts';
import { hubRoutes } from './hub.ts';
import { HubActivity, hubActivityRoutes } from './hub-activity.ts';
import { type PmaOpener, pmaRoutes } from './pma.ts';
import { RepoMounts, withoutPrefix } from './repo-mounts.ts';
import type { StreamOptions } from './run-stream.ts';
import { runRoutes } from './runs.ts';
import { GITHUB_WEBHOOK_PATH, scmRoutes } from './scm.ts';
import { envWithoutToken, hostGuard, originGuard, tokenRole, viewerGuard } from './security.ts';
import { ServerClosingError } from './step-runner.ts';
import { templateRoutes } from './templates.ts';
import { ticketRoutes } from './tickets.ts';
import { usageRoutes } from './usage.ts';
import { webRoutes } from './web.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /** Repo root (initialized: `.codex-autorunner/` exists). */
  root: string;
  /** When set, every /api route needs `Authorization: Bearer <token>`. */
  token?: string | null;
  /** With `token`: a second token that may only read (GET, HEAD, streams). */
  viewerToken?: string | null;
  /** The address the server binds (decides the Host policy); default 127.0.0.1. */
  bindHost?: string;
  /** Extra Host names (default: config `server.allowed_hosts`). */
  allowedHosts?: readonly string[];
  /** Origins allowed by CORS and for writes (default: config `server.allowed_origins`). */
  allowedOrigins?: readonly string[];
  /** Environment for config and workers (default process.env). */
  env?: NodeJS.ProcessEnv;
  maxBodyBytes?: number;
  /** How a run's worker is started (default: a detached `car flow worker` without the API tokens). */
  launcher?: WorkerLauncher;
  stream?: StreamOptions;
  /** Where server-side failures are reported (never request bodies or headers). */
  log?: (line: string) => void;
  /** How often a hub's inbox and live view are checked for its stream (default 1 s). */
  hubPollMs?: number;
  /** The built web UI (`dist/web`) to serve at `/`; none: only the API answers. */
  webRoot?: string | null;
  /** Opens the project manager agent for /api/pma (the surface gives it car's command runner). */
  pma?: PmaOpener;
}

export type CarApp = Hono & {
  close(): void;
  context: ApiContext;
  /** Ends what the app started beyond requests (the PMA's agent process); close() does not wait for it. */
  closeAgents(): Promise<void>;
};

const FLOW_ERROR_STATUS = {
  busy: 409,
  wrong_state: 409,
  blocked: 409,
  no_run: 404,
  not_found: 404,
} as const;

export function createApp(opts: AppOptions): CarApp {
  const env = opts.env ?? process.env;
  let ctx: ApiContext;
  // the token variables are read from the config of the moment
  const launcher: WorkerLauncher = opts.launcher ?? {
    launch: (root, runId) =>
      spawnWorker({
        root,
        runId,
        env: envWithoutToken(
          env,
          ctx.loaded().config.server.auth_token_env,
          ctx.loaded().config.server.viewer_token_env,
        ),
      }),
  };
  ctx = new ApiContext(opts.root, env, launcher);
  const server = ctx.loaded().config.server;
  const allowedOrigins = opts.allowedOrigins ?? server.allowed_origins;
  const log = opts.log ?? (() => {});

  const app = new Hono();

  app.use(
    '*',
    hostGuard({
      bindHost: opts.bindHost ?? '127.0.0.1',
      allowedHosts: opts.allowedHosts ?? server.allowed_hosts,
    }),
  );
  // The API's own guards, for /api and (at a hub's root) each repo's API under /repos/<id>/api, so
  // nothing about a hub's repos answers without the token.
  const useApi = (mw: MiddlewareHandler) => {
    app.use('/api/*', mw);
    app.use('/repos/:id/api/*', mw);
  };
  // Set before the route runs, so they go into the response it makes (a route may set its own
  // Cache-Control); touching a finished response's headers costs a copy of it per request.
  useApi(async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
    await next();
  });
  if (allowedOrigins.length > 0) {
    // Before auth, so a browser's preflight (which carries no token) is answered.
    useApi(
      cors({
        origin: [...allowedOrigins],
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Last-Event-ID'],
        exposeHeaders: ['ETag', 'Location'],
        maxAge: 600,
      }),
    );
  }
  useApi(originGuard(allowedOrigins));
  if (opts.token) {
    const unauthorized = { message: { error: 'unauthorized', message: 'a valid bearer token is required' } };
    const tokens = { full: opts.token, viewer: opts.viewerToken ?? null };
    const auth = bearerAuth({
      verifyToken: (presented) => tokenRole(presented, tokens) !== null,
      noAuthenticationHeader: unauthorized,
      invalidToken: unauthorized,
    });
    // GitHub's deliveries carry no bearer token: their signature authenticates them (scm.ts)
    useApi((c, next) => (c.req.path === GITHUB_WEBHOOK_PATH ? next() : auth(c, next)));
    if (tokens.viewer !== null) useApi(viewerGuard({ full: tokens.full, viewer: tokens.viewer }));
  }
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limitBody = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) =>
      c.json(
        {
          error: 'payload_too_large',
          message: `the body is over ${maxBodyBytes} bytes`,
          max_bytes: maxBodyBytes,
        },
        413,
      ),
  });
  // GET and HEAD carry no body; asking for one costs a full Request object per request
  useApi((c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limitBody(c, next)));

  app.get('/api/health', (c) => c.json({ ok: true, name: 'car', version: CAR_VERSION }));

  const hubRootGuard = async (_c: Context, next: Next) => {
    if (ctx.loaded().config.mode === 'hub') {
      throw new ApiError(
        409,
        'hub_root',
        `${ctx.paths.root} is a hub: tickets, runs and the flow belong to its repos (car --repo <repo path> serve opens one)`,
      );
    }
    await next();
  };

  app.get('/api/repo', (c) => {
    const loaded = ctx.loaded();
    const { config, sources } = loaded;
    return c.json({
      root: ctx.paths.root,
      version: CAR_VERSION,
      config: {
        sources: sources.map((s) => ({
          layer: s.layer,
          present: s.present,
          ...(s.variables ? { variables: s.variables } : {}),
        })),
        ticket_flow: config.ticket_flow,
        git: { auto_commit: config.git.auto_commit },
        server: {
          host: config.server.host,
          port: config.server.port,
          allowed_hosts: config.server.allowed_hosts,
          allowed_origins: config.server.allowed_origins,
        },
      },
      /** What a ticket gets without `agent` (POST /api/tickets, `car ticket new`). */
      default_agent: defaultAgentId(config),
      // as `car agents list` reports them: whether the agent's program is on PATH (null: none to find)
      agents: reportAgents(loaded, env).map((a) => ({
        id: a.id,
        backend: a.backend,
        on_path: a.on_path,
        install: a.install,
        error: a.error,
      })),
      auth: { token_required: Boolean(opts.token) },
      /** This server runs at a hub's root: /api/hub answers. */
      hub: isHubRoot(ctx.paths.root),
    });
  });

  // A hub's root is no repo: its tickets, runs and flow are its repos' (car --repo <path> serve for one).
  for (const path of ['/api/tickets', '/api/contextspace', '/api/flow', '/api/runs', '/api/usage']) {
    app.use(path, hubRootGuard);
    app.use(`${path}/*`, hubRootGuard);
  }
  app.route('/api/tickets', ticketRoutes(ctx));
  app.route('/api/templates', templateRoutes(ctx));
  app.route('/api/contextspace', contextspaceRoutes(ctx));
  app.route('/api/flow', flowRoutes(ctx));
  app.route('/api/approvals', approvalRoutes(ctx));
  const runs = runRoutes(ctx, opts.stream, log);
  app.route('/api/runs', runs.routes);
  app.route('/api/usage', usageRoutes(ctx));
  const hub = hubRoutes(ctx);
  app.route('/api/hub', hub.routes);
  app.route('/api/scm', scmRoutes(ctx));

  const pma = pmaRoutes(opts.pma);
  app.route('/api/pma', pma.routes);

  // At a hub's root, each repo's API under /repos/<id>: the same app a `car serve` in the repo makes,
  // with this server's security options and worker launcher.
  const mounts = new RepoMounts<CarApp>(ctx.paths.root, hub.manifest, (root) =>
    createApp({
      ...opts,
      root,
      bindHost: opts.bindHost ?? '127.0.0.1',
      allowedHosts: opts.allowedHosts ?? server.allowed_hosts,
      allowedOrigins,
      launcher,
      webRoot: null,
    }),
  );
  let activity: HubActivity | null = null;
  const hubActivity = (): HubActivity => {
    if (!isHubRoot(ctx.paths.root)) {
      throw new ApiError(404, 'not_a_hub', `${ctx.paths.root} is not a hub (car init --mode hub)`);
    }
    activity ??= new HubActivity({
      hubRoot: () => ctx.paths.root,
      manifest: () => hub.manifest.current().repos,
      context: (id) => mounts.app(id).context,
      steps: ctx.steps,
    });
    return activity;
  };
  app.route('/api/hub', hubActivityRoutes(hubActivity, opts.hubPollMs ? { pollMs: opts.hubPollMs } : {}));
  app.all('/repos/:id/api/*', (c) => {
    if (!isHubRoot(ctx.paths.root)) {
      throw new ApiError(404, 'not_a_hub', `${ctx.paths.root} is not a hub: it has no /repos`);
    }
    const prefix = /^\/repos\/[^/]+/.exec(new URL(c.req.url).pathname)![0];
    try {
      return mounts.fetch(c.req.param('id'), withoutPrefix(c.req.raw, prefix), c.env);
    } catch (err) {
      if (err instanceof ManifestError) throw new ApiError(500, 'manifest_invalid', err.message);
      // the repo's app could not be made: its config is broken (as its own server would say at start)
      if (err instanceof ConfigError) throw new ApiError(500, 'config_invalid', err.message);
      throw err;
    }
  });

  if (opts.webRoot) app.route('/', webRoutes(opts.webRoot));

  app.notFound((c) => c.json({ error: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }, 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.body(), err.status);
    if (err instanceof HTTPException) {
      // with the headers every API answer carries
      const res = err.getResponse();
      return c.newResponse(res.body, res);
    }
    if (err instanceof FlowControlError) {
      return c.json({ error: err.code, message: err.message }, FLOW_ERROR_STATUS[err.code]);
    }
    if (err instanceof WorkerSpawnError) return c.json({ error: 'worker_failed', message: err.message }, 500);
    const disk = diskErrorOf(err);
    if (disk) {
      // 507 Insufficient Storage: the server could not store what the request asked for
      return c.json({ error: 'disk_error', code: disk.code, path: disk.path, message: disk.message }, 507);
    }
    if (err instanceof ServerClosingError) return c.json({ error: 'closing', message: err.message }, 503);
    log(
      `error: ${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return c.json({ error: 'internal', message: 'internal server error (see the server log)' }, 500);
  });

  return Object.assign(app, {
    context: ctx,
    close: () => {
      runs.close();
      activity?.close();
      mounts.close();
      hub.close();
      ctx.close();
      void pma.close();
    },
    closeAgents: () => pma.close(),
  });
}
