import { errorCatalogue } from '../errors.ts';
import { openApiDocument } from '../http/openapi.ts';
import { type RouteSpec, file, json, mediaTypes, route, written } from '../http/route.ts';
import { openApi } from './responses/service.ts';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A browsable page built from the same document, with no script or CDN: works offline. */
function docsPage(specs: RouteSpec[]): string {
  const doc = openApiDocument(specs);
  const rows = Object.entries(doc.paths)
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => {
        const o = op as { summary: string; description: string; requestBody?: unknown; parameters: unknown[] };
        const schema = o.requestBody ? `<details><summary>body</summary><pre>${escape(JSON.stringify(o.requestBody, null, 2))}</pre></details>` : '';
        return `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(o.summary)}<br><small>${escape(o.description)}</small>${schema}</td></tr>`;
      }),
    )
    .join('\n');
  const errors = Object.entries(errorCatalogue)
    .map(([code, e]) => `<tr id="error-${code}"><td><code>${code}</code></td><td>${e.status}</td><td>${escape(e.title)}</td><td>${escape(e.zh)}</td></tr>`)
    .join('\n');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Jiangbu API</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}td{vertical-align:top;padding:.3em .6em;border-bottom:1px solid #ddd}pre{font-size:12px}</style></head>
<body><h1>Jiangbu (奖补) API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Send <code>Authorization: Bearer &lt;token&gt;</code> from <code>POST /api/v1/auth/login</code>.</p>
<h2>Endpoints</h2><table>${rows}</table>
<h2>Error codes</h2><p>Errors are <code>application/problem+json</code> <code>{type,title,status,code,detail,errors?}</code>.</p><table>${errors}</table></body></html>`;
}

export function docsRoutes(specs: () => RouteSpec[]) {
  return [
    route(
      {
        method: 'get',
        path: '/openapi.json',
        action: 'docs.read',
        tag: 'service',
        summary: 'This OpenAPI document',
        response: json(200, 'OpenAPI 3.1', openApi),
      },
      async (_req, res) => {
        return res.json(openApiDocument(specs()));
      },
    ),
    route(
      {
        method: 'get',
        path: '/docs',
        action: 'docs.read',
        tag: 'service',
        summary: 'Browsable API documentation',
        response: file('the page', mediaTypes.html),
      },
      async (_req, res) => {
        res.type('html').send(docsPage(specs()));
        return written(res);
      },
    ),
  ];
}
