import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoPassword, loadDemo } from '../../server/demo/load-demo.ts';
import { bootstrapAdmin, createUser } from '../../server/users/users.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { openHarness, type Harness } from '../support/harness.ts';
import { sellerTaxId } from '../support/receipts.ts';

/*
 * Each role's main flow, in a real browser against the real service and PostgreSQL:
 * a unit submits a receipt with a scan; an accountant verifies it and computes an allocation that a
 * second accountant approves, then pays; an auditor downloads the statement and checks it is genuine.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const adminPassword = 'e2e admin password';
let url: string;
let h: Harness;
let server: Server;
let base: string;
let browser: Browser;
let fundId: string;
let unitId: string;

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`);
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_e2e');
  h = openHarness(url);
  await bootstrapAdmin(h.db, adminPassword, () => undefined);
  await loadDemo(h.db, () => undefined);
  fundId = String((await h.db('funds').first('id')).id);
  const notStarted = String((await h.db('departments').where({ code: 'XJ064' }).first('id')).id);
  await createUser(
    h.db,
    { actor: null, requestId: 'e2e', ip: 'local' },
    { username: 'tuanwei', password: demoPassword, role: 'department', department_id: notStarted },
    { demo: true },
  );
  unitId = String((await h.db('departments').where({ code: 'XJ005' }).first('id')).id);
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

async function signedIn(username: string, password = demoPassword): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true, locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form.login button')]);
  return page;
}

/** The unit's receipt form, filled with one line of 3,280.00; the caller sets the total. */
async function fillReceipt(page: Page): Promise<void> {
  const form = page.locator('form.receipt');
  await form.locator('[name=invoice_code]').fill('6500111177');
  await form.locator('[name=invoice_number]').fill(invoiceNumber);
  await form.locator('[name=issue_date]').fill('2011-08-25');
  await form.locator('[name=seller_name]').fill('新疆天山软件有限公司');
  await form.locator('[name=seller_tax_id]').fill(sellerTaxId());
  await form.locator('[name=line_product]').first().fill('Windows 7 专业版');
  await form.locator('[name=line_licences]').first().fill('4');
  await form.locator('[name=line_amount]').first().fill('3280.00');
}

const png = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'),
  Buffer.from('1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1d4a60000000049454e44ae426082', 'hex'),
]);
const invoiceNumber = String(30000000 + Math.floor(Math.random() * 9_999_999));

describe('in the browser', () => {
  it('refuses a wrong password with a readable message, and pages need a session', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/funds`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#username', 'kuaiji');
    await page.fill('#password', 'wrong password');
    await page.click('form.login button');
    await expect(page.locator('p.error').textContent()).resolves.toContain('用户名或密码错误');
    await page.close();
  });

  it('a unit submits a receipt, sees the client-side checks, and attaches a scan', async () => {
    const page = await signedIn('tongjiju');
    expect(new URL(page.url()).pathname).toBe('/my');
    const form = page.locator('form.receipt');
    await fillReceipt(page);
    await form.locator('[name=total]').fill('3280.01');
    await form.locator('button:has-text("提交发票")').click();
    await expect(form.locator('.client-error').first().textContent()).resolves.toContain('合计金额须等于明细之和');
    await form.locator('[name=total]').fill('3280.00');
    await Promise.all([page.waitForURL(/\/receipts\/\d+$/), form.locator('button:has-text("提交发票")').click()]);
    await expect(page.locator('main').textContent()).resolves.toContain('待审核');
    await page.setInputFiles('input[type=file]', { name: '发票扫描.png', mimeType: 'image/png', buffer: png });
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("上传")')]);
    await expect(page.locator('img.scan').count()).resolves.toBe(1);
    await page.context().close();
  });

  it('shows the server’s refusal next to the field when the browser lets a bad value through', async () => {
    const page = await signedIn('tongjiju');
    const form = page.locator('form.receipt');
    await fillReceipt(page); // the same invoice as above: already claimed
    await form.locator('[name=total]').fill('3280.00');
    await form.locator('button:has-text("提交发票")').click();
    await expect(page.locator('form.receipt .field-error').first().textContent()).resolves.toContain('该发票已被申报');
    await page.context().close();
  });

  it('an accountant verifies the receipt, records acceptance, publishes a policy and computes a run', async () => {
    const page = await signedIn('kuaiji');
    await page.goto(`${base}/receipts?status=submitted`);
    await Promise.all([page.waitForURL(/\/receipts\/\d+$/), page.click(`a:has-text("${invoiceNumber}")`)]);
    await expect(page.locator('img.scan').count()).resolves.toBe(1);
    await page.click('button:has-text("审核通过")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('已审核通过');

    await page.goto(`${base}/departments/${unitId}`);
    await page.fill('[name=effective_date]', '2011-08-31');
    await page.fill('[name=accepted_on]', '2011-09-05');
    await page.click('button:has-text("记录")');
    await expect(page.locator('main').textContent()).resolves.toContain('2011年9月5日 验收合格');

    await page.goto(`${base}/funds/${fundId}/policy`);
    await page.fill('[name=rate_os]', '1.5');
    await page.click('button:has-text("发布新版本")');
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('比例须为 0 到 1 之间');
    await page.fill('[name=rate_os]', '0.50');
    await page.fill('[name=cap_office]', '600.00');
    await Promise.all([page.waitForURL(/\/policy$/), page.click('button:has-text("发布新版本")')]);
    // The demo published version 1 with its sample allocation.
    await expect(page.locator('main').textContent()).resolves.toContain('现行第 2 版');

    await page.goto(`${base}/funds/${fundId}/runs`);
    await page.fill('[name=as_of]', '2011-09-30');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('button:has-text("计算分配方案")')]);
    const text = await page.locator('main').textContent();
    expect(text).toContain('待审批');
    expect(text).toContain('统计局');
    expect(text).toContain('操作系统');
    expect(text).toContain('须由另一名会计审批');
    await page.context().close();
  });

  it('a second accountant approves the run and prepares a payment; the first approves the payment', async () => {
    const second = await signedIn('kuaiji2');
    await second.goto(`${base}/funds/${fundId}/runs`);
    await Promise.all([second.waitForURL(/\/runs\/\d+$/), second.click('table a[href^="/runs/"]')]);
    await second.click('button:has-text("审批并记账")');
    await expect(second.locator('p.notice').textContent()).resolves.toContain('已审批');
    await second.goto(`${base}/funds/${fundId}/payments`);
    await second.selectOption('[name=department_id]', unitId);
    await second.fill('[name=amount]', '99999999.00');
    await second.fill('[name=voucher_no]', '付-2011-001');
    await second.click('button:has-text("提交拨付")');
    await expect(second.locator('.error').first().textContent()).resolves.toMatch(/超出/);
    await second.fill('[name=amount]', '1000.00');
    await Promise.all([second.waitForURL(/\/payments$/), second.click('button:has-text("提交拨付")')]);
    await expect(second.locator('main').textContent()).resolves.toContain('待另一名会计审批');
    await second.context().close();

    const first = await signedIn('kuaiji');
    await first.goto(`${base}/funds/${fundId}/payments`);
    await first.click('form[action$="/approve"] button');
    await expect(first.locator('p.notice').textContent()).resolves.toContain('拨付已记账');
    await first.goto(`${base}/funds/${fundId}`);
    await expect(first.locator('main').textContent()).resolves.toContain('1,000.00');
    await first.context().close();
  });

  it('one accountant prepares an appropriation; the other finds it on the home page, with the preparer, and approves it', async () => {
    const first = await signedIn('kuaiji');
    await first.goto(`${base}/funds/${fundId}`);
    await first.fill('form[action$="/appropriations"] [name=amount]', '500.00');
    await first.fill('form[action$="/appropriations"] [name=document_no]', '新财预〔2011〕追加');
    await first.fill('form[action$="/appropriations"] [name=date]', '2011-09-01');
    await Promise.all([first.waitForURL(new RegExp(`/funds/${fundId}$`)), first.click('form[action$="/appropriations"] button')]);
    await expect(first.locator('main').textContent()).resolves.toContain('待审核凭证');
    // Her own preparation does not wait for her.
    await first.goto(`${base}/funds`);
    await expect(
      first
        .locator('table.waiting')
        .textContent()
        .catch(() => ''),
    ).resolves.not.toContain('新财预〔2011〕追加');
    await first.context().close();

    const second = await signedIn('kuaiji2');
    await second.goto(`${base}/`);
    const row = second.locator('table.waiting tr', { hasText: '新财预〔2011〕追加' });
    await expect(row.textContent()).resolves.toContain('kuaiji');
    await expect(row.textContent()).resolves.toContain('500.00');
    await Promise.all([second.waitForURL(/\/entries\/\d+\/approve$/), row.locator('button.approve').click()]);
    await expect(second.locator('p.notice').textContent()).resolves.toContain('凭证已记账');
    await expect(second.locator('.signers .preparer').textContent()).resolves.toBe('kuaiji');
    await expect(second.locator('.signers .approver').textContent()).resolves.toBe('kuaiji2');
    await second.goto(`${base}/funds/${fundId}`);
    await expect(second.locator('main').textContent()).resolves.toContain('12,450,500.00');
    await second.context().close();
  });

  it('an auditor downloads the statement and the site confirms it is genuine', async () => {
    const page = await signedIn('shenji');
    await page.goto(`${base}/funds/${fundId}/statements`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`tr:has-text("统计局") a:has-text("资金拨付通知书")`)]);
    const path = await download.path();
    await page.goto(`${base}/statements/verify`);
    await page.setInputFiles('input[type=file]', path!);
    await page.click('button:has-text("核验")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('真实、未经改动');
    await page.goto(`${base}/funds/${fundId}/verify`);
    await expect(page.locator('p.notice').textContent()).resolves.toContain('账簿完整');
    await page.goto(`${base}/audit-log?action=statement.verify`);
    await expect(page.locator('main').textContent()).resolves.toContain('核验通知书');
    await page.context().close();
  });

  it('an admin creates a user; a weak password is explained next to the field', async () => {
    const page = await signedIn('admin', adminPassword);
    expect(new URL(page.url()).pathname).toBe('/admin/users');
    await page.fill('[name=username]', 'shenji2');
    await page.fill('[name=password]', '123456789012');
    await page.selectOption('[name=role]', 'auditor');
    await page.click('button:has-text("新建")');
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('不能全部是数字');
    await page.fill('[name=password]', 'a good long password');
    await page.click('button:has-text("新建")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('用户已创建');
    await page.context().close();
  });

  it('a unit not started files its written report with a signed scan once the accountant sets the deadline', async () => {
    const accountant = await signedIn('kuaiji');
    await accountant.goto(`${base}/progress`);
    await accountant.fill('[name=deadline]', '2011-09-20');
    await Promise.all([accountant.waitForURL(/\/progress$/), accountant.click('button:has-text("设定")')]);
    await expect(accountant.locator('main').textContent()).resolves.toContain('逾期未报送 8 个');
    await accountant.fill('[name=target_date]', '2011-10-31');
    await accountant.fill('[name=target_percent]', '95');
    await Promise.all([accountant.waitForURL(/\/progress$/), accountant.click('button:has-text("设定目标")')]);
    const progress = await accountant.locator('main').textContent();
    expect(progress).toContain('2011年10月31日 前完成率达到 95.00%');
    expect(progress).toContain('应由单位主要领导当面汇报（8）');
    await accountant.context().close();

    const unit = await signedIn('tuanwei');
    await expect(unit.locator('main').textContent()).resolves.toContain('已逾期');
    await unit.fill('textarea[name=body]', '因经费尚未落实，计划于10月底前完成正版软件采购。');
    await unit.click('button:has-text("报送")');
    await expect(unit.locator('p.notice').textContent()).resolves.toContain('书面报告已报送');
    await unit.setInputFiles('input[type=file][name=file]', { name: '报告.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
    await unit.click('form[action^="/written-reports/"] button');
    await expect(unit.locator('main').textContent()).resolves.toContain('附件：报告.pdf');
    await unit.context().close();
  });

  it('an inspector records a finding, the unit answers it with a scan, the inspector closes it', async () => {
    const inspector = await signedIn('ducha');
    // The inspector's home is what waits for them (待办); inspections are one click away.
    expect(new URL(inspector.url()).pathname).toBe('/work');
    await inspector.goto(`${base}/inspections`);
    await inspector.fill('[name=document_no]', '新软正督〔2011〕2号');
    await inspector.fill('[name=team]', '王五、赵六');
    await inspector.fill('[name=date]', '2011-09-28');
    await inspector.selectOption('[name=department_ids]', [unitId]);
    await Promise.all([inspector.waitForURL(/\/inspections\/\d+$/), inspector.click('button:has-text("记录")')]);
    await inspector.selectOption('[name=kind]', 'unlicensed_installs');
    await inspector.fill('[name=description]', '抽查发现 3 台计算机安装未授权的 WPS 专业版');
    await inspector.fill('[name=deadline]', '2011-10-31');
    await inspector.click('button:has-text("记录问题")');
    await expect(inspector.locator('.field-error').first().textContent()).resolves.toContain('未授权安装数量');
    await inspector.fill('[name=unlicensed_installs]', '3');
    await Promise.all([inspector.waitForURL(/\/inspections\/\d+$/), inspector.click('button:has-text("记录问题")')]);
    await expect(inspector.locator('main').textContent()).resolves.toContain('发现未授权安装（3 台）');
    const findingHref = await inspector.locator('a[href^="/findings/"]').last().getAttribute('href');
    await inspector.context().close();

    const unit = await signedIn('tongjiju');
    await unit.click('header a[href="/findings"]');
    await Promise.all([unit.waitForURL(/\/findings\/\d+$/), unit.click(`a[href="${findingHref}"]`)]);
    await unit.fill('textarea[name=note]', '已卸载 3 套未授权软件，并采购 WPS 正版授权');
    await Promise.all([unit.waitForURL(/\/findings\/\d+$/), unit.click('button:has-text("报送整改情况")')]);
    await expect(unit.locator('main').textContent()).resolves.toContain('已报整改情况');
    await unit.setInputFiles('input[type=file][name=file]', { name: '整改报告.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
    await Promise.all([unit.waitForURL(/\/findings\/\d+$/), unit.click('button:has-text("上传扫描件")')]);
    await expect(unit.locator('main').textContent()).resolves.toContain('整改报告.pdf');
    await unit.context().close();

    const closing = await signedIn('ducha');
    await closing.goto(`${base}${findingHref}`);
    await closing.fill('textarea[name=note]', '现场复核，整改到位，予以销号');
    await Promise.all([closing.waitForURL(/\/findings\/\d+$/), closing.click('button:has-text("销号")')]);
    const text = await closing.locator('main').textContent();
    expect(text).toContain('已销号');
    expect(text).toContain('单位整改说明');
    expect(text).toContain('整改报告.pdf');
    await closing.context().close();
  });

  it('a unit reports its computers and sees its register and compliance', async () => {
    const unit = await signedIn('tongjiju');
    await unit.click('header a[href="/my/assets"]');
    await unit.fill('[name=computers]', 'many');
    await unit.click('button:has-text("报告计算机数量")');
    await expect(unit.locator('.field-error').first().textContent()).resolves.toBeTruthy();
    await unit.fill('[name=computers]', '8');
    await unit.click('button:has-text("报告计算机数量")');
    await expect(unit.locator('p.notice').textContent()).resolves.toContain('计算机数量已报告');
    const text = await unit.locator('main').textContent();
    expect(text).toContain('计算机 8 台');
    expect(text).toContain('Windows 7 专业版');
    await unit.context().close();
  });

  it('a user changes their own password on the account page', async () => {
    const page = await signedIn('tuanwei');
    await page.click('header a[href="/account"]');
    await page.fill('[name=current_password]', 'not the password');
    await page.fill('[name=new_password]', 'another good passphrase');
    await page.click('button:has-text("修改")');
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('当前密码不正确');
    await page.fill('[name=current_password]', demoPassword);
    await page.fill('[name=new_password]', 'another good passphrase');
    await page.click('button:has-text("修改")');
    await expect(page.locator('p.notice').textContent()).resolves.toContain('密码已修改');
    await page.context().close();
    await (await signedIn('tuanwei', 'another good passphrase')).context().close();
  });

  it('every page each role can reach answers without error', async () => {
    for (const [user, password] of [
      ['kuaiji', demoPassword],
      ['shenji', demoPassword],
      ['tongjiju', demoPassword],
      ['ducha', demoPassword],
      ['admin', adminPassword],
    ] as const) {
      const page = await signedIn(user, password);
      const seen = new Set<string>();
      const queue = [new URL(page.url()).pathname];
      while (queue.length && seen.size < 40) {
        const path = queue.shift()!;
        if (seen.has(path)) continue;
        seen.add(path);
        const res = await page.goto(`${base}${path}`);
        expect(res!.status(), `${user} ${path}`).toBeLessThan(500);
        expect(await page.locator('h1').textContent(), `${user} ${path}`).not.toBe('出错了');
        for (const href of await page.locator('a[href^="/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!))) {
          if (!href.startsWith('/api/') && !href.startsWith('/assets/') && !seen.has(href)) queue.push(href);
        }
      }
      expect(seen.size, user).toBeGreaterThan(1);
      await page.context().close();
    }
  });

  it('rejects a form posted without its CSRF token', async () => {
    const page = await signedIn('kuaiji');
    const res = await page.request.post(`${base}/funds/${fundId}/appropriations`, { form: { amount: '1.00', document_no: 'x', date: '2011-06-01' } });
    expect(res.status()).toBe(403);
    await page.context().close();
  });
});
