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
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT_RE)) {
      const specifier = match[1] ?? match[2] ?? '';
      // package.json is read for the version; it is data, not a layer
      if (!specifier.startsWith('.') || specifier.endsWith('/package.json')) continue;
      const target = layerOf(srcRoot, resolve(dirname(file), specifier));
      const line = text.slice(0, text.indexOf(specifier, match.index)).split('\n').length;
      if (target === null) {
        violations.push({ file, line, specifier, message: 'imports from outside src/' });
      } else if (!rule.may.includes(target)) {
        violations.push({ file, line, specifier, message: `${from} must not import ${target}` });
      }
    }
  }
  return violations;
}
