// A deterministic ACP agent for car's adapter tests (plain ESM so it starts fast, no tsx).
// Behaviour is chosen by the prompt text (first word):
//   (default)   stream "Hello " + "world." as one message, a tool call, then end_turn with usage
//   two         two messages separated by a tool call; the final text is the second
//   permission  ask session/request_permission; the reply becomes the message
//   write       fs/write_text_file notes/out.txt inside cwd, then one outside cwd (FAKE_OUTSIDE_PATH)
//   read <rel>  fs/read_text_file <cwd>/<rel>, echo the content
//   hang        one chunk, then wait for session/cancel; answers end_turn like OpenCode does
//   deaf        one chunk, then ignore session/cancel forever
//   silent      no updates at all; waits for session/cancel, then end_turn
//   crash       one chunk, then a message on stderr and exit code 3
//   garbage     print a non-JSON line on stdout, then wait
//   spawn       start a grandchild process (pid appended to FAKE_PID_FILE), then wait for cancel
//   recall      say the previous prompt of this session (works after session/load)
//   refuse      stopReason "refusal"
//   a line `mcp <server> <tool> <json args>` anywhere in the prompt: call that tool of the MCP server
//               session/new named (stdio, with the MCP SDK's client) and say its text result
// Env: FAKE_PID_FILE (append own pid), FAKE_STATE_DIR (session history, enables session/load),
//      FAKE_NO_LOAD=1 (do not advertise loadSession), FAKE_AUTH=1 (session/new → auth_required),
//      FAKE_CLOSED_FILE (advertise session/close; each closed session id is appended to this file),
//      FAKE_OUTSIDE_PATH (target of the refused write),
//      FAKE_SUPERVISED=1 (every prompt: ask to run `touch denied.txt`, then to edit the first open ticket
//      to done with work/acp.txt; each only when allowed, saying what it did or went without).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import * as acp from '@agentclientprotocol/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

if (process.env.FAKE_PID_FILE) appendFileSync(process.env.FAKE_PID_FILE, `${process.pid}\n`);
const stateDir = process.env.FAKE_STATE_DIR;
const sessions = new Map(); // id -> { cwd, history: string[], abort: AbortController | null }
let nextId = 1;

function save(id) {
  if (stateDir) writeFileSync(join(stateDir, `${id}.json`), JSON.stringify(sessions.get(id)?.history ?? []));
}

/** FAKE_SUPERVISED: two actions, each done only when the client allows it. */
async function supervisedTurn(s, sessionId, client, update, say) {
  const ask = async (toolCall) => {
    await update({ sessionUpdate: 'tool_call', status: 'pending', ...toolCall });
    const res = await client.request(acp.methods.client.session.requestPermission, {
      sessionId,
      toolCall,
      options: [
        { optionId: 'yes', name: 'Allow', kind: 'allow_once' },
        { optionId: 'always', name: 'Always', kind: 'allow_always' },
        { optionId: 'no', name: 'Reject', kind: 'reject_once' },
      ],
    });
    return res.outcome.outcome === 'selected' && res.outcome.optionId !== 'no';
  };
  const touch = {
    toolCallId: 'run1',
    title: 'touch denied.txt',
    kind: 'execute',
    rawInput: { command: 'touch denied.txt' },
  };
  if (await ask(touch)) {
    writeFileSync(join(s.cwd, 'denied.txt'), '');
    await say('Ran touch denied.txt. ');
  } else {
    await say('Not allowed to touch denied.txt; going on without it. ');
  }
  const dir = join(s.cwd, '.codex-autorunner', 'tickets');
  const open = readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(dir, f))
    .find((f) => /^done: false$/m.test(readFileSync(f, 'utf8')));
  if (!open) {
    await say('Nothing left to do.');
    return { stopReason: 'end_turn' };
  }
  const oldText = readFileSync(open, 'utf8');
  const newText = oldText.replace(/^done: false$/m, 'done: true');
  const edit = {
    toolCallId: 'edit1',
    title: `Edit ${open}`,
    kind: 'edit',
    content: [{ type: 'diff', path: open, oldText, newText }],
    locations: [{ path: open }],
  };
  if (await ask(edit)) {
    mkdirSync(join(s.cwd, 'work'), { recursive: true });
    writeFileSync(join(s.cwd, 'work', 'acp.txt'), 'done\n');
    writeFileSync(open, newText);
    await say('Marked the ticket done.');
  } else {
    await say('Not allowed to edit the ticket.');
  }
  return { stopReason: 'end_turn' };
}

const waitForCancel = (signal) =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });

const stream = acp.ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin));
acp
  .agent({ name: 'fake-acp-agent' })
  .onRequest(acp.methods.agent.initialize, () => ({
    protocolVersion: acp.PROTOCOL_VERSION,
    agentInfo: { name: 'fake-acp-agent', version: '1.0.0' },
    agentCapabilities: {
      loadSession: process.env.FAKE_NO_LOAD !== '1',
      ...(process.env.FAKE_CLOSED_FILE ? { sessionCapabilities: { close: {} } } : {}),
    },
    authMethods: [],
  }))
  .onRequest(acp.methods.agent.session.new, ({ params }) => {
    if (process.env.FAKE_AUTH === '1') throw acp.RequestError.authRequired();
    const sessionId = `fake-${process.pid}-${nextId++}`;
    sessions.set(sessionId, {
      cwd: params.cwd,
      history: [],
      abort: null,
      mcpServers: params.mcpServers ?? [],
    });
    save(sessionId);
    return {
      sessionId,
      configOptions: [
        {
          id: 'model',
          name: 'Model',
          category: 'model',
          type: 'select',
          currentValue: 'small',
          options: [
            { value: 'small', name: 'Small' },
            { value: 'large', name: 'Large' },
          ],
        },
      ],
    };
  })
  .onRequest(acp.methods.agent.session.load, async ({ params, client }) => {
    const file = stateDir ? join(stateDir, `${params.sessionId}.json`) : null;
    if (!file || !existsSync(file)) throw acp.RequestError.resourceNotFound(params.sessionId);
    const history = JSON.parse(readFileSync(file, 'utf8'));
    sessions.set(params.sessionId, {
      cwd: params.cwd,
      history,
      abort: null,
      mcpServers: params.mcpServers ?? [],
    });
    for (const text of history) {
      await client.notify(acp.methods.client.session.update, {
        sessionId: params.sessionId,
        update: { sessionUpdate: 'user_message_chunk', content: { type: 'text', text } },
      });
      await client.notify(acp.methods.client.session.update, {
        sessionId: params.sessionId,
        update: {
          sessionUpdate: 'agent_message_chunk',
          content: { type: 'text', text: `replayed: ${text}` },
        },
      });
    }
    return {};
  })
  .onRequest(acp.methods.agent.session.setConfigOption, ({ params }) => {
    const s = sessions.get(params.sessionId);
    if (s) s.model = params.value;
    return { configOptions: [] };
  })
  .onRequest(acp.methods.agent.session.close, ({ params }) => {
    sessions.get(params.sessionId)?.abort?.abort();
    sessions.delete(params.sessionId);
    if (process.env.FAKE_CLOSED_FILE) appendFileSync(process.env.FAKE_CLOSED_FILE, `${params.sessionId}\n`);
    return {};
  })
  .onNotification(acp.methods.agent.session.cancel, ({ params }) =>
    sessions.get(params.sessionId)?.abort?.abort(),
  )
  .onRequest(acp.methods.agent.session.prompt, async ({ params, client }) => {
    const s = sessions.get(params.sessionId);
    if (!s) throw acp.RequestError.resourceNotFound(params.sessionId);
    s.abort = new AbortController();
    const signal = s.abort.signal;
    const text = params.prompt
      .filter((b) => b.type === 'text')
      .map((b) => b.text)
      .join('\n');
    const previous = s.history.at(-1) ?? '(none)';
    s.history.push(text);
    save(params.sessionId);
    const [word, ...rest] = text.trim().split(/\s+/);
    const update = (u) =>
      client.notify(acp.methods.client.session.update, { sessionId: params.sessionId, update: u });
    const say = (t, messageId) =>
      update({
        sessionUpdate: 'agent_message_chunk',
        content: { type: 'text', text: t },
        ...(messageId ? { messageId } : {}),
      });

    if (process.env.FAKE_SUPERVISED === '1') return supervisedTurn(s, params.sessionId, client, update, say);
    const mcpCall = /^mcp (\S+) (\S+) (\{.*\})$/m.exec(text);
    if (mcpCall) {
      const [, name, tool, args] = mcpCall;
      const server = s.mcpServers.find((m) => m.name === name);
      if (!server) {
        await say(
          `no MCP server named ${name} (given: ${s.mcpServers.map((m) => m.name).join(', ') || 'none'})`,
        );
        return { stopReason: 'end_turn' };
      }
      const mcp = new Client({ name: 'fake-acp-agent', version: '1.0.0' });
      await mcp.connect(
        new StdioClientTransport({
          command: server.command,
          args: server.args,
          cwd: s.cwd,
          env: { ...process.env, ...Object.fromEntries(server.env.map((e) => [e.name, e.value])) },
          stderr: 'ignore',
        }),
      );
      try {
        await update({
          sessionUpdate: 'tool_call',
          toolCallId: 'mcp1',
          title: `${name}.${tool}`,
          kind: 'other',
          status: 'in_progress',
          rawInput: JSON.parse(args),
        });
        const result = await mcp.callTool({ name: tool, arguments: JSON.parse(args) });
        await say(result.content.map((c) => c.text ?? '').join(''));
      } finally {
        await mcp.close();
      }
      return { stopReason: 'end_turn' };
    }

    switch (word) {
      case 'two': {
        await say('Let me look.', 'm1');
        await update({
          sessionUpdate: 'tool_call',
          toolCallId: 't1',
          title: 'ls',
          kind: 'execute',
          status: 'in_progress',
          rawInput: { command: 'ls' },
        });
        await update({
          sessionUpdate: 'tool_call_update',
          toolCallId: 't1',
          status: 'completed',
          content: [{ type: 'content', content: { type: 'text', text: 'a.txt' } }],
        });
        await say('All ', 'm2');
        await say('done.', 'm2');
        return { stopReason: 'end_turn' };
      }
      case 'permission': {
        await update({
          sessionUpdate: 'tool_call',
          toolCallId: 'p1',
          title: 'Run rm -rf build',
          kind: 'execute',
          status: 'pending',
        });
        const res = await client.request(acp.methods.client.session.requestPermission, {
          sessionId: params.sessionId,
          toolCall: { toolCallId: 'p1' },
          options: [
            { optionId: 'yes', name: 'Allow', kind: 'allow_once' },
            { optionId: 'always', name: 'Always', kind: 'allow_always' },
            { optionId: 'no', name: 'Reject', kind: 'reject_once' },
          ],
        });
        const answer = res.outcome.outcome === 'selected' ? res.outcome.optionId : 'cancelled';
        await say(`permission: ${answer}`);
        return { stopReason: 'end_turn' };
      }
      case 'write': {
        const inside = join(s.cwd, 'notes', 'out.txt');
        await client.request(acp.methods.client.fs.writeTextFile, {
          sessionId: params.sessionId,
          path: inside,
          content: 'inside\n',
        });
        let outsideResult = 'written';
        try {
          await client.request(acp.methods.client.fs.writeTextFile, {
            sessionId: params.sessionId,
            path: process.env.FAKE_OUTSIDE_PATH ?? '/tmp/car-fake-outside.txt',
            content: 'outside\n',
          });
        } catch (err) {
          outsideResult = `refused (${err.code})`;
        }
        await say(`inside: written; outside: ${outsideResult}`);
        return { stopReason: 'end_turn' };
      }
      case 'read': {
        const res = await client.request(acp.methods.client.fs.readTextFile, {
          sessionId: params.sessionId,
          path: join(s.cwd, rest[0] ?? ''),
        });
        await say(`content: ${res.content}`);
        return { stopReason: 'end_turn' };
      }
      case 'hang':
        await say('working…');
        await waitForCancel(signal);
        return { stopReason: 'end_turn' };
      case 'deaf':
        await say('not listening');
        await new Promise(() => {});
        return { stopReason: 'end_turn' };
      case 'silent':
        await waitForCancel(signal);
        return { stopReason: 'end_turn' };
      case 'crash':
        await say('about to crash');
        process.stderr.write('fatal: simulated crash in fake agent\n');
        setTimeout(() => process.exit(3), 10);
        await new Promise(() => {});
        return { stopReason: 'end_turn' };
      case 'garbage':
        process.stdout.write('this is not json-rpc\n');
        await new Promise(() => {});
        return { stopReason: 'end_turn' };
      case 'spawn': {
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        if (process.env.FAKE_PID_FILE) appendFileSync(process.env.FAKE_PID_FILE, `${child.pid}\n`);
        await say(`spawned ${child.pid}`);
        await waitForCancel(signal);
        await new Promise(() => {}); // keep running: the client must kill the group
        return { stopReason: 'end_turn' };
      }
      case 'recall':
        await say(`previous: ${previous}`);
        return { stopReason: 'end_turn' };
      case 'refuse':
        return { stopReason: 'refusal' };
      default: {
        await say(`Hello `, 'm1');
        await say(`world (model ${s.model ?? 'small'}).`, 'm1');
        await update({
          sessionUpdate: 'plan',
          entries: [{ content: 'greet', priority: 'high', status: 'completed' }],
        });
        await update({
          sessionUpdate: 'usage_update',
          used: 120,
          size: 1000,
          cost: { amount: 0.25, currency: 'USD' },
        });
        return {
          stopReason: 'end_turn',
          usage: { inputTokens: 11, outputTokens: 7, cachedReadTokens: 3, totalTokens: 18 },
        };
      }
    }
  })
  .connect(stream);
