import type { Response } from 'express';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import { contentDisposition } from '../files/sniff.ts';
import type { RequestContext } from '../http/context.ts';
import type { JobRow } from './jobs.ts';

const zipDate = new Date('2000-01-01T00:00:00Z');
const batch_statements = 50;

/**
 * Sends a finished job's result. A statement bundle is zipped as it goes out from the statements it
 * lists (their exact recorded bytes, read fifty at a time: constant memory); nothing of it is stored
 * twice. An audit bundle is the zip that was built.
 */
export async function sendJobResult(db: Knex, ctx: RequestContext, job: JobRow, res: Response): Promise<void> {
  if (job.status === 'expired') throw new AppError('JOB_EXPIRED', '该任务的结果已超过保留期限，请重新生成（已出具的通知书仍保留，重新生成不会另行编号）');
  if (job.status !== 'done') throw new AppError('JOB_NOT_FINISHED', job.status === 'failed' ? `该任务未能完成：${job.error}` : '任务尚未完成，请稍后再下载');
  if (job.kind === 'audit_bundle') {
    const row = await db('jobs').where({ id: job.id }).first('result', 'result_sha256');
    await recordAudit(db, ctx, { action: 'job.download', objectType: 'job', objectId: job.id, after: { kind: job.kind, sha256: row.result_sha256 } });
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', contentDisposition('attachment', `audit-bundle-${job.fund_id}.zip`));
    res.send(row.result);
    return;
  }
  const ids = job.items.map(String);
  // Every statement in the bundle was downloaded by its requester: the same record as one by one.
  await db.transaction(async (trx) => {
    for (let i = 0; i < ids.length; i += 1000)
      await trx('statement_downloads').insert(ids.slice(i, i + 1000).map((id) => ({ statement_id: id, user_id: ctx.actor!.id, ip: ctx.ip })));
    await recordAudit(trx, ctx, { action: 'job.download', objectType: 'job', objectId: job.id, after: { kind: job.kind, statements: ids.length } });
  });
  res.setHeader('Content-Type', 'application/zip');
  res.setHeader('Content-Disposition', contentDisposition('attachment', `资金拨付通知书-${job.fund_id}-${job.id}.zip`));
  const { default: archiver } = await import('archiver');
  // PDFs are compressed already: stored, not deflated again.
  const zip = archiver('zip', { store: true });
  zip.pipe(res);
  let written = 0;
  let onEntry: (() => void) | undefined;
  zip.on('entry', () => {
    written++;
    onEntry?.();
  });
  res.on('close', () => onEntry?.());
  try {
    for (let i = 0; i < ids.length; i += batch_statements) {
      const part = ids.slice(i, i + batch_statements);
      const rows = await db('statements as s')
        .join('departments as d', 'd.id', 's.department_id')
        .whereIn('s.id', part)
        .select('s.id', 's.statement_no', 's.pdf', 'd.code');
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      for (const id of part) {
        const s = byId.get(id)!;
        zip.append(s.pdf as Buffer, { name: `${s.code}-${s.statement_no}.pdf`, date: zipDate });
      }
      // The next fifty are read once the zip has written the last fifty out: memory stays flat on a slow download.
      while (written < i && !res.destroyed) await new Promise<void>((resolve) => (onEntry = resolve));
      if (res.destroyed) {
        zip.abort();
        return;
      }
    }
    await zip.finalize();
  } catch (e) {
    // The headers are gone: cut the download short, so no one keeps a truncated bundle as whole.
    zip.abort();
    res.destroy(e as Error);
    throw e;
  }
}
