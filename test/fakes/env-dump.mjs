// Writes its own environment as JSON to argv[2]: for tests of what car hands to the processes it starts
// (agents, verify commands, git hooks, set-up commands). With a ticket path as argv[3] it is also a
// headless agent for the command backend (format claude-stream-json): it marks that ticket done and
// prints a session and a result. car appends the prompt as the last argument; it is ignored.
import { readFileSync, writeFileSync } from 'node:fs';

const [out, ticket] = process.argv.slice(2);
writeFileSync(out, JSON.stringify(process.env));
if (ticket) {
  writeFileSync(ticket, readFileSync(ticket, 'utf8').replace('done: false', 'done: true'));
  const session_id = 'env-dump-1';
  for (const line of [
    { type: 'system', subtype: 'init', session_id },
    { type: 'result', subtype: 'success', is_error: false, result: 'environment written', session_id },
  ]) {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}
