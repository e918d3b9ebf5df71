/**
 * A readers-writer lock, first come first served: `writing` work runs alone, `reading` work beside other
 * reading work. A writer waiting keeps later readers waiting, so it is not starved.
 */
export function readersWriterLock(): {
  reading: <T>(work: () => Promise<T>) => Promise<T>;
  writing: <T>(work: () => Promise<T>) => Promise<T>;
} {
  let readers = 0;
  let writer = false;
  const waiting: { exclusive: boolean; go: () => void }[] = [];
  const pump = () => {
    for (let next = waiting[0]; next; next = waiting[0]) {
      if (writer || (next.exclusive && readers > 0)) return;
      waiting.shift();
      if (next.exclusive) writer = true;
      else readers++;
      next.go();
    }
  };
  const run = async <T>(exclusive: boolean, work: () => Promise<T>): Promise<T> => {
    await new Promise<void>((go) => {
      waiting.push({ exclusive, go });
      pump();
    });
    try {
      return await work();
    } finally {
      if (exclusive) writer = false;
      else readers--;
      pump();
    }
  };
  return { reading: (work) => run(false, work), writing: (work) => run(true, work) };
}
