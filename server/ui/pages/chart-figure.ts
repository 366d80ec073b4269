import { Html, html } from '../html.ts';

/** A server-drawn chart (ECharts SVG, its text escaped by the renderer) as one image with its caption for screen readers. */
export const chartFigure = (svg: string | null, caption: string, description: string) =>
  svg ? html`<figure class="chart"><div role="img" aria-label="${description}">${new Html(svg)}</div><figcaption>${caption}</figcaption></figure>` : '';
