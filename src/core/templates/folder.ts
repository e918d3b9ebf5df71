// A folder of templates: the repo's or the hub's `.codex-autorunner/templates/` (the hub's `git/`
// subfolder holds the template repos' mirrors and is skipped). Links are listed as links and never
// followed; hidden entries are skipped.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SourceFile, TemplateError, type TemplateSource } from './catalog.ts';
import { gitBlobId } from './provenance.ts';

const MAX_DEPTH = 6;
const MAX_FILES = 5000;

export function folderSource(id: string, root: string): TemplateSource {
  const files = (): SourceFile[] => {
    const out: SourceFile[] = [];
    const walk = (dir: string, rel: string, depth: number) => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return; // a missing folder has no templates
      }
      for (const name of names) {
        if (name.startsWith('.') || (rel === '' && name === 'git') || out.length >= MAX_FILES) continue;
        const path = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(dir, name));
        if (st.isSymbolicLink()) out.push({ path, size: 0, link: true });
        else if (st.isDirectory()) {
          if (depth < MAX_DEPTH) walk(join(dir, name), path, depth + 1);
        } else if (st.isFile()) out.push({ path, size: st.size, link: false });
      }
    };
    walk(root, '', 1);
    return out;
  };
  return {
    id,
    kind: 'folder',
    trusted: true,
    ref: null,
    commit: null,
    files: async () => files(),
    read: async (path) => {
      // the path came from files(); check again that no part of it became a link since
      let at = root;
      for (const part of path.split('/')) {
        at = join(at, part);
        if (lstatSync(at).isSymbolicLink())
          throw new TemplateError('refused', `${id}:${path} is a symbolic link`);
      }
      const bytes = readFileSync(at);
      return { bytes, blob: gitBlobId(bytes) };
    },
  };
}
