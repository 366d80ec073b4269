import { escape } from './html.ts';

/**
 * What every page needs and no page should have to remember, applied once to the rendered body:
 * - each table sits in a wrapper that scrolls sideways on a phone (and is focusable, so a keyboard
 *   can scroll it), instead of squeezing its cells to one character per line;
 * - a table with nothing in it says so (its `data-empty` text, or 暂无记录);
 * - each field named by an error message is marked `aria-invalid` and described by that message;
 * - the tab of the page being shown is marked `aria-current`.
 */
export function finishBody(body: string, currentUrl = ''): string {
  let out = body.replace(/<table\b([^>]*)>([\s\S]*?)<\/table>/g, (_whole, attrs: string, inner: string) => {
    const columns = (/<thead>([\s\S]*?)<\/thead>/.exec(inner)?.[1]?.match(/<th\b/g) ?? []).length;
    const said = /data-empty="([^"]*)"/.exec(attrs)?.[1] ?? '暂无记录。';
    const filled = inner.replace(
      /<tbody([^>]*)>\s*<\/tbody>/,
      (_t, tbodyAttrs: string) => `<tbody${tbodyAttrs}><tr class="empty-row"><td colspan="${Math.max(columns, 1)}" class="empty">${said}</td></tr></tbody>`,
    );
    return `<div class="table-wrap" tabindex="0"><table${attrs}>${filled}</table></div>`;
  });
  const invalid = new Set<string>();
  for (const m of out.matchAll(/<span class="field-error" data-error-for="([^"]+)" id="([^"]+)"/g)) {
    const [, field, id] = m;
    if (invalid.has(field!)) continue;
    invalid.add(field!);
    const control = new RegExp(`<(input|select|textarea)\\b([^>]*?)\\sname="${field!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`);
    out = out.replace(control, (_whole, tag: string, attrs: string) => `<${tag} aria-invalid="true" aria-describedby="${id}"${attrs} name="${field}"`);
  }
  // A row of tabs (a fund's pages) marks the one being shown.
  if (currentUrl) out = out.replaceAll(`<a class="tab" href="${escape(currentUrl)}">`, `<a class="tab" href="${escape(currentUrl)}" aria-current="page">`);
  return out;
}

/** The id of the message about `field`, for `aria-describedby`. */
export const errorId = (field: string) => `error-${escape(field).replace(/[^A-Za-z0-9_-]/g, '_')}`;

/**
 * Marks the navigation link of the page being shown (`aria-current="page"`): the longest link that
 * is the path itself or a folder of it, so /funds/3/journal marks 资金 and /my/assets marks 软件资产, not 本单位.
 */
export function currentNavHref(path: string, hrefs: string[]): string | undefined {
  return hrefs.filter((h) => path === h || path.startsWith(h.endsWith('/') ? h : `${h}/`)).sort((a, b) => b.length - a.length)[0];
}
