// The hub queue's jobs in the hub's status (`car hub status`, `GET /api/hub/repos`): each job with the
// worker and host working it, takeovers and the run state its worker mirrored. Null with a sqlite queue;
// a database out of reach is reported in the document, never thrown.
import type { HubJobView, HubQueue } from '../control/hub-queue.ts';
import type { Hub } from '../core/hub/registry.ts';

export type QueueReport = { kind: 'postgres'; jobs: HubJobView[] } | { kind: 'postgres'; error: string };

/** Reads the queue's jobs through one connection pool kept between reads (reopened after a failure). */
export class QueueReader {
  #queue: { url: string; open: Promise<HubQueue> } | null = null;

  async read(hub: Hub, env: NodeJS.ProcessEnv): Promise<QueueReport | null> {
    const q = hub.settings.queue;
    if (q.kind !== 'postgres') return null;
    const url = env[q.url_env];
    if (!url) return { kind: 'postgres', error: `${q.url_env} is not set` };
    if (this.#queue?.url !== url) {
      await this.close();
      // loaded only for a postgres queue; a reader only: maintenance (expiring lost leases) is left to
      // the hub run and the workers
      const open = import('../integrations/pg-queue/pg-boss-queue.ts').then((m) =>
        m.openHubQueue({ url, supervise: false }),
      );
      this.#queue = { url, open };
    }
    try {
      return { kind: 'postgres', jobs: await (await this.#queue.open).jobs() };
    } catch (err) {
      await this.close();
      return { kind: 'postgres', error: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    const open = this.#queue?.open;
    this.#queue = null;
    if (open) await open.then((q) => q.close()).catch(() => {});
  }
}
