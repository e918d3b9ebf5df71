// A faithful local fake of the GitHub REST API subset car's PR lifecycle uses, on 127.0.0.1, driven by
// the real @octokit/rest client: repos, pulls (list by head, create, update, get, merge), issue labels,
// check runs of a commit, reviews and review comments. Like GitHub it answers 401 `Bad credentials` to a
// wrong token, sends an ETag with every GET and answers 304 to a matching `If-None-Match`, checks that a
// new PR's head branch exists in the remote (a real bare repository), and can be told to answer rate
// limits (403 with `x-ratelimit-remaining: 0` + `x-ratelimit-reset`, or 429 with `retry-after`) or to
// refuse merges into a protected base (405).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePr {
  number: number;
  title: string;
  body: string;
  head: string;
  base: string;
  draft: boolean;
  state: 'open' | 'closed';
  merged: boolean;
  labels: string[];
  headSha: string;
}

export interface FakeCheckRun {
  id: number;
  head_sha: string;
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
}

export interface FakeCall {
  method: string;
  path: string;
  status: number;
  ifNoneMatch: string | null;
  /** Whether the request carried the right token (the token itself is not kept). */
  authorized: boolean;
}

export interface FakeGithub {
  url: string;
  token: string;
  owner: string;
  repo: string;
  prs: FakePr[];
  checkRuns: FakeCheckRun[];
  calls: FakeCall[];
  /** The next `n` requests answer a rate limit: 429 with retry-after, or 403 with the reset headers. */
  rateLimitNext(
    n: number,
    how: { status: 403 | 429; retryAfterSeconds?: number; resetInSeconds?: number },
  ): void;
  /** Merges into this branch are refused (405), as a protected branch with unmet rules does. */
  protectedBase: string | null;
  addCheckRun(run: Omit<FakeCheckRun, 'id'>): FakeCheckRun;
  addReview(
    pr: number,
    review: {
      state: string;
      body: string;
      user: string;
      comments?: { path: string; line: number; body: string }[];
    },
  ): void;
  /** Someone merged or closed the PR on GitHub. */
  setPrState(pr: number, state: { merged?: boolean; closed?: boolean }): void;
  close(): Promise<void>;
}

interface Review {
  id: number;
  pr: number;
  state: string;
  body: string;
  user: { login: string };
}
interface Comment {
  id: number;
  pr: number;
  pull_request_review_id: number;
  path: string;
  line: number;
  body: string;
  user: { login: string };
}

export async function startFakeGithub(opts: {
  token: string;
  owner?: string;
  repo?: string;
  defaultBranch?: string;
  /** The bare repository pushes go to: a new PR's head must exist there, and its sha is read from it. */
  bareRepo: string;
}): Promise<FakeGithub> {
  const owner = opts.owner ?? 'acme';
  const repo = opts.repo ?? 'widgets';
  const prs: FakePr[] = [];
  const checkRuns: FakeCheckRun[] = [];
  const reviews: Review[] = [];
  const comments: Comment[] = [];
  const calls: FakeCall[] = [];
  let nextId = 1000;
  let rateLimited: {
    n: number;
    status: 403 | 429;
    retryAfterSeconds?: number;
    resetInSeconds?: number;
  } | null = null;
  let server: Server;

  const branchSha = (branch: string): string | null => {
    try {
      return execFileSync('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], {
        cwd: opts.bareRepo,
        encoding: 'utf8',
      }).trim();
    } catch {
      return null;
    }
  };

  const fake: FakeGithub = {
    url: '',
    token: opts.token,
    owner,
    repo,
    prs,
    checkRuns,
    calls,
    protectedBase: null,
    rateLimitNext(n, how) {
      rateLimited = { n, ...how };
    },
    addCheckRun(run) {
      const full = { id: nextId++, ...run };
      checkRuns.push(full);
      return full;
    },
    addReview(pr, r) {
      const id = nextId++;
      reviews.push({ id, pr, state: r.state, body: r.body, user: { login: r.user } });
      for (const c of r.comments ?? [])
        comments.push({ id: nextId++, pr, pull_request_review_id: id, ...c, user: { login: r.user } });
    },
    setPrState(number, s) {
      const pr = prs.find((p) => p.number === number)!;
      pr.state = 'closed';
      pr.merged = Boolean(s.merged);
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections(); // keep-alive sockets of the client would hold close() open
      }),
  };

  const prJson = (pr: FakePr) => {
    const base = `${fake.url}/repos/${owner}/${repo}`;
    return {
      url: `${base}/pulls/${pr.number}`,
      id: pr.number * 7,
      number: pr.number,
      html_url: `https://github.example/${owner}/${repo}/pull/${pr.number}`,
      state: pr.state,
      title: pr.title,
      body: pr.body,
      draft: pr.draft,
      merged: pr.merged,
      merged_at: pr.merged ? '2026-01-01T00:00:00Z' : null,
      labels: pr.labels.map((name) => ({ name })),
      head: { ref: pr.head, sha: branchSha(pr.head) ?? pr.headSha, label: `${owner}:${pr.head}` },
      base: { ref: pr.base, label: `${owner}:${pr.base}` },
    };
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(text);
    return status;
  };
  const error = (
    res: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ) => send(res, status, { message, documentation_url: 'https://docs.github.com/rest' }, headers);

  /** A GET answer with an ETag; 304 when the client already has it. */
  const cached = (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const etag = `"${createHash('sha1').update(JSON.stringify(body)).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return 304;
    }
    return send(res, 200, body, { etag });
  };

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${opts.token}` && auth !== `Bearer ${opts.token}`)
      return error(res, 401, 'Bad credentials');
    if (rateLimited && rateLimited.n > 0) {
      rateLimited.n -= 1;
      const headers: Record<string, string> = {};
      if (rateLimited.retryAfterSeconds !== undefined)
        headers['retry-after'] = String(rateLimited.retryAfterSeconds);
      if (rateLimited.resetInSeconds !== undefined) {
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(Math.ceil(Date.now() / 1000 + rateLimited.resetInSeconds));
      }
      return error(
        res,
        rateLimited.status,
        rateLimited.status === 429 ? 'You have exceeded a secondary rate limit.' : 'API rate limit exceeded',
        headers,
      );
    }
    const prefix = `/repos/${owner}/${repo}`;
    if (!url.pathname.startsWith(prefix)) return error(res, 404, 'Not Found');
    const path = url.pathname.slice(prefix.length);
    const method = req.method ?? 'GET';
    const prNum = /^\/pulls\/(\d+)/.exec(path)?.[1];
    const pr = prNum ? prs.find((p) => p.number === Number(prNum)) : undefined;
    if (prNum && !pr) return error(res, 404, 'Not Found');

    if (method === 'GET' && path === '') {
      return cached(req, res, {
        full_name: `${owner}/${repo}`,
        default_branch: opts.defaultBranch ?? 'main',
      });
    }
    if (method === 'GET' && path === '/pulls') {
      const head = url.searchParams.get('head');
      const state = url.searchParams.get('state') ?? 'open';
      const list = prs.filter(
        (p) => (state === 'all' || p.state === state) && (!head || `${owner}:${p.head}` === head),
      );
      return cached(req, res, list.map(prJson));
    }
    if (method === 'POST' && path === '/pulls') {
      const body = await readBody(req);
      const head = String(body.head ?? '');
      const base = String(body.base ?? '');
      if (!body.title) return error(res, 422, 'Validation Failed: title missing');
      const sha = branchSha(head);
      if (!sha) return error(res, 422, `Validation Failed: head ${head} does not exist`);
      if (!branchSha(base)) return error(res, 422, `Validation Failed: base ${base} does not exist`);
      if (prs.some((p) => p.head === head && p.state === 'open'))
        return error(res, 422, `Validation Failed: A pull request already exists for ${owner}:${head}.`);
      const created: FakePr = {
        number: prs.length + 1,
        title: String(body.title),
        body: String(body.body ?? ''),
        head,
        base,
        draft: Boolean(body.draft),
        state: 'open',
        merged: false,
        labels: [],
        headSha: sha,
      };
      prs.push(created);
      return send(res, 201, prJson(created));
    }
    if (pr && path === `/pulls/${pr.number}`) {
      if (method === 'GET') return cached(req, res, prJson(pr));
      if (method === 'PATCH') {
        const body = await readBody(req);
        if (typeof body.title === 'string') pr.title = body.title;
        if (typeof body.body === 'string') pr.body = body.body;
        return send(res, 200, prJson(pr));
      }
    }
    if (pr && method === 'PUT' && path === `/pulls/${pr.number}/merge`) {
      const body = await readBody(req);
      if (pr.state !== 'open') return error(res, 405, 'Pull Request is not mergeable');
      if (fake.protectedBase === pr.base)
        return error(res, 405, 'At least 1 approving review is required by reviewers with write access.');
      const sha = branchSha(pr.head);
      if (body.sha && body.sha !== sha)
        return error(res, 409, 'Head branch was modified. Review and try the merge again.');
      pr.state = 'closed';
      pr.merged = true;
      return send(res, 200, {
        sha: 'f'.repeat(40),
        merged: true,
        message: 'Pull Request successfully merged',
      });
    }
    if (pr && method === 'GET' && path === `/pulls/${pr.number}/reviews`) {
      return cached(
        req,
        res,
        reviews.filter((r) => r.pr === pr.number).map(({ pr: _pr, ...r }) => r),
      );
    }
    if (pr && method === 'GET' && path === `/pulls/${pr.number}/comments`) {
      return cached(
        req,
        res,
        comments.filter((c) => c.pr === pr.number).map(({ pr: _pr, ...c }) => c),
      );
    }
    const labels = /^\/issues\/(\d+)\/labels$/.exec(path);
    if (labels && method === 'POST') {
      const target = prs.find((p) => p.number === Number(labels[1]));
      if (!target) return error(res, 404, 'Not Found');
      const body = await readBody(req);
      for (const l of (body.labels as string[]) ?? []) if (!target.labels.includes(l)) target.labels.push(l);
      return send(
        res,
        200,
        target.labels.map((name) => ({ name })),
      );
    }
    const runs = /^\/commits\/([^/]+)\/check-runs$/.exec(path);
    if (runs && method === 'GET') {
      const list = checkRuns.filter((c) => c.head_sha === runs[1]);
      return cached(req, res, {
        total_count: list.length,
        check_runs: list.map((c) => ({ ...c, details_url: `https://ci.example/runs/${c.id}` })),
      });
    }
    return error(res, 404, 'Not Found');
  };

  server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const call: FakeCall = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      status: 0,
      ifNoneMatch: (req.headers['if-none-match'] as string | undefined) ?? null,
      authorized: auth === `token ${opts.token}` || auth === `Bearer ${opts.token}`,
    };
    calls.push(call);
    route(req, res).then(
      (status) => {
        call.status = status;
      },
      (err: Error) => {
        call.status = 500;
        if (!res.headersSent) send(res, 500, { message: err.message });
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
