import { createHash } from 'node:crypto';
import { fen, LedgerChecker, yuanOf, type CheckedAnchor, type CheckedEntry } from '../ledger/verify/ledger-checker.ts';
import { accountsCsv, postingCsvLines, postingsCsvHeader } from './bundle-csv.ts';

/*
 * The offline check of an audit bundle: no database, no network, only the bundle's bytes. It runs
 * the same LedgerChecker as the service's verify, so both say the same about the same books.
 */
export interface BundleCheck {
  name: string;
  ok: boolean;
  details: string[];
}

const bundleFormat = 'jiangbu-audit-bundle/1';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function json<T>(files: Map<string, Buffer>, name: string): T {
  const bytes = files.get(name);
  if (!bytes) throw new Error(`${name} is missing from the bundle`);
  return JSON.parse(bytes.toString('utf8')) as T;
}

/** Each line of a JSON-lines file, without holding a copy of the whole text as lines. */
function* jsonLines(bytes: Buffer): Generator<[number, string]> {
  let start = 0;
  let n = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    n++;
    const line = bytes.toString('utf8', start, end);
    if (line.trim() !== '') yield [n, line];
    start = end + 1;
  }
}

interface ManifestFile {
  sha256: string;
  size: number;
}
interface Manifest {
  format: string;
  ledger: string;
  fund_id: string;
  fund_code: string;
  head: { seq: number; hash: string };
  entries: number;
  files: Record<string, ManifestFile>;
}

/**
 * Lines of a witness file the auditor holds (shipped apart from the server) for this bundle's fund.
 * The ledger is the one the witness's own first line names, never the bundle's manifest (which whoever
 * made the bundle wrote): a manifest naming another ledger, lines under another ledger, or a witness
 * with no line for a fund whose bundle lists anchors are problems.
 */
export function witnessAnchors(
  witness: string,
  manifest: { ledger: string; fund_id: string },
  anchorsInBundle = 0,
): { anchors: CheckedAnchor[]; problems: string[] } {
  const anchors: CheckedAnchor[] = [];
  const problems: string[] = [];
  let pinned: string | null = null;
  const foreign: number[] = [];
  witness.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const w = JSON.parse(line) as { ledger?: string; fund?: string; seq?: number; hash?: string; anchor?: string };
      if (typeof w.ledger !== 'string') throw new Error('no ledger');
      pinned ??= w.ledger;
      if (w.ledger !== pinned) {
        foreign.push(i + 1);
        return;
      }
      if (w.fund === manifest.fund_id && typeof w.seq === 'number' && typeof w.hash === 'string') {
        anchors.push({ seq: w.seq, hash: w.hash, source: `your witness line ${i + 1} (${w.anchor ?? 'head'})` });
      }
    } catch {
      problems.push(`your witness line ${i + 1} cannot be read (altered or cut)`);
    }
  });
  if (pinned !== null && manifest.ledger !== pinned)
    problems.push(`the bundle says it is of ledger ${manifest.ledger}, your witness witnesses ledger ${pinned}`);
  if (foreign.length)
    problems.push(`your witness has ${foreign.length} lines of another ledger than its first line names (lines ${foreign.slice(0, 5).join(', ')})`);
  if (anchors.length === 0 && anchorsInBundle > 0)
    problems.push(`your witness has no line for fund ${manifest.fund_id}, while the bundle lists ${anchorsInBundle} anchors of it`);
  return { anchors, problems };
}

export function checkBundle(
  files: Map<string, Buffer>,
  extraAnchors: (manifest: { ledger: string; fund_id: string }, anchorsInBundle: number) => { anchors: CheckedAnchor[]; problems: string[] } = () => ({
    anchors: [],
    problems: [],
  }),
): { ok: boolean; checks: BundleCheck[] } {
  const checks: BundleCheck[] = [];
  const check = (name: string, details: string[]) => checks.push({ name, ok: details.length === 0, details });
  let manifest: Manifest;
  try {
    manifest = json<Manifest>(files, 'manifest.json');
    if (manifest.format !== bundleFormat) throw new Error(`unknown format ${String(manifest.format)}`);
  } catch (e) {
    check('manifest.json', [`cannot read the manifest: ${(e as Error).message}`]);
    return { ok: false, checks };
  }

  // 1. Every file is the one the manifest lists, byte for byte; nothing added, nothing missing.
  const fileProblems: string[] = [];
  for (const [name, f] of Object.entries(manifest.files)) {
    const bytes = files.get(name);
    if (!bytes) fileProblems.push(`${name}: missing`);
    else if (sha256(bytes) !== f.sha256) fileProblems.push(`${name}: SHA-256 differs from the manifest (the file was altered)`);
  }
  for (const name of files.keys()) if (name !== 'manifest.json' && !(name in manifest.files)) fileProblems.push(`${name}: not listed in the manifest`);
  check(`files match the manifest (${Object.keys(manifest.files).length} files)`, fileProblems);

  // 2. The chain, every posting's running balance, every stored balance, the fund figures by kind, every anchor.
  try {
    const fund = json<{ id: string; head_seq: number; head_hash: string; appropriated: string; allocated: string; disbursed: string }>(files, 'fund.json');
    const accounts = json<
      Array<{ id: string; code: string; name: string; book: string; normal_side: string; kind: string; balance: string; posting_count?: string }>
    >(files, 'accounts.json');
    const anchors = json<CheckedAnchor[]>(files, 'anchors.json');
    // Each statement's head anchors the chain on its own, whatever anchors.json says, and anchors.json
    // must hold it too: statements.json cannot be edited apart.
    const statements = json<Array<{ statement_no: string; head_seq: number | string; head_hash: string }>>(files, 'statements.json');
    const statementProblems: string[] = [];
    for (const st of statements) {
      const seq = Number(st.head_seq);
      anchors.push({ seq, hash: st.head_hash, source: `statement ${st.statement_no} (statements.json)` });
      if (!anchors.some((a) => a.source === `statement ${st.statement_no}` && a.seq === seq && a.hash === st.head_hash)) {
        statementProblems.push(
          `statements.json: ${st.statement_no} names head ${seq} (${st.head_hash.slice(0, 12)}…), which anchors.json does not record for it`,
        );
      }
    }
    check(`statements.json agrees with the anchors (${statements.length} statements)`, statementProblems);
    const witness = extraAnchors(manifest, anchors.length);
    if (witness.problems.length) check('your witness file', witness.problems);
    anchors.push({ seq: manifest.head.seq, hash: manifest.head.hash, source: 'manifest head' }, ...witness.anchors);
    const checker = new LedgerChecker(fund, accounts, anchors, true);
    const entries = files.get('entries.jsonl');
    if (!entries) throw new Error('entries.jsonl is missing from the bundle');
    let count = 0;
    // postings.csv, written again from the hashed entries: any line that differs is named.
    const postingsCsv = files.get('postings.csv');
    const csvProblems: string[] = [];
    let csvAt = 0;
    const expectCsv = (text: string, what: string) => {
      if (!postingsCsv || csvProblems.length >= 20) return;
      const bytes = Buffer.from(text);
      if (!postingsCsv.subarray(csvAt, csvAt + bytes.length).equals(bytes)) {
        const end = postingsCsv.indexOf(0x0a, csvAt);
        csvProblems.push(
          `postings.csv: ${what} reads "${postingsCsv.toString('utf8', csvAt, end < 0 ? undefined : end)}", the hashed entries say "${text.trimEnd()}"`,
        );
      }
      csvAt += bytes.length;
    };
    expectCsv(postingsCsvHeader, 'the header');
    for (const [n, line] of jsonLines(entries)) {
      let e: CheckedEntry & { postings: Array<{ account_code?: string }> };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        checker.problem({ kind: 'entry_hash', detail: `entries.jsonl line ${n} is not JSON` });
        continue;
      }
      checker.addEntry(e);
      for (const p of e.postings) expectCsv(postingCsvLines({ ...e, postings: [p] }), `a posting of entry ${e.seq}`);
      count++;
    }
    if (!postingsCsv) csvProblems.push('postings.csv is missing from the bundle');
    else if (csvAt < postingsCsv.length && csvProblems.length === 0)
      csvProblems.push(`postings.csv: ${postingsCsv.length - csvAt} bytes after the last posting of the hashed entries (lines added)`);
    const accountsCsvBytes = files.get('accounts.csv');
    if (!accountsCsvBytes) csvProblems.push('accounts.csv is missing from the bundle');
    else {
      const expected = accountsCsv(accounts).split('\n');
      const actual = accountsCsvBytes.toString('utf8').split('\n');
      for (let i = 0; i < Math.max(expected.length, actual.length) && csvProblems.length < 40; i++) {
        if (expected[i] !== actual[i]) csvProblems.push(`accounts.csv line ${i + 1} reads "${actual[i] ?? ''}", accounts.json says "${expected[i] ?? ''}"`);
      }
    }
    check('postings.csv and accounts.csv repeat the hashed entries and accounts.json', csvProblems);
    const report = checker.finish();
    check(
      `hash chain of ${count} entries, running balances, account balances, fund figures, ${anchors.length} anchors`,
      report.problems.map((p) => `${p.kind}${p.seq !== undefined ? ` seq ${p.seq}` : ''}${p.account ? ` ${p.account}` : ''}: ${p.detail}`),
    );
    if (count !== manifest.entries) check('entry count', [`the manifest lists ${manifest.entries} entries, entries.jsonl holds ${count}`]);

    // 3. Both trial balances: per book, debit balances equal credit balances.
    const books = new Map<string, { debit: bigint; credit: bigint }>();
    for (const a of accounts) {
      const t = books.get(a.book) ?? { debit: 0n, credit: 0n };
      const v = fen(a.balance);
      if (a.normal_side === 'debit') t.debit += v;
      else t.credit += v;
      books.set(a.book, t);
    }
    for (const [book, t] of [...books].sort()) {
      check(
        `trial balance, ${book} book: debit ${yuanOf(t.debit)} = credit ${yuanOf(t.credit)}`,
        t.debit === t.credit ? [] : [`${book} book: debits ${yuanOf(t.debit)} ≠ credits ${yuanOf(t.credit)}`],
      );
    }
  } catch (e) {
    check('ledger', [(e as Error).message]);
  }

  // 4. Each allocation run's total and clawbacks are the sums of its lines.
  try {
    const runs = json<Array<{ id: string; total: string; clawed_back: string; lines: Array<{ amount: string; clawback: string; department_code: string }> }>>(
      files,
      'runs.json',
    );
    const runProblems: string[] = [];
    for (const r of runs) {
      const total = r.lines.reduce((s, l) => s + fen(l.amount), 0n);
      const clawed = r.lines.reduce((s, l) => s + fen(l.clawback), 0n);
      if (total !== fen(r.total)) runProblems.push(`run ${r.id}: total ${r.total} ≠ sum of its lines ${yuanOf(total)}`);
      if (clawed !== fen(r.clawed_back)) runProblems.push(`run ${r.id}: clawed back ${r.clawed_back} ≠ sum of its lines ${yuanOf(clawed)}`);
    }
    check(`allocation runs: each total is the sum of its lines (${runs.length} runs)`, runProblems);
  } catch (e) {
    check('allocation runs', [(e as Error).message]);
  }
  return { ok: checks.every((c) => c.ok), checks };
}
