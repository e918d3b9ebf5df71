// The diff viewer: diff2html (file list, syntax highlighting through its bundled highlight.js subset,
// side-by-side or line-by-line), loaded with its styles only when a page shows a diff.
export type DiffLayout = 'side-by-side' | 'line-by-line';

/** Draws `patch` (unified diff text) into `target`, replacing what was there. */
export async function drawDiff(target: HTMLElement, patch: string, layout: DiffLayout): Promise<void> {
  const [{ Diff2HtmlUI }] = await Promise.all([
    import('diff2html/lib-esm/ui/js/diff2html-ui-slim.js'),
    import('diff2html/bundles/css/diff2html.min.css'),
    import('./diff-view.css'),
  ]);
  const ui = new Diff2HtmlUI(target, patch, {
    outputFormat: layout,
    drawFileList: true,
    fileListToggle: true,
    fileListStartVisible: true,
    fileContentToggle: false,
    matching: 'lines',
    highlight: true,
    colorScheme: 'auto' as never,
    stickyFileHeaders: false,
  });
  ui.draw();
  ui.highlightCode();
}
