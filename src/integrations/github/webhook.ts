// GitHub webhook deliveries: the HMAC signature GitHub sends (`X-Hub-Signature-256: sha256=<hex>` over
// the raw body with the hook's secret), checked in constant time, and the PR numbers a delivery is about.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** True when `header` is the sha256 HMAC of `body` under `secret`. */
export function verifySignature(secret: string, body: Uint8Array, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The repo (`owner/name`) and pull request numbers a delivery names; null for events car does not follow. */
export function deliveryTargets(
  event: string,
  payload: unknown,
): { repo: string | null; prs: number[] } | null {
  const p = (payload ?? {}) as Record<string, unknown>;
  const repo =
    ((p.repository as { full_name?: unknown } | undefined)?.full_name as string | undefined) ?? null;
  const number = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? [v] : []);
  const prNumber = (pr: unknown) => number((pr as { number?: unknown } | undefined)?.number);
  switch (event) {
    case 'pull_request':
    case 'pull_request_review':
    case 'pull_request_review_comment':
      return { repo, prs: prNumber(p.pull_request) };
    case 'check_run':
    case 'check_suite': {
      const holder = (p[event] ?? {}) as { pull_requests?: unknown };
      const list = Array.isArray(holder.pull_requests) ? holder.pull_requests : [];
      return { repo, prs: [...new Set(list.flatMap(prNumber))] };
    }
    default:
      return null;
  }
}
