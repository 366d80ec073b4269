import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { roles, type Role } from '../../auth/roles.ts';
import { createDepartment, importDepartments, listDepartments } from '../../departments/departments.ts';
import { validationError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { createUser, listUsers, updateUser } from '../../users/users.ts';
import { html, roleNames, statusNames } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

export function adminPages(db: Knex) {
  async function users(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'users.list');
    const list = (await listUsers(db, 500)).items;
    const departments = (await listDepartments(db, req.actor!, { limit: 500 })).items;
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(page(req, '用户', html`
<table><thead><tr><th>用户名</th><th>角色</th><th>单位</th><th>状态</th><th></th></tr></thead><tbody>
${list.map((u) => html`<tr><td>${u.username}</td><td>${roleNames[u.role]}</td><td>${departments.find((d) => d.id === u.department_id)?.name ?? ''}</td><td>${u.disabled ? '已停用' : '正常'}</td>
<td>${u.id === req.actor!.id ? '' : html`<form method="post" action="/admin/users/${u.id}/${u.disabled ? 'enable' : 'disable'}" class="inline">${csrfField(req)}<button class="secondary">${u.disabled ? '启用' : '停用'}</button></form>`}</td></tr>`)}
</tbody></table>
<h2>新建用户</h2><form method="post" action="/admin/users">${csrfField(req)}${generalError(errors)}
<label>用户名 <input name="username" value="${b.username ?? ''}" required></label>${fieldError(errors, 'username')}
<label>初始密码（至少 10 位，不能全为数字，不能与用户名相同） <input name="password" type="password" required></label>${fieldError(errors, 'password')}
<label>角色 <select name="role">${roles.map((r) => html`<option value="${r}" ${b.role === r ? 'selected' : ''}>${roleNames[r]}</option>`)}</select></label>
<label>所属单位（仅“单位”角色） <select name="department_id"><option value="">—</option>${departments.map((d) => html`<option value="${d.id}" ${b.department_id === d.id ? 'selected' : ''}>${d.name}（${d.code}）</option>`)}</select></label>${fieldError(errors, 'department_id')}
<p><button>新建</button></p></form>`, { notice }));
  }

  async function departmentsPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'departments.list');
    const list = (await listDepartments(db, req.actor!, { limit: 500 })).items;
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(page(req, '单位', html`
<h2>导入单位名单（CSV：code,name,group,status,note）</h2>
<form method="post" action="/admin/departments/import">${csrfField(req)}${generalError(errors)}
<label>生效日期 <input type="date" name="effective_date" value="${b.effective_date ?? ''}"></label>
<label>CSV 内容 <textarea name="csv" rows="6" cols="80">${b.csv ?? ''}</textarea></label>${Object.entries(errors.fields).filter(([k]) => k.startsWith('line') || k === 'file').map(([k, v]) => html`<span class="field-error" role="alert">${k}：${v}</span>`)}
<p><button>导入</button></p></form>
<h2>新建单位</h2><form method="post" action="/admin/departments">${csrfField(req)}
<label>代码 <input name="code" value="${b.code ?? ''}"></label>${fieldError(errors, 'code')}<label>名称 <input name="name" value="${b.name ?? ''}"></label>${fieldError(errors, 'name')}
<label>分组 <select name="group"><option value="government">政府部门</option><option value="party_mass_judicial">党群口和公检法系统</option></select></label><p><button>新建</button></p></form>
<h2>单位名单（${list.length}）</h2><table><thead><tr><th>代码</th><th>名称</th><th>分组</th><th>状态</th></tr></thead><tbody>
${list.map((d) => html`<tr><td>${d.code}</td><td>${d.name}</td><td>${d.group}</td><td>${statusNames[d.status]}</td></tr>`)}</tbody></table>`, { notice }));
  }

  return {
    users: (req: Request, res: Response) => users(req, res),
    async createUser(req: Request, res: Response) {
      authorize(req.actor, 'users.create');
      const b = formFields(req);
      try {
        const role = (roles as readonly string[]).includes(b.role ?? '') ? (b.role as Role) : 'auditor';
        await createUser(db, contextOf(req), { username: (b.username ?? '').trim(), password: b.password ?? '', role, department_id: b.department_id || undefined });
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
    async createDepartment(req: Request, res: Response) {
      authorize(req.actor, 'departments.create');
      const b = formFields(req);
      try {
        if (!/^[A-Za-z0-9_-]{1,32}$/.test(b.code ?? '')) throw validationError('code', '代码为 1–32 位字母、数字、“-”或“_”');
        await createDepartment(db, contextOf(req), { code: b.code!, name: (b.name ?? '').trim(), group: b.group === 'party_mass_judicial' ? 'party_mass_judicial' : 'government' });
        await departmentsPage(req, res, noErrors, '单位已创建。');
      } catch (e) {
        await departmentsPage(req, res, formErrors(e));
      }
    },
    async importDepartments(req: Request, res: Response) {
      authorize(req.actor, 'departments.import');
      const b = formFields(req);
      try {
        const result = await importDepartments(db, contextOf(req), b.csv ?? '', /^\d{4}-\d{2}-\d{2}$/.test(b.effective_date ?? '') ? b.effective_date : undefined);
        await departmentsPage(req, res, noErrors, `导入完成：新增 ${result.created} 个，更新 ${result.updated} 个。`);
      } catch (e) {
        await departmentsPage(req, res, formErrors(e));
      }
    },
  };
}
