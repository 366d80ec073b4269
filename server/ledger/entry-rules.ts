import { type Decimal } from 'decimal.js';
import { AppError } from '../errors.ts';
import type { AccountKind, Book, Side } from './chart.ts';
import { amount_limit, zero } from './money.ts';

export type EntryKind = 'appropriation' | 'manual' | 'allocation' | 'clawback' | 'disbursement' | 'refund' | 'reversal';

export interface PostingDraft {
  accountCode: string;
  side: Side;
  amount: Decimal;
}

export interface EntryDraft {
  /** The id the entry was prepared under (pending_entries); posted entries keep it. */
  id?: string | null;
  date: string;
  kind: EntryKind;
  memo: string;
  documentNo?: string | null;
  departmentId?: string | null;
  reversesEntryId?: string | null;
  /** For a reversal: the kind of the entry it reverses, which decides the fund figure it moves. */
  reversedKind?: EntryKind | null;
  postings: PostingDraft[];
}

/** Which fund figure an entry moves: its own kind, or for a reversal the kind of what it reverses (invariant 10). */
export function figureKind(draft: Pick<EntryDraft, 'kind' | 'reversedKind'>): EntryKind | null {
  return draft.kind === 'reversal' ? (draft.reversedKind ?? null) : draft.kind;
}

const reservedAccountKinds: AccountKind[] = ['revenue', 'budget_revenue'];

/** Only an appropriation (or its reversal) may post to 4001 or 6001; the database refuses it too. */
export function checkReservedAccounts(draft: EntryDraft, kinds: Map<string, AccountKind>, where: string): void {
  if (figureKind(draft) === 'appropriation') return;
  const reserved = draft.postings.find((p) => reservedAccountKinds.includes(kinds.get(p.accountCode)!));
  if (reserved) {
    throw new AppError('RESERVED_ACCOUNT', `${where}：科目 ${reserved.accountCode} 只能由财政拨款凭证（或其冲销）记账`, [
      { field: 'postings', message: `科目 ${reserved.accountCode} 只能由财政拨款凭证记账` },
    ]);
  }
}

const quotaAccountKinds: AccountKind[] = ['cash', 'funds_on_hand'];

/**
 * A manual entry corrects balances with four eyes, but never creates quota: its net effect on 1011
 * and on 8001 is never positive (the database refuses it too, manual_entry_creates_no_quota).
 */
export function checkManualCreatesNoQuota(draft: EntryDraft, accounts: Map<string, Pick<AccountState, 'kind' | 'normalSide'>>, where: string): void {
  if (draft.kind !== 'manual') return;
  for (const kind of quotaAccountKinds) {
    let net = zero;
    let code = '';
    for (const p of draft.postings) {
      const account = accounts.get(p.accountCode)!;
      if (account.kind !== kind) continue;
      code = p.accountCode;
      net = net.plus(signedEffect(account, p.side, p.amount));
    }
    if (net.gt(zero)) {
      throw new AppError(
        'MANUAL_ENTRY_CREATES_QUOTA',
        `${where}：手工凭证不能增加 ${code}（${kind === 'cash' ? '零余额账户用款额度' : '资金结存'}）${net.toFixed(2)} 元，额度只能来自财政拨款`,
        [{ field: `${where}.postings`, message: `手工凭证不能增加科目 ${code} 的余额` }],
      );
    }
  }
}

export interface AccountState {
  id: string;
  code: string;
  name: string;
  book: Book;
  normalSide: Side;
  kind: AccountKind;
  guarded: boolean;
  balance: Decimal;
}

export interface FundTotals {
  appropriated: Decimal;
  allocated: Decimal;
}

export interface PlannedPosting {
  accountId: string;
  accountCode: string;
  side: Side;
  amount: Decimal;
  balanceAfter: Decimal;
}

/** Effect of a posting on its account's balance, in the account's normal-side terms. */
export function signedEffect(account: Pick<AccountState, 'normalSide'>, side: Side, amount: Decimal): Decimal {
  return side === account.normalSide ? amount : amount.negated();
}

/** The shape rules of one entry: ≥ 2 postings, every amount in (0, 10^13), debits = credits in each book. */
export function checkEntryShape(draft: EntryDraft, books: Map<string, Book>, where: string): void {
  if (draft.postings.length < 2) throw new AppError('UNBALANCED_ENTRY', `${where}：一张凭证至少需要两条分录`);
  const sides = new Map<string, Side>();
  for (const p of draft.postings) {
    // Debiting and crediting one account in one voucher changes nothing but the record: a no-op voucher.
    if (sides.has(p.accountCode) && sides.get(p.accountCode) !== p.side) {
      throw new AppError('VALIDATION_FAILED', `${where}：科目 ${p.accountCode} 不能在同一张凭证中既借又贷`, [
        { field: `${where}.postings`, message: `科目 ${p.accountCode} 既借又贷` },
      ]);
    }
    sides.set(p.accountCode, p.side);
  }
  const totals = new Map<Book, { debit: Decimal; credit: Decimal }>();
  for (const p of draft.postings) {
    if (!p.amount.isFinite() || p.amount.lte(zero) || p.amount.gte(amount_limit) || p.amount.decimalPlaces() > 2) {
      throw new AppError('VALIDATION_FAILED', `${where}：每笔金额须大于 0.00 且小于 10^13`, [
        { field: 'postings', message: '每笔金额须大于 0.00 且小于 10^13' },
      ]);
    }
    const book = books.get(p.accountCode)!;
    const t = totals.get(book) ?? { debit: zero, credit: zero };
    t[p.side] = t[p.side].plus(p.amount);
    totals.set(book, t);
  }
  for (const [book, t] of totals) {
    if (!t.debit.eq(t.credit)) {
      throw new AppError(
        'UNBALANCED_ENTRY',
        `${where}：${book === 'financial' ? '财务会计' : '预算会计'}借贷不平衡（借方 ${t.debit.toFixed(2)}，贷方 ${t.credit.toFixed(2)}）`,
      );
    }
  }
}

/**
 * Applies drafts in order to the given account balances: computes each posting's running balance and
 * refuses the whole set if a guarded account would go below zero or allocation would exceed appropriation.
 * Mutates `accounts` balances and `totals` to their values after the drafts.
 */
export function applyEntries(drafts: EntryDraft[], accounts: Map<string, AccountState>, totals: FundTotals): PlannedPosting[][] {
  const books = new Map([...accounts].map(([code, a]) => [code, a.book]));
  const kinds = new Map([...accounts].map(([code, a]) => [code, a.kind]));
  return drafts.map((draft, i) => {
    const where = drafts.length > 1 ? `第 ${i + 1} 笔凭证` : '本凭证';
    checkEntryShape(draft, books, where);
    checkReservedAccounts(draft, kinds, where);
    checkManualCreatesNoQuota(draft, accounts, where);
    const figure = figureKind(draft);
    const planned = draft.postings.map((p) => {
      const account = accounts.get(p.accountCode)!;
      const effect = signedEffect(account, p.side, p.amount);
      const before = account.balance;
      account.balance = account.balance.plus(effect);
      if (account.guarded && account.balance.isNegative()) {
        throw new AppError(
          'INSUFFICIENT_BALANCE',
          `${where}：科目 ${account.code} 余额将低于零（${account.name}现有 ${before.toFixed(2)} 元，需要 ${p.amount.toFixed(2)} 元，还差 ${account.balance.negated().toFixed(2)} 元）`,
        );
      }
      // The figures by kind (invariant 10): a manual entry corrects balances but never a figure.
      if (account.kind === 'revenue' && figure === 'appropriation') totals.appropriated = totals.appropriated.plus(effect);
      if (account.kind === 'expense' && (figure === 'allocation' || figure === 'clawback')) totals.allocated = totals.allocated.plus(effect);
      return { accountId: account.id, accountCode: account.code, side: p.side, amount: p.amount, balanceAfter: account.balance };
    });
    if (totals.allocated.gt(totals.appropriated)) {
      throw new AppError('OVER_APPROPRIATION', `${where}：分配总额将超过财政拨款 ${totals.allocated.minus(totals.appropriated).toFixed(2)} 元`);
    }
    return planned;
  });
}
