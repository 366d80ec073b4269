import express, { type Express, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { authorize } from './auth/policy.ts';
import { actorForToken } from './auth/sessions.ts';
import { uiRouter } from './ui/router.ts';
import { sessionToken } from './ui/session.ts';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import { decodeBody } from './http/body.ts';
import { errorHandler, fromZod, notFound } from './http/problem.ts';
import { requestLog } from './http/request-log.ts';
import { securityHeaders } from './http/security-headers.ts';
import { assertSafeText } from './http/schemas.ts';
import type { Route } from './http/route.ts';
import { methodNotAllowed, onlyIfBestMatch, pathTable } from './http/route-paths.ts';
import { allocationRoutes } from './routes/allocation.ts';
import { attachmentRoutes } from './routes/attachments.ts';
import { auditLogRoutes } from './routes/audit-log.ts';
import { authRoutes } from './routes/auth.ts';
import { departmentRoutes } from './routes/departments.ts';
import { docsRoutes } from './routes/docs.ts';
import { fundRoutes } from './routes/funds.ts';
import { healthRoutes } from './routes/health.ts';
import { journalRoutes } from './routes/journal.ts';
import { periodCloseRoutes } from './routes/period-closes.ts';
import { progressRoutes } from './routes/progress.ts';
import { receiptRoutes } from './routes/receipts.ts';
import { statementRoutes } from './routes/statements.ts';
import { exportRoutes } from './routes/exports.ts';
import { auditBundleRoutes } from './routes/audit-bundle.ts';
import { softwareAssetRoutes } from './routes/software-assets.ts';
import { inspectionRoutes } from './routes/inspections.ts';
import { programmeRoutes } from './routes/programme.ts';
import { userRoutes } from './routes/users.ts';
import { jobRoutes, type JobQueue } from './routes/jobs.ts';
import { readRouter, type ReadRouter } from './db/read-pool.ts';

export interface AppDeps {
  db: Knex;
  config: Pick<Config, 'tokenTtlHours' | 'uploadMaxBytes' | 'trustProxy' | 'dataDir'> & { witnessFile?: string | undefined } & Partial<
      Pick<Config, 'issuingOffice' | 'bulletinIssuer' | 'bulletinDocumentPrefix'>
    >;
  logger: Logger;
  /** Chooses the pool of read-only reports (server/db/read-pool.ts); without one every read goes to `db`. */
  reads?: ReadRouter;
  /** The job runner of this process (server/jobs/job-runner.ts), woken when a job is queued; without one, jobs wait for a runner elsewhere. */
  jobs?: JobQueue;
}

const jsonBody_maxBytes = 1024 * 1024;
const csvBody_maxBytes = 5 * 1024 * 1024;

/** Every route of the service; the OpenAPI document and the access-matrix test read this list. */
export function allRoutes(deps: AppDeps): Route[] {
  const routes: Route[] = [
    ...healthRoutes(deps.db),
    ...authRoutes(deps.db, deps.config.tokenTtlHours),
    ...userRoutes(deps.db),
    ...departmentRoutes(deps.db),
    ...auditLogRoutes(deps.db),
    ...fundRoutes(deps.db),
    ...journalRoutes(deps.db, deps.config),
    ...periodCloseRoutes(deps.db, deps.config),
    ...progressRoutes(deps.db, deps.config),
    ...receiptRoutes(deps.db, deps.config),
    ...attachmentRoutes(deps.db, deps.config),
    ...allocationRoutes(deps.db),
    ...statementRoutes(deps.db, deps.config),
    ...exportRoutes(deps.db),
    ...auditBundleRoutes(deps.db, deps.config),
    ...softwareAssetRoutes(deps.db, deps.config),
    ...inspectionRoutes(deps.db, deps.config),
    ...programmeRoutes(deps.db),
    ...jobRoutes(deps.db, deps.jobs),
  ];
  return [...routes, ...docsRoutes(() => routes.map((r) => r.spec))];
}

function authenticate(db: Knex): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    if (header === undefined) {
      // The pages' session cookie also opens downloads (GET only: writes need the bearer header,
      // so no page on another site can make a signed-in browser change anything).
      const cookie = req.method === 'GET' ? sessionToken(req) : undefined;
      const actor = cookie ? await actorForToken(db, cookie) : null;
      if (actor) req.actor = actor;
      return next();
    }
    const m = /^Bearer ([^\s]+)$/i.exec(header);
    const actor = m ? await actorForToken(db, m[1]!) : null;
    if (!actor) throw new AppError('UNAUTHENTICATED', '登录凭证无效、已过期或已注销，请重新登录');
    req.actor = actor;
    next();
  };
}

/** read body → authenticate → authorize → validate → handle: the same pipeline for every route. */
function pipeline(db: Knex, r: Route, uploadMaxBytes: number): RequestHandler[] {
  const { spec } = r;
  const bodyType = spec.bodyType ?? 'json';
  // Multipart bodies are streamed by their handler, after authorization, straight to disk.
  const readsRaw = spec.method !== 'get' && bodyType !== 'multipart';
  const limit = bodyType === 'csv' ? csvBody_maxBytes : bodyType === 'upload' ? uploadMaxBytes : jsonBody_maxBytes;
  // Compressed bodies are refused (415), not inflated: the API's bodies are small, and a body that says
  // gzip and is not would otherwise fail in zlib as a 500.
  const readRaw = express.raw({ type: () => true, limit, inflate: false });
  const handle: RequestHandler = async (req, res) => {
    authorize(req.actor, spec.action);
    const decoded = readsRaw ? decodeBody(req, bodyType) : undefined;
    req.body = decoded;
    const input = { params: req.params as unknown, query: req.query as unknown, body: decoded };
    for (const where of ['params', 'query', 'body'] as const) {
      // Before any schema and any handler: such text must not reach PostgreSQL or the audit log.
      assertSafeText(input[where], where);
      const schema = spec[where];
      if (!schema) continue;
      // An empty body reads as {} so that a missing field is named rather than the whole body.
      const parsed = schema.safeParse(where === 'body' && decoded === undefined ? {} : input[where]);
      if (!parsed.success) throw fromZod(parsed.error, where);
      input[where] = parsed.data;
    }
    await r.handler(req, res, input);
  };
  return [...(readsRaw ? [readRaw] : []), authenticate(db), handle];
}

/** Builds the Express app; never listens, so tests can drive it without a port. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.config.trustProxy);
  app.use(requestLog(deps.logger));
  app.use(securityHeaders());
  const reads = deps.reads ?? readRouter({ primary: deps.db, maxLag_ms: 0, log: deps.logger });
  app.use((req, res, next) => {
    req.readRouter = reads;
    reads.notesWrites(req, res, next);
  });
  // Signed-in JSON, pages and downloads (statements, exports) must not stay in a shared or browser
  // cache. Only the static assets (and the font) may be cached: they hold nothing of anyone's.
  app.use((req, res, next) => {
    if (!req.path.startsWith('/assets/')) res.setHeader('Cache-Control', 'no-store');
    next();
  });
  const routes = allRoutes(deps);
  const paths = pathTable(routes);
  for (const r of routes) {
    const guard = r.spec.path.includes(':') ? [onlyIfBestMatch(paths, r.spec.path)] : [];
    app[r.spec.method](r.spec.path, ...guard, ...pipeline(deps.db, r, deps.config.uploadMaxBytes));
  }
  app.use(uiRouter(deps.db, deps.config, deps.logger, deps.jobs));
  app.use(methodNotAllowed(paths));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
