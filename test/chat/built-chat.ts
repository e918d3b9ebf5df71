// `car chat run` as users run it: `node dist/car.js chat run ...` in a child process (the workers it
// starts are then `dist/car.js flow worker` too), with an env of only PATH, a temp HOME and what the test
// passes (the bot token). The chat log lines go to stderr; "car chat: serving ..." to stdout.
import assert from 'node:assert/strict';
import { type CarChild, exitWithin, output, running, startCar } from '../helpers/built-car.ts';

/**
 * Starts `node dist/car.js <args>`; `cleanups` gets a SIGKILL for the case the test fails before it
 * stopped the child itself.
 */
export function startChat(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
  cleanups: (() => unknown)[],
): CarChild {
  const car = startCar(args, opts);
  cleanups.push(async () => {
    if (running(car)) car.child.kill('SIGKILL');
    await car.exited;
  });
  return car;
}

/** Adds the child's output to the message of a failed wait. */
export function withOutput<T>(car: CarChild, p: Promise<T>): Promise<T> {
  return p.catch((err: Error) => {
    throw new Error(`${err.message}\n${output(car)}`);
  });
}

/** Resolves once stderr matches; fails at once if the child exits first, or after `timeoutMs`. */
export async function waitForLog(
  car: CarChild,
  pattern: string | RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const seen = () => (typeof pattern === 'string' ? car.stderr.includes(pattern) : pattern.test(car.stderr));
  const deadline = Date.now() + timeoutMs;
  while (!seen()) {
    if (!running(car)) {
      // the last output may still be in the pipe
      await car.exited;
      if (seen()) return;
      throw new Error(`car exited before logging ${what}\n${output(car)}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output(car)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The serving line on stdout: the platforms are connected and the loop runs. */
export function serving(car: CarChild): Promise<void> {
  return withOutput(car, car.waitForOutput(/car chat: serving .*; Ctrl-C stops\n/));
}

/** SIGTERM, then a graceful stop: exit 0 within `boundMs`. */
export async function stopChat(car: CarChild, boundMs = 10_000): Promise<void> {
  assert.ok(running(car), `car chat run ended before it was stopped\n${output(car)}`);
  car.child.kill('SIGTERM');
  const exit = await exitWithin(car, boundMs, 'SIGTERM');
  assert.deepEqual(
    { code: exit.code, signal: exit.signal },
    { code: 0, signal: null },
    `a graceful stop exits 0\n${output(car)}`,
  );
  assert.match(car.stderr, /chat: stopping\n/);
}
