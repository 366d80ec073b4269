import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { departmentStatementModel, type DepartmentStatementModel, type Issuer } from '../../reports/statement-model.ts';
import { isUniqueViolation } from '../db/translate-error.ts';
import type { RequestContext } from '../http/context.ts';
import { loadDepartmentStatements } from '../statements/statement-data.ts';
import { keepRenderedStatements, nextStatementNumbers, StatementNumbersMoved } from '../statements/statements.ts';
import type { JobRow } from './jobs.ts';
import type { RenderPool } from './render-pool.ts';

/*
 * A bundle of every unit's statement, chunk by chunk. A chunk's units are read together and drawn by
 * the pool's threads with the numbers they would get, outside any transaction; then one short
 * transaction takes those numbers (or, if someone took them meanwhile, the chunk is drawn again) and
 * keeps the statements with the job's progress, so a worker that dies loses at most the chunk it was
 * in, and the next worker resumes at `done`. A unit whose statement already exists with the same content gets that one, byte for byte,
 * as from the single download: re-running a bundle issues nothing twice.
 */
export const bundleChunk_units = 100;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Prepared {
  departmentId: string;
  model: DepartmentStatementModel;
  contentHash: string;
  head: { seq: number; hash: string };
  fundCode: string;
}

/** A chunk's units read together (one query of each kind for all of them), modelled and hashed. */
async function prepare(db: Knex, fundId: string, departmentIds: string[], issuer: Issuer): Promise<Prepared[]> {
  return (await loadDepartmentStatements(db, fundId, departmentIds)).map((data, i) => {
    const model = departmentStatementModel(data, issuer);
    return { departmentId: departmentIds[i]!, model, contentHash: sha256(JSON.stringify(model)), head: data.head, fundCode: String(data.fund.code) };
  });
}

export interface JobProgress {
  /** Commits the chunk's progress inside its transaction; throws when the job is no longer this worker's. */
  advance(trx: Knex.Transaction, done: number, items: string[]): Promise<void>;
  /** Set when the worker is stopping or has lost the job: stop between chunks. */
  stopped(): boolean;
}

export async function runStatementBundle(
  db: Knex,
  job: JobRow,
  ctx: RequestContext,
  pool: RenderPool,
  witnessFile: string,
  progress: JobProgress,
  issuer: Issuer,
  chunk_units = bundleChunk_units,
) {
  const fundId = String(job.fund_id);
  const units = job.units.map(String);
  const prepareChunk = (from: number) => prepare(db, fundId, units.slice(from, from + chunk_units), issuer);
  // The next chunk's data is read while this chunk renders in the threads: the database and the renderers work at once.
  let ahead: { from: number; prepared: Promise<Prepared[]> } | undefined;
  const chunkAt = (from: number) => {
    const prepared = ahead?.from === from ? ahead.prepared : prepareChunk(from);
    const following = from + chunk_units;
    ahead = following < units.length ? { from: following, prepared: prepareChunk(following) } : undefined;
    // Read ahead may fail or be left unused when the worker stops; its error surfaces when (if) it is awaited.
    ahead?.prepared.catch(() => undefined);
    return prepared;
  };
  for (let done = job.done; done < units.length && !progress.stopped();) {
    const chunk = units.slice(done, done + chunk_units);
    const prepared = await chunkAt(done);
    const existing = await db('statements')
      .where({ fund_id: fundId, kind: 'department' })
      .whereIn(
        'content_hash',
        prepared.map((p) => p.contentHash),
      )
      .select('id', 'department_id', 'content_hash');
    const found = new Map(existing.map((s) => [`${s.department_id}|${s.content_hash}`, String(s.id)]));
    const missing = prepared.filter((p) => !found.has(`${p.departmentId}|${p.contentHash}`));
    // Drawn by the threads with the numbers they would get now, outside any transaction.
    const numbers = missing.length ? await nextStatementNumbers(db, fundId, missing[0]!.fundCode, missing.length) : [];
    const issuedAt = new Date();
    const pdfs = await Promise.all(
      missing.map((p, i) =>
        pool.render(p.model, { statementNo: numbers[i]!.statementNo, contentHash: p.contentHash, issuedAt, issuedOn: numbers[i]!.issuedOn }),
      ),
    );
    try {
      await db.transaction(async (trx) => {
        const issued = await keepRenderedStatements(
          trx,
          ctx,
          missing.map((p, i) => ({
            s: { fundId, fundCode: p.fundCode, kind: 'department', departmentId: p.departmentId, contentHash: p.contentHash, head: p.head },
            pdf: pdfs[i]!,
          })),
          numbers,
          witnessFile,
        );
        issued.forEach((s, i) => found.set(`${missing[i]!.departmentId}|${missing[i]!.contentHash}`, s.id));
        await progress.advance(
          trx,
          done + chunk.length,
          prepared.map((p) => found.get(`${p.departmentId}|${p.contentHash}`)!),
        );
      });
      done += chunk.length;
    } catch (e) {
      // Someone issued a statement meanwhile: the chunk is drawn again with the numbers then next.
      if (e instanceof StatementNumbersMoved) continue;
      // Someone issued one of these very statements: the chunk runs again (read afresh) and finds theirs.
      if (!isUniqueViolation(e, 'statements_same_content_once')) throw e;
      ahead = undefined;
    }
  }
}
