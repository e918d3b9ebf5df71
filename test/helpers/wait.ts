/**
 * Polls `check` until it returns true, failing with "timed out waiting for <what>" after `timeoutMs`.
 * For tests: wait for the event itself, with a deadline generous enough for a loaded machine, never for
 * a fixed time.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
