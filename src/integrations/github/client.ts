// ScmHost over GitHub's REST API with @octokit/rest. Reads of a followed PR send the ETag of the last
// answer (`If-None-Match`), so an unchanged PR costs a 304 that GitHub does not count against the rate
// limit. A 403/429 rate-limit answer is waited out when `retry-after` (or `x-ratelimit-reset`) is within
// `maxRateWaitMs`, else it is an ScmError saying when to try again. The token never leaves the client.
import { Octokit } from '@octokit/rest';
import {
  type CheckRunInfo,
  type NewPr,
  type PrObservation,
  type PullRequestInfo,
  type ReviewCommentInfo,
  type ReviewInfo,
  ScmError,
  type ScmHost,
} from '../../core/scm/ports.ts';

export interface GithubClientOptions {
  token: string;
  /** The env var the token came from, for error messages. */
  tokenEnv: string;
  apiUrl: string;
  /** `owner/name`. */
  slug: string;
  userAgent: string;
  /** Longest rate-limit wait taken before giving up with an error (default 60 s). */
  maxRateWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface HttpError {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

const isHttpError = (err: unknown): err is HttpError =>
  typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';

const QUIET_LOG = { debug() {}, info() {}, warn() {}, error() {} };
const RATE_RETRIES = 3;

/** When a 403/429 answer says the rate limit is the reason: the epoch ms to wait until. */
export function rateLimitUntil(err: HttpError, now: number): number | null {
  if (err.status !== 403 && err.status !== 429) return null;
  const headers = err.response?.headers ?? {};
  const retryAfter = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) return now + retryAfter * 1000;
  if (String(headers['x-ratelimit-remaining']) === '0') {
    const reset = Number(headers['x-ratelimit-reset']);
    return Number.isFinite(reset) ? Math.max(now, reset * 1000) : now + 60_000;
  }
  return err.status === 429 ? now + 60_000 : null;
}

type Cached = { etag: string; data: unknown };

export function createGithubClient(opts: GithubClientOptions): ScmHost {
  const [owner, repo] = opts.slug.split('/') as [string, string];
  const octokit = new Octokit({
    auth: opts.token,
    baseUrl: opts.apiUrl.replace(/\/+$/, ''),
    userAgent: opts.userAgent,
    log: QUIET_LOG,
  });
  const maxWait = opts.maxRateWaitMs ?? 60_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const etags = new Map<string, Cached>();

  const explain = (err: unknown, what: string): Error => {
    // octokit reports a request that got no answer (refused, unreachable) as a status 500 without a response
    if (!isHttpError(err) || err.response === undefined) {
      const cause = (err as Error)?.message ?? String(err);
      return new ScmError('other', `${what}: could not reach GitHub at ${opts.apiUrl}: ${cause}`);
    }
    const said = (err.response?.data as { message?: string } | undefined)?.message ?? err.message;
    if (err.status === 401)
      return new ScmError('auth', `${what}: GitHub refused the token in ${opts.tokenEnv} (401 ${said})`);
    if (err.status === 403)
      return new ScmError('auth', `${what}: the token in ${opts.tokenEnv} may not do this (403 ${said})`);
    if (err.status === 404)
      return new ScmError(
        'not_found',
        `${what}: GitHub knows no ${opts.slug} here, or the token in ${opts.tokenEnv} cannot see it (404)`,
      );
    if (err.status === 405 || err.status === 409)
      return new ScmError('protected', `${what}: GitHub refused (${err.status} ${said})`);
    return new ScmError('other', `${what}: GitHub answered ${err.status}: ${said}`);
  };

  /** One API call, rate limits waited out (within maxWait) and errors explained. */
  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (isHttpError(err) && err.status === 304) throw err;
        const until = isHttpError(err) ? rateLimitUntil(err, now()) : null;
        if (until === null) throw explain(err, what);
        const wait = until - now();
        if (wait > maxWait || attempt >= RATE_RETRIES) {
          throw new ScmError(
            'rate_limit',
            `${what}: GitHub's rate limit is used up until ${new Date(until).toISOString()} ` +
              `(${Math.ceil(wait / 1000)} s from now); nothing was changed, try again then`,
            until,
          );
        }
        await sleep(Math.max(0, wait));
      }
    }
  }

  /** A GET that sends the last answer's ETag; a 304 gives the cached data. */
  async function cachedGet<T>(what: string, route: string, params: Record<string, unknown>): Promise<T> {
    const key = `${route} ${JSON.stringify(params)}`;
    const cached = etags.get(key);
    try {
      const res = await call(what, () =>
        octokit.request(route, {
          ...params,
          headers: cached ? { 'if-none-match': cached.etag } : {},
        }),
      );
      const etag = res.headers.etag;
      if (etag) etags.set(key, { etag, data: res.data });
      return res.data as T;
    } catch (err) {
      if (isHttpError(err) && err.status === 304 && cached) return cached.data as T;
      throw err;
    }
  }

  const toPr = (p: {
    number: number;
    html_url: string;
    state: string;
    merged?: boolean | null;
    merged_at?: string | null;
    draft?: boolean | null;
    title: string;
    head: { ref: string; sha: string };
    base: { ref: string };
  }): PullRequestInfo => ({
    number: p.number,
    url: p.html_url,
    state: p.state === 'closed' ? 'closed' : 'open',
    merged: Boolean(p.merged ?? p.merged_at),
    draft: Boolean(p.draft),
    title: p.title,
    headRef: p.head.ref,
    headSha: p.head.sha,
    baseRef: p.base.ref,
  });

  return {
    slug: opts.slug,

    async defaultBranch() {
      const res = await call(`reading ${opts.slug}`, () => octokit.rest.repos.get({ owner, repo }));
      return res.data.default_branch;
    },

    async findOpenPr(head) {
      const res = await call(`looking for an open pull request from ${head}`, () =>
        octokit.rest.pulls.list({ owner, repo, head: `${owner}:${head}`, state: 'open', per_page: 10 }),
      );
      const found = res.data.find((p) => p.head.ref === head);
      return found ? toPr(found) : null;
    },

    async createPr(pr: NewPr) {
      const res = await call(`opening a pull request from ${pr.head} into ${pr.base}`, () =>
        octokit.rest.pulls.create({ owner, repo, ...pr }),
      );
      return toPr(res.data);
    },

    async updatePr(number, patch) {
      const res = await call(`updating pull request #${number}`, () =>
        octokit.rest.pulls.update({ owner, repo, pull_number: number, ...patch }),
      );
      return toPr(res.data);
    },

    async addLabels(number, labels) {
      await call(`labelling pull request #${number}`, () =>
        octokit.rest.issues.addLabels({ owner, repo, issue_number: number, labels: [...labels] }),
      );
    },

    async observe(number): Promise<PrObservation> {
      const what = `reading pull request #${number}`;
      const base = { owner, repo };
      const pr = toPr(
        await cachedGet<Parameters<typeof toPr>[0]>(what, 'GET /repos/{owner}/{repo}/pulls/{pull_number}', {
          ...base,
          pull_number: number,
        }),
      );
      const runs = await cachedGet<{ check_runs: RawCheckRun[] }>(
        `${what}'s checks`,
        'GET /repos/{owner}/{repo}/commits/{ref}/check-runs',
        { ...base, ref: pr.headSha, per_page: 100 },
      );
      const reviews = await cachedGet<RawReview[]>(
        `${what}'s reviews`,
        'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews',
        { ...base, pull_number: number, per_page: 100 },
      );
      const comments = await cachedGet<RawComment[]>(
        `${what}'s review comments`,
        'GET /repos/{owner}/{repo}/pulls/{pull_number}/comments',
        { ...base, pull_number: number, per_page: 100 },
      );
      return {
        pr,
        checks: runs.check_runs.map(toCheck),
        reviews: reviews.map(toReview),
        comments: comments.map(toComment),
      };
    },

    async merge(number, m) {
      await call(`merging pull request #${number}`, () =>
        octokit.rest.pulls.merge({ owner, repo, pull_number: number, merge_method: m.method, sha: m.sha }),
      );
    },
  };
}

interface RawCheckRun {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  details_url?: string | null;
  html_url?: string | null;
  output?: { title?: string | null; summary?: string | null; text?: string | null };
}
interface RawReview {
  id: number;
  state: string;
  body?: string | null;
  user?: { login?: string } | null;
}
interface RawComment {
  id: number;
  pull_request_review_id?: number | null;
  path: string;
  line?: number | null;
  original_line?: number | null;
  body: string;
  user?: { login?: string } | null;
}

const toCheck = (c: RawCheckRun): CheckRunInfo => ({
  id: c.id,
  name: c.name,
  status: c.status,
  conclusion: c.conclusion,
  detailsUrl: c.details_url ?? c.html_url ?? null,
  output: {
    title: c.output?.title ?? null,
    summary: c.output?.summary ?? null,
    text: c.output?.text ?? null,
  },
});
const toReview = (r: RawReview): ReviewInfo => ({
  id: r.id,
  state: r.state,
  user: r.user?.login ?? null,
  body: r.body ?? '',
});
const toComment = (c: RawComment): ReviewCommentInfo => ({
  id: c.id,
  reviewId: c.pull_request_review_id ?? null,
  path: c.path,
  line: c.line ?? c.original_line ?? null,
  body: c.body,
  user: c.user?.login ?? null,
});

/** `owner/name` from a GitHub remote URL (https, ssh or scp-like), or null. */
export function slugFromRemoteUrl(url: string): string | null {
  const m =
    /^(?:[a-z+]+:\/\/(?:[^@/]+@)?[^/]+\/|[^@/]+@[^:/]+:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
      url.trim(),
    );
  return m ? `${m[1]}/${m[2]}` : null;
}
