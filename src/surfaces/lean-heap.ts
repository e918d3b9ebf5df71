// Long-lived car processes (the server, a worker, the hub supervisor, the chat bots) hold a small live
// heap (tens of MiB) but allocate fast: every answer, event and stream chunk is short-lived. By default V8
// lets the old space grow to up to four times what survived the last full collection before it collects
// again, so under load the process's RSS is mostly garbage (`car serve` with 5,000 tickets and 100
// replaying streams: a 38 MiB live heap, 240 MiB RSS). A growth factor of 1.5 collects sooner; full
// collections stay incremental and cost a few ms each (bench/http-load.ts).
import { setFlagsFromString } from 'node:v8';

export function preferSmallHeap(): void {
  setFlagsFromString('--heap-growing-percent=50');
}
