import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { roles, type Role } from '../../auth/roles.ts';
import type { Actor } from '../../auth/roles.ts';
import { departmentChange } from '../../departments/department-rules.ts';
import { createDepartment, getDepartment, importDepartments, listDepartments, updateDepartment } from '../../departments/departments.ts';
import { fromZod } from '../../http/problem.ts';
import { validationError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { createUser, listUsers, updateUser } from '../../users/users.ts';
import { html, roleNames, statusNames } from '../html.ts';

const groupNames: Record<string, string> = { government: '政府部门', party_mass_judicial: '党群口和公检法系统' };
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

const pageSize = 100;
const query = (req: Request) => req.query as Record<string, string | undefined>;
const cursorOf = (req: Request) => (/^[0-9]+$/.test(query(req).cursor ?? '') ? query(req).cursor : undefined);
const searchOf = (req: Request) => query(req).q?.trim().slice(0, 200) || undefined;

/** The link to the next page of a list, keeping the search; lists never stop silently. */
function moreLink(base: string, q: string | undefined, next: string | null, extra = '') {
  if (!next) return '';
  const params = new URLSearchParams({ ...(q ? { q } : {}), cursor: next });
  return html`<p><a href="${base}?${params.toString()}${extra}" rel="next" class="more">更多（下一页）</a></p>`;
}

/**
 * A unit named by a person, by its code or (part of) its name: exactly one active unit, or a
 * message that lists the candidates to choose from.
 */
async function findUnit(db: Knex, actor: Actor, text: string) {
  const found = (await listDepartments(db, actor, { limit: 11, q: text, active: true })).items;
  const exact = found.find((d) => d.code.toLowerCase() === text.toLowerCase() || d.name === text);
  if (exact) return exact;
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw validationError('department_id', `没有代码或名称为“${text}”的在用单位`);
  const candidates = found
    .slice(0, 10)
    .map((d) => `${d.name}（${d.code}）`)
    .join('、');
  throw validationError('department_id', `“${text}”对应多个单位，请输入单位代码：${candidates}${found.length > 10 ? ' 等' : ''}`);
}

export function adminPages(db: Knex) {
  async function users(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'users.list');
    const q = searchOf(req);
    const listed = await listUsers(db, pageSize, cursorOf(req), q);
    const list = listed.items;
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '用户',
        html`
<form method="get" class="filters"><label>查找（用户名、单位代码或名称） <input name="q" value="${q ?? ''}"></label> <button>查找</button></form>
<table><thead><tr><th>用户名</th><th>角色</th><th>单位</th><th>状态</th><th></th></tr></thead><tbody>
${list.map(
  (
    u,
  ) => html`<tr><td>${u.username}</td><td>${roleNames[u.role]}</td><td>${u.department_name ? `${u.department_name}（${u.department_code}）` : ''}</td><td>${u.disabled ? '已停用' : '正常'}</td>
<td>${u.id === req.actor!.id ? '' : html`<form method="post" action="/admin/users/${u.id}/${u.disabled ? 'enable' : 'disable'}" class="inline">${csrfField(req)}<button class="secondary">${u.disabled ? '启用' : '停用'}</button></form>`}</td></tr>`,
)}
</tbody></table>${list.length ? '' : html`<p class="muted">没有符合条件的用户。</p>`}${moreLink('/admin/users', q, listed.next_cursor)}
<h2>新建用户</h2><form method="post" action="/admin/users">${csrfField(req)}${generalError(errors)}
<label>用户名 <input name="username" value="${b.username ?? ''}" required></label>${fieldError(errors, 'username')}
<label>初始密码（至少 10 位，不能全为数字，不能与用户名相同） <input name="password" type="password" required></label>${fieldError(errors, 'password')}
<label>角色 <select name="role">${roles.map((r) => html`<option value="${r}" ${b.role === r ? 'selected' : ''}>${roleNames[r]}</option>`)}</select></label>
<label>所属单位（仅“单位”角色；输入单位代码或名称） <input name="department" value="${b.department ?? ''}" size="30" placeholder="如 XJ005 或 统计局"></label>${fieldError(errors, 'department_id')}
<p><button>新建</button></p></form>`,
        { notice },
      ),
    );
  }

  async function departmentsPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'departments.list');
    const q = searchOf(req);
    const inactive = query(req).inactive === '1';
    const listed = await listDepartments(db, req.actor!, { limit: pageSize, cursor: cursorOf(req), q, active: inactive ? false : undefined });
    const list = listed.items;
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '单位',
        html`
<h2>导入单位名单（CSV：code,name,group,status,note）</h2>
<form method="post" action="/admin/departments/import">${csrfField(req)}${generalError(errors)}
<label>生效日期 <input type="date" name="effective_date" value="${b.effective_date ?? ''}"></label>
<label>CSV 内容 <textarea name="csv" rows="6" cols="80">${b.csv ?? ''}</textarea></label>${Object.entries(errors.fields)
          .filter(([k]) => k.startsWith('line') || k === 'file')
          .map(([k, v]) => html`<span class="field-error" role="alert">${k}：${v}</span>`)}
<p><button>导入</button></p></form>
<h2>新建单位</h2><form method="post" action="/admin/departments">${csrfField(req)}
<label>代码 <input name="code" value="${b.code ?? ''}"></label>${fieldError(errors, 'code')}<label>名称 <input name="name" value="${b.name ?? ''}"></label>${fieldError(errors, 'name')}
<label>分组 <select name="group"><option value="government">政府部门</option><option value="party_mass_judicial">党群口和公检法系统</option></select></label><p><button>新建</button></p></form>
<h2>单位名单</h2>
<form method="get" class="filters"><label>查找（代码或名称） <input name="q" value="${q ?? ''}"></label> <label><input type="checkbox" name="inactive" value="1" ${inactive ? 'checked' : ''}> 只看已停用</label> <button>查找</button></form>
<table><thead><tr><th>代码</th><th>名称</th><th>分组</th><th>联系人</th><th>状态</th><th>启用</th><th></th></tr></thead><tbody>
${list.map((d) => html`<tr><td>${d.code}</td><td>${d.name}</td><td>${groupNames[d.group] ?? d.group}</td><td>${d.contact}</td><td>${statusNames[d.status]}</td><td>${d.active ? '在用' : '已停用'}</td><td><a href="/admin/departments/${d.id}">编辑</a></td></tr>`)}</tbody></table>
${list.length ? '' : html`<p class="muted">没有符合条件的单位。</p>`}${moreLink('/admin/departments', q, listed.next_cursor, inactive ? '&inactive=1' : '')}`,
        { notice },
      ),
    );
  }

  async function departmentEditPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'departments.update');
    const d = await getDepartment(db, req.actor!, idFrom(req));
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `编辑单位 ${d.name}（${d.code}）`,
        html`
<p>单位代码不能修改；单位不能删除，停用后保留全部记录，但不再提交发票、报告状态、验收或绑定新用户。</p>
<form method="post" action="/admin/departments/${d.id}" class="department-edit">${csrfField(req)}${generalError(errors)}
<label>名称 <input name="name" value="${b.name ?? d.name}" size="40" required></label>${fieldError(errors, 'name')}
<label>分组 <select name="group">${Object.entries(groupNames).map(([k, v]) => html`<option value="${k}" ${(b.group ?? d.group) === k ? 'selected' : ''}>${v}</option>`)}</select></label>${fieldError(errors, 'group')}
<label>联系人 <input name="contact" value="${b.contact ?? d.contact}" size="40"></label>${fieldError(errors, 'contact')}
<label><input type="checkbox" name="active" value="1" ${(b._csrf ? b.active === '1' : d.active) ? 'checked' : ''}> 在用（取消勾选即停用）</label>
<p><button>保存</button> <a href="/admin/departments">返回单位名单</a></p></form>`,
        { notice },
      ),
    );
  }

  return {
    users: (req: Request, res: Response) => users(req, res),
    async createUser(req: Request, res: Response) {
      authorize(req.actor, 'users.create');
      const b = formFields(req);
      try {
        const role = (roles as readonly string[]).includes(b.role ?? '') ? (b.role as Role) : 'auditor';
        const unit = role === 'department' && b.department?.trim() ? await findUnit(db, req.actor!, b.department.trim()) : null;
        await createUser(db, contextOf(req), { username: (b.username ?? '').trim(), password: b.password ?? '', role, department_id: unit?.id });
        await users(req, res, noErrors, '用户已创建。');
      } catch (e) {
        await users(req, res, formErrors(e));
      }
    },
    async toggleUser(req: Request, res: Response) {
      authorize(req.actor, 'users.update');
      try {
        await updateUser(db, contextOf(req), idFrom(req), { disabled: req.path.endsWith('/disable') });
        await users(req, res, noErrors, '已更新。');
      } catch (e) {
        await users(req, res, formErrors(e));
      }
    },
    departments: (req: Request, res: Response) => departmentsPage(req, res),
    departmentEdit: (req: Request, res: Response) => departmentEditPage(req, res),
    async updateDepartment(req: Request, res: Response) {
      authorize(req.actor, 'departments.update');
      const b = formFields(req);
      try {
        const parsed = departmentChange.safeParse({ name: b.name, group: b.group, contact: b.contact ?? '', active: b.active === '1' });
        if (!parsed.success) throw fromZod(parsed.error, 'body');
        await updateDepartment(db, contextOf(req), idFrom(req), parsed.data);
        await departmentEditPage(req, res, noErrors, parsed.data.active ? '已保存。' : '已保存，该单位已停用。');
      } catch (e) {
        await departmentEditPage(req, res, formErrors(e));
      }
    },
    async createDepartment(req: Request, res: Response) {
      authorize(req.actor, 'departments.create');
      const b = formFields(req);
      try {
        if (!/^[A-Za-z0-9_-]{1,32}$/.test(b.code ?? '')) throw validationError('code', '代码为 1–32 位字母、数字、“-”或“_”');
        await createDepartment(db, contextOf(req), {
          code: b.code!,
          name: (b.name ?? '').trim(),
          group: b.group === 'party_mass_judicial' ? 'party_mass_judicial' : 'government',
        });
        await departmentsPage(req, res, noErrors, '单位已创建。');
      } catch (e) {
        await departmentsPage(req, res, formErrors(e));
      }
    },
    async importDepartments(req: Request, res: Response) {
      authorize(req.actor, 'departments.import');
      const b = formFields(req);
      try {
        const result = await importDepartments(
          db,
          contextOf(req),
          b.csv ?? '',
          /^\d{4}-\d{2}-\d{2}$/.test(b.effective_date ?? '') ? b.effective_date : undefined,
        );
        await departmentsPage(req, res, noErrors, `导入完成：新增 ${result.created} 个，更新 ${result.updated} 个。`);
      } catch (e) {
        await departmentsPage(req, res, formErrors(e));
      }
    },
  };
}
