// One run event as the API sends it, built as text around the payload's stored JSON: parsing and
// re-serializing every payload was most of the cost of an event page or a stream replay. The stored text
// is JSON.stringify's own output (core/store/event-bounds.ts), so this equals
// JSON.stringify({run_id, seq, type, at, turn_id, data}) of the parsed event.
import type { RawRunEvent } from '../../core/store/types.ts';

export function eventJsonText(e: RawRunEvent): string {
  const turn = e.turnId === null ? 'null' : String(e.turnId);
  return (
    `{"run_id":${JSON.stringify(e.runId)},"seq":${e.seq},"type":${JSON.stringify(e.type)},` +
    `"at":${JSON.stringify(e.at)},"turn_id":${turn},"data":${e.dataJson}}`
  );
}
