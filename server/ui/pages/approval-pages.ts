import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { allows, authorize } from '../../auth/policy.ts';
import { inTransaction } from '../../db/transaction.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { accountingDate, todayInShanghai } from '../../http/schemas.ts';
import { approveBatch, approveEntry, getAnyEntry, getBatch, listPendingEntries, rejectBatch, rejectEntry } from '../../ledger/pending-entries.ts';
import { approvePeriodClose, listPeriodCloses, preparePeriodClose, rejectPeriodClose } from '../../ledger/period-closes.ts';
import { waitingFor, type WaitingItem } from '../../ledger/waiting.ts';
import { entryKindName } from '../../ledger/entry-kinds.ts';
import { getFund } from '../../ledger/funds.ts';
import { supportingDocuments, voucherSheet } from './voucher-sheet.ts';
import { day, html, moment, yuan, type Html } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

/* 审核 in the pages: what waits for an accountant, the voucher with its two names, and closing. */

const statusNames: Record<string, string> = { pending: '待审核', posted: '已记账', rejected: '已退回', approved: '已审核' };

const approveAction: Record<WaitingItem['type'], (id: string) => string> = {
  entry: (id) => `/entries/${id}/approve`,
  batch: (id) => `/batches/${id}/approve`,
  run: (id) => `/runs/${id}/approve`,
  payment: (id) => `/payments/${id}/approve`,
  close: (id) => `/period-closes/${id}/approve`,
  clawback: (id) => `/clawbacks/${id}/approve`,
};
const rejectAction: Partial<Record<WaitingItem['type'], (id: string) => string>> = {
  entry: (id) => `/entries/${id}/reject`,
  batch: (id) => `/batches/${id}/reject`,
  close: (id) => `/period-closes/${id}/reject`,
};
const detailLink: Record<WaitingItem['type'], (i: WaitingItem) => string> = {
  entry: (i) => `/entries/${i.id}`,
  batch: (i) => `/funds/${i.fund_id}`,
  run: (i) => `/runs/${i.id}`,
  payment: (i) => `/funds/${i.fund_id}/payments`,
  close: (i) => `/funds/${i.fund_id}`,
  clawback: () => '/clawbacks',
};

/** The accountant's home: everything prepared by someone else that waits for them, one click to approve or send back. */
export async function waitingSection(db: Knex, req: Request): Promise<Html | ''> {
  if (!allows(req.actor!.role, 'ledger.approve')) return '';
  const items = await waitingFor(db, req.actor!.id);
  return html`<h2>待我审核 <span class="muted">（${items.length}）</span></h2>
${
  items.length === 0
    ? html`<p class="muted">没有等待您审核的单据。</p>`
    : html`<table class="waiting"><thead><tr><th>资金</th><th>单据</th><th>日期</th><th class="num">金额</th><th>制单</th><th>审核</th></tr></thead><tbody>
${items.map(
  (
    i,
  ) => html`<tr data-type="${i.type}" data-id="${i.id}"><td>${i.fund_code}</td><td><a href="${detailLink[i.type](i)}">${i.what}</a></td><td>${day(i.date)}</td><td class="num">${yuan(i.amount)}</td><td>${i.prepared_by}<br><span class="muted">${moment(i.prepared_at)}</span></td>
<td><form method="post" action="${approveAction[i.type](i.id)}" class="inline">${csrfField(req)}<button class="approve">审核通过</button></form>
${rejectAction[i.type] ? html`<form method="post" action="${rejectAction[i.type]!(i.id)}" class="inline">${csrfField(req)}<input name="reason" placeholder="退回原因" required size="10"><button class="reject">退回</button></form>` : ''}</td></tr>`,
)}
</tbody></table>`
}`;
}

/** On the fund's page: the closed-through date, entries waiting, closes with their certificates, and the close form. */
export async function fundControlSection(
  db: Knex,
  req: Request,
  fund: { id: string; closed_through: string | null; opening_date: string },
  errors: FormErrors = noErrors,
): Promise<Html> {
  const role = req.actor!.role;
  const pending = allows(role, 'ledger.read') ? (await listPendingEntries(db, fund.id, { status: 'pending', limit: 50 })).items : [];
  const closes = allows(role, 'periods.read') ? (await listPeriodCloses(db, fund.id)).items : [];
  const b = formFields(req);
  return html`<p>启用日 ${day(fund.opening_date)} · <b class="closed-through">${fund.closed_through ? html`已结账至 ${day(fund.closed_through)}` : '尚未结账'}</b></p>
${
  allows(role, 'ledger.read')
    ? html`<h2>待审核凭证</h2>${
        pending.length
          ? html`<table><thead><tr><th>编号</th><th>日期</th><th>类型</th><th>摘要</th><th>制单</th></tr></thead><tbody>
${pending.map((e) => html`<tr><td><a href="/entries/${e.id}">${e.id}</a></td><td>${day(e.date)}</td><td>${entryKindName(e.kind)}</td><td>${e.memo}</td><td>${e.created_by_name}</td></tr>`)}</tbody></table>`
          : html`<p class="muted">无。</p>`
      }`
    : ''
}
${
  allows(role, 'periods.read')
    ? html`<h2>结账</h2>${
        closes.length
          ? html`<table class="closes"><thead><tr><th>类型</th><th>截至</th><th>状态</th><th>制单</th><th>审核</th><th>事由</th><th>结账单</th></tr></thead><tbody>
${closes.map((c) => html`<tr><td>${c.kind === 'close' ? '结账' : '反结账'}</td><td>${day(c.through)}</td><td>${statusNames[c.status] ?? c.status}</td><td>${c.created_by_name}</td><td>${c.decided_by_name ?? '—'}</td><td>${c.reason || c.reject_reason || ''}</td><td>${c.certificate_no ? html`<a href="/api/v1/period-closes/${c.id}/certificate.pdf">${c.certificate_no}</a>` : '—'}</td></tr>`)}</tbody></table>`
          : html`<p class="muted">尚无结账记录。</p>`
      }`
    : ''
}
${
  allows(role, 'periods.close')
    ? html`<form method="post" action="/funds/${fund.id}/period-closes" class="close-form">${csrfField(req)}${generalError(errors)}
<label>结账至 <input type="date" name="through" value="${b.through ?? todayInShanghai()}" required></label>${fieldError(errors, 'through')}
<label>事由（反结账必填） <input name="reason" value="${b.reason ?? ''}" size="30"></label>${fieldError(errors, 'reason')}
<button>提交结账</button></form>`
    : ''
}`;
}

export function approvalPages(db: Knex, witnessFile: string, rerenderFund: (req: Request, res: Response, fundId: string, errors: FormErrors) => Promise<void>) {
  async function voucher(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'ledger.read');
    const e = await getAnyEntry(db, idFrom(req));
    const pending = e.status === 'pending';
    const approver = 'approved_by_name' in e ? e.approved_by_name : null;
    const mayDecide = pending && allows(req.actor!.role, 'ledger.approve') && !('batch_id' in e && e.batch_id);
    const fund = await getFund(db, e.fund_id);
    const documents = await supportingDocuments(db, e.id, e.document_no);
    const sheet = voucherSheet(
      {
        ...e,
        voucher_year: 'voucher_year' in e ? e.voucher_year : undefined,
        voucher_no: 'voucher_no' in e ? e.voucher_no : undefined,
        approved_by_name: approver,
      },
      fund.name,
      documents,
    );
    res.status(errors === noErrors ? 200 : 409).send(
      page(
        req,
        'voucher_no' in e ? `记账凭证 ${e.voucher_year} 年 ${e.voucher_no}` : `记账凭证（${statusNames[e.status]}）`,
        html`
<p class="no-print"><a href="/funds/${e.fund_id}">返回资金</a> · <a href="/funds/${e.fund_id}/journal">序时账</a> · <button type="button" class="secondary print-button" data-print>打印凭证</button><script src="/assets/print.js" defer></script></p>${generalError(errors)}
<p>状态：<b class="status">${statusNames[e.status] ?? e.status}</b>${e.hash ? html` · 哈希 <span class="mono">${e.hash}</span>` : ''}${'reason' in e && e.reason ? html` · 退回：${e.decided_by_name}（${e.reason}）` : ''}</p>
${sheet}
${
  mayDecide
    ? html`<form method="post" action="/entries/${e.id}/approve" class="inline no-print">${csrfField(req)}<button class="approve">审核通过</button></form>
<form method="post" action="/entries/${e.id}/reject" class="inline no-print">${csrfField(req)}<label class="inline-label">退回原因 <input name="reason" required></label><button class="reject">退回</button></form>`
    : ''
}`,
        { notice },
      ),
    );
  }

  const reason = (req: Request) => {
    const r = String(formFields(req).reason ?? '').trim();
    if (!r || r.length > 500) throw new AppError('VALIDATION_FAILED', '请填写退回原因（至多 500 字）', [{ field: 'reason', message: '请填写退回原因' }]);
    return r;
  };

  return {
    voucher: (req: Request, res: Response) => voucher(req, res),
    async decideEntry(req: Request, res: Response) {
      authorize(req.actor, 'ledger.approve');
      const id = idFrom(req);
      const approve = req.path.endsWith('/approve');
      try {
        if (approve) await inTransaction(db, (trx) => approveEntry(trx, contextOf(req), id));
        else await inTransaction(db, (trx) => rejectEntry(trx, contextOf(req), id, reason(req)));
        await voucher(req, res, noErrors, approve ? '已审核，凭证已记账。' : '已退回。');
      } catch (e) {
        await voucher(req, res, formErrors(e));
      }
    },
    async decideBatch(req: Request, res: Response) {
      authorize(req.actor, 'ledger.approve');
      const id = idFrom(req);
      const batch = await getBatch(db, id);
      if (req.path.endsWith('/approve')) await inTransaction(db, (trx) => approveBatch(trx, contextOf(req), id));
      else await inTransaction(db, (trx) => rejectBatch(trx, contextOf(req), id, reason(req)));
      res.redirect(303, `/funds/${batch.fund_id}`);
    },
    async prepareClose(req: Request, res: Response) {
      authorize(req.actor, 'periods.close');
      const fundId = idFrom(req);
      const b = formFields(req);
      try {
        const through = accountingDate.safeParse(b.through);
        if (!through.success)
          throw new AppError('VALIDATION_FAILED', '请填写不晚于今天的有效日期', [
            { field: 'through', message: through.error.issues[0]?.message ?? '请填写有效日期' },
          ]);
        await inTransaction(db, (trx) => preparePeriodClose(trx, contextOf(req), fundId, { through: through.data, reason: b.reason }));
        res.redirect(303, `/funds/${fundId}`);
      } catch (e) {
        await rerenderFund(req, res, fundId, formErrors(e));
      }
    },
    async decideClose(req: Request, res: Response) {
      authorize(req.actor, 'periods.close');
      const id = idFrom(req);
      const close = await db('period_closes').where({ id }).first('fund_id');
      if (!close) throw new AppError('NOT_FOUND', '没有这次结账');
      const fundId = String(close.fund_id);
      try {
        if (req.path.endsWith('/approve')) await inTransaction(db, (trx) => approvePeriodClose(trx, contextOf(req), id, witnessFile));
        else await inTransaction(db, (trx) => rejectPeriodClose(trx, contextOf(req), id, reason(req)));
        res.redirect(303, `/funds/${fundId}`);
      } catch (e) {
        await rerenderFund(req, res, fundId, formErrors(e));
      }
    },
  };
}
