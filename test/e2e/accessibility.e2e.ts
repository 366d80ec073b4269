import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoPassword, loadDemo } from '../../server/demo/load-demo.ts';
import { bootstrapAdmin } from '../../server/users/users.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { openHarness, type Harness } from '../support/harness.ts';
import { sellerTaxId } from '../support/receipts.ts';

/*
 * Every page of every role, found the way a person finds them: from the role's navigation, then the
 * links on those pages (two steps deep), so pages added later are checked without being listed here.
 * Each page gets axe (WCAG 2.1 A/AA: no serious or critical violation, contrast included) at 1366×900,
 * and at 390×844 (a phone) the page body must not scroll sideways.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const adminPassword = 'e2e admin password for axe';
const roles: Array<[string, string]> = [
  ['kuaiji', demoPassword],
  ['shenji', demoPassword],
  ['tongjiju', demoPassword],
  ['ducha', demoPassword],
  ['admin', adminPassword],
];
/** Pages of one shape (/receipts/12, /receipts/13) are checked a few times, not 71 times. */
const perShape_max = 2;
const perRole_max = 60;

let url: string;
let h: Harness;
let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`);
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_e2e_axe');
  h = openHarness(url);
  await bootstrapAdmin(h.db, adminPassword, () => undefined);
  await loadDemo(h.db, () => undefined);
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

async function signedIn(username: string, password: string): Promise<Page> {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form.login button')]);
  return page;
}

const shapeOf = (path: string) => path.replace(/\/\d+(?=\/|$)/g, '/:id');

/** Links a person can follow to another page of the service (no downloads, no sign-out). */
async function pageLinks(page: Page): Promise<string[]> {
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).href));
  return hrefs
    .map((href) => new URL(href))
    .filter((u) => u.origin === base && !u.pathname.startsWith('/api/') && !u.pathname.startsWith('/assets/') && !/\.(pdf|zip|xlsx|csv)$/.test(u.pathname))
    .filter((u) => u.pathname !== '/logout' && u.pathname !== '/docs' && u.pathname !== '/openapi.json')
    .map((u) => `${u.pathname}${u.search}`);
}

interface Finding {
  path: string;
  problem: string;
}

async function crawl(page: Page, start: string[]): Promise<{ visited: string[]; findings: Finding[] }> {
  const queue = start.map((p) => ({ path: p, depth: 0 }));
  const seen = new Set<string>();
  const shapes = new Map<string, number>();
  const visited: string[] = [];
  const findings: Finding[] = [];
  while (queue.length && visited.length < perRole_max) {
    const { path, depth } = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const shape = shapeOf(new URL(path, base).pathname);
    if ((shapes.get(shape) ?? 0) >= perShape_max) continue;
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    await page.setViewportSize({ width: 1366, height: 900 });
    const response = await page.goto(`${base}${path}`);
    if (!response || response.status() >= 500) {
      findings.push({ path, problem: `HTTP ${response?.status()}` });
      continue;
    }
    visited.push(path);
    const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
    for (const v of axe.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
      findings.push({
        path,
        problem: `axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(' | ')}`,
      });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
    if (overflow.scroll > overflow.view) findings.push({ path, problem: `at 390 px the page is ${overflow.scroll} px wide` });
    if (depth < 2) for (const next of await pageLinks(page)) if (!seen.has(next)) queue.push({ path: next, depth: depth + 1 });
  }
  return { visited, findings };
}

describe('every page of every role: axe and a phone', () => {
  for (const [username, password] of roles) {
    it(`${username}: no serious or critical axe violation, no sideways scrolling at 390 px`, async () => {
      const page = await signedIn(username, password);
      const nav = await page.$$eval('header nav a[href]', (as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
      expect(nav.length).toBeGreaterThan(0);
      const { visited, findings } = await crawl(page, [new URL(page.url()).pathname, ...nav, '/account']);
      expect(visited.length).toBeGreaterThanOrEqual(nav.length);
      expect(findings.map((f) => `${f.path}: ${f.problem}`)).toEqual([]);
      await page.context().close();
    });
  }
});

describe('the receipt form on a phone', () => {
  it('adds lines in place, computes 金额合计 and 价税合计 as amounts are typed (with separators and full-width digits), and the server keeps them', async () => {
    const page = await signedIn('tongjiju', demoPassword);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/my`);
    const form = page.locator('form.receipt');
    await expect(form.locator('[name=buyer_name]').inputValue()).resolves.toBe('统计局');
    await form.locator('[name=invoice_code]').fill('6500111199');
    await form.locator('[name=invoice_number]').fill(String(10_000_000 + Math.floor(Math.random() * 89_999_999)));
    await form.locator('[name=issue_date]').fill('2011-08-25');
    await form.locator('[name=seller_name]').fill('新疆天山软件有限公司');
    await form.locator('[name=seller_tax_id]').fill(sellerTaxId());
    await form.locator('[data-add-line]').click();
    const rows = form.locator('tr.line');
    await expect(rows.count()).resolves.toBe(4);
    await expect(rows.nth(3).locator('[name=line_amount]').getAttribute('aria-label')).resolves.toBe('第 4 行 金额（元）');
    await rows.nth(0).locator('[name=line_product]').fill('Windows 7 专业版');
    await rows.nth(0).locator('[name=line_licences]').fill('4');
    await rows.nth(0).locator('[name=line_amount]').fill('１，２００．００');
    await rows.nth(3).locator('[name=line_product]').fill('Office 2010');
    await rows.nth(3).locator('[name=line_licences]').fill('1');
    await rows.nth(3).locator('[name=line_amount]').fill('12,000.5');
    await form.locator('[name=tax_amount]').fill('1,716.07');
    await expect(form.locator('[name=total]').inputValue()).resolves.toBe('13,200.50');
    await expect(form.locator('[name=total_with_tax]').inputValue()).resolves.toBe('14,916.57');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await Promise.all([page.waitForURL(/\/receipts\/\d+$/), form.locator('button:not([type=button])').click()]);
    const id = /\/receipts\/(\d+)$/.exec(page.url())![1];
    const stored = await h.db('receipts').where({ id }).first('total', 'tax_amount', 'total_with_tax', 'buyer_name');
    expect(stored).toEqual({ total: '13200.50', tax_amount: '1716.07', total_with_tax: '14916.57', buyer_name: '统计局' });
    await expect(page.locator('main').innerText()).resolves.toContain('14,916.57');
    await page.context().close();
  });
});
