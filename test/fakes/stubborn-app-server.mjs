// A misbehaving stand-in for `codex app-server`, for the adapter's worst cases: it completes the handshake
// and starts a turn, then never finishes it, ignores `turn/interrupt`, ignores SIGTERM, and keeps a
// grandchild (`sleep`) in its process group. Only SIGKILL to the whole group ends it.
//   env STUBBORN_PIDFILE: write "<own pid> <grandchild pid>" there once running
//   env STUBBORN_MODE=noise: during the turn, emit garbage, an oversized line and progress notifications
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

process.on('SIGTERM', () => {});
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
if (process.env.STUBBORN_PIDFILE)
  writeFileSync(process.env.STUBBORN_PIDFILE, `${process.pid} ${sleeper.pid}`);

const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const threadId = '00000000-0000-7000-8000-000000000001';
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, method } = JSON.parse(line);
  if (id === undefined) return;
  switch (method) {
    case 'initialize':
      return send({ id, result: { userAgent: 'stubborn/0' } });
    case 'thread/start':
    case 'thread/resume':
      return send({ id, result: { thread: { id: threadId } } });
    case 'turn/start':
      send({ id, result: { turn: { id: 'turn-1', status: 'inProgress' } } });
      send({ method: 'turn/started', params: { threadId, turn: { id: 'turn-1' } } });
      if (process.env.STUBBORN_MODE === 'noise') {
        process.stdout.write('garbage that is not json\n');
        send({
          method: 'item/agentMessage/delta',
          params: { threadId, turnId: 'turn-1', itemId: 'm', delta: 'x'.repeat(5000) },
        });
        send({
          method: 'item/agentMessage/delta',
          params: { threadId, turnId: 'turn-1', itemId: 'm', delta: 'small' },
        });
      }
      return;
    case 'turn/interrupt':
      return send({ id, result: {} }); // says yes, does nothing
    default:
      return send({ id, error: { code: -32600, message: `unknown ${method}` } });
  }
});
// stdin closing does not end it either
process.stdin.on('end', () => setInterval(() => {}, 1000));
