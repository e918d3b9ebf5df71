// Changes car makes to a config file on request (`car init --agent`): the YAML document is edited in
// place, so the file's comments and layout stay, and written atomically.
import { isMap, isScalar, isSeq } from 'yaml';
import { writeFileAtomic } from '../fs/atomic.ts';
import { INPUT_LIMITS, readFileBounded } from '../input-limits.ts';
import { CONFIG_BUDGET, parseDocumentWithinLimits } from '../yaml-limits.ts';
import { ConfigError } from './errors.ts';

/**
 * Sets `ticket_flow.default_agent` to `id` in the config file `file` (`label`: its name in messages),
 * adding `agents.<id>: entry` when `entry` is given and the file has no such agent; the `# car init:`
 * comment `car init` wrote above it gets `note`. Returns the file's previous text. Throws ConfigError,
 * writing nothing, when the file cannot be read or edited.
 */
export function setDefaultAgent(
  file: string,
  label: string,
  agent: { id: string; entry: Record<string, unknown> | null; note: string },
): string {
  const { id, entry } = agent;
  const fail = (message: string) => new ConfigError([{ file: label, keyPath: '', message }]);
  let text: string;
  try {
    text = readFileBounded(file, INPUT_LIMITS.configFileBytes, 'a config file').toString('utf8');
  } catch (err) {
    throw fail(`cannot be read (${(err as Error).message})`);
  }
  const { doc, limit } = parseDocumentWithinLimits(text, { version: '1.1' }, { budget: CONFIG_BUDGET });
  if (!doc || limit) throw fail(limit?.message ?? 'cannot be parsed');
  if (doc.errors.length > 0) throw fail(`invalid YAML: ${doc.errors[0]!.message}`);
  // a missing section is made from a plain object: setIn would make it a YAML 1.1 ordered map (!!omap)
  const set = (section: string, key: string, value: unknown) => {
    if (doc.has(section)) doc.setIn([section, key], value);
    else doc.set(section, doc.createNode({ [key]: value }));
  };
  try {
    if (entry && !doc.hasIn(['agents', id])) {
      const node = doc.createNode(entry);
      // argv lists read best on one line, as car init writes them
      if (isMap(node)) for (const pair of node.items) if (isSeq(pair.value)) pair.value.flow = true;
      set('agents', id, node);
    }
    set('ticket_flow', 'default_agent', id);
  } catch (err) {
    // e.g. `ticket_flow: 5`: a scalar where a mapping must go
    throw fail(`cannot set ticket_flow.default_agent: ${(err as Error).message}`);
  }
  const section = isMap(doc.contents)
    ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'ticket_flow')?.key
    : undefined;
  if (isScalar(section) && section.commentBefore?.startsWith(' car init:')) {
    section.commentBefore = section.commentBefore.replace(/^ car init:.*$/m, ` car init: ${agent.note}.`);
  }
  writeFileAtomic(file, doc.toString());
  return text;
}
