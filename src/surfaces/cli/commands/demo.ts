import { rmSync } from 'node:fs';
import { agentProcessPort } from '../../../agents/orphans.ts';
import { createAgentResolver } from '../../../agents/resolver.ts';
import { FlowControl, runWorker } from '../../../control/flow-control.ts';
import { loadConfig } from '../../../core/config/index.ts';
import { repoPaths } from '../../../core/paths.ts';
import { newTicketId, renderNewTicket } from '../../../core/tickets/index.ts';
import { createRepoState, runGit } from '../../../integrations/git/index.ts';
import { CliError } from '../errors.ts';
import { type CliIo, painter } from '../io.ts';
import { ProgressPrinter } from '../progress.ts';
import { makeScratchRepo } from '../scratch-repo.ts';
import { outcomeExit } from './flow.ts';

/** Three small tickets whose ```car-demo scripts the demo agent follows step by step. */
const DEMO_TICKETS = [
  {
    file: 'TICKET-010-readme.md',
    title: 'Write a README for the greeter',
    script: [
      'say Reading the ticket and the repo.',
      'write README.md # greeter\\n\\nA tiny module that says hello.\\n',
      'say README written; marking the ticket done and committing.',
      'done',
      'commit docs: add README',
    ],
  },
  {
    file: 'TICKET-020-greet.md',
    title: 'Add greet(name) with a test',
    script: [
      'say Adding greet() and a test for it.',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source the demo agent writes
      'write src/greet.js export function greet(name) {\\n  return `Hello, ${name}!`;\\n}\\n',
      "write test/greet.test.js import assert from 'node:assert';\\nimport { greet } from '../src/greet.js';\\nassert.equal(greet('car'), 'Hello, car!');\\n",
      'notify greet() is in src/greet.js, with a test in test/greet.test.js.',
      'done',
      'commit feat: greet(name)',
    ],
  },
  {
    file: 'TICKET-030-changelog.md',
    title: 'Record the change in the changelog and decisions',
    script: [
      'say Updating CHANGELOG.md and the decisions log.',
      'append CHANGELOG.md - 0.1.0: greet(name) and a README',
      'append .codex-autorunner/contextspace/decisions.md - greet() returns a string; callers print it.',
      'done',
      'commit chore: changelog',
    ],
  },
];

export async function demoCommand(io: CliIo, opts: { keep?: boolean; fast?: boolean }): Promise<void> {
  const paint = painter(io);
  io.stdout(
    `${paint('bold', 'car demo')}: the bundled demo agent (deterministic, offline, no account) works 3 tickets\n`,
  );
  const tickets = DEMO_TICKETS.map((t) => {
    const body = `## Tasks\n- ${t.title}\n\n## Demo script\n\n\`\`\`car-demo\n${t.script.join('\n')}\n\`\`\`\n`;
    const fields = { ticket_id: newTicketId(), agent: 'demo', done: false, title: t.title };
    return { file: t.file, text: renderNewTicket(fields, body) };
  });
  const dir = await makeScratchRepo('car-demo-', tickets, 'plan: three demo tickets');
  io.stdout(`repo: ${dir}\n\n`);
  const started = Date.now();
  const paths = repoPaths(dir);
  try {
    const { config } = loadConfig(dir, io.env);
    const control = new FlowControl(paths, config, createRepoState(dir), {
      agentProcesses: agentProcessPort,
    });
    try {
      const prepared = await control.prepareStart();
      const printer = new ProgressPrinter(io);
      const outcome = await runWorker({
        control,
        runId: prepared.run.id,
        repo: createRepoState(dir),
        resolveAgent: createAgentResolver(config, { demoStepDelayMs: opts.fast ? 0 : 150 }),
        onProgress: printer.onProgress,
        ...(io.exit ? { guard: { stderr: io.stderr, exit: io.exit } } : {}),
      });
      printer.finish(outcome);

      const turns = control.store.listTurns(prepared.run.id);
      const events = control.store.lastEventSeq(prepared.run.id);
      const log = (await runGit(['log', '--oneline', '--reverse'], { cwd: dir })).toString().trim();
      io.stdout(`\n${paint('bold', 'summary')}\n`);
      io.stdout(
        `  run ${prepared.run.id}: ${outcome.status} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
      );
      io.stdout(`  ${turns.length} agent turns, ${events} events recorded in .codex-autorunner/car.db\n`);
      io.stdout(
        `  commits:\n${log
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n')}\n`,
      );
      io.stdout(
        opts.keep
          ? `  kept the repo: cd ${dir} && car ticket list && car flow show ${prepared.run.id}\n`
          : '  (the demo repo is removed; --keep keeps it)\n',
      );
      const code = outcomeExit(outcome);
      if (code !== 0) throw new CliError(`the demo run ended ${outcome.status}: ${outcome.reason}`, code);
    } finally {
      control.close();
    }
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
