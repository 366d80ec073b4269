import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import type { z } from 'zod';
import {
  addPreProgrammeAsset,
  installedBaseBody,
  preProgrammeAssetBody,
  reportInstalledBase,
  retire,
  retireBody,
  reviewPreProgrammeAsset,
} from '../../assets/asset-changes.ts';
import { complianceReport, unitComplianceOf } from '../../assets/compliance.ts';
import { attachAssetEvidence } from '../../assets/evidence.ts';
import { acceptInventory, fileInventory, getInventory, inventoryBody, listInventories, returnInventory } from '../../assets/inventories.ts';
import { listAssets } from '../../assets/register.ts';
import { allows, authorize } from '../../auth/policy.ts';
import type { Config } from '../../config.ts';
import { getDepartment } from '../../departments/departments.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { fromZod } from '../../http/problem.ts';
import { todayInShanghai } from '../../http/schemas.ts';
import { groupName, licenceKindNames } from '../../../reports/format.ts';
import { categoryNames, day, html, moment, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

export const assetStatusNames: Record<string, string> = { pending: '待审核', in_use: '在用', rejected: '未通过', revoked: '已撤销', retired: '已报废' };
const inventoryStatusNames: Record<string, string> = { submitted: '待审核', accepted: '已确认', returned: '已退回' };

/** A rate for people: "0.6667" → 66.67%, unknown as 未报告. */
export const rateText = (r: string | null) => (r === null ? '未报告' : `${(Number(r) * 100).toFixed(2)}%`);
const meter = (r: string | null) => (r === null ? '' : html`<meter min="0" max="1" low="0.8" high="0.99" optimum="1" value="${r}"></meter>`);

/** Parses a form with the API's own schema, so a rule exists once; a failure names the fields. */
function parseForm<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw fromZod(parsed.error, 'body');
  return parsed.data;
}

const integer = (v: string | undefined) => (v !== undefined && /^-?[0-9]{1,9}$/.test(v.trim()) ? Number(v.trim()) : v);

/** A unit's register, installed base, compliance and inventory; the staff's compliance overview. */
export function assetPages(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  async function register(
    req: Request,
    res: Response,
    departmentId: string,
    errors: { base?: FormErrors; add?: FormErrors; rows?: FormErrors; inventory?: FormErrors } = {},
    notice?: string,
  ) {
    authorize(req.actor, 'assets.read');
    const actor = req.actor!;
    const d = await getDepartment(db, actor, departmentId);
    const assets = (await listAssets(db, actor, d.id, { limit: 500 })).items;
    const c = await unitComplianceOf(db, actor, d.id);
    const inventories = (await listInventories(db, actor, { department_id: d.id })).items;
    const writes = allows(actor.role, 'assets.write');
    const reviews = allows(actor.role, 'assets.review');
    const b = formFields(req);
    const inUse = assets.filter((a) => a.status === 'in_use');
    const api = `/api/v1/departments/${d.id}`;
    const anyErrors = Object.values(errors).some((e) => e && e !== noErrors);
    res.status(anyErrors ? 422 : 200).send(
      page(
        req,
        `${d.name} · 软件资产台账`,
        html`
<p><a class="button" href="${api}/software-register.pdf">台账（PDF）</a> <a href="${api}/software-assets.xlsx">XLSX</a> · <a href="${api}/software-assets.csv">CSV</a></p>
<h2>计算机与正版化率</h2>
<p>${c.installed_base ? html`截至 ${day(c.installed_base.as_of)}：计算机 <b>${c.installed_base.computers}</b> 台，服务器 ${c.installed_base.servers} 台。` : html`<span class="muted">尚未报告计算机数量。</span>`}</p>
<div class="figures">${(['os', 'office', 'antivirus'] as const).map((k) => html`<div class="figure">${categoryNames[k]}（${c.licences[k]} 套）<b>${rateText(c[k])}</b>${meter(c[k])}</div>`)}<div class="figure">综合正版化率<b>${rateText(c.overall)}</b>${meter(c.overall)}</div></div>
${
  writes
    ? html`<form method="post" action="/departments/${d.id}/installed-base">${csrfField(req)}${generalError(errors.base ?? noErrors)}
<label>截至日期 <input type="date" name="as_of" value="${b.as_of ?? todayInShanghai()}" required></label>${fieldError(errors.base ?? noErrors, 'as_of')}
<label>计算机（台） <input name="computers" value="${b.computers ?? (c.installed_base ? String(c.installed_base.computers) : '')}" inputmode="numeric" required size="8"></label>${fieldError(errors.base ?? noErrors, 'computers')}
<label>服务器（台） <input name="servers" value="${b.servers ?? String(c.installed_base?.servers ?? 0)}" inputmode="numeric" required size="8"></label>${fieldError(errors.base ?? noErrors, 'servers')}
<button>报告计算机数量</button></form>`
    : ''
}
<h2>台账（${assets.length} 条）</h2>${generalError(errors.rows ?? noErrors)}
<table><thead><tr><th>编号</th><th>软件</th><th>类别</th><th>授权方式</th><th class="num">套数</th><th class="num">在用</th><th>取得日期</th><th class="num">价值</th><th>来源</th><th>状态</th><th></th></tr></thead><tbody>
${assets.map(
  (
    a,
  ) => html`<tr><td>${a.id}</td><td>${a.product}</td><td>${categoryNames[a.category]}</td><td>${licenceKindNames[a.licence_kind]}</td><td class="num">${a.licences}</td><td class="num">${a.licences_in_use}</td><td>${day(a.acquired_on)}</td><td class="num">${yuan(a.value)}</td>
<td>${a.source === 'receipt' ? html`<a href="/receipts/${a.receipt_id}">发票第 ${a.receipt_line_no} 行</a>` : '原有软件'}</td><td>${assetStatusNames[a.status]}${a.status_reason ? html`<br><span class="muted">${a.status_reason}</span>` : ''}</td>
<td>${a.status === 'in_use' && writes ? html`<form method="post" action="/assets/${a.id}/retire">${csrfField(req)}<input type="date" name="date" value="${todayInShanghai()}" aria-label="报废日期"> <input name="licences" size="4" placeholder="${String(a.licences_in_use)}" aria-label="报废套数"> <input name="reason" size="12" placeholder="原因" aria-label="报废原因" required> <button class="secondary">报废</button></form>` : ''}
${a.status === 'pending' && writes ? html`<form method="post" action="/assets/${a.id}/attachments" enctype="multipart/form-data">${csrfField(req)}<input type="file" name="file" accept="application/pdf,image/jpeg,image/png" required aria-label="凭证扫描件"> <button class="secondary">上传凭证</button></form>` : ''}
${a.status === 'pending' && reviews ? html`<form method="post" action="/assets/${a.id}/verify" class="inline">${csrfField(req)}<button>审核通过</button></form> <form method="post" action="/assets/${a.id}/reject" class="inline">${csrfField(req)}<input name="reason" size="10" placeholder="退回理由" aria-label="退回理由"> <button class="secondary">不予认可</button></form> <a href="/api/v1/software-assets/${a.id}">凭证</a>` : ''}</td></tr>`,
)}
</tbody></table>
${
  writes
    ? html`<h2>登记原有正版软件（正版化工作之前购置）</h2><p class="muted">登记后请上传购置发票或授权证书扫描件，经会计审核后计入台账。</p>
<form method="post" action="/departments/${d.id}/assets">${csrfField(req)}${generalError(errors.add ?? noErrors)}
<label>软件名称 <input name="product" value="${b.product ?? ''}" required size="30"></label>${fieldError(errors.add ?? noErrors, 'product')}
<label>类别 <select name="category">${Object.entries(categoryNames).map(([k, v]) => html`<option value="${k}" ${b.category === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>授权方式 <select name="licence_kind">${Object.entries(licenceKindNames).map(([k, v]) => html`<option value="${k}" ${b.licence_kind === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>套数 <input name="licences" value="${b.licences ?? ''}" inputmode="numeric" required size="6"></label>${fieldError(errors.add ?? noErrors, 'licences')}
<label>购置日期 <input type="date" name="acquired_on" value="${b.acquired_on ?? ''}" required></label>${fieldError(errors.add ?? noErrors, 'acquired_on')}
<label>价值（元） <input name="value" value="${b.value ?? ''}" inputmode="decimal" required size="12"></label>${fieldError(errors.add ?? noErrors, 'value')}
<button>登记</button></form>`
    : ''
}
<h2>年度盘点</h2>
${inventories.length ? html`<table><thead><tr><th>年度</th><th>报送时间</th><th>状态</th></tr></thead><tbody>${inventories.map((i) => html`<tr><td><a href="/inventories/${i.id}">${i.year} 年度</a></td><td>${moment(i.filed_at)}</td><td>${inventoryStatusNames[i.status]}</td></tr>`)}</tbody></table>` : html`<p class="muted">尚未报送年度盘点。</p>`}
${
  allows(actor.role, 'inventories.file') && inUse.length
    ? html`<form method="post" action="/departments/${d.id}/inventories">${csrfField(req)}${generalError(errors.inventory ?? noErrors)}
<label>盘点年度 <input name="year" value="${b.year ?? todayInShanghai().slice(0, 4)}" size="5" inputmode="numeric"></label>${fieldError(errors.inventory ?? noErrors, 'year')}
<table><thead><tr><th>编号</th><th>软件</th><th class="num">台账在用</th><th class="num">实有套数</th></tr></thead><tbody>
${inUse.map((a) => html`<tr><td>${a.id}</td><td>${a.product}</td><td class="num">${a.licences_in_use}</td><td class="num"><input type="hidden" name="asset_id" value="${a.id}"><input name="counted" value="${String(a.licences_in_use)}" size="6" inputmode="numeric" aria-label="${a.product} 实有套数"></td></tr>`)}
</tbody></table><button>报送盘点</button></form>`
    : ''
}`,
        { notice },
      ),
    );
  }

  async function inventoryPage(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'assets.read');
    const i = await getInventory(db, req.actor!, idFrom(req));
    const d = await getDepartment(db, req.actor!, i.department_id);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `${d.name} · ${i.year} 年度软件盘点`,
        html`
<p>状态：<b>${inventoryStatusNames[i.status]}</b>${i.review_note ? html` · ${i.review_note}` : ''} · <a href="/departments/${d.id}/assets">台账</a></p>${generalError(errors)}
<h2>差异（${i.differences.length}）</h2>
${
  i.differences.length
    ? html`<table><thead><tr><th>编号</th><th>软件</th><th class="num">台账</th><th class="num">实有</th><th>差异</th></tr></thead><tbody>
${i.differences.map((x) => html`<tr><td>${x.asset_id}</td><td>${x.product}</td><td class="num">${x.expected}</td><td class="num">${x.counted}</td><td>${x.kind === 'missing' ? `缺少 ${-x.difference} 套` : `多出 ${x.difference} 套`}</td></tr>`)}</tbody></table>`
    : html`<p>账实相符。</p>`
}
${
  i.status === 'submitted' && allows(req.actor!.role, 'inventories.review')
    ? html`<form method="post" action="/inventories/${i.id}/accept" class="inline">${csrfField(req)}<button>确认差异（缺少的报废）</button></form>
<form method="post" action="/inventories/${i.id}/return">${csrfField(req)}<label>退回重新盘点的理由 <input name="reason" size="40"></label>${fieldError(errors, 'reason')}<button class="secondary">退回</button></form>`
    : ''
}`,
      ),
    );
  }

  /** Runs a form's operation and goes back to the unit's register, or shows the register with the errors. */
  async function onRegister(
    req: Request,
    res: Response,
    departmentId: () => Promise<string>,
    section: 'base' | 'add' | 'rows' | 'inventory',
    work: () => Promise<unknown>,
    notice: string,
  ) {
    const id = await departmentId();
    try {
      await work();
      await register(req, res, id, {}, notice);
    } catch (e) {
      await register(req, res, id, { [section]: formErrors(e) });
    }
  }

  const assetDepartment = async (req: Request) => {
    const row = await db('software_assets')
      .where({ id: idFrom(req) })
      .first('department_id');
    if (!row) throw new AppError('NOT_FOUND', '没有这条台账记录');
    return String(row.department_id);
  };

  return {
    register: (req: Request, res: Response) => register(req, res, idFrom(req)),
    async mine(req: Request, res: Response) {
      if (req.actor!.role !== 'department') throw new AppError('NOT_FOUND', '此页面供单位用户使用');
      res.redirect(303, `/departments/${req.actor!.departmentId}/assets`);
    },
    async installedBase(req: Request, res: Response) {
      authorize(req.actor, 'assets.write');
      const b = formFields(req);
      await onRegister(
        req,
        res,
        async () => idFrom(req),
        'base',
        () =>
          reportInstalledBase(
            db,
            contextOf(req),
            idFrom(req),
            parseForm(installedBaseBody, { as_of: b.as_of, computers: integer(b.computers), servers: integer(b.servers) }),
          ),
        '计算机数量已报告。',
      );
    },
    async add(req: Request, res: Response) {
      authorize(req.actor, 'assets.write');
      const b = formFields(req);
      await onRegister(
        req,
        res,
        async () => idFrom(req),
        'add',
        () =>
          addPreProgrammeAsset(
            db,
            contextOf(req),
            idFrom(req),
            parseForm(preProgrammeAssetBody, {
              product: b.product,
              category: b.category,
              licences: integer(b.licences),
              licence_kind: b.licence_kind,
              acquired_on: b.acquired_on,
              value: b.value?.trim(),
            }),
          ),
        '已登记，请上传凭证扫描件待会计审核。',
      );
    },
    async retire(req: Request, res: Response) {
      authorize(req.actor, 'assets.write');
      const b = formFields(req);
      await onRegister(
        req,
        res,
        () => assetDepartment(req),
        'rows',
        () =>
          retire(
            db,
            contextOf(req),
            idFrom(req),
            parseForm(retireBody, { date: b.date, reason: b.reason, licences: b.licences?.trim() ? integer(b.licences) : undefined }),
          ),
        '已报废。',
      );
    },
    async evidence(req: Request, res: Response) {
      authorize(req.actor, 'assets.write');
      await onRegister(
        req,
        res,
        () => assetDepartment(req),
        'rows',
        () => attachAssetEvidence(db, contextOf(req), req, config, idFrom(req)),
        '凭证已上传，待会计审核。',
      );
    },
    async review(req: Request, res: Response) {
      authorize(req.actor, 'assets.review');
      const verify = req.path.endsWith('/verify');
      const reason = (formFields(req).reason ?? '').trim();
      await onRegister(
        req,
        res,
        () => assetDepartment(req),
        'rows',
        async () => {
          if (!verify && !reason) throw new AppError('VALIDATION_FAILED', '请填写不予认可的理由', [{ field: 'reason', message: '请填写不予认可的理由' }]);
          return reviewPreProgrammeAsset(db, contextOf(req), idFrom(req), verify ? 'in_use' : 'rejected', verify ? undefined : reason);
        },
        verify ? '已审核通过。' : '已不予认可。',
      );
    },
    async fileInventory(req: Request, res: Response) {
      authorize(req.actor, 'inventories.file');
      const b = req.body as Record<string, string | string[] | undefined>;
      const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
      const ids = list(b.asset_id);
      const counted = list(b.counted);
      await onRegister(
        req,
        res,
        async () => idFrom(req),
        'inventory',
        () =>
          fileInventory(
            db,
            contextOf(req),
            idFrom(req),
            parseForm(inventoryBody, { year: integer(String(b.year ?? '')), counts: ids.map((asset_id, i) => ({ asset_id, counted: integer(counted[i]) })) }),
          ),
        '盘点已报送，待会计确认。',
      );
    },
    inventory: (req: Request, res: Response) => inventoryPage(req, res),
    async decideInventory(req: Request, res: Response) {
      authorize(req.actor, 'inventories.review');
      const reason = (formFields(req).reason ?? '').trim();
      try {
        if (req.path.endsWith('/accept')) await acceptInventory(db, contextOf(req), idFrom(req));
        else {
          if (!reason) throw new AppError('VALIDATION_FAILED', '请填写退回理由', [{ field: 'reason', message: '请填写退回理由' }]);
          await returnInventory(db, contextOf(req), idFrom(req), reason);
        }
        res.redirect(303, `/inventories/${idFrom(req)}`);
      } catch (e) {
        await inventoryPage(req, res, formErrors(e));
      }
    },
    async compliance(req: Request, res: Response) {
      authorize(req.actor, 'assets.compliance');
      const r = await complianceReport(db);
      const pending = await db('inventories as i')
        .join('departments as d', 'd.id', 'i.department_id')
        .where('i.status', 'submitted')
        .orderBy('i.id')
        .select('i.id', 'i.year', 'd.name');
      const preProgramme = await db('software_assets as a')
        .join('departments as d', 'd.id', 'a.department_id')
        .where('a.status', 'pending')
        .orderBy('a.id')
        .limit(200)
        .select('a.id', 'a.product', 'a.department_id', 'd.name');
      const row = (
        label: string,
        x: { units: number; reported: number; computers: number; os: string | null; office: string | null; antivirus: string | null; overall: string | null },
      ) =>
        html`<tr><td>${label}</td><td class="num">${x.reported} / ${x.units}</td><td class="num">${x.computers}</td>${(['os', 'office', 'antivirus', 'overall'] as const).map((k) => html`<td class="num">${rateText(x[k])} ${meter(x[k])}</td>`)}</tr>`;
      res.send(
        page(
          req,
          '软件正版化率',
          html`
<p class="muted">正版化率 = 在用授权套数 ÷ 计算机台数（每类最高 100%）；综合正版化率取操作系统、办公软件、杀毒软件三者最低者。未报告计算机数量的单位不计入合计。</p>
<h2>全部单位与分组</h2>
<table><thead><tr><th>范围</th><th class="num">已报告 / 单位数</th><th class="num">计算机</th><th class="num">操作系统</th><th class="num">办公软件</th><th class="num">杀毒软件</th><th class="num">综合</th></tr></thead><tbody>
${row('全部单位', r.overall)}${Object.entries(r.by_group).map(([g, x]) => row(groupName(g), x))}</tbody></table>
${
  allows(req.actor!.role, 'assets.review') && (pending.length || preProgramme.length)
    ? html`<h2>待审核</h2>
${pending.map((p) => html`<p><a href="/inventories/${p.id}">${p.name} ${p.year} 年度盘点</a></p>`)}
${preProgramme.map((p) => html`<p><a href="/departments/${p.department_id}/assets">${p.name}：原有软件 ${p.product}</a></p>`)}`
    : ''
}
<h2>各单位</h2>
<table><thead><tr><th>单位</th><th class="num">计算机</th><th class="num">操作系统</th><th class="num">办公软件</th><th class="num">杀毒软件</th><th class="num">综合</th></tr></thead><tbody>
${r.items.map((u) => html`<tr><td><a href="/departments/${u.department_id}/assets">${u.name}（${u.department_code}）</a></td><td class="num">${u.computers ?? '—'}</td>${(['os', 'office', 'antivirus', 'overall'] as const).map((k) => html`<td class="num">${rateText(u[k])}</td>`)}</tr>`)}
</tbody></table>`,
        ),
      );
    },
  };
}
