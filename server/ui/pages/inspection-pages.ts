import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import type { z } from 'zod';
import { recordEvidence } from '../../assets/evidence.ts';
import { allows, authorize } from '../../auth/policy.ts';
import type { Config } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { fromZod } from '../../http/problem.ts';
import { todayInShanghai } from '../../http/schemas.ts';
import { approveClawback, cancelClawback, clawbackBody, listClawbacks, prepareClawback } from '../../inspections/clawbacks.ts';
import { addFinding, decideFinding, findingBody, getFinding, listFindings, noteBody, rectificationForUpload, rectify } from '../../inspections/findings.ts';
import { createInspection, getInspection, inspectionBody, listInspections } from '../../inspections/inspections.ts';
import { listFunds } from '../../ledger/funds.ts';
import { day, html, moment, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

export const findingKindNames: Record<string, string> = { unlicensed_installs: '发现未授权安装', register_mismatch: '台账与实际不符', other: '其他问题' };
export const findingStatusNames: Record<string, string> = { open: '待整改', answered: '已报整改情况', closed: '已销号' };
const eventNames: Record<string, string> = { rectification: '单位整改说明', kept_open: '督察组：继续整改', closed: '督察组：销号' };
const clawbackStatusNames: Record<string, string> = { pending: '待审批', approved: '已记账', cancelled: '已取消' };

function parseForm<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw fromZod(parsed.error, 'body');
  return parsed.data;
}

const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' && v ? [v] : []);

/** Inspections (督查) and findings: the inspector records and decides, a unit answers, an accountant claws back. */
export function inspectionPages(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  async function inspectionsPage(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'inspections.read');
    const items = (await listInspections(db, req.actor!)).items;
    const writes = allows(req.actor!.role, 'inspections.write');
    const departments = writes ? await db('departments').orderBy('code').select('id', 'code', 'name') : [];
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '督查',
        html`
<p><a href="/findings?overdue=1">逾期未整改的问题 →</a></p>
<table><thead><tr><th>督查文号</th><th>日期</th><th>督察组</th><th class="num">发现问题</th><th class="num">未销号</th></tr></thead><tbody>
${items.map((i) => html`<tr><td><a href="/inspections/${i.id}">${i.document_no}</a></td><td>${day(i.date)}</td><td>${i.team.join('、')}</td><td class="num">${i.findings}</td><td class="num">${i.open}</td></tr>`)}
</tbody></table>${items.length ? '' : html`<p class="muted">尚无督查记录。</p>`}
${
  writes
    ? html`<h2>记录督查</h2><form method="post" action="/inspections">${csrfField(req)}${generalError(errors)}
<label>督查文号 <input name="document_no" value="${b.document_no ?? ''}" required size="30"></label>${fieldError(errors, 'document_no')}
<label>督察组成员（以顿号或逗号分隔） <input name="team" value="${b.team ?? ''}" required size="40"></label>${fieldError(errors, 'team')}
<label>督查日期 <input type="date" name="date" value="${b.date ?? todayInShanghai()}" required></label>${fieldError(errors, 'date')}
<label>督查单位（可多选） <select name="department_ids" multiple size="10" required>${departments.map((d) => html`<option value="${String(d.id)}">${d.code} ${d.name}</option>`)}</select></label>${fieldError(errors, 'department_ids')}
<button>记录</button></form>`
    : ''
}`,
      ),
    );
  }

  async function inspectionPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'inspections.read');
    const i = await getInspection(db, req.actor!, idFrom(req));
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `督查 ${i.document_no}`,
        html`
<p>${day(i.date)} · 督察组：${i.team.join('、')}</p>
<p>督查单位：${i.units.map((u) => u.name).join('、')}</p>
<h2>发现的问题</h2>
<table><thead><tr><th>单位</th><th>问题</th><th>说明</th><th>整改期限</th><th>状态</th></tr></thead><tbody>
${i.findings.map((f) => html`<tr><td>${f.department_name}</td><td><a href="/findings/${f.id}">${findingKindNames[f.kind]}${f.unlicensed_installs ? `（${f.unlicensed_installs} 台）` : ''}</a></td><td>${f.description}</td><td>${day(f.deadline)}${f.overdue ? html` <b class="error">逾期</b>` : ''}</td><td>${findingStatusNames[f.status]}</td></tr>`)}
</tbody></table>
${
  allows(req.actor!.role, 'inspections.write')
    ? html`<h2>记录问题</h2><form method="post" action="/inspections/${i.id}/findings">${csrfField(req)}${generalError(errors)}
<label>单位 <select name="department_id">${i.units.map((u) => html`<option value="${u.id}" ${b.department_id === u.id ? 'selected' : ''}>${u.name}</option>`)}</select></label>${fieldError(errors, 'department_id')}
<label>问题类别 <select name="kind">${Object.entries(findingKindNames).map(([k, v]) => html`<option value="${k}" ${b.kind === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>未授权安装台数（仅“发现未授权安装”） <input name="unlicensed_installs" value="${b.unlicensed_installs ?? ''}" inputmode="numeric" size="6"></label>${fieldError(errors, 'unlicensed_installs')}
<label>问题说明 <textarea name="description" rows="3" cols="60">${b.description ?? ''}</textarea></label>${fieldError(errors, 'description')}
<label>整改期限 <input type="date" name="deadline" value="${b.deadline ?? ''}" required></label>${fieldError(errors, 'deadline')}
<button>记录问题</button></form>`
    : ''
}`,
        { notice },
      ),
    );
  }

  async function findingPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'inspections.read');
    const f = await getFinding(db, req.actor!, idFrom(req));
    const role = req.actor!.role;
    const funds = allows(role, 'clawbacks.write') ? (await listFunds(db, 50)).items : [];
    const b = formFields(req);
    const open = f.status !== 'closed';
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `督查发现：${findingKindNames[f.kind]}`,
        html`
<p>${f.department_name}（${f.department_code}）· 督查文号 ${role === 'department' ? f.document_no : html`<a href="/inspections/${f.inspection_id}">${f.document_no}</a>`} · 整改期限 ${day(f.deadline)}${f.overdue ? html` <b class="error">已逾期</b>` : ''} · 状态：<b>${findingStatusNames[f.status]}</b></p>
<p>${f.description}${f.unlicensed_installs ? `（未授权安装 ${f.unlicensed_installs} 台）` : ''}</p>${generalError(errors)}
<h2>整改记录</h2>
${
  f.history.length
    ? html`<ul>${f.history.map(
        (
          e,
        ) => html`<li>${moment(e.at)} ${eventNames[e.kind]}（${e.by}）：${e.note}${e.attachments.map((a) => html` <a href="/api/v1/attachments/${a.id}">${a.file_name}</a>`)}
${open && e.kind === 'rectification' && allows(role, 'findings.rectify') ? html`<form method="post" action="/rectifications/${e.id}/attachments" enctype="multipart/form-data">${csrfField(req)}<input type="file" name="file" accept="application/pdf,image/jpeg,image/png" required aria-label="整改扫描件"> <button class="secondary">上传扫描件</button></form>` : ''}</li>`,
      )}</ul>`
    : html`<p class="muted">尚无整改记录。</p>`
}
${open && allows(role, 'findings.rectify') ? html`<form method="post" action="/findings/${f.id}/rectifications">${csrfField(req)}<label>整改情况 <textarea name="note" rows="3" cols="60">${b.note ?? ''}</textarea></label>${fieldError(errors, 'note')}<button>报送整改情况</button></form>` : ''}
${
  open && allows(role, 'findings.decide')
    ? html`<form method="post" action="/findings/${f.id}/decision">${csrfField(req)}<label>督察组意见 <textarea name="note" rows="2" cols="60">${b.note ?? ''}</textarea></label>${fieldError(errors, 'note')}
<button name="decision" value="close">销号</button> <button name="decision" value="keep_open" class="secondary">继续整改</button></form>`
    : ''
}
${
  f.clawbacks.length || funds.length
    ? html`<h2>收回奖励</h2>
<table><thead><tr><th>资金</th><th class="num">金额</th><th>状态</th><th></th></tr></thead><tbody>
${f.clawbacks.map((c) => html`<tr><td>${c.fund_name}</td><td class="num">${yuan(c.amount)}</td><td>${clawbackStatusNames[c.status]}</td><td>${c.status === 'pending' && allows(role, 'clawbacks.write') ? html`<form method="post" action="/clawbacks/${c.id}/approve" class="inline">${csrfField(req)}<button>审批记账</button></form> <form method="post" action="/clawbacks/${c.id}/cancel" class="inline">${csrfField(req)}<button class="secondary">取消</button></form>` : ''}</td></tr>`)}
</tbody></table>
${
  funds.length
    ? html`<form method="post" action="/findings/${f.id}/clawback">${csrfField(req)}<label>资金 <select name="fund_id">${funds.map((x) => html`<option value="${x.id}">${x.name}</option>`)}</select></label>
<label>收回金额（元） <input name="amount" value="${b.amount ?? ''}" inputmode="decimal" size="12"></label>${fieldError(errors, 'amount')}<button>制单（待另一名会计审批）</button></form>`
    : ''
}`
    : ''
}`,
        { notice },
      ),
    );
  }

  const retry = (render: (req: Request, res: Response, e: FormErrors) => Promise<void>) => async (req: Request, res: Response, work: () => Promise<string>) => {
    try {
      res.redirect(303, await work());
    } catch (e) {
      await render(req, res, formErrors(e));
    }
  };
  const onFinding = retry((req, res, e) => findingPage(req, res, e));

  return {
    inspections: (req: Request, res: Response) => inspectionsPage(req, res),
    async createInspection(req: Request, res: Response) {
      authorize(req.actor, 'inspections.write');
      const b = req.body as Record<string, unknown>;
      await retry((rq, rs, e) => inspectionsPage(rq, rs, e))(req, res, async () => {
        const team = String(b.team ?? '')
          .split(/[、,，;；\s]+/)
          .map((s) => s.trim())
          .filter(Boolean);
        const created = await createInspection(
          db,
          contextOf(req),
          parseForm(inspectionBody, { document_no: b.document_no, team, date: b.date, department_ids: list(b.department_ids) }),
        );
        return `/inspections/${created.id}`;
      });
    },
    inspection: (req: Request, res: Response) => inspectionPage(req, res),
    async addFinding(req: Request, res: Response) {
      authorize(req.actor, 'inspections.write');
      const b = formFields(req);
      await retry((rq, rs, e) => inspectionPage(rq, rs, e))(req, res, async () => {
        const installs = b.unlicensed_installs?.trim();
        const f = await addFinding(
          db,
          contextOf(req),
          idFrom(req),
          parseForm(findingBody, {
            department_id: b.department_id,
            kind: b.kind,
            description: b.description,
            deadline: b.deadline,
            unlicensed_installs: installs ? (/^[0-9]{1,9}$/.test(installs) ? Number(installs) : installs) : undefined,
          }),
        );
        return `/inspections/${f.inspection_id}`;
      });
    },
    async findings(req: Request, res: Response) {
      authorize(req.actor, 'inspections.read');
      const overdue = req.query.overdue === '1';
      const items = (await listFindings(db, req.actor!, { limit: 500, overdue, status: req.query.status === 'open' ? 'open' : undefined })).items;
      res.send(
        page(
          req,
          overdue ? '逾期未整改的问题' : '督查发现的问题',
          html`<p><a href="/findings">全部</a> · <a href="/findings?overdue=1">逾期未整改</a>${allows(req.actor!.role, 'disbursements.read') ? html` · <a href="/clawbacks">督查收回奖励</a>` : ''}</p>
<table><thead><tr><th>单位</th><th>督查文号</th><th>问题</th><th>整改期限</th><th>状态</th></tr></thead><tbody>
${items.map((f) => html`<tr><td>${f.department_name}</td><td>${f.document_no}</td><td><a href="/findings/${f.id}">${findingKindNames[f.kind]}：${f.description.slice(0, 40)}</a></td><td>${day(f.deadline)}${f.overdue ? html` <b class="error">逾期</b>` : ''}</td><td>${findingStatusNames[f.status]}</td></tr>`)}
</tbody></table>${items.length ? '' : html`<p class="muted">没有${overdue ? '逾期的' : ''}问题。</p>`}`,
        ),
      );
    },
    finding: (req: Request, res: Response) => findingPage(req, res),
    async rectify(req: Request, res: Response) {
      authorize(req.actor, 'findings.rectify');
      await onFinding(req, res, async () => {
        await rectify(db, contextOf(req), idFrom(req), parseForm(noteBody, { note: formFields(req).note }).note);
        return `/findings/${idFrom(req)}`;
      });
    },
    async rectificationScan(req: Request, res: Response) {
      authorize(req.actor, 'findings.rectify');
      const eventId = await rectificationForUpload(db, req.actor!, idFrom(req));
      const findingId = String((await db('finding_events').where({ id: eventId }).first('finding_id')).finding_id);
      try {
        await recordEvidence(db, contextOf(req), req, config, { findingEventId: eventId });
        res.redirect(303, `/findings/${findingId}`);
      } catch (e) {
        req.params.id = findingId;
        const errors = formErrors(e);
        await findingPage(req, res, { general: errors.general, fields: errors.fields });
      }
    },
    async decide(req: Request, res: Response) {
      authorize(req.actor, 'findings.decide');
      const b = formFields(req);
      await onFinding(req, res, async () => {
        if (b.decision !== 'close' && b.decision !== 'keep_open')
          throw new AppError('VALIDATION_FAILED', '请选择销号或继续整改', [{ field: 'decision', message: '请选择销号或继续整改' }]);
        await decideFinding(db, contextOf(req), idFrom(req), b.decision === 'close' ? 'closed' : 'kept_open', parseForm(noteBody, { note: b.note }).note);
        return `/findings/${idFrom(req)}`;
      });
    },
    async clawback(req: Request, res: Response) {
      authorize(req.actor, 'clawbacks.write');
      const b = formFields(req);
      await onFinding(req, res, async () => {
        await prepareClawback(db, contextOf(req), idFrom(req), parseForm(clawbackBody, { fund_id: b.fund_id, amount: b.amount?.trim() }));
        return `/findings/${idFrom(req)}`;
      });
    },
    async decideClawback(req: Request, res: Response) {
      authorize(req.actor, 'clawbacks.write');
      const row = await db('finding_clawbacks')
        .where({ id: idFrom(req) })
        .first('finding_id');
      if (!row) throw new AppError('NOT_FOUND', '没有这笔收回');
      const findingId = String(row.finding_id);
      try {
        if (req.path.endsWith('/approve')) await approveClawback(db, contextOf(req), idFrom(req));
        else await cancelClawback(db, contextOf(req), idFrom(req));
        res.redirect(303, `/findings/${findingId}`);
      } catch (e) {
        req.params.id = findingId;
        await findingPage(req, res, formErrors(e));
      }
    },
    async clawbacks(req: Request, res: Response) {
      authorize(req.actor, 'disbursements.read');
      const items = (await listClawbacks(db, {})).items;
      res.send(
        page(
          req,
          '督查收回奖励',
          html`<table><thead><tr><th>单位</th><th>督查文号</th><th class="num">金额</th><th>状态</th><th>制单</th></tr></thead><tbody>
${items.map((c) => html`<tr><td>${c.department_name}</td><td><a href="/findings/${c.finding_id}">${c.document_no}</a></td><td class="num">${yuan(c.amount)}</td><td>${clawbackStatusNames[c.status]}</td><td>${moment(c.created_at)}</td></tr>`)}
</tbody></table>`,
        ),
      );
    },
  };
}
