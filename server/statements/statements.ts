import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { departmentStatementModel, fundSummaryModel, type Issuer } from '../../reports/statement-model.ts';
import { unprintableIn } from '../../reports/pdf/fonts.ts';
import { renderDepartmentStatement, renderFundSummary, type Issue } from '../../reports/statement-pdf.ts';
import { recordAudit, recordAudits } from '../audit/audit-log.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { isUniqueViolation } from '../db/translate-error.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { readWitness, recordAnchors, witnessedDocumentSha256 } from '../ledger/witness.ts';
import { verifyLedger } from '../ledger/verify/verify-ledger.ts';
import { loadDepartmentStatement, loadFundSummary } from './statement-data.ts';

export type StatementTarget = { kind: 'department'; departmentId: string } | { kind: 'summary'; omitEmpty?: boolean };

export interface IssuedStatement {
  statementNo: string;
  sha256: string;
  pdf: Buffer;
  reissued: boolean;
  /** Characters of the statement that no font could print (shown as 〓 in it), e.g. ['\u{2A6D6}']. */
  unprintable: string[];
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function modelFor(db: Knex, fundId: string, target: StatementTarget, issuer: Issuer) {
  if (target.kind === 'department') {
    const data = await loadDepartmentStatement(db, fundId, target.departmentId);
    const model = departmentStatementModel(data, issuer);
    return { model, head: data.head, fundCode: String(data.fund.code), render: (issue: Issue) => renderDepartmentStatement(model, issue) };
  }
  const data = await loadFundSummary(db, fundId);
  const model = fundSummaryModel(data, issuer, { omitEmpty: target.omitEmpty ?? false });
  return { model, head: data.head, fundCode: String(data.fund.code), render: (issue: Issue) => renderFundSummary(model, issue) };
}

export async function recordDownload(db: Knex, ctx: RequestContext, statement: { id: string; statement_no: string }) {
  await db('statement_downloads').insert({ statement_id: statement.id, user_id: ctx.actor!.id, ip: ctx.ip });
  await recordAudit(db, ctx, { action: 'statement.download', objectType: 'statement', objectId: statement.statement_no });
}

export interface NewStatement {
  fundId: string;
  fundCode: string;
  kind: 'department' | 'summary' | 'period_close';
  departmentId: string | null;
  contentHash: string;
  head: { seq: number; hash: string };
  render: (issue: Issue) => Promise<Buffer>;
}

/** `count` numbers of the fund and year after `last`, as printed. */
function numbersAfter(fundCode: string, issuedOn: string, last: number, count: number) {
  const year = Number(issuedOn.slice(0, 4));
  return Array.from({ length: count }, (_, i) => {
    const seq = last + 1 + i;
    return { year, seq, issuedOn, statementNo: `${fundCode}-${year}-${String(seq).padStart(5, '0')}` };
  });
}

/** The next `count` numbers of the fund and year; the counter row stays locked until commit, so numbers go out in order and a failed issue gives them back. */
async function takeStatementNumbers(trx: Knex.Transaction, fundId: string, fundCode: string, count: number) {
  const issuedOn = todayInShanghai();
  const year = Number(issuedOn.slice(0, 4));
  const [counter] = await trx('statement_counters')
    .insert({ fund_id: fundId, year, last_no: count })
    .onConflict(['fund_id', 'year'])
    .merge({ last_no: trx.raw('statement_counters.last_no + ?', [count]) })
    .returning('last_no');
  return numbersAfter(fundCode, issuedOn, Number(counter.last_no) - count, count);
}

export type StatementNumber = ReturnType<typeof numbersAfter>[number];

/**
 * The numbers the next `count` statements of the fund would get if issued now, read without taking
 * them: a bundle's chunk is drawn with these outside any transaction, then kept only if they are still
 * the next ones (keepRenderedStatements).
 */
export async function nextStatementNumbers(db: Knex, fundId: string, fundCode: string, count: number): Promise<StatementNumber[]> {
  const issuedOn = todayInShanghai();
  const counter = await db('statement_counters')
    .where({ fund_id: fundId, year: Number(issuedOn.slice(0, 4)) })
    .first('last_no');
  return numbersAfter(fundCode, issuedOn, Number(counter?.last_no ?? 0), count);
}

/** The numbers a chunk was drawn with went to other statements meanwhile (or the year turned): it is drawn again. */
export class StatementNumbersMoved extends Error {
  constructor() {
    super('statement numbers were taken while the chunk was rendered');
  }
}

/**
 * Keeps the exact bytes of numbered statements, each with its audit line and its anchor (database and
 * witness): one insert of each kind and one append to the witness for all of them.
 */
async function keepStatements(
  trx: Knex.Transaction,
  ctx: RequestContext,
  list: Array<{ s: Omit<NewStatement, 'render'>; no: StatementNumber; pdf: Buffer }>,
  witnessFile: string,
) {
  const issuedAt = new Date();
  const kept = list.map(({ s, no, pdf }) => ({ s, no, pdf, digest: sha256(pdf) }));
  const rows = await trx('statements')
    .insert(
      kept.map(({ s, no, pdf, digest }) => ({
        statement_no: no.statementNo,
        fund_id: s.fundId,
        year: no.year,
        seq: no.seq,
        kind: s.kind,
        department_id: s.departmentId,
        content_hash: s.contentHash,
        head_seq: s.head.seq,
        head_hash: s.head.hash,
        sha256: digest,
        size: pdf.length,
        pdf,
        issued_by: ctx.actor!.id,
        issued_at: issuedAt,
      })),
    )
    .returning(['id', 'statement_no']);
  const ids = new Map(rows.map((r) => [String(r.statement_no), String(r.id)]));
  await recordAudits(
    trx,
    ctx,
    kept.map(({ s, no, digest }) => ({
      action: 'statement.issue',
      objectType: 'statement',
      objectId: no.statementNo,
      after: { kind: s.kind, fund_id: s.fundId, department_id: s.departmentId, sha256: digest, head_seq: s.head.seq },
    })),
  );
  // The head each was built from is an anchor: in the database and in the witness outside it.
  await recordAnchors(
    trx,
    witnessFile,
    kept.map(({ s, no, digest }) => ({
      fundId: s.fundId,
      seq: s.head.seq,
      hash: s.head.hash,
      source: 'statement' as const,
      ref: no.statementNo,
      sha256: digest,
    })),
  );
  return kept.map(({ no, pdf, digest }) => ({ id: ids.get(no.statementNo)!, statement_no: no.statementNo, sha256: digest, pdf }));
}

/**
 * Numbers, renders and records a statement inside the caller's transaction: the next number of the
 * fund and year, with no gaps, the exact bytes kept so that an uploaded copy can be checked.
 */
export async function recordStatement(trx: Knex.Transaction, ctx: RequestContext, s: NewStatement, witnessFile: string) {
  const [no] = await takeStatementNumbers(trx, s.fundId, s.fundCode, 1);
  const pdf = await s.render({ statementNo: no!.statementNo, contentHash: s.contentHash, issuedAt: new Date(), issuedOn: no!.issuedOn });
  const [kept] = await keepStatements(trx, ctx, [{ s, no: no!, pdf }], witnessFile);
  return kept!;
}

/**
 * Keeps statements of one fund drawn beforehand with `expected` numbers (nextStatementNumbers), inside
 * the caller's transaction: the fund's next numbers are taken under its counter's lock and, if they are
 * the ones printed, the statements are kept together; if not, StatementNumbersMoved, and the caller's
 * rollback gives the numbers back. No transaction stays open, and no counter stays locked, while PDFs
 * are drawn, so a single statement asked for meanwhile does not wait for a bundle's chunk.
 */
export async function keepRenderedStatements(
  trx: Knex.Transaction,
  ctx: RequestContext,
  list: Array<{ s: Omit<NewStatement, 'render'>; pdf: Buffer }>,
  expected: StatementNumber[],
  witnessFile: string,
) {
  if (list.length === 0) return [];
  const numbers = await takeStatementNumbers(trx, list[0]!.s.fundId, list[0]!.s.fundCode, list.length);
  if (numbers.some((n, i) => n.statementNo !== expected[i]?.statementNo || n.issuedOn !== expected[i].issuedOn)) throw new StatementNumbersMoved();
  return keepStatements(
    trx,
    ctx,
    list.map(({ s, pdf }, i) => ({ s, no: numbers[i]!, pdf })),
    witnessFile,
  );
}

/**
 * Issues (or re-issues) a statement. The same content gives back the statement already issued, byte
 * for byte; new content gets the next number of the fund and year, with no gaps.
 */
export async function issueStatement(
  db: Knex,
  ctx: RequestContext,
  fundId: string,
  target: StatementTarget,
  witnessFile: string,
  issuer: Issuer,
): Promise<IssuedStatement> {
  if (target.kind === 'department') assertOwnDepartment(ctx.actor!, target.departmentId);
  const built = await modelFor(db, fundId, target, issuer);
  const contentHash = sha256(JSON.stringify(built.model));
  const unprintable = unprintableIn(JSON.stringify(built.model));
  const departmentId = target.kind === 'department' ? target.departmentId : null;
  const find = () =>
    db('statements')
      .where({ fund_id: fundId, kind: target.kind, content_hash: contentHash })
      .where((q) => (departmentId ? q.where('department_id', departmentId) : q.whereNull('department_id')))
      .first('id', 'statement_no', 'sha256', 'pdf');
  const existing = await find();
  if (existing) {
    await recordDownload(db, ctx, existing);
    return { statementNo: existing.statement_no, sha256: existing.sha256, pdf: existing.pdf, reissued: true, unprintable };
  }
  try {
    return await db.transaction(async (trx) => {
      const issued = await recordStatement(
        trx,
        ctx,
        { fundId, fundCode: built.fundCode, kind: target.kind, departmentId, contentHash, head: built.head, render: built.render },
        witnessFile,
      );
      await recordDownload(trx, ctx, issued);
      return { statementNo: issued.statement_no, sha256: issued.sha256, pdf: issued.pdf, reissued: false, unprintable };
    });
  } catch (e) {
    // Someone issued the same content at the same moment: theirs is the statement.
    if (!isUniqueViolation(e, 'statements_same_content_once')) throw e;
    const theirs = await find();
    if (!theirs) throw e;
    await recordDownload(db, ctx, theirs);
    return { statementNo: theirs.statement_no, sha256: theirs.sha256, pdf: theirs.pdf, reissued: true, unprintable };
  }
}

/**
 * Is this file a statement we issued, unaltered, and does the ledger still hold the chain head it
 * was built from? The database alone is not believed: whoever may write it could add a row for any
 * PDF, or rewrite the chain and the statement's head together. So the statement must have its line in
 * the witness file outside the database (written when it was issued: number, SHA-256, head), that
 * line must agree with the row and the file, the head it names must still be in the chain, and the
 * ledger up to that head must still verify. A genuine one that a newer statement for the same unit
 * and fund has replaced says so.
 */
export async function verifyStatement(db: Knex, ctx: RequestContext, bytes: Buffer, witnessFile: string) {
  const digest = sha256(bytes);
  const row = await db('statements as s')
    .join('funds as f', 'f.id', 's.fund_id')
    .leftJoin('departments as d', 'd.id', 's.department_id')
    .where('s.sha256', digest)
    .first(
      's.id',
      's.statement_no',
      's.kind',
      's.fund_id',
      'f.code as fund_code',
      's.department_id',
      'd.name as department_name',
      's.issued_at',
      's.head_seq',
      's.head_hash',
      's.content_hash',
    );
  const problems = row
    ? await statementProblems(db, witnessFile, {
        fundId: String(row.fund_id),
        statementNo: row.statement_no,
        sha256: digest,
        headSeq: Number(row.head_seq),
        headHash: row.head_hash,
      })
    : [];
  const anchorHolds = row !== undefined && problems.length === 0;
  const newer = row
    ? await db('statements')
        .where({ fund_id: row.fund_id, kind: row.kind })
        .where((q) => (row.department_id == null ? q.whereNull('department_id') : q.where('department_id', row.department_id)))
        .where('id', '>', row.id)
        .orderBy('id', 'desc')
        .first('statement_no')
    : undefined;
  if (!row) {
    const bulletin = await bulletinCheck(db, witnessFile, digest);
    if (bulletin) {
      await recordAudit(db, ctx, {
        action: 'statement.verify',
        objectType: 'bulletin',
        objectId: bulletin.statement_no,
        after: { sha256: digest, genuine: bulletin.genuine, anchor_holds: bulletin.genuine },
      });
      return bulletin;
    }
  }
  const genuine = Boolean(row) && anchorHolds;
  await recordAudit(db, ctx, {
    action: 'statement.verify',
    objectType: 'statement',
    objectId: row?.statement_no ?? null,
    after: { sha256: digest, genuine, anchor_holds: anchorHolds },
  });
  if (!row) return { genuine: false, sha256: digest, statement_no: null, superseded_by: null };
  return {
    genuine,
    sha256: digest,
    statement_no: row.statement_no as string,
    superseded_by: (newer?.statement_no as string | undefined) ?? null,
    ...(problems.length ? { problem: problems.join('；'), problems } : {}),
    kind: row.kind,
    fund_id: String(row.fund_id),
    fund_code: row.fund_code,
    department_id: row.department_id == null ? null : String(row.department_id),
    department_name: row.department_name ?? null,
    issued_at: (row.issued_at as Date).toISOString(),
    head_seq: Number(row.head_seq),
    head_hash: row.head_hash,
    content_hash: row.content_hash,
  };
}

/**
 * A bulletin (快报) is checked like a statement: its bytes are an issue we recorded, the witness
 * outside the database holds the same SHA-256 for its 文号, and every fund's chain head it printed is
 * still in the chain and verifies. A newer issue does not replace an older one: each is its own 期.
 */
async function bulletinCheck(db: Knex, witnessFile: string, digest: string) {
  const row = await db('bulletins').where({ sha256: digest }).first('document_no', 'issue_no', 'as_of', 'heads', 'issued_at');
  if (!row) return null;
  const heads = row.heads as Array<{ fund_id: string; seq: number; hash: string }>;
  const problems: string[] = [];
  const witnessed = await witnessedDocumentSha256(witnessFile, `bulletin ${row.document_no}`);
  if (witnessed === undefined) problems.push(`见证文件中没有文号 ${row.document_no} 的出具记录，数据库中的这条记录不能证明它是本系统出具的`);
  else if (witnessed !== digest) problems.push(`见证文件记载文号 ${row.document_no} 的 SHA-256 为 ${witnessed.slice(0, 12)}…，与此文件不符`);
  for (const h of heads) {
    problems.push(
      ...(await statementProblems(db, witnessFile, { fundId: h.fund_id, statementNo: row.document_no, sha256: digest, headSeq: h.seq, headHash: h.hash })),
    );
  }
  return {
    genuine: problems.length === 0,
    sha256: digest,
    statement_no: row.document_no as string,
    superseded_by: null,
    ...(problems.length ? { problem: problems.join('；'), problems } : {}),
    kind: 'bulletin',
    issue_no: Number(row.issue_no),
    as_of: String(row.as_of),
    issued_at: (row.issued_at as Date).toISOString(),
  };
}

/** Why a statement recorded in the database is not to be believed (in Chinese, for its reader); none when it holds. */
async function statementProblems(
  db: Knex,
  witnessFile: string,
  s: { fundId: string; statementNo: string; sha256: string; headSeq: number; headHash: string },
): Promise<string[]> {
  const problems: string[] = [];
  const witness = (await readWitness(witnessFile, s.fundId)).documents.get(s.statementNo);
  if (!witness) {
    problems.push(`见证文件中没有编号 ${s.statementNo} 的出具记录，数据库中的这条记录不能证明它是本系统出具的`);
  } else {
    if (witness.sha256 !== undefined && witness.sha256 !== s.sha256)
      problems.push(`见证文件记载编号 ${s.statementNo} 的 SHA-256 为 ${witness.sha256.slice(0, 12)}…，与此文件不符`);
    if (witness.seq !== s.headSeq || witness.hash !== s.headHash)
      problems.push(
        `见证文件记载本通知书依据第 ${witness.seq} 号凭证（${witness.hash.slice(0, 12)}…），数据库中却记为第 ${s.headSeq} 号（${s.headHash.slice(0, 12)}…）`,
      );
  }
  // The head the witness saw (or, with no witness line, the one the row names) must still be in the chain.
  const head = witness ?? { seq: s.headSeq, hash: s.headHash };
  if (head.seq > 0 && !(await db('journal_entries').where({ fund_id: s.fundId, seq: head.seq, hash: head.hash }).first('id'))) {
    problems.push(`账簿中已找不到本通知书所依据的第 ${head.seq} 号凭证（链头 ${head.hash.slice(0, 12)}…），账簿可能被截断或改写`);
  }
  const report = await verifyLedger(db, s.fundId, witnessFile);
  const below = report.problems.filter((p) => p.seq !== undefined && p.seq <= head.seq);
  if (below.length)
    problems.push(
      `本通知书所依据的账簿（第 1–${head.seq} 号凭证）已不能通过核验：${below
        .slice(0, 3)
        .map((p) => p.detail)
        .join('；')}`,
    );
  return problems;
}

/** What the QR code on a printed copy can be checked against. */
export async function statementByNumber(db: Knex, statementNo: string) {
  const row = await db('statements')
    .where({ statement_no: statementNo })
    .first('statement_no', 'kind', 'fund_id', 'department_id', 'content_hash', 'sha256', 'size', 'head_seq', 'head_hash', 'issued_at');
  if (!row) throw new AppError('NOT_FOUND', '没有这个编号的通知书');
  return {
    ...row,
    fund_id: String(row.fund_id),
    department_id: row.department_id == null ? null : String(row.department_id),
    head_seq: Number(row.head_seq),
    issued_at: (row.issued_at as Date).toISOString(),
  };
}
