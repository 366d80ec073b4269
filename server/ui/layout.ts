import type { Request } from 'express';
import type { Actor } from '../auth/roles.ts';
import { AppError, errorCatalogue } from '../errors.ts';
import { Html, html, roleNames } from './html.ts';
import { currentNavHref, errorId, finishBody } from './markup-finish.ts';

const navByRole: Record<string, Array<[string, string]>> = {
  accountant: [
    ['/funds', '资金'],
    ['/progress', '正版化进度'],
    ['/receipts', '发票审核'],
    ['/departments/acceptance', '验收'],
    ['/compliance', '正版化率'],
    ['/findings', '督查整改'],
  ],
  auditor: [
    ['/funds', '资金'],
    ['/progress', '正版化进度'],
    ['/receipts', '发票'],
    ['/compliance', '正版化率'],
    ['/findings', '督查整改'],
    ['/audit-log', '审计日志'],
    ['/statements/verify', '通知书核验'],
  ],
  department: [
    ['/my', '本单位'],
    ['/my/assets', '软件资产'],
    ['/findings', '督查整改'],
  ],
  inspector: [
    ['/inspections', '督查'],
    ['/findings', '督查发现'],
    ['/compliance', '正版化率'],
    ['/progress', '正版化进度'],
  ],
  admin: [
    ['/admin/users', '用户'],
    ['/admin/departments', '单位'],
    ['/progress', '正版化进度'],
    ['/audit-log', '审计日志'],
  ],
};

/** 待办 first in every staff and unit navigation, with the number of things waiting. */
const workLink = (req: Request) =>
  html`<a href="/work" class="work-link"${req.path === '/work' ? html` aria-current="page"` : ''}>待办${req.workCount ? html`<span class="count">${req.workCount}<span class="visually-hidden"> 项待处理</span></span>` : ''}</a>`;

/** The page frame: title, navigation for the role, the user, sign-out. */
export function page(req: Request, title: string, body: Html, options: { notice?: string | undefined; refresh_s?: number | undefined } = {}): string {
  const actor = req.actor as Actor | undefined;
  const nav = actor ? (navByRole[actor.role] ?? []) : [];
  const current = currentNavHref(
    req.path,
    nav.map(([href]) => href),
  );
  return html`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${options.refresh_s ? html`<meta http-equiv="refresh" content="${options.refresh_s}">` : ''}
<title>${title} · 奖补</title><link rel="stylesheet" href="/assets/app.css"><link rel="stylesheet" href="/assets/books.css"><script src="/assets/app.js" defer></script></head>
<body><header><a class="brand" href="/">奖补 · 以奖代补资金管理</a>
<nav aria-label="主导航">${actor && actor.role !== 'admin' ? workLink(req) : ''}${nav.map(([href, label]) => html`<a href="${href}"${href === current ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
${actor ? html`<form method="post" action="/logout" class="who"><a href="/account">${actor.username}（${roleNames[actor.role]}）</a><input type="hidden" name="_csrf" value="${req.csrf}"><button>退出</button></form>` : ''}
</header><main><h1>${title}</h1>${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}${new Html(finishBody(body.value, req.originalUrl))}</main></body></html>`
    .value;
}

/** The posted form's fields (urlencoded, one value each). */
export const formFields = (req: Request) => (req.body ?? {}) as Record<string, string>;

/** A hidden CSRF field for every form. */
export const csrfField = (req: Request) => html`<input type="hidden" name="_csrf" value="${req.csrf}">`;

export interface FormErrors {
  general: string | null;
  fields: Record<string, string>;
}

/** Turns an API error into messages shown next to the fields they concern. */
export function formErrors(e: unknown): FormErrors {
  if (!(e instanceof AppError)) throw e;
  const fields: Record<string, string> = {};
  for (const f of e.errors ?? []) fields[f.field] = fields[f.field] ? `${fields[f.field]}；${f.message}` : f.message;
  const named = Object.keys(fields).length > 0;
  const title = errorCatalogue[e.code].zh;
  // The catalogue's Chinese title, and the detail when it says more (details are Chinese where people meet them).
  return {
    general:
      named && (e.code === 'VALIDATION_FAILED' || e.code === 'WEAK_PASSWORD')
        ? '请更正标出的内容。'
        : /[\u4e00-\u9fff]/.test(e.message)
          ? `${title}：${e.message}`
          : title,
    fields,
  };
}

export const noErrors: FormErrors = { general: null, fields: {} };

export const fieldError = (errors: FormErrors, field: string) =>
  errors.fields[field] ? html`<span class="field-error" data-error-for="${field}" id="${errorId(field)}" role="alert">${errors.fields[field]}</span>` : '';
export const generalError = (errors: FormErrors) => (errors.general ? html`<p class="error" role="alert">${errors.general}</p>` : '');

/** A numeric id from the path; anything else is simply not found. */
export function idFrom(req: Request, name = 'id'): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,17}$/.test(v)) throw new AppError('NOT_FOUND', '没有这个页面或记录');
  return v;
}
