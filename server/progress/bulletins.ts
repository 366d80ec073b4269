import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { renderBulletin, type BulletinIssue } from '../../reports/bulletin.ts';
import { progressCharts } from './progress-charts.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { isUniqueViolation } from '../db/translate-error.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { recordAnchor, witnessDocument } from '../ledger/witness.ts';
import { loadProgress } from './progress.ts';
import { bulletinSupervision } from './programme.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface BulletinIssuer {
  /** 发文机关. */
  issuer: string;
  /** What comes before 〔year〕N号 in the 文号. */
  documentPrefix: string;
}

export interface IssuedBulletin {
  documentNo: string;
  issueNo: number;
  sha256: string;
  pdf: Buffer;
  reissued: boolean;
}

/**
 * Issues the progress bulletin (通报) as a numbered issue, 快报第N期 of the year: the same content gives
 * back the issue already made, byte for byte; new content takes the next number, handed out under the
 * counter row's lock so that concurrent issues never share or skip one. Each issue keeps its bytes and
 * SHA-256 and anchors every fund's chain head it printed, in the database and in the witness file,
 * so a copy can be checked like a statement (POST /statements/verify).
 */
export async function issueBulletin(
  db: Knex,
  ctx: RequestContext,
  asOf: string | undefined,
  witnessFile: string,
  who: BulletinIssuer,
): Promise<IssuedBulletin> {
  const report = await loadProgress(db, asOf);
  const supervision = await bulletinSupervision(db, report);
  const heads = (await db('funds').orderBy('id').select('id', 'code', 'name', 'head_seq', 'head_hash')).map((f) => ({
    fund_id: String(f.id),
    code: String(f.code),
    name: String(f.name),
    seq: Number(f.head_seq),
    hash: String(f.head_hash),
  }));
  const contentHash = sha256(JSON.stringify({ report, supervision, heads, who }));
  const find = () => db('bulletins').where({ content_hash: contentHash }).first('document_no', 'issue_no', 'sha256', 'pdf');
  const asIssued = (row: { document_no: string; issue_no: number; sha256: string; pdf: Buffer }, reissued: boolean): IssuedBulletin => ({
    documentNo: row.document_no,
    issueNo: Number(row.issue_no),
    sha256: row.sha256,
    pdf: row.pdf,
    reissued,
  });
  const existing = await find();
  if (existing) return asIssued(existing, true);
  const charts = await progressCharts(db, report, { status: { width: 640, height: 300 }, completion: { width: 640, height: 300 } });
  try {
    return await db.transaction(async (trx) => {
      const issuedOn = todayInShanghai();
      const year = Number(issuedOn.slice(0, 4));
      const [counter] = await trx('bulletin_counters')
        .insert({ year, last_no: 1 })
        .onConflict('year')
        .merge({ last_no: trx.raw('bulletin_counters.last_no + 1') })
        .returning('last_no');
      const issueNo = Number(counter.last_no);
      const documentNo = `${who.documentPrefix}〔${year}〕${issueNo}号`;
      const issue: BulletinIssue = { documentNo, issueNo, issuer: who.issuer, issuedOn, contentHash, heads };
      const pdf = await renderBulletin(report, new Date(`${report.as_of}T00:00:00+08:00`), supervision, issue, charts);
      const digest = sha256(pdf);
      await trx('bulletins').insert({
        year,
        issue_no: issueNo,
        document_no: documentNo,
        issuing_office: who.issuer,
        as_of: report.as_of,
        content_hash: contentHash,
        heads: JSON.stringify(heads),
        sha256: digest,
        size: pdf.length,
        pdf,
        issued_by: ctx.actor!.id,
      });
      await recordAudit(trx, ctx, {
        action: 'progress.bulletin_issue',
        objectType: 'bulletin',
        objectId: documentNo,
        after: { issue_no: issueNo, as_of: report.as_of, sha256: digest, heads: heads.map((h) => ({ fund_id: h.fund_id, seq: h.seq })) },
      });
      for (const h of heads)
        await recordAnchor(trx, witnessFile, { fundId: h.fund_id, seq: h.seq, hash: h.hash, source: 'bulletin', ref: documentNo, sha256: digest });
      // Witnessed even when no fund has a chain yet: the bytes themselves.
      await witnessDocument(trx, witnessFile, { kind: 'bulletin', ref: documentNo, sha256: digest });
      return asIssued({ document_no: documentNo, issue_no: issueNo, sha256: digest, pdf }, false);
    });
  } catch (e) {
    // Someone issued the same content at the same moment: theirs is the issue.
    if (!isUniqueViolation(e, 'bulletins_same_content_once')) throw e;
    const theirs = await find();
    if (!theirs) throw e;
    return asIssued(theirs, true);
  }
}
