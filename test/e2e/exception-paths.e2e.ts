import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadDemo } from '../../server/demo/load-demo.ts';
import { bootstrapAdmin } from '../../server/users/users.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { makeDepartment, makeUser, openHarness, testPassword, unique, type Harness, type TestUser } from '../support/harness.ts';
import { badSellerTaxId, receiptBody } from '../support/receipts.ts';

/*
 * The exception paths of issue 13 in a real browser, each written as the finding: what a unit and
 * an accountant do when something went wrong, against the real service and PostgreSQL.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const adminPassword = 'e2e admin password';
let url: string;
let h: Harness;
let server: Server;
let base: string;
let browser: Browser;
let fundId: string;
let kuaiji: TestUser;
let kuaiji2: TestUser;

beforeAll(async () => {
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_e2e_exceptions');
  h = openHarness(url);
  await bootstrapAdmin(h.db, adminPassword, () => undefined);
  await loadDemo(h.db, () => undefined);
  fundId = String((await h.db('funds').first('id')).id);
  kuaiji = await makeUser(h.db, 'accountant');
  kuaiji2 = await makeUser(h.db, 'accountant');
  server = h.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await h?.close();
  if (url) await dropDatabase(url);
});

async function signedIn(username: string, password = testPassword): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form.login button')]);
  return page;
}

const main = (page: Page) => page.locator('main').textContent();
const png = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'),
  Buffer.from('1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1d4a60000000049454e44ae426082', 'hex'),
]);

/** A unit with its finance contact, at a status, optionally accepted. */
async function unitWithUser(status = 'completed', accepted = false) {
  const d = await makeDepartment(h.db, { status, name: unique('单位') });
  if (accepted) await h.db('departments').where({ id: d.id }).update({ accepted_on: '2011-08-20' });
  await h
    .db('department_status_changes')
    .insert({ department_id: d.id, status, effective_date: '2011-08-01', accepted_on: accepted ? '2011-08-20' : null, changed_by: kuaiji.id, note: '登记' });
  return { ...d, user: await makeUser(h.db, 'department', d.id) };
}

async function submitted(departmentId: string, who: TestUser, overrides: Record<string, unknown> = {}) {
  const res = await h.api.post(`/api/v1/departments/${departmentId}/receipts`).set(who.auth).send(receiptBody(fundId, overrides));
  expect(res.status).toBe(201);
  return String(res.body.id);
}

describe('exception paths in the browser', () => {
  it('finding 1: a unit corrects a rejected receipt and submits it again; both pages name each other', async () => {
    const u = await unitWithUser();
    const firstId = await submitted(u.id, u.user);
    await h.api.post(`/api/v1/receipts/${firstId}/reject`).set(kuaiji.auth).send({ reason: '套数与发票不符' });
    const page = await signedIn(u.user.username);
    await page.goto(`${base}/receipts/${firstId}`);
    await Promise.all([page.waitForURL(/\/resubmit$/), page.click('a:has-text("更正后重新提交")')]);
    const form = page.locator('form.receipt');
    await expect(form.locator('[name=line_licences]').first().inputValue()).resolves.toBe('20');
    await form.locator('[name=line_licences]').first().fill('25');
    await Promise.all([page.waitForURL(/\/receipts\/\d+$/), form.locator('button:has-text("提交发票")').click()]);
    await expect(page.locator('p.supersedes').textContent()).resolves.toContain(`第 ${firstId} 号发票`);
    const secondId = new URL(page.url()).pathname.split('/').pop();
    await page.goto(`${base}/receipts/${firstId}`);
    await expect(page.locator('p.superseded-by').textContent()).resolves.toContain(`第 ${secondId} 号发票`);
    await expect(page.locator('a:has-text("更正后重新提交")').count()).resolves.toBe(0);
    await page.context().close();
  });

  it('finding 2: a unit gives a reason for a failing seller code; the accountant must tick the confirmation', async () => {
    const u = await unitWithUser();
    const page = await signedIn(u.user.username);
    const form = page.locator('form.receipt');
    await form.locator('[name=invoice_code]').fill('6500111177');
    await form.locator('[name=invoice_number]').fill(String(40000000 + Math.floor(Math.random() * 9_999_999)));
    await form.locator('[name=issue_date]').fill('2011-08-25');
    await form.locator('[name=seller_name]').fill('新疆天山软件有限公司');
    await form.locator('[name=seller_tax_id]').fill(badSellerTaxId());
    await form.locator('[name=tax_id_override_reason]').fill('发票原件上就是这个代码，已电话核实');
    await form.locator('[name=line_product]').first().fill('Windows 7 专业版');
    await form.locator('[name=line_licences]').first().fill('4');
    await form.locator('[name=line_amount]').first().fill('3280.00');
    await form.locator('[name=total]').fill('3280.00');
    await Promise.all([page.waitForURL(/\/receipts\/\d+$/), form.locator('button:has-text("提交发票")').click()]);
    await expect(page.locator('p.tax-id-request').textContent()).resolves.toContain('待会计确认');
    const receiptPath = new URL(page.url()).pathname;
    await page.context().close();

    const accountant = await signedIn(kuaiji.username);
    await accountant.goto(`${base}${receiptPath}`);
    await expect(accountant.locator('p.tax-id-request').textContent()).resolves.toContain('已电话核实');
    await accountant.click('button:has-text("审核通过")');
    await expect(accountant.locator('p.error', { hasText: '确认销售方代码' }).textContent()).resolves.toContain('勾选“确认销售方代码”');
    await accountant.check('[name=confirm_tax_id]');
    await accountant.click('button:has-text("审核通过")');
    await expect(accountant.locator('p.notice').textContent()).resolves.toContain('已审核通过');
    await expect(accountant.locator('p.tax-id-request').textContent()).resolves.toContain(`已由 ${kuaiji.username} 确认`);
    await accountant.context().close();
  });

  it('finding 3: a unit cannot move back; an accountant can, with a reason', async () => {
    const u = await unitWithUser('completed');
    const page = await signedIn(u.user.username);
    const options = await page.locator('form[action="/my/status"] select[name=status] option').allTextContents();
    expect(options).toEqual(['已完成']);
    await page.context().close();

    const accountant = await signedIn(kuaiji.username);
    await accountant.goto(`${base}/departments/${u.id}`);
    await accountant.selectOption('select[name=status]', 'not_started');
    await accountant.fill('[name=effective_date]', '2011-09-01');
    await accountant.fill('[name=accepted_on]', '');
    await accountant.click('button:has-text("记录")');
    await expect(accountant.locator('.field-error').first().textContent()).resolves.toContain('须填写理由');
    await accountant.fill('[name=note]', '核查发现尚未采购');
    await accountant.click('button:has-text("记录")');
    await expect(accountant.locator('p.notice').textContent()).resolves.toContain('已记录');
    await expect(main(accountant)).resolves.toContain('核查发现尚未采购');
    await accountant.context().close();
  });

  it('finding 5: the run page says who was left out and why; acceptance of many units takes one form', async () => {
    await h.api
      .put(`/api/v1/funds/${fundId}/policy`)
      .set(kuaiji.auth)
      .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, require_completed: true });
    const units = [await unitWithUser('completed'), await unitWithUser('completed')];
    for (const u of units) {
      const id = await submitted(u.id, kuaiji);
      await h.api.post(`/api/v1/receipts/${id}/verify`).set(kuaiji.auth).send({});
    }
    const page = await signedIn(kuaiji.username);
    await page.goto(`${base}/funds/${fundId}/runs`);
    await page.fill('[name=as_of]', '2011-09-30');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('button:has-text("计算分配方案")')]);
    const excluded = await page.locator('table.excluded').textContent();
    for (const u of units) expect(excluded).toContain(`${u.name}（${u.code}）已完成但尚未验收`);
    await expect(main(page)).resolves.toContain(`计算人：${kuaiji.username}`);
    const firstRun = page.url();

    await page.click('table.excluded a:has-text("记录验收")');
    await page.fill('form.acceptance [name=accepted_on]', '2011-09-10');
    for (const u of units) await page.check(`form.acceptance input[value="${u.id}"]`);
    await page.click('button:has-text("记录验收")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('已记录 2 个单位验收合格');

    // finding 6: computing again supersedes the first draft, which can no longer be approved.
    await page.goto(`${base}/funds/${fundId}/runs`);
    await page.fill('[name=as_of]', '2011-09-30');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('button:has-text("计算分配方案")')]);
    const stillOut = await page.locator('table.excluded').textContent();
    for (const u of units) expect(stillOut).not.toContain(u.code);
    const secondRun = page.url();
    await page.context().close();

    const checker = await signedIn(kuaiji2.username);
    await checker.goto(firstRun);
    await expect(checker.locator('.run-status').textContent()).resolves.toBe('已被新方案取代');
    await expect(checker.locator('button:has-text("审批并记账")').count()).resolves.toBe(0);
    await checker.goto(secondRun);
    await checker.click('button:has-text("审批并记账")');
    await expect(checker.locator('p.notice').textContent()).resolves.toContain('已审批');
    await expect(main(checker)).resolves.toContain(`审批人：${kuaiji2.username}`);

    // finding 4: the run's payments in one request, approved together by the other accountant.
    await Promise.all([checker.waitForURL(/\/runs\/\d+\/disbursements$/), checker.click('button:has-text("为本批各单位生成待审批拨付")')]);
    await expect(checker.locator('p.notice').textContent()).resolves.toMatch(/已为第 \d+ 批生成 \d+ 笔待审批拨付/);
    await checker.context().close();

    const approver = await signedIn(kuaiji.username);
    await approver.goto(`${base}/funds/${fundId}/payments`);
    for (const u of units) await approver.check(`tr:has-text("${u.code}") input[name=ids]`);
    await approver.click('button:has-text("审批勾选的拨付")');
    await expect(approver.locator('p.notice').textContent()).resolves.toContain('已审批 2 笔拨付');
    await expect(approver.locator(`table.payments tr:has-text("${units[0]!.code}")`).first().textContent()).resolves.toContain(kuaiji2.username);
    await approver.context().close();
  });

  it('finding 4: a second payment for the whole payable is refused at once, in words', async () => {
    const u = await h
      .db('departments')
      .whereIn('id', h.db('accounts').where({ fund_id: fundId, kind: 'payable' }).select('department_id'))
      .first('id', 'code');
    const page = await signedIn(kuaiji.username);
    await page.goto(`${base}/funds/${fundId}/payments`);
    await page.selectOption('select[name=department_id]', String(u.id));
    await page.fill('[name=amount]', '1.00');
    await page.fill('[name=voucher_no]', unique('V'));
    await page.click('button:has-text("提交拨付")');
    await expect(page.locator('p.error').textContent()).resolves.toMatch(/超过该单位应付金额：该单位应付未付 0\.00 元；本笔 1\.00 元超出 1\.00 元。/);
    await page.context().close();
  });

  it('findings 6 and 7: a stale draft says so and cannot be approved; rejecting an allocated receipt warns, and the clawback explains itself', async () => {
    const u = await unitWithUser('completed', true);
    const receiptId = await submitted(u.id, kuaiji);
    await h.api.post(`/api/v1/receipts/${receiptId}/verify`).set(kuaiji.auth).send({});
    const run = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(kuaiji.auth).send({ as_of: '2011-09-30' });
    expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/approve`).set(kuaiji2.auth).send({})).status).toBe(200);

    const page = await signedIn(kuaiji.username);
    await page.goto(`${base}/receipts/${receiptId}`);
    await expect(page.locator('p.warning').textContent()).resolves.toContain(`已计入第 ${run.body.id} 批已审批的分配`);
    await page.fill('[name=reason]', '发票经税务机关核实为作废发票');
    await page.click('button:has-text("退回")');
    await expect(page.locator('p.notice').textContent()).resolves.toMatch(/已退回。.*已分配 8,?204\.51 元/);

    const draft = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(kuaiji.auth).send({ as_of: '2011-09-30' });
    await page.goto(`${base}/runs/${draft.body.id}`);
    await expect(page.locator(`tr:has-text("${u.code}")`).first().textContent()).resolves.toMatch(
      /发票经税务机关核实为作废发票.*已分配 8204\.51 元，已拨付 0\.00 元，本次收回未拨付的 8204\.51 元/,
    );
    // Something changes after the draft was computed: it reads stale and offers no approval.
    const other = await unitWithUser('completed', true);
    const late = await submitted(other.id, kuaiji);
    await h.api.post(`/api/v1/receipts/${late}/verify`).set(kuaiji.auth).send({});
    await page.context().close();
    const checker = await signedIn(kuaiji2.username);
    await checker.goto(`${base}/runs/${draft.body.id}`);
    await expect(checker.locator('.run-status').textContent()).resolves.toBe('已过时（须重新计算）');
    await expect(checker.locator('button:has-text("审批并记账")').count()).resolves.toBe(0);
    await checker.context().close();
  });

  it('finding 8: a verified receipt takes no scan; a submitted one takes several files at once', async () => {
    const u = await unitWithUser();
    const open = await submitted(u.id, u.user);
    const page = await signedIn(u.user.username);
    await page.goto(`${base}/receipts/${open}`);
    await page.setInputFiles('input[type=file]', [
      { name: '第1页.png', mimeType: 'image/png', buffer: png },
      { name: '第2页.pdf', mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4\n%${Math.random()}\n%%EOF\n`) },
    ]);
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("上传")')]);
    await expect(main(page)).resolves.toContain('第1页.png');
    await expect(main(page)).resolves.toContain('第2页.pdf');
    await page.setInputFiles('input[type=file]', {
      name: '带脚本.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n'),
    });
    await page.click('button:has-text("上传")');
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('打印为 PDF');
    await h.api.post(`/api/v1/receipts/${open}/verify`).set(kuaiji.auth).send({});
    await page.goto(`${base}/receipts/${open}`);
    await expect(page.locator('input[type=file]').count()).resolves.toBe(0);
    await page.context().close();
  });

  it('finding 9: an administrator pages and searches units, edits and deactivates one, and binds a user to unit 150 by search', async () => {
    const prefix = unique('BULK');
    await h.db('departments').insert(
      Array.from({ length: 150 }, (_, i) => ({
        code: `${prefix}${String(i).padStart(3, '0')}`,
        name: `批量单位${prefix}${i}`,
        group: 'government',
        status: 'not_started',
      })),
    );
    const page = await signedIn('admin', adminPassword);
    await page.goto(`${base}/admin/departments?q=${prefix}`);
    await expect(page.locator('main table tbody tr').count()).resolves.toBe(100);
    await page.click('a.more');
    await expect(page.locator('main table tbody tr').count()).resolves.toBe(50);
    await expect(main(page)).resolves.toContain(`${prefix}149`);

    await page.goto(`${base}/admin/departments?q=${prefix}149`);
    await page.click('a:has-text("编辑")');
    await page.fill('[name=name]', '更正后的名称');
    await page.fill('[name=contact]', '李四 0991-7654321');
    await page.click('button:has-text("保存")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('已保存');

    await page.goto(`${base}/admin/users`);
    await page.fill('form[action="/admin/users"] [name=username]', unique('unit'));
    await page.fill('form[action="/admin/users"] [name=password]', 'a good long password');
    await page.selectOption('[name=role]', 'department');
    await page.fill('[name=department]', `${prefix}149`);
    await page.click('button:has-text("新建")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('用户已创建');
    await page.fill('form.filters [name=q]', `${prefix}149`);
    await page.click('form.filters button');
    await expect(main(page)).resolves.toContain('更正后的名称');

    await page.goto(`${base}/admin/departments?q=${prefix}148`);
    await page.click('a:has-text("编辑")');
    await page.uncheck('[name=active]');
    await page.click('button:has-text("保存")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('已停用');
    await page.goto(`${base}/admin/departments?q=${prefix}148`);
    await expect(page.locator('main table tbody').textContent()).resolves.toContain('已停用');
    await page.context().close();
  });

  it('finding 10: the journal page takes 2307 and a unit by name and says what it filtered; runs show names', async () => {
    const unit = await h
      .db('accounts as a')
      .join('departments as d', 'd.id', 'a.department_id')
      .where({ 'a.fund_id': fundId, 'a.kind': 'payable' })
      .first('d.name', 'd.code');
    const page = await signedIn(kuaiji.username);
    await page.goto(`${base}/funds/${fundId}/journal`);
    await page.fill('form.filters [name=account]', '2307');
    await page.fill('form.filters [name=department]', unit.name);
    await page.click('form.filters button');
    await expect(page.locator('p.filter-description').textContent()).resolves.toMatch(
      new RegExp(`仅显示科目 2307 及其 \\d+ 个明细科目、单位 ${unit.name}（${unit.code}）的凭证`),
    );
    await expect(page.locator('main table tbody').textContent()).resolves.toContain(`2307.${unit.code}`);
    await page.fill('form.filters [name=department]', '没有这个单位');
    await page.click('form.filters button');
    await expect(page.locator('p.error').textContent()).resolves.toContain('没有代码或名称为“没有这个单位”的单位');
    await page.goto(`${base}/funds/${fundId}/runs`);
    const makers = await page.locator('main table tbody tr td:nth-child(6)').allTextContents();
    expect(makers.length).toBeGreaterThan(0);
    expect(makers).toContain(kuaiji.username);
    for (const name of makers) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9._-]*$/);
    await page.context().close();
  });
});
