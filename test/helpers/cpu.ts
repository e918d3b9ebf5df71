import { readFileSync } from 'node:fs';

/**
 * CPU time in ms used so far by this process and by the children it has reaped (git, shells): what a
 * piece of work costs. Unlike wall-clock time it is not inflated by a busy machine, where other
 * processes hold the cores, so a performance bound on it does not flake under load.
 */
export function cpuTimeMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000 + reapedChildrenCpuMs();
}

/** cutime + cstime from /proc/self/stat (Linux; in USER_HZ ticks, which is 100 a second), else 0. */
function reapedChildrenCpuMs(): number {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return 0;
  }
  // fields after "(comm)" start at field 3 (state); cutime and cstime are fields 16 and 17 (proc(5))
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
  return Number.isFinite(ticks) ? ticks * 10 : 0;
}
