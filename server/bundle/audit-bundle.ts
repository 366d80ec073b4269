import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { entriesOf } from '../ledger/verify/entry-stream.ts';
import { ledgerIdentity, readWitness, recordAnchor } from '../ledger/witness.ts';
import { accountsCsv, postingCsvLines, postingsCsvHeader } from './bundle-csv.ts';

/*
 * The offline audit bundle (DESIGN.md "Tamper evidence beyond the database"): everything an auditor
 * needs to recompute a fund's books on a laptop, from one REPEATABLE READ snapshot, as JSON and CSV
 * with a manifest of SHA-256s. Entries stream through a cursor into a temporary file, so a fund
 * of millions of postings costs disk, not memory. `npm run verify-bundle -- FILE.zip` checks it.
 */
export const bundleFormat = 'jiangbu-audit-bundle/1';
const zipDate = new Date('2000-01-01T00:00:00Z');

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
}

interface BundleFile {
  name: string;
  path?: string;
  bytes?: Buffer;
  sha256: string;
  size: number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const jsonFile = (name: string, value: unknown): BundleFile => {
  const bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
  return { name, bytes, sha256: sha256(bytes), size: bytes.length };
};

/** Builds the bundle's files for one fund; the caller zips them and removes `dir`. */
async function collect(db: Knex, fundId: string, witnessFile: string, dir: string) {
  const ledger = await ledgerIdentity(db);
  const witness = await readWitness(witnessFile, fundId);
  return db.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const fund = await trx('funds').where({ id: fundId }).first();
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    const accounts = await trx('accounts')
      .where({ fund_id: fundId })
      .orderBy('code')
      .select('id', 'code', 'name', 'book', 'normal_side', 'kind', 'department_id', 'guarded', 'balance', 'posting_count');
    const codeOf = new Map(accounts.map((a) => [String(a.id), a.code as string]));
    const policies = await trx('policies').where({ fund_id: fundId }).orderBy('version');
    const runs = await trx('allocation_runs').where({ fund_id: fundId }).orderBy('id');
    const lines = await trx('allocation_lines as l')
      .join('departments as d', 'd.id', 'l.department_id')
      .whereIn(
        'l.run_id',
        runs.map((r) => r.id),
      )
      .orderBy(['l.run_id', 'd.code'])
      .select('l.*', 'd.code as department_code');
    const payments = await trx('disbursements as p')
      .join('departments as d', 'd.id', 'p.department_id')
      .where('p.fund_id', fundId)
      .orderBy('p.id')
      .select('p.*', 'd.code as department_code');
    const statements = await trx('statements')
      .where({ fund_id: fundId })
      .orderBy('id')
      .select('statement_no', 'kind', 'department_id', 'content_hash', 'sha256', 'size', 'head_seq', 'head_hash', 'issued_at');
    const attachments = await trx('attachments as a')
      .join('receipts as r', 'r.id', 'a.receipt_id')
      .where('r.fund_id', fundId)
      .orderBy('a.id')
      .select('a.id', 'a.receipt_id', 'a.sha256', 'a.file_name', 'a.uploaded_at');
    const anchors = [
      ...(await trx('ledger_anchors').where({ fund_id: fundId }).orderBy('id').select('seq', 'hash', 'source', 'ref', 'at')).map((a) => ({
        seq: Number(a.seq),
        hash: a.hash,
        source: `${a.source} ${a.ref ?? ''}`.trim(),
        at: a.at,
      })),
      ...statements.map((s) => ({ seq: Number(s.head_seq), hash: s.head_hash, source: `statement ${s.statement_no}`, at: s.issued_at })),
      ...witness.anchors.map((a) => ({ ...a, at: null })),
    ];

    // Entries with their postings, one JSON line each, and the postings again as CSV for spreadsheets.
    const entriesPath = join(dir, 'entries.jsonl');
    const postingsPath = join(dir, 'postings.csv');
    const entriesOut = createWriteStream(entriesPath);
    const postingsOut = createWriteStream(postingsPath);
    const entriesHash = createHash('sha256');
    const postingsHash = createHash('sha256');
    let entriesSize = 0;
    let postingsSize = 0;
    const put = async (which: 'entries' | 'postings', text: string) => {
      const bytes = Buffer.byteLength(text);
      if (which === 'entries') {
        entriesHash.update(text);
        entriesSize += bytes;
        await write(entriesOut, text);
      } else {
        postingsHash.update(text);
        postingsSize += bytes;
        await write(postingsOut, text);
      }
    };
    await put('postings', postingsCsvHeader);
    let entryCount = 0;
    for await (const e of entriesOf(trx, fundId)) {
      const { reversed_kind: _derived, ...stored } = e;
      const postings = e.postings.map((p) => ({ ...p, account_code: codeOf.get(p.account_id) ?? '' }));
      await put('entries', `${JSON.stringify({ ...stored, postings })}\n`);
      await put('postings', postingCsvLines({ ...e, postings }));
      entryCount++;
    }
    entriesOut.end();
    postingsOut.end();
    await Promise.all([finished(entriesOut), finished(postingsOut)]);

    const accountRows = accounts.map((a) => ({
      ...a,
      id: String(a.id),
      department_id: a.department_id == null ? null : String(a.department_id),
      posting_count: String(a.posting_count),
    }));
    const files: BundleFile[] = [
      jsonFile('fund.json', {
        id: String(fund.id),
        code: fund.code,
        name: fund.name,
        fiscal_year: fund.fiscal_year,
        document_no: fund.document_no,
        head_seq: Number(fund.head_seq),
        head_hash: fund.head_hash,
        appropriated: fund.appropriated,
        allocated: fund.allocated,
        disbursed: fund.disbursed,
      }),
      jsonFile('accounts.json', accountRows),
      {
        name: 'accounts.csv',
        ...(() => {
          const bytes = Buffer.from(accountsCsv(accountRows));
          return { bytes, sha256: sha256(bytes), size: bytes.length };
        })(),
      },
      { name: 'entries.jsonl', path: entriesPath, sha256: entriesHash.digest('hex'), size: entriesSize },
      { name: 'postings.csv', path: postingsPath, sha256: postingsHash.digest('hex'), size: postingsSize },
      jsonFile('policies.json', policies),
      jsonFile(
        'runs.json',
        runs.map((r) => ({ ...r, id: String(r.id), lines: lines.filter((l) => String(l.run_id) === String(r.id)) })),
      ),
      jsonFile('payments.json', payments),
      jsonFile('statements.json', statements),
      jsonFile('attachments.json', attachments),
      jsonFile('anchors.json', anchors),
    ];
    const manifest = {
      format: bundleFormat,
      ledger,
      fund_id: String(fund.id),
      fund_code: fund.code,
      created_at: new Date().toISOString(),
      head: { seq: Number(fund.head_seq), hash: fund.head_hash },
      entries: entryCount,
      files: Object.fromEntries(files.map((f) => [f.name, { sha256: f.sha256, size: f.size }])),
    };
    return { files, manifest };
  });
}

/** Streams the bundle of `fundId` as a zip to `out`; `start` runs once the snapshot is read, before the first byte. */
export async function writeAuditBundle(
  db: Knex,
  ctx: RequestContext,
  fundId: string,
  witnessFile: string,
  out: Writable,
  start: () => void = () => undefined,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'jiangbu-bundle-'));
  try {
    const { files, manifest } = await collect(db, fundId, witnessFile, dir);
    const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
    const manifestHash = sha256(manifestText);
    await recordAudit(db, ctx, {
      action: 'ledger.audit_bundle',
      objectType: 'fund',
      objectId: fundId,
      after: { head_seq: manifest.head.seq, head_hash: manifest.head.hash, entries: manifest.entries, manifest_sha256: manifestHash },
    });
    // The head the bundle was made from, and its manifest's SHA-256, go to the witness like a statement's.
    await recordAnchor(db, witnessFile, {
      fundId,
      seq: manifest.head.seq,
      hash: manifest.head.hash,
      source: 'bundle',
      ref: `manifest ${manifestHash.slice(0, 16)}`,
      sha256: manifestHash,
    });
    const { default: archiver } = await import('archiver');
    const zip = archiver('zip', { zlib: { level: 6 } });
    start();
    zip.pipe(out);
    for (const f of files) zip.append(f.path ? createReadStream(f.path) : f.bytes!, { name: f.name, date: zipDate });
    zip.append(manifestText, { name: 'manifest.json', date: zipDate });
    await zip.finalize();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
