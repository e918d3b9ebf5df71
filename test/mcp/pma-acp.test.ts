// The PMA on an ACP agent: `car pma -m` (built) with `pma.agent` a deterministic ACP agent
// (test/fakes/acp-agent.mjs, a real child speaking ACP) that connects, with the MCP SDK's client, to the
// MCP server car named in `session/new` and calls its ticket_create: car's MCP server reaches ACP agents.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BuiltCarRepo, makeBuiltCarRepo } from '../helpers/built-car.ts';

const FAKE = fileURLToPath(new URL('../fakes/acp-agent.mjs', import.meta.url));
let repo: BuiltCarRepo | null = null;
after(() => repo?.cleanup());

test("car pma with an ACP agent: car's MCP server is in session/new, and its tool makes the ticket", async () => {
  repo = await makeBuiltCarRepo();
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'agents:',
      '  fake-acp:',
      '    backend: acp',
      `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE)}]`,
      'pma:',
      '  agent: fake-acp',
      '',
    ].join('\n'),
  );
  const args = JSON.stringify({ title: 'From ACP', agent: 'demo' });
  const r = await repo.run(['pma', '-m', `mcp car ticket_create ${args}`]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /"name": "TICKET-001-from-acp\.md"/);
  assert.match(r.stderr, /\[car\.ticket_create\]/);
  assert.deepEqual(
    readdirSync(join(repo.dir, '.codex-autorunner/tickets')).filter((f) => f.startsWith('TICKET-')),
    ['TICKET-001-from-acp.md'],
  );
  const lint = await repo.run(['ticket', 'lint']);
  assert.equal(lint.code, 0, lint.stdout);
});
