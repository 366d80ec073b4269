import type { Knex } from 'knex';
import { departmentAccounts, fundAccounts, parseDepartmentAccountCode, type AccountTemplate } from './chart.ts';
import { checkEntryShape, checkManualCreatesNoQuota, checkReservedAccounts, figureKind, type EntryDraft } from './entry-rules.ts';
import type { EntryView } from './journal-read.ts';
import { formatAmount } from './money.ts';
import type { EntryPeople } from './post-entries.ts';

const byCode = new Map<string, Omit<AccountTemplate, 'code'>>(fundAccounts.map((a) => [a.code, a]));

/** What a code's account is, from the chart alone (every fund has the same): null for a code the chart does not know. */
function templateOf(code: string): Omit<AccountTemplate, 'code'> | null {
  const parsed = parseDepartmentAccountCode(code);
  return byCode.get(code) ?? (parsed ? departmentAccounts[parsed.base]! : null);
}

/** The rules that need no balance (shape, reserved accounts, a manual entry's quota), checked as applyEntries checks them. */
function shapesHold(drafts: EntryDraft[]): boolean {
  const codes = [...new Set(drafts.flatMap((d) => d.postings.map((p) => p.accountCode)))];
  const templates = new Map(codes.map((code) => [code, templateOf(code)]));
  if ([...templates.values()].some((t) => t === null)) return false;
  const known = templates as Map<string, Omit<AccountTemplate, 'code'>>;
  const books = new Map([...known].map(([code, t]) => [code, t.book]));
  const kinds = new Map([...known].map(([code, t]) => [code, t.kind]));
  try {
    for (const draft of drafts) {
      checkEntryShape(draft, books, '');
      checkReservedAccounts(draft, kinds, '');
      checkManualCreatesNoQuota(draft, known, '');
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Posts the drafts in one call (ledger_post_drafts, migration 023), inside the caller's transaction:
 * the fund's lock, the checks that need balances, the chain link and the writes are one round trip.
 * Returns null, having written nothing, when a rule refuses them or a unit's sub-account is still to
 * be opened: then postEntries answers through the path that explains (or opens it).
 */
export async function postInOneCall(trx: Knex.Transaction, fundId: string, people: EntryPeople, drafts: EntryDraft[]): Promise<EntryView[] | null> {
  if (!shapesHold(drafts)) return null;
  const entries = drafts.map((d) => ({
    id: d.id ?? null,
    date: d.date,
    kind: d.kind,
    memo: d.memo,
    document_no: d.documentNo ?? null,
    department_id: d.departmentId ?? null,
    reverses_entry_id: d.reversesEntryId ?? null,
    figure_kind: figureKind(d),
    postings: d.postings.map((p) => ({ code: p.accountCode, side: p.side, amount: formatAmount(p.amount) })),
  }));
  const { rows } = await trx.raw('SELECT ledger_post_drafts(?::jsonb) AS result', [
    JSON.stringify({ fund_id: fundId, created_by: people.createdBy, approved_by: people.approvedBy, entries }),
  ]);
  const result = rows[0].result as { posted: EntryView[] } | { refused: string };
  return 'posted' in result ? result.posted : null;
}
