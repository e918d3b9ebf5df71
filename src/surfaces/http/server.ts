// Serves the API on a socket with @hono/node-server.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type AppOptions, type CarApp, createApp } from './app.ts';
import { findWebRoot } from './web.ts';

export interface ServerOptions extends Omit<AppOptions, 'bindHost'> {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** One line per request (method, path, status, ms: never headers, query strings or bodies). */
  accessLog?: (line: string) => void;
}

export interface RunningServer {
  app: CarApp;
  host: string;
  port: number;
  /** e.g. `http://127.0.0.1:4173` (IPv6 hosts bracketed). */
  url: string;
  /** The web UI's folder when one is served at `/` (default: the built `dist/web`, when present). */
  webRoot: string | null;
  /** Stops accepting, ends open streams and closes the run store. */
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { host, port, accessLog, ...appOpts } = opts;
  const webRoot = appOpts.webRoot === undefined ? findWebRoot() : appOpts.webRoot;
  const app = createApp({ ...appOpts, bindHost: host, webRoot });
  const fetch: CarApp['fetch'] = accessLog
    ? async (req, ...rest) => {
        const started = performance.now();
        const res = await app.fetch(req, ...rest);
        const path = new URL(req.url).pathname;
        accessLog(`${req.method} ${path} ${res.status} ${Math.round(performance.now() - started)}ms`);
        return res;
      }
    : app.fetch;
  let server: Server;
  const info = await new Promise<AddressInfo>((resolve, reject) => {
    server = serve({ fetch, hostname: host, port }, resolve) as Server;
    server.once('error', reject);
  });
  const shownHost = info.address.includes(':') ? `[${info.address}]` : info.address;
  return {
    app,
    host: info.address,
    port: info.port,
    url: `http://${shownHost}:${info.port}`,
    webRoot,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          app.close();
          void app.closeAgents().finally(resolve);
        });
        server.closeAllConnections();
      }),
  };
}
