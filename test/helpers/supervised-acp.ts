// The fake ACP agent (test/fakes/acp-agent.mjs) in its supervised mode, which asks permission before it
// runs a command or edits a file: the repo config naming it with `approval_policy: ask`, shared by the
// approval tests (CLI, web, chat).
import { fileURLToPath } from 'node:url';

const FAKE_ACP_AGENT = fileURLToPath(new URL('../fakes/acp-agent.mjs', import.meta.url));

/** The `agents:` section: the supervised fake as agent `fake`, as YAML lines. */
export const SUPERVISED_ACP_AGENT = [
  'agents:',
  '  fake:',
  '    backend: acp',
  `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_ACP_AGENT)}]`,
  '    approval_policy: ask',
  '    env:',
  '      FAKE_SUPERVISED: "1"',
];

/** `config.yml` with that agent; car commits what it leaves. */
export const SUPERVISED_ACP_CONFIG = [
  'version: 2',
  'mode: repo',
  'git:',
  '  auto_commit: true',
  ...SUPERVISED_ACP_AGENT,
  '',
].join('\n');
