import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoPassword, loadDemo } from '../../server/demo/load-demo.ts';
import { createUser } from '../../server/users/users.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Work queues (待办) and the books, in a real browser on the 2011 demo: each role finds what waits
 * for it, acts, and the queue empties; the voucher and the ledgers show the API's figures.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let url: string;
let h: Harness;
let server: Server;
let base: string;
let browser: Browser;
let fundId: string;
let api: TestUser;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium package or set CHROMIUM_PATH`);
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_e2e_books');
  h = openHarness(url);
  await loadDemo(h.db, () => undefined);
  fundId = String((await h.db('funds').first('id')).id);
  const notStarted = String((await h.db('departments').where({ code: 'XJ064' }).first('id')).id);
  await createUser(
    h.db,
    { actor: null, requestId: 'e2e', ip: 'local' },
    { username: 'tuanwei', password: demoPassword, role: 'department', department_id: notStarted },
    { demo: true },
  );
  api = await makeUser(h.db, 'auditor');
  server = h.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await h?.close();
  if (url) await dropDatabase(url);
});

async function signedIn(username: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#username', username);
  await page.fill('#password', demoPassword);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form.login button')]);
  return page;
}

const navCount = async (page: Page) =>
  Number((await page.locator('nav a.work-link .count').count()) ? (await page.locator('nav a.work-link .count').textContent())!.replace(/\D/g, '') : 0);
const sectionCount = async (page: Page, key: string) => Number((await page.locator(`[data-queue="${key}"] h2`).textContent())!.match(/（(\d+)）/)![1]);

describe('work queues', () => {
  it('the second accountant lands on 待办, approves the clawback waiting for them, and it leaves the queue and the count', async () => {
    const page = await signedIn('kuaiji2');
    expect(new URL(page.url()).pathname).toBe('/work');
    expect(await sectionCount(page, 'approvals')).toBe(1);
    const before = await navCount(page);
    expect(before).toBeGreaterThan(1);
    await page.locator('[data-queue="approvals"] table.waiting tr[data-type="clawback"] button.approve').click();
    await page.goto(`${base}/work`);
    expect(await sectionCount(page, 'approvals')).toBe(0);
    await expect(page.locator('[data-queue="approvals"]').textContent()).resolves.toContain('没有等待您审核');
    expect(await navCount(page)).toBe(before - 1);
    // The one who prepared it never saw it waiting for themselves.
    const preparer = await signedIn('kuaiji');
    await expect(preparer.locator('[data-queue="approvals"] table.waiting tr[data-type="clawback"]').count()).resolves.toBe(0);
    await page.context().close();
    await preparer.context().close();
  });

  it('a unit past the report deadline sees the report it owes on its home, files it, and the queue empties', async () => {
    const page = await signedIn('tuanwei');
    expect(new URL(page.url()).pathname).toBe('/my');
    expect(await sectionCount(page, 'report')).toBe(1);
    await page.fill('textarea[name=body]', '因经费未落实，尚未开展正版化工作，计划于年底前完成采购。');
    await page.click('form[action="/my/written-report"] button');
    await page.goto(`${base}/my`);
    expect(await sectionCount(page, 'report')).toBe(0);
    await page.context().close();
    const accountant = await signedIn('kuaiji');
    await expect(accountant.locator('[data-queue="reports"]').textContent()).resolves.not.toContain('XJ064');
    await accountant.context().close();
  });

  it('an auditor sees a fund never verified, verifies it, and the queue shows the passing result', async () => {
    const page = await signedIn('shenji');
    expect(new URL(page.url()).pathname).toBe('/work');
    expect(await sectionCount(page, 'verify')).toBe(1);
    await expect(page.locator('[data-queue="verify"]').textContent()).resolves.toContain('从未核验');
    await page.locator('[data-queue="verify"] a').first().click();
    await expect(page.locator('p.notice').textContent()).resolves.toContain('账簿完整');
    await page.goto(`${base}/work`);
    expect(await sectionCount(page, 'verify')).toBe(0);
    await expect(page.locator('[data-queue="verify"]').textContent()).resolves.toContain('核验通过');
    await page.context().close();
  });

  it('an inspector finds the answered finding waiting for review, closes it (销号), and it leaves the queue', async () => {
    const finding = await h.db('findings').where({ kind: 'register_mismatch' }).first('id', 'department_id');
    const unit = await makeUser(h.db, 'department', String(finding.department_id));
    const answer = await h.api
      .post(`/api/v1/findings/${finding.id}/rectifications`)
      .set(unit.auth)
      .send({ note: '已建立软件资产台账，采购合同与安装数量逐台核对一致。' });
    expect(answer.status).toBe(201);
    const page = await signedIn('ducha');
    expect(new URL(page.url()).pathname).toBe('/work');
    expect(await sectionCount(page, 'answered')).toBe(1);
    const before = await navCount(page);
    await page.locator('[data-queue="answered"] a[href^="/findings/"]').first().click();
    expect(new URL(page.url()).pathname).toBe(`/findings/${finding.id}`);
    await expect(page.locator('main').textContent()).resolves.toContain('已建立软件资产台账');
    await page.fill(`form[action="/findings/${finding.id}/decision"] textarea[name=note]`, '经复查，台账与合同、安装数量一致，同意销号。');
    await Promise.all([page.waitForLoadState('load'), page.click(`form[action="/findings/${finding.id}/decision"] button[value=close]`)]);
    await expect(page.locator('main').textContent()).resolves.toContain('已销号');
    await page.goto(`${base}/work`);
    expect(await sectionCount(page, 'answered')).toBe(0);
    await expect(page.locator('[data-queue="answered"]').textContent()).resolves.toContain('没有待复查的问题');
    expect(await navCount(page)).toBe(before - 1);
    expect((await h.db('findings').where({ id: finding.id }).first('status')).status).toBe('closed');
    await page.context().close();
  });
});

describe('vouchers and ledgers', () => {
  it('the journal runs oldest first by 凭证字号 and each voucher shows the API entry: lines, 合计 in 大写, 制单/审核/记账', async () => {
    const journal = (await h.api.get(`/api/v1/funds/${fundId}/journal?limit=100`).set(api.auth)).body.items as Array<{
      id: string;
      voucher_no: string;
      created_by_name: string;
      approved_by_name: string;
      postings: unknown[];
    }>;
    const page = await signedIn('shenji');
    await page.goto(`${base}/funds/${fundId}/journal`);
    const numbers = await page.locator('table.journal a.voucher-link').allTextContents();
    expect(numbers).toEqual([...journal].reverse().map((e) => e.voucher_no));
    expect(numbers[0]).toBe('记-0001');
    await page.locator('table.journal a.voucher-link').first().click();
    const first = [...journal].reverse()[0]!;
    await expect(page.locator('h1').textContent()).resolves.toContain('记-0001');
    expect(await page.locator('.voucher-table tbody tr:not(.book-row):not(.total-row)').count()).toBe(first.postings.length);
    await expect(page.locator('.voucher-table .in-words').first().textContent()).resolves.toBe('人民币壹仟贰佰肆拾伍万元整');
    await expect(page.locator('b.preparer').textContent()).resolves.toBe(first.created_by_name);
    await expect(page.locator('b.approver').textContent()).resolves.toBe(first.approved_by_name);
    await expect(page.locator('b.bookkeeper').textContent()).resolves.toBe(first.approved_by_name);
    await expect(page.locator('.attachment-count').textContent()).resolves.toBe('1');
    await page.context().close();
  });

  it('a trial-balance row opens its 明细账, whose closing balance is the trial balance figure, and each posting opens its voucher', async () => {
    const tb = (await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).set(api.auth)).body;
    const payable = (await h.api.get(`/api/v1/funds/${fundId}/general-ledger?from=2011-01-01&to=2099-12-31`).set(api.auth)).body.accounts.find(
      (a: { code: string }) => a.code === '2307',
    );
    const page = await signedIn('kuaiji');
    await page.goto(`${base}/funds/${fundId}/trial-balance`);
    await page.locator('table.trial-balance a', { hasText: '1011' }).first().click();
    await expect(page.locator('h1').textContent()).resolves.toContain('明细账 1011');
    const closing = (await page.locator('table.account-ledger tr.total-row td.num').last().textContent())!.replace(/,/g, '');
    expect(closing).toBe(tb.accounts.find((a: { code: string }) => a.code === '1011').debit);
    await page.goto(`${base}/funds/${fundId}/general-ledger`);
    await expect(page.locator('table.general-ledger tr[data-code="2307"] td.num').last().textContent()).resolves.toBe(
      Number(payable.closing.amount).toLocaleString('en-US', { minimumFractionDigits: 2 }),
    );
    await page.locator('table.general-ledger tr[data-code="2307"] a').first().click();
    await page.locator('table.account-ledger a.voucher-link').first().click();
    await expect(page.locator('.voucher-sheet .voucher-no').textContent()).resolves.toMatch(/记-\d{4}/);
    await page.context().close();
  });
});
