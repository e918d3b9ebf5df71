import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The one-way layering of docs/ARCHITECTURE.md: a module may import only from its own layer's folder or
 * from layers below it. Adapters (agents, integrations) do not import each other.
 */
const LAYERS: Record<string, { rank: number; may: string[] }> = {
  core: { rank: 0, may: ['core'] },
  control: { rank: 1, may: ['core', 'control'] },
  agents: { rank: 2, may: ['core', 'control', 'agents'] },
  integrations: { rank: 2, may: ['core', 'control', 'integrations'] },
  surfaces: { rank: 3, may: ['core', 'control', 'agents', 'integrations', 'surfaces'] },
};

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function layerOf(srcRoot: string, file: string): string | null {
  const rel = relative(srcRoot, file);
  if (rel.startsWith('..')) return null;
  return rel.split(sep)[0] ?? null;
}

function listSources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') listSources(path, out);
    } else if (/\.(ts|svelte)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

interface ImportRef {
  specifier: string;
  line: number;
}

/** The relative imports of one file (static, re-exports and dynamic), with their lines. */
function relativeImports(text: string): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const match of text.matchAll(IMPORT_RE)) {
    const specifier = match[1] ?? match[2] ?? '';
    // package.json is read for the version; it is data, not a layer
    if (!specifier.startsWith('.') || specifier.endsWith('/package.json')) continue;
    const line = text.slice(0, text.indexOf(specifier, match.index)).split('\n').length;
    refs.push({ specifier, line });
  }
  return refs;
}

export function findLayerViolations(srcRoot: string): Violation[] {
  const violations: Violation[] = [];
  for (const file of listSources(srcRoot)) {
    const from = layerOf(srcRoot, file);
    const rule = from ? LAYERS[from] : undefined;
    if (!from || !rule) {
      violations.push({
        file,
        line: 1,
        specifier: '',
        message: `file is outside the known layers (${Object.keys(LAYERS).join(', ')})`,
      });
      continue;
    }
    for (const { specifier, line } of relativeImports(readFileSync(file, 'utf8'))) {
      const target = layerOf(srcRoot, resolve(dirname(file), specifier));
      if (target === null) {
        violations.push({ file, line, specifier, message: 'imports from outside src/' });
      } else if (!rule.may.includes(target)) {
        violations.push({ file, line, specifier, message: `${from} must not import ${target}` });
      }
    }
  }
  return violations;
}

/** One import, resolved: `file` (line `line`) imports `target`. Paths are relative to the src root. */
export interface ImportEdge {
  file: string;
  line: number;
  specifier: string;
  target: string;
}

/** Every relative import between the source files under `srcRoot` (type-only and dynamic ones too). */
export function importGraph(srcRoot: string): Map<string, ImportEdge[]> {
  const graph = new Map<string, ImportEdge[]>();
  for (const path of listSources(srcRoot)) {
    const file = relative(srcRoot, path).split(sep).join('/');
    const edges = relativeImports(readFileSync(path, 'utf8')).map(({ specifier, line }) => ({
      file,
      line,
      specifier,
      target: relative(srcRoot, resolve(dirname(path), specifier))
        .split(sep)
        .join('/'),
    }));
    graph.set(file, edges);
  }
  return graph;
}

/**
 * The import cycles: one shortest cycle through each group of files that import each other round
 * (a strongly connected component), as the imports that close it, starting at the group's first file.
 */
export function findImportCycles(graph: Map<string, ImportEdge[]>): ImportEdge[][] {
  // Tarjan's strongly connected components, iteratively (a deep import chain must not overflow the stack)
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  for (const root of [...graph.keys()].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work.at(-1)!;
      const edges = graph.get(top.node) ?? [];
      if (top.edge < edges.length) {
        const target = edges[top.edge++]!.target;
        if (!graph.has(target)) continue;
        if (!index.has(target)) {
          index.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== top.node);
        const selfImport = (graph.get(top.node) ?? []).some((e) => e.target === top.node);
        if (group.length > 1 || selfImport) groups.push(group.sort());
      }
    }
  }
  return groups.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)).map((group) => shortestCycle(graph, group));
}

/** The shortest way from the group's first file back to itself, inside the group (breadth first). */
function shortestCycle(graph: Map<string, ImportEdge[]>, group: string[]): ImportEdge[] {
  const start = group[0]!;
  const inGroup = new Set(group);
  const via = new Map<string, ImportEdge>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const edge of graph.get(queue[i]!) ?? []) {
      if (!inGroup.has(edge.target) || via.has(edge.target)) continue;
      via.set(edge.target, edge);
      if (edge.target === start) {
        const cycle: ImportEdge[] = [];
        for (let e = edge; ; e = via.get(e.file)!) {
          cycle.unshift(e);
          if (e.file === start) return cycle;
        }
      }
      queue.push(edge.target);
    }
  }
  throw new Error(`no cycle through ${start}`); // a strongly connected group always has one
}

/**
 * The ranking inside src/core, lowest first. A module may import its own unit and the units of lower
 * ranks (units of one rank may import each other). A unit is a folder or a file of core/; a file
 * belongs to the longest unit that contains it, so a folder's leaf files can rank below the folder.
 */
export const CORE_RANKS: readonly (readonly string[])[] = [
  // primitives: files on disk, limits, processes, the agent interface
  [
    'fs',
    'proc',
    'input-limits.ts',
    'yaml-fast.ts',
    'yaml-limits.ts',
    'paths.ts',
    'lock.ts',
    'sleep.ts',
    'which.ts',
    'agent.ts',
  ],
  // what is stored: tickets, the run store, a hub's manifest and layout (config reads them for a hub's
  // repo_defaults), the flow's ports and run folder layout (verify works on them)
  ['tickets', 'store', 'hub/manifest.ts', 'hub/paths.ts', 'flow/ports.ts', 'flow/run-paths.ts'],
  ['config'],
  // the verify gate; `car init`
  ['verify', 'init.ts', 'templates'],
  ['flow'],
  // readers of runs and repos: chat notices, the hub; pull requests (push, open, follow)
  ['notify', 'hub', 'scm'],
];

interface Ranked {
  unit: string;
  rank: number;
}

function unitOf(coreFile: string, ranks: readonly (readonly string[])[]): Ranked | null {
  let best: Ranked | null = null;
  for (let rank = 0; rank < ranks.length; rank++) {
    for (const unit of ranks[rank]!) {
      const contains = coreFile === unit || coreFile.startsWith(`${unit}/`);
      if (contains && (best === null || unit.length > best.unit.length)) best = { unit, rank };
    }
  }
  return best;
}

/** Imports inside src/core that point up the ranking, and core files no rank places. */
export function findRankViolations(
  graph: Map<string, ImportEdge[]>,
  ranks: readonly (readonly string[])[] = CORE_RANKS,
): Violation[] {
  const violations: Violation[] = [];
  const core = (path: string) => (path.startsWith('core/') ? path.slice('core/'.length) : null);
  for (const [file, edges] of graph) {
    const from = core(file);
    if (from === null) continue;
    const mine = unitOf(from, ranks);
    if (!mine) {
      violations.push({ file, line: 1, specifier: '', message: `core/${from} is in no rank of CORE_RANKS` });
      continue;
    }
    for (const edge of edges) {
      const to = core(edge.target);
      const theirs = to === null ? null : unitOf(to, ranks);
      if (!theirs || theirs.rank <= mine.rank) continue;
      violations.push({
        file,
        line: edge.line,
        specifier: edge.specifier,
        message: `${mine.unit} (rank ${mine.rank}) must not import ${theirs.unit} (rank ${theirs.rank})`,
      });
    }
  }
  return violations;
}
