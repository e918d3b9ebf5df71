// A fake headless agent CLI for the command adapter tests: prints the JSONL fixture FAKE_FIXTURE with
// {{PROMPT}} and {{SESSION}} replaced, records its argv in FAKE_ARGV_FILE (one JSON array a line) and
// its pid in FAKE_PID_FILE. The prompt is the last argument, or stdin with FAKE_STDIN=1.
// Prompts: "fail" → stderr + exit 1, "netfail" → network error on stderr + exit 1, "quota" → Claude's
// usage-limit result + exit 1, "hang" → first
// line then wait forever (with a grandchild), "slow" → lines 200 ms apart, "drip" → the first line, then
// the second line again every 100 ms, forever (steady output from a turn that never ends).
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (process.env.FAKE_ARGV_FILE) appendFileSync(process.env.FAKE_ARGV_FILE, `${JSON.stringify(args)}\n`);
if (process.env.FAKE_PID_FILE) appendFileSync(process.env.FAKE_PID_FILE, `${process.pid}\n`);
const prompt = process.env.FAKE_STDIN === '1' ? readFileSync(0, 'utf8') : (args.at(-1) ?? '');
const resumeAt = args.indexOf('--resume');
const session = resumeAt >= 0 ? args[resumeAt + 1] : 'sess-new-1';
const lines = readFileSync(process.env.FAKE_FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) =>
    l.replaceAll('{{PROMPT}}', JSON.stringify(prompt).slice(1, -1)).replaceAll('{{SESSION}}', session),
  );

if (prompt === 'fail') {
  process.stdout.write(`${lines[0]}\n`);
  process.stderr.write('Error: model exploded\n');
  process.exit(1);
} else if (prompt === 'quota') {
  // Claude Code when the plan's limit is used up: an error result naming the reset in unix seconds
  process.stdout.write(`${lines[0]}\n`);
  const result = `Claude AI usage limit reached|${process.env.FAKE_RESET ?? '1900000000'}`;
  const end = { type: 'result', subtype: 'success', is_error: true, result, session_id: session };
  process.stdout.write(`${JSON.stringify(end)}\n`);
  process.exit(1);
} else if (prompt === 'netfail') {
  process.stderr.write('Error: connect ECONNREFUSED 127.0.0.1:443\n');
  process.exit(1);
} else if (prompt === 'hang') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  if (process.env.FAKE_PID_FILE) appendFileSync(process.env.FAKE_PID_FILE, `${child.pid}\n`);
  process.stdout.write(`${lines[0]}\n`);
  setInterval(() => {}, 1000);
} else if (prompt === 'slow') {
  let i = 0;
  const timer = setInterval(() => {
    process.stdout.write(`${lines[i++]}\n`);
    if (i >= lines.length) clearInterval(timer);
  }, 200);
} else if (prompt === 'drip') {
  process.stdout.write(`${lines[0]}\n`);
  setInterval(() => process.stdout.write(`${lines[1]}\n`), 100);
} else {
  process.stdout.write(`${lines.join('\n')}\n`);
}
