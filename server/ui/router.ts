import { jobPages } from './pages/job-pages.ts';
import type { JobQueue } from '../routes/jobs.ts';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { projectPath } from '../project-root.ts';
import { AppError } from '../errors.ts';
import { assertSafeText } from '../http/schemas.ts';
import { translateDbError } from '../db/translate-error.ts';
import { fromBodyParser } from '../http/problem.ts';
import { normaliseAmountFields } from './form-amounts.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import { acceptancePages } from './pages/acceptance-pages.ts';
import { accountPages } from './pages/account-pages.ts';
import { adminPages } from './pages/admin-pages.ts';
import { allocationPages } from './pages/allocation-pages.ts';
import { approvalPages } from './pages/approval-pages.ts';
import { witnessFileOf } from '../ledger/witness.ts';
import { authPages, loginPage } from './pages/auth-pages.ts';
import { departmentPages } from './pages/department-pages.ts';
import { fundPages } from './pages/fund-pages.ts';
import { ledgerPages } from './pages/ledger-pages.ts';
import { receiptPages } from './pages/receipt-pages.ts';
import { reportPages } from './pages/report-pages.ts';
import { auditLogPage } from './pages/audit-log-page.ts';
import { assetPages } from './pages/asset-pages.ts';
import { inspectionPages } from './pages/inspection-pages.ts';
import { programmeTargetPage } from './pages/programme-section.ts';
import { requireSession } from './session.ts';
import { withWorkCount } from './work-count.ts';
import { workPages } from './pages/work-pages.ts';
import { regularFontPath } from '../../reports/pdf/fonts.ts';

// Each role's home is what waits for it (待办); a unit's page /my begins with its own.
const homeByRole: Record<string, string> = { accountant: '/work', auditor: '/work', department: '/my', admin: '/admin/users', inspector: '/work' };

/** The pages (zh-CN), served by the same process: forms post here, each calling the same operations as the API. */
export function uiRouter(
  db: Knex,
  config: Pick<Config, 'tokenTtlHours' | 'dataDir' | 'uploadMaxBytes'>,
  log: { error(o: object, m: string): void },
  queue?: JobQueue,
): Router {
  const r = express.Router();
  // Forms obey the same text rule as the API, before the session check (the sign-in form has none).
  const parseForm = express.urlencoded({ extended: false, limit: '1mb', parameterLimit: 5000, inflate: false });
  const form: RequestHandler = (req, res, next) =>
    parseForm(req, res, (err?: unknown) => {
      if (err) return next(err);
      try {
        assertSafeText(req.query, 'query');
        assertSafeText(req.body, 'body');
      } catch (e) {
        return next(e);
      }
      normaliseAmountFields(req.body);
      next();
    });
  const session = withWorkCount(db, requireSession(db));
  const auth = authPages(db, config.tokenTtlHours);
  const funds = fundPages(db, config);
  const receipts = receiptPages(db, config);
  const allocation = allocationPages(db);
  const ledgers = ledgerPages(db);
  const reports = reportPages(db, config);
  const jobs = jobPages(db, queue);
  const unit = departmentPages(db, config);
  const admin = adminPages(db);
  const account = accountPages(db);
  const approvals = approvalPages(db, witnessFileOf(config), funds.overviewWithCloseErrors);
  const acceptance = acceptancePages(db);
  const assets = assetPages(db, config);
  const inspections = inspectionPages(db, config);

  r.use((req, _res, next) => {
    assertSafeText(req.query, 'query');
    next();
  });
  r.use('/assets', express.static(projectPath('server', 'ui', 'assets'), { index: false, maxAge: '1h' }));
  // The statements' font, for browsers without a Chinese system font; others never fetch it.
  r.get('/assets/fonts/noto-sans-sc.ttf', (_req, res) => res.sendFile(regularFontPath, { maxAge: '30d', headers: { 'Content-Type': 'font/ttf' } }));
  r.get('/login', (req, res) => loginPage(req, res));
  r.post('/login', form, auth.login);
  r.post('/logout', form, session, auth.logout);
  r.get('/', session, (req: Request, res: Response) => res.redirect(303, homeByRole[req.actor!.role] ?? '/login'));

  r.get('/work', session, workPages(db).work);
  r.get('/funds', session, funds.fundsList);
  r.post('/funds', form, session, funds.createFund);
  r.get('/funds/:id', session, funds.overview);
  r.post('/funds/:id/appropriations', form, session, funds.appropriate);
  r.get('/funds/:id/journal', session, ledgers.journal);
  r.get('/funds/:id/trial-balance', session, ledgers.trialBalance);
  r.get('/funds/:id/general-ledger', session, ledgers.generalLedger);
  r.get('/funds/:id/accounts/:code/ledger', session, ledgers.accountLedger);
  r.get('/funds/:id/verify', session, funds.verify);
  r.get('/funds/:id/policy', session, allocation.policy);
  r.post('/funds/:id/policy', form, session, allocation.savePolicy);
  r.get('/funds/:id/runs', session, allocation.runs);
  r.post('/funds/:id/runs', form, session, allocation.createRun);
  r.get('/runs/:id', session, allocation.run);
  r.post('/runs/:id/approve', form, session, allocation.decideRun);
  r.post('/runs/:id/cancel', form, session, allocation.decideRun);
  r.get('/funds/:id/payments', session, allocation.payments);
  r.post('/funds/:id/payments', form, session, allocation.createPayment);
  r.post('/payments/:id/approve', form, session, allocation.decidePayment);
  r.post('/funds/:id/payments/bulk-approve', form, session, allocation.approvePayments);
  r.post('/runs/:id/disbursements', form, session, allocation.prepareRunPayments);
  r.post('/payments/:id/cancel', form, session, allocation.decidePayment);
  r.get('/funds/:id/statements', session, reports.statements);
  r.post('/funds/:id/statements/bundle', form, session, jobs.askForStatements);
  r.post('/funds/:id/audit-bundle', form, session, jobs.askForAuditBundle);
  r.get('/jobs/:id', session, jobs.show);
  r.get('/entries/:id', session, approvals.voucher);
  r.post('/entries/:id/approve', form, session, approvals.decideEntry);
  r.post('/entries/:id/reject', form, session, approvals.decideEntry);
  r.post('/batches/:id/approve', form, session, approvals.decideBatch);
  r.post('/batches/:id/reject', form, session, approvals.decideBatch);
  r.post('/funds/:id/period-closes', form, session, approvals.prepareClose);
  r.post('/period-closes/:id/approve', form, session, approvals.decideClose);
  r.post('/period-closes/:id/reject', form, session, approvals.decideClose);

  r.get('/receipts', session, receipts.list);
  r.get('/receipts/:id', session, receipts.detail);
  r.get('/receipts/:id/resubmit', session, receipts.resubmit);
  r.post('/receipts/:id/verify', form, session, receipts.review);
  r.post('/receipts/:id/reject', form, session, receipts.review);
  r.post('/receipts/:id/withdraw', form, session, receipts.review);
  r.post('/receipts/:id/attachments', session, receipts.upload);
  r.post('/departments/:id/receipts', form, session, (req, res) => receipts.submit(req, res, unit.rerenderWithReceiptErrors(req, res)));

  r.get('/progress', session, reports.progress);
  r.post('/progress/deadline', form, session, reports.deadline);
  r.post('/progress/target', form, session, programmeTargetPage(db));
  r.get('/statements/verify', session, reports.verifyForm);
  r.post('/statements/verify', session, reports.verify);
  r.get('/audit-log', session, auditLogPage(db));

  r.get('/departments/acceptance', session, acceptance.acceptance);
  r.post('/departments/acceptance', form, session, acceptance.accept);
  r.get('/departments/:id', session, unit.unit);
  r.post('/departments/:id/status', form, session, unit.unitStatus);
  r.get('/my', session, unit.my);
  r.post('/my/status', form, session, unit.status);
  r.post('/my/written-report', form, session, unit.writtenReport);

  r.get('/account', session, account.account);
  r.post('/account/password', form, session, account.changePassword);
  r.post('/written-reports/:id/attachments', session, unit.reportAttachment);
  r.get('/admin/users', session, admin.users);
  r.post('/admin/users', form, session, admin.createUser);
  r.post('/admin/users/:id/disable', form, session, admin.toggleUser);
  r.post('/admin/users/:id/enable', form, session, admin.toggleUser);
  r.get('/admin/departments', session, admin.departments);
  r.post('/admin/departments', form, session, admin.createDepartment);
  r.post('/admin/departments/import', form, session, admin.importDepartments);
  r.get('/admin/departments/:id', session, admin.departmentEdit);
  r.post('/admin/departments/:id', form, session, admin.updateDepartment);

  // The register, installed base and inventory (units and staff), compliance (staff).
  r.get('/my/assets', session, assets.mine);
  r.get('/departments/:id/assets', session, assets.register);
  r.post('/departments/:id/installed-base', form, session, assets.installedBase);
  r.post('/departments/:id/assets', form, session, assets.add);
  r.post('/departments/:id/inventories', form, session, assets.fileInventory);
  r.post('/assets/:id/retire', form, session, assets.retire);
  r.post('/assets/:id/attachments', session, assets.evidence);
  r.post('/assets/:id/verify', form, session, assets.review);
  r.post('/assets/:id/reject', form, session, assets.review);
  r.get('/inventories/:id', session, assets.inventory);
  r.post('/inventories/:id/accept', form, session, assets.decideInventory);
  r.post('/inventories/:id/return', form, session, assets.decideInventory);
  r.get('/compliance', session, assets.compliance);
  // Inspections (督查) and findings.
  r.get('/inspections', session, inspections.inspections);
  r.post('/inspections', form, session, inspections.createInspection);
  r.get('/inspections/:id', session, inspections.inspection);
  r.post('/inspections/:id/findings', form, session, inspections.addFinding);
  r.get('/findings', session, inspections.findings);
  r.get('/findings/:id', session, inspections.finding);
  r.post('/findings/:id/rectifications', form, session, inspections.rectify);
  r.post('/rectifications/:id/attachments', session, inspections.rectificationScan);
  r.post('/findings/:id/decision', form, session, inspections.decide);
  r.post('/findings/:id/clawback', form, session, inspections.clawback);
  r.get('/clawbacks', session, inspections.clawbacks);
  r.post('/clawbacks/:id/approve', form, session, inspections.decideClawback);
  r.post('/clawbacks/:id/cancel', form, session, inspections.decideClawback);

  const pageErrors: ErrorRequestHandler = (raw, req, res, _next) => {
    const translated = translateDbError(raw);
    // A form that could not be read (compressed, bad percent-encoding in the path): the request's fault.
    const err = translated instanceof AppError ? translated : (fromBodyParser(translated as { type?: string; status?: number }) ?? translated);
    if (err instanceof AppError && err.code === 'UNAVAILABLE') {
      for (const [name, value] of Object.entries(err.headers ?? {})) res.setHeader(name, value);
      res.status(503).send(page(req, '暂时无法服务', html`<p class="error" role="alert">数据库暂时无法连接，请稍后刷新重试。</p>`));
      return;
    }
    if (err instanceof AppError && (err.status === 404 || err.status === 403)) {
      res
        .status(err.status)
        .send(
          page(
            req,
            err.status === 404 ? '未找到' : '无权访问',
            html`<p>${err.status === 404 ? '没有这个页面或记录。' : '您的角色不能进行此操作。'}</p><p><a href="/">返回首页</a></p>`,
          ),
        );
      return;
    }
    if (err instanceof AppError && err.status < 500) {
      res
        .status(err.status)
        .send(page(req, '无法完成', html`<p class="error" role="alert">${err.message}</p><p><a href="javascript:history.back()">返回</a></p>`));
      return;
    }
    log.error({ err, requestId: req.id }, 'unexpected error on a page');
    res.status(500).send(page(req, '出错了', html`<p>系统出错，请联系管理员并提供编号 ${String(req.id)}。</p>`));
  };
  r.use(pageErrors);
  return r;
}
