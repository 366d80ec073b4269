import type { Knex } from 'knex';
import pg from 'pg';
import { entryHash, genesis_hash } from '../server/ledger/entry-hash.ts';
import { yuanOf } from '../server/ledger/verify/ledger-checker.ts';

/*
 * The province dataset of `npm run bench -- scale`, written through plain SQL that the database's
 * own triggers accept: every entry extends its fund's hash chain (hashed here with the service's
 * entry-hash.ts), every posting carries its running balance, and the statement-level triggers of
 * the ledger (chain, four eyes, periods, balances, guards, figures by kind and unit, day balances)
 * check and keep every row, as they do for the service's posting path. Nothing is disabled.
 *
 * Per fund: one appropriation, then blocks of an allocation to every unit followed by a payment of it
 * (Dr 2307.d / Cr 1011, Dr 7101.d / Cr 8001), dated through the fiscal year; one entry in a hundred
 * is back-dated by up to 20 days (an open period), which the day balances must absorb.
 */

export interface ScaleFund {
  id: string;
  code: string;
}

interface Account {
  id: string;
  code: string;
  normal: 'debit' | 'credit';
  running: bigint;
}

const entries_per_batch = 10_000;

/**
 * Where a fund's seeding spent its time, in ms: hashing and building the arrays in JavaScript, the
 * INSERT of the entries (with the chain and voucher-number triggers), the INSERT of the postings (with
 * the balances, guards, figures and day-balance triggers) and the COMMIT (the deferred check that each
 * entry has postings). To see inside a trigger, run the seeding with `track_functions = 'all'` and
 * read pg_stat_user_functions, or LOAD 'auto_explain' with log_nested_statements on.
 */
export interface SeedSplit {
  build: number;
  entries: number;
  postings: number;
  commit: number;
}

function dayOf(start: Date, offset: number): string {
  return new Date(start.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
}

/** Posts about `postings` postings to `fund` (3 per entry on average) in batches of one transaction each. */
export async function seedFund(
  databaseUrl: string,
  fund: ScaleFund,
  units: Array<{ id: string; code: string }>,
  users: { maker: string; checker: string },
  fiscalYear: number,
  postings: number,
  progress: (done: number) => void,
): Promise<SeedSplit> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // A benchmark's dataset, rebuilt on every run: losing the last commits to a crash costs nothing;
    // and its big statements are planned once each, so compiling them (JIT) costs more than it saves.
    await client.query('SET synchronous_commit = off; SET jit = off');
    const split: SeedSplit = { build: 0, entries: 0, postings: 0, commit: 0 };
    const rows = (await client.query('SELECT id, code, normal_side FROM accounts WHERE fund_id = $1', [fund.id])).rows;
    const byCode = new Map<string, Account>(rows.map((r) => [r.code, { id: String(r.id), code: r.code, normal: r.normal_side, running: 0n }]));
    const acc = (code: string) => byCode.get(code)!;
    let head = { seq: 0, hash: genesis_hash };
    const start = new Date(`${fiscalYear}-01-01T00:00:00Z`);
    const entriesTotal = Math.max(2, Math.ceil(postings / 3));
    const pairsPerBlock = units.length;
    let made = 0;
    let flushes = 0;

    type Line = [Account, 'debit' | 'credit', bigint];
    const batch: Array<{ kind: string; date: string; department: string | null; memo: string; lines: Line[] }> = [];
    const flush = async () => {
      if (batch.length === 0) return;
      let t = performance.now();
      const lap = (part: keyof SeedSplit) => {
        const now = performance.now();
        split[part] += now - t;
        t = now;
      };
      const e = {
        seq: [] as string[],
        date: [] as string[],
        kind: [] as string[],
        memo: [] as string[],
        dept: [] as (string | null)[],
        created: [] as string[],
        prev: [] as string[],
        hash: [] as string[],
      };
      const p = { seq: [] as string[], account: [] as string[], side: [] as string[], amount: [] as string[], after: [] as string[] };
      for (const b of batch) {
        const seq = String(head.seq + 1);
        const createdAt = new Date().toISOString();
        const hashed = b.lines.map(([a, side, amount]) => ({ accountCode: a.code, side, amount: yuanOf(amount) }));
        const hash = entryHash(head.hash, {
          fundId: fund.id,
          seq,
          date: b.date,
          kind: b.kind,
          memo: b.memo,
          documentNo: null,
          departmentId: b.department,
          reversesEntryId: null,
          createdBy: users.maker,
          approvedBy: users.checker,
          createdAt,
          postings: hashed,
        });
        e.seq.push(seq);
        e.date.push(b.date);
        e.kind.push(b.kind);
        e.memo.push(b.memo);
        e.dept.push(b.department);
        e.created.push(createdAt);
        e.prev.push(head.hash);
        e.hash.push(hash);
        for (const [a, side, amount] of b.lines) {
          a.running += side === a.normal ? amount : -amount;
          p.seq.push(seq);
          p.account.push(a.id);
          p.side.push(side);
          p.amount.push(yuanOf(amount));
          p.after.push(yuanOf(a.running));
        }
        head = { seq: Number(seq), hash };
      }
      lap('build');
      await client.query('BEGIN');
      try {
        const ids = await client.query(
          `INSERT INTO journal_entries (fund_id, seq, entry_date, kind, memo, department_id, created_by, approved_by, created_at, prev_hash, hash)
           SELECT $1, s, d, k, m, dep, $2, $3, c, pv, h
             FROM unnest($4::bigint[], $5::date[], $6::text[], $7::text[], $8::bigint[], $9::timestamptz[], $10::text[], $11::text[]) AS t(s, d, k, m, dep, c, pv, h)
            ORDER BY s
           RETURNING id, seq`,
          [fund.id, users.maker, users.checker, e.seq, e.date, e.kind, e.memo, e.dept, e.created, e.prev, e.hash],
        );
        lap('entries');
        const idOf = new Map<string, string>(ids.rows.map((r) => [String(r.seq), String(r.id)]));
        await client.query(
          `INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
           SELECT en, a, s, am, af FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::numeric[], $5::numeric[]) WITH ORDINALITY AS t(en, a, s, am, af, o)
            ORDER BY o`,
          [p.seq.map((s) => idOf.get(s)!), p.account, p.side, p.amount, p.after],
        );
        lap('postings');
        await client.query('COMMIT');
        lap('commit');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      made += p.seq.length;
      progress(p.seq.length);
      batch.length = 0;
      flushes++;
      // The planner must know the tables are no longer empty: with the statistics of an empty
      // journal it plans the triggers' joins as nested loops over "tiny" tables, quadratic in a batch.
      if ((flushes & (flushes - 1)) === 0) await client.query('ANALYZE journal_entries, postings, accounts, account_day_balances, fund_unit_figures');
    };

    // Enough quota for every allocation below (each ≤ 999.99).
    const quota = BigInt(entriesTotal) * 100_000n;
    batch.push({
      kind: 'appropriation',
      date: dayOf(start, 0),
      department: null,
      memo: '省级以奖代补资金拨入',
      lines: [
        [acc('1011'), 'debit', quota],
        [acc('4001'), 'credit', quota],
        [acc('8001'), 'debit', quota],
        [acc('6001'), 'credit', quota],
      ],
    });
    let n = 1;
    let block = 0;
    while (made + batch.length * 3 < postings) {
      // One block: an allocation to each unit, then its payment.
      for (let phase = 0; phase < 2 && made + batch.length * 3 < postings; phase++) {
        for (let i = 0; i < pairsPerBlock && made + batch.length * 3 < postings; i++) {
          const u = units[i]!;
          const amount = BigInt(10_000 + ((i * 7919 + block * 104_729) % 89_999));
          let day = Math.min(364, Math.floor((n * 365) / entriesTotal));
          if (n % 100 === 0) day = Math.max(0, day - 1 - (n % 20));
          const date = dayOf(start, day);
          if (phase === 0) {
            batch.push({
              kind: 'allocation',
              date,
              department: u.id,
              memo: `以奖代补分配 第${block + 1}批`,
              lines: [
                [acc(`5001.${u.code}`), 'debit', amount],
                [acc(`2307.${u.code}`), 'credit', amount],
              ],
            });
          } else {
            batch.push({
              kind: 'disbursement',
              date,
              department: u.id,
              memo: `奖补资金拨付 第${block + 1}批`,
              lines: [
                [acc(`2307.${u.code}`), 'debit', amount],
                [acc('1011'), 'credit', amount],
                [acc(`7101.${u.code}`), 'debit', amount],
                [acc('8001'), 'credit', amount],
              ],
            });
          }
          n++;
          // The first batch is small, so the tables have statistics before the big ones.
          if (batch.length >= (flushes === 0 ? 500 : entries_per_batch)) await flush();
        }
      }
      block++;
    }
    await flush();
    return split;
  } finally {
    await client.end();
  }
}

/** 5,000 units (or `count`), each with its 2307/5001/7101 sub-accounts in every fund. */
export async function seedUnits(db: Knex, count: number, funds: ScaleFund[]): Promise<Array<{ id: string; code: string }>> {
  const groups = ['government', 'education', 'health', 'county', 'prefecture'];
  const rows = await db.raw(
    `INSERT INTO departments (code, name, "group", status)
     SELECT 'P' || lpad(i::text, 5, '0'), '省级示范单位' || i, (?::text[])[1 + i % 5], 'completed'
       FROM generate_series(1, ?) AS i
     RETURNING id, code`,
    [groups, count],
  );
  const units = (rows.rows as Array<{ id: string; code: string }>).map((r) => ({ id: String(r.id), code: r.code }));
  for (const f of funds) {
    await db.raw(
      `INSERT INTO accounts (fund_id, code, name, book, normal_side, kind, department_id, guarded)
       SELECT ?, b.base || '.' || d.code, b.name || '—' || d.name, b.book, b.side, b.kind, d.id, b.kind = 'payable'
         FROM departments d
        CROSS JOIN (VALUES ('2307', '其他应付款', 'financial', 'credit', 'payable'),
                           ('5001', '业务活动费用—以奖代补', 'financial', 'debit', 'expense'),
                           ('7101', '行政支出—以奖代补', 'budget', 'debit', 'budget_expenditure')) AS b(base, name, book, side, kind)
        WHERE d.code LIKE 'P%'`,
      [f.id],
    );
  }
  await db.raw('ANALYZE departments, accounts');
  return units;
}
