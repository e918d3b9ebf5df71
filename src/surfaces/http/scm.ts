// POST /api/scm/github/webhook: GitHub tells car a followed PR changed. The delivery must be signed with
// the secret in the env var `github.webhook_secret_env` names (HMAC, checked in constant time) and its
// delivery id must be new (a replay is refused); car then reads the PR through the API and follows it,
// exactly as `car pr watch` does. This route needs no bearer token: the signature is its authentication.
import { Hono } from 'hono';
import { defaultAgentId, knownAgentIds, secretEnvToRemove } from '../../core/config/index.ts';
import { ScmError } from '../../core/scm/ports.ts';
import { pollOpenPrs } from '../../core/scm/watch.ts';
import { deliveryTargets, verifySignature } from '../../integrations/github/webhook.ts';
import { CAR_VERSION } from '../version.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';

export const GITHUB_WEBHOOK_PATH = '/api/scm/github/webhook';

export function scmRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  app.post('/github/webhook', async (c) => {
    const { config } = ctx.loaded();
    const secret = ctx.env[config.github.webhook_secret_env];
    if (!secret) {
      throw new ApiError(
        503,
        'webhook_not_configured',
        `set ${config.github.webhook_secret_env} (github.webhook_secret_env) to the webhook's secret to take deliveries`,
      );
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    const signature = c.req.header('x-hub-signature-256');
    if (!signature) throw new ApiError(401, 'unsigned', 'the delivery has no X-Hub-Signature-256 header');
    if (!verifySignature(secret, body, signature))
      throw new ApiError(
        401,
        'bad_signature',
        'X-Hub-Signature-256 does not match the body under the secret',
      );
    const delivery = c.req.header('x-github-delivery');
    const event = c.req.header('x-github-event');
    if (!delivery || !event)
      throw new ApiError(400, 'bad_delivery', 'X-GitHub-Delivery and X-GitHub-Event are required');
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new ApiError(400, 'bad_json', 'the delivery body is not JSON');
    }
    const store = ctx.control().store;
    if (!store.prs().takeDelivery(delivery, event))
      throw new ApiError(409, 'replayed', `delivery ${delivery} was taken before`);
    const targets = deliveryTargets(event, payload);
    if (!targets || targets.prs.length === 0) return c.json({ delivery, event, followed: [] });

    // octokit is loaded on the first delivery, not with the server
    const { githubPorts } = await import('../../integrations/github/index.ts');
    let host: Awaited<ReturnType<typeof githubPorts>>['host'];
    try {
      ({ host } = await githubPorts(ctx.paths.root, config, ctx.env, {
        userAgent: `car/${CAR_VERSION}`,
        unsetEnv: secretEnvToRemove(config),
        maxRateWaitMs: 0,
      }));
    } catch (err) {
      if (err instanceof ScmError) throw new ApiError(503, 'github_unavailable', err.message);
      throw err;
    }
    if (targets.repo !== null && targets.repo.toLowerCase() !== host.slug.toLowerCase())
      return c.json({ delivery, event, followed: [], ignored: `not ${host.slug}` });
    const deps = {
      paths: ctx.paths,
      settings: config.github,
      host,
      prs: store.prs(),
      store,
      knownAgents: knownAgentIds(config),
      defaultAgent: defaultAgentId(config),
    };
    const followed = [];
    for (const number of targets.prs) {
      const round = await pollOpenPrs(deps, number);
      followed.push({ number, looked: round.looked, notices: round.notices, errors: round.errors });
    }
    return c.json({ delivery, event, followed });
  });
  return app;
}
