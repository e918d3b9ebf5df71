// A horizontal scroller that shows there is more: `data-more` names the sides with hidden content
// ("left", "right", "left right"); app.css fades those edges and shows an arrow, so a row of tabs
// cut by a narrow screen says it scrolls.
export function scrollHint(el: HTMLElement): { destroy(): void } {
  const update = () => {
    const sides: string[] = [];
    if (el.scrollLeft > 1) sides.push('left');
    if (el.scrollLeft + el.clientWidth < el.scrollWidth - 1) sides.push('right');
    if (sides.length > 0) el.dataset.more = sides.join(' ');
    else delete el.dataset.more;
  };
  const resized = new ResizeObserver(update);
  resized.observe(el);
  // tabs that load later change the width too
  const changed = new MutationObserver(update);
  changed.observe(el, { childList: true, subtree: true, characterData: true });
  el.addEventListener('scroll', update, { passive: true });
  update();
  return {
    destroy() {
      resized.disconnect();
      changed.disconnect();
      el.removeEventListener('scroll', update);
    },
  };
}
