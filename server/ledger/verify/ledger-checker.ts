import { entryHash, genesis_hash, type HashableEntry } from '../entry-hash.ts';

/*
 * Every check of a fund's books that can be made from its rows alone, fed entry by entry in seq
 * order so that a million postings stream through in constant memory (one running sum per account).
 * Pure: the database verify (verify-ledger.ts) and the offline bundle check (verify-bundle) run the
 * same code, so an auditor's laptop and the service cannot disagree about what "verified" means.
 */

/** Every kind of problem a verify names (the response schema lists them). */
export const problemKinds = [
  'missing_entry',
  'chain_link',
  'entry_hash',
  'entry_unbalanced',
  'posting_account',
  'balance_after',
  'account_balance',
  'day_balance',
  'fund_figure',
  'unit_figure',
  'head',
  'anchor_mismatch',
  'anchor_missing_entry',
  'anchor_beyond_head',
  'witness_unreadable',
  'witness_ledger',
  'witness_foreign',
  'witness_missing',
  'posting_count',
] as const;
export type ProblemKind = (typeof problemKinds)[number];

export interface Problem {
  kind: ProblemKind;
  seq?: number;
  account?: string;
  /** The day of a day balance (account_day_balances) that does not follow from the postings. */
  day?: string;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  head_hash: string;
  first_bad_seq: number | null;
  problems: Problem[];
}

export interface CheckedAccount {
  id: string;
  /** The unit of a 2307/5001/7101 sub-account; the unit figures are summed by it. */
  department_id?: string | null;
  code: string;
  book: string;
  normal_side: string;
  kind: string;
  balance: string;
  /** The stored count of postings, when known: checked like the balance. */
  posting_count?: string | number;
}

export interface CheckedPosting {
  account_id: string;
  side: string;
  amount: string;
  balance_after: string;
}

/** One journal entry as stored; `reversed_kind` is the kind of the entry a reversal reverses, when known. */
export interface CheckedEntry {
  id: string;
  fund_id: string;
  seq: number;
  entry_date: string;
  kind: string;
  memo: string;
  document_no: string | null;
  department_id: string | null;
  reverses_entry_id: string | null;
  reversed_kind?: string | null;
  created_by: string;
  /** The approver (审核); null only on entries posted before four eyes (migration 006). */
  approved_by?: string | null;
  created_at: string;
  prev_hash: string;
  hash: string;
  postings: CheckedPosting[];
}

export interface CheckedFund {
  id: string;
  head_seq: number;
  head_hash: string;
  appropriated: string;
  allocated: string;
  disbursed: string;
}

/** A unit's figures as the database keeps them (fund_unit_figures, migration 010). */
export interface CheckedUnitFigures {
  department_id: string;
  allocated: string;
  disbursed: string;
}

export interface CheckedAnchor {
  seq: number;
  hash: string;
  source: string;
}

const problems_max = 200;

/** Integer fen from a NUMERIC string ("-12.5" → -1250n): exact, and fast enough for millions. */
export function fen(amount: string): bigint {
  // The database's own form of numeric(18,2) ("1234.50", "-7.00"): no regular expression needed.
  const n = amount.length;
  if (n >= 4 && amount.charCodeAt(n - 3) === 46 && /^-?\d+\.\d\d$/.test(amount)) return BigInt(amount.slice(0, n - 3) + amount.slice(n - 2));
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!m) throw new Error(`not an amount: ${amount}`);
  const v = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -v : v;
}

export function yuanOf(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
}

/** The fields the hash covers (entry-hash.ts), from a stored entry and its postings. */
export function hashableOf(e: CheckedEntry, codeOf: (accountId: string) => string): HashableEntry {
  return {
    fundId: e.fund_id,
    seq: String(e.seq),
    date: e.entry_date,
    kind: e.kind,
    memo: e.memo,
    documentNo: e.document_no,
    departmentId: e.department_id,
    reversesEntryId: e.reverses_entry_id,
    createdBy: e.created_by,
    approvedBy: e.approved_by ?? null,
    createdAt: e.created_at,
    postings: e.postings.map((p) => ({ accountCode: codeOf(p.account_id), side: p.side, amount: p.amount })),
  };
}

// Invariant 10: each fund figure is a sum, by the kind of entry, over one kind of account.
const figureRule = {
  appropriated: { account: 'revenue', entries: ['appropriation'] },
  allocated: { account: 'expense', entries: ['allocation', 'clawback'] },
  disbursed: { account: 'budget_expenditure', entries: ['disbursement', 'refund'] },
} as const;
type Figure = keyof typeof figureRule;
const figures = Object.keys(figureRule) as Figure[];
/** The entry kinds that count towards each figure. */
const figureKinds = Object.fromEntries(figures.map((f) => [f, new Set<string>(figureRule[f].entries)])) as Record<Figure, Set<string>>;
/** The figure an account of this kind counts towards, if any. */
const figureOfKind = (kind: string): Figure | null => figures.find((f) => figureRule[f].account === kind) ?? null;

/**
 * What a verify that found nothing wrong had summed when it reached its last entry: enough to go on
 * from there (an incremental verify) without reading the entries before it again.
 */
export interface CheckerState {
  seq: number;
  hash: string;
  entries: number;
  /** Per account id: running sum in fen and number of postings, as decimal strings. */
  accounts: Record<string, [string, number]>;
  by_kind: Record<Figure, string>;
  by_unit: Record<string, [string, string]>;
}

export class LedgerChecker {
  private readonly problems: Problem[] = [];
  private truncated = 0;
  private readonly accounts = new Map<string, CheckedAccount & { running: bigint; count: number; figure: Figure | null }>();
  private readonly kindById = new Map<string, string>();
  private readonly anchors: CheckedAnchor[];
  private anchorAt = 0;
  private prevHash = genesis_hash;
  private expectedSeq = 1;
  private lastSeq = 0;
  private lastHash = genesis_hash;
  private count = 0;
  private readonly byKind: Record<Figure, bigint> = { appropriated: 0n, allocated: 0n, disbursed: 0n };
  private readonly byUnit = new Map<string, { allocated: bigint; disbursed: bigint }>();

  constructor(
    private readonly fund: CheckedFund,
    accounts: CheckedAccount[],
    anchors: CheckedAnchor[],
    /** Remember entry kinds to resolve reversals when the rows do not carry `reversed_kind` (the offline bundle). */
    private readonly trackKinds = false,
    /** Stored unit figures, checked against the postings by kind when given (the database verify). */
    private readonly units?: CheckedUnitFigures[],
  ) {
    for (const a of accounts) this.accounts.set(a.id, { ...a, running: 0n, count: 0, figure: figureOfKind(a.kind) });
    // One anchor per (seq, hash); in seq order so the stream meets them as it goes.
    const seen = new Set<string>();
    this.anchors = anchors.filter((a) => (seen.has(`${a.seq}:${a.hash}`) ? false : (seen.add(`${a.seq}:${a.hash}`), true))).sort((x, y) => x.seq - y.seq);
  }

  /** Goes on from a checkpoint: the entries up to `state.seq` count as checked, their sums as given. */
  resume(state: CheckerState): void {
    for (const [id, [running, count]] of Object.entries(state.accounts)) {
      const a = this.accounts.get(id);
      if (a) {
        a.running = BigInt(running);
        a.count = count;
      }
    }
    for (const figure of Object.keys(figureRule) as Figure[]) this.byKind[figure] = BigInt(state.by_kind[figure]);
    for (const [id, [allocated, disbursed]] of Object.entries(state.by_unit))
      this.byUnit.set(id, { allocated: BigInt(allocated), disbursed: BigInt(disbursed) });
    this.prevHash = state.hash;
    this.lastHash = state.hash;
    this.lastSeq = state.seq;
    this.expectedSeq = state.seq + 1;
    this.count = state.entries;
    // Anchors at or before the checkpoint were met by the verify that wrote it; the caller checks them against stored hashes.
    while (this.anchorAt < this.anchors.length && this.anchors[this.anchorAt]!.seq <= state.seq) this.anchorAt++;
  }

  /** The sums so far, for a checkpoint (only worth keeping when the report is ok). */
  state(): CheckerState {
    return {
      seq: this.lastSeq,
      hash: this.lastHash,
      entries: this.count,
      accounts: Object.fromEntries([...this.accounts].map(([id, a]) => [id, [a.running.toString(), a.count]])),
      by_kind: { appropriated: this.byKind.appropriated.toString(), allocated: this.byKind.allocated.toString(), disbursed: this.byKind.disbursed.toString() },
      by_unit: Object.fromEntries([...this.byUnit].map(([id, u]) => [id, [u.allocated.toString(), u.disbursed.toString()]])),
    };
  }

  /** Each account's running balance so far (what its stored and last day balance must be). */
  balances(): Array<[accountId: string, balance: string]> {
    return [...this.accounts].map(([id, a]) => [id, yuanOf(a.running)]);
  }

  problem(p: Problem): void {
    if (this.problems.length < problems_max) this.problems.push(p);
    else this.truncated++;
  }

  private codeOf = (accountId: string) => this.accounts.get(accountId)?.code ?? `?${accountId}`;

  /** Anchors below `seq` that no entry met: their entry is gone. */
  private anchorsBefore(seq: number): void {
    while (this.anchorAt < this.anchors.length && this.anchors[this.anchorAt]!.seq < seq) {
      const a = this.anchors[this.anchorAt++]!;
      if (a.seq === 0 && a.hash === genesis_hash) continue;
      this.problem({ kind: 'anchor_missing_entry', seq: a.seq, detail: `锚点（${a.source}）记录的第 ${a.seq} 号凭证已不在账簿中` });
    }
  }

  addEntry(e: CheckedEntry): void {
    this.anchorsBefore(e.seq);
    if (e.seq > this.expectedSeq) {
      const last = e.seq - 1;
      this.problem({
        kind: 'missing_entry',
        seq: this.expectedSeq,
        detail: last > this.expectedSeq ? `第 ${this.expectedSeq}–${last} 号凭证缺失（已被删除）` : `第 ${this.expectedSeq} 号凭证缺失（已被删除）`,
      });
    } else if (e.seq < this.expectedSeq) {
      this.problem({ kind: 'chain_link', seq: e.seq, detail: `第 ${e.seq} 号凭证重复或顺序错乱` });
    }
    if (e.prev_hash !== this.prevHash) {
      this.problem({ kind: 'chain_link', seq: e.seq, detail: `第 ${e.seq} 号凭证记录的前一哈希与链上前一凭证不符（链被改写）` });
    }
    // Each entry is checked against its own stored link, so one altered entry is named once, not with
    // every entry after it; a broken link between entries is the chain_link above.
    if (e.hash !== entryHash(e.prev_hash, hashableOf(e, this.codeOf))) {
      this.problem({ kind: 'entry_hash', seq: e.seq, detail: `第 ${e.seq} 号凭证的内容与其哈希不符（凭证或分录被改动）` });
    }
    this.checkPostings(e);
    const anchorsHere: CheckedAnchor[] = [];
    while (this.anchorAt < this.anchors.length && this.anchors[this.anchorAt]!.seq === e.seq) anchorsHere.push(this.anchors[this.anchorAt++]!);
    for (const a of anchorsHere) {
      if (a.hash !== e.hash)
        this.problem({
          kind: 'anchor_mismatch',
          seq: e.seq,
          detail: `锚点（${a.source}）记录的第 ${e.seq} 号凭证哈希为 ${a.hash.slice(0, 12)}…，账簿中为 ${e.hash.slice(0, 12)}…（链被改写）`,
        });
    }
    if (this.trackKinds) this.kindById.set(e.id, e.kind);
    this.prevHash = e.hash;
    this.lastSeq = e.seq;
    this.lastHash = e.hash;
    this.expectedSeq = e.seq + 1;
    this.count++;
  }

  private checkPostings(e: CheckedEntry): void {
    if (e.postings.length < 2) this.problem({ kind: 'entry_unbalanced', seq: e.seq, detail: `第 ${e.seq} 号凭证的分录少于两条` });
    const effectiveKind =
      e.kind === 'reversal' ? (e.reversed_kind ?? (e.reverses_entry_id ? this.kindById.get(e.reverses_entry_id) : undefined) ?? 'reversal') : e.kind;
    // The two books (a CHECK on accounts.book), summed without a Map per entry.
    let financial = 0n;
    let budget = 0n;
    let otherBooks: Map<string, bigint> | undefined;
    for (let i = 0; i < e.postings.length; i++) {
      const p = e.postings[i]!;
      const a = this.accounts.get(p.account_id);
      if (!a) {
        this.problem({ kind: 'posting_account', seq: e.seq, detail: `第 ${e.seq} 号凭证的分录记入了不属于本资金的科目（${p.account_id}）` });
        continue;
      }
      const amount = fen(p.amount);
      const debit = p.side === 'debit' ? amount : -amount;
      if (a.book === 'financial') financial += debit;
      else if (a.book === 'budget') budget += debit;
      else (otherBooks ??= new Map()).set(a.book, (otherBooks.get(a.book) ?? 0n) + debit);
      const signed = p.side === a.normal_side ? amount : -amount;
      a.running += signed;
      a.count++;
      if (fen(p.balance_after) !== a.running) {
        this.problem({
          kind: 'balance_after',
          seq: e.seq,
          account: a.code,
          detail: `第 ${e.seq} 号凭证记入 ${a.code} 后的余额记为 ${p.balance_after}，按分录累计应为 ${yuanOf(a.running)}`,
        });
      }
      const figure = a.figure;
      if (figure && figureKinds[figure].has(effectiveKind)) {
        this.byKind[figure] += signed;
        if (a.department_id && figure !== 'appropriated') {
          let u = this.byUnit.get(a.department_id);
          if (!u) this.byUnit.set(a.department_id, (u = { allocated: 0n, disbursed: 0n }));
          u[figure] += signed;
        }
      }
    }
    if (financial !== 0n) this.problem({ kind: 'entry_unbalanced', seq: e.seq, detail: `第 ${e.seq} 号凭证在财务账簿中借贷不平` });
    if (budget !== 0n) this.problem({ kind: 'entry_unbalanced', seq: e.seq, detail: `第 ${e.seq} 号凭证在预算账簿中借贷不平` });
    for (const [book, sum] of otherBooks ?? []) {
      if (sum !== 0n) this.problem({ kind: 'entry_unbalanced', seq: e.seq, detail: `第 ${e.seq} 号凭证在${book}账簿中借贷不平` });
    }
  }

  finish(): VerifyReport {
    // Anchors past the last entry: the tail they saw has been cut.
    while (this.anchorAt < this.anchors.length) {
      const a = this.anchors[this.anchorAt++]!;
      if (a.seq === 0 && a.hash === genesis_hash) continue;
      this.problem({
        kind: 'anchor_beyond_head',
        seq: a.seq,
        detail: `锚点（${a.source}）记录了第 ${a.seq} 号凭证，而账簿只到第 ${this.lastSeq} 号（账簿尾部被截去）`,
      });
    }
    if (this.fund.head_seq !== this.lastSeq || this.fund.head_hash !== this.lastHash) {
      // The first entry that differs from what the fund row claims, never past the chain: the one after
      // the shorter of the two, or the last entry itself when only the hash differs.
      const seq = this.fund.head_seq === this.lastSeq ? this.lastSeq : Math.min(this.fund.head_seq, this.lastSeq) + 1;
      this.problem({
        kind: 'head',
        ...(seq >= 1 && seq <= this.lastSeq ? { seq } : {}),
        detail: `资金记录的链头为第 ${this.fund.head_seq} 号（${this.fund.head_hash.slice(0, 12)}…），账簿最后一笔为第 ${this.lastSeq} 号（${this.lastHash.slice(0, 12)}…）`,
      });
    }
    for (const a of [...this.accounts.values()].sort((x, y) => (x.code < y.code ? -1 : 1))) {
      if (fen(a.balance) !== a.running)
        this.problem({ kind: 'account_balance', account: a.code, detail: `科目 ${a.code} 的余额记为 ${a.balance}，分录合计为 ${yuanOf(a.running)}` });
      if (a.posting_count !== undefined && Number(a.posting_count) !== a.count)
        this.problem({ kind: 'posting_count', account: a.code, detail: `科目 ${a.code} 的分录笔数记为 ${a.posting_count}，实有 ${a.count} 笔` });
    }
    const names: Record<Figure, string> = { appropriated: '已拨入', allocated: '已分配', disbursed: '已拨付' };
    for (const figure of Object.keys(figureRule) as Figure[]) {
      const stored = fen(this.fund[figure]);
      // The database keeps each figure by kind (invariant 10; the rule in db/migrations/006-internal-control.ts,
      // the same as figureRule here): anything else was written past the triggers.
      if (stored !== this.byKind[figure]) {
        this.problem({
          kind: 'fund_figure',
          detail: `资金的${names[figure]}（${figure}）记为 ${yuanOf(stored)}，按凭证类别核算应为 ${yuanOf(this.byKind[figure])}`,
        });
      }
    }
    if (this.units) {
      const stored = new Map(this.units.map((u) => [u.department_id, { allocated: fen(u.allocated), disbursed: fen(u.disbursed) }]));
      for (const id of [...new Set([...stored.keys(), ...this.byUnit.keys()])].sort()) {
        const s = stored.get(id) ?? { allocated: 0n, disbursed: 0n };
        const k = this.byUnit.get(id) ?? { allocated: 0n, disbursed: 0n };
        for (const figure of ['allocated', 'disbursed'] as const) {
          if (s[figure] !== k[figure]) {
            this.problem({
              kind: 'unit_figure',
              detail: `单位 ${id} 的${names[figure]}（${figure}）记为 ${yuanOf(s[figure])}，按凭证类别核算应为 ${yuanOf(k[figure])}`,
            });
          }
        }
      }
    }
    if (this.truncated > 0) this.problems.push({ kind: this.problems[this.problems.length - 1]!.kind, detail: `另有 ${this.truncated} 个问题未列出` });
    const seqs = this.problems.map((p) => p.seq).filter((s): s is number => s !== undefined);
    return {
      ok: this.problems.length === 0,
      entries: this.count,
      head_hash: this.lastHash,
      first_bad_seq: seqs.length ? Math.min(...seqs) : null,
      problems: this.problems,
    };
  }
}
