/*
 * The CSV files of the audit bundle, as functions of the hashed JSON they repeat: the bundle writes
 * them with these, and verify-bundle writes them again with these and compares, so a spreadsheet
 * copy that differs from the chained entries is named.
 */
const csvCell = (v: unknown) => {
  const s = v == null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
export const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\n`;

export const postingsCsvHeader = csvLine(['seq', 'entry_id', 'entry_date', 'kind', 'account_code', 'side', 'amount', 'balance_after']);

export function postingCsvLines(e: {
  seq: number;
  id: string;
  entry_date: string;
  kind: string;
  postings: Array<{ account_code?: string; side: string; amount: string; balance_after: string }>;
}): string {
  return e.postings.map((p) => csvLine([e.seq, e.id, e.entry_date, e.kind, p.account_code ?? '', p.side, p.amount, p.balance_after])).join('');
}

export function accountsCsv(accounts: Array<{ code: string; name: string; book: string; normal_side: string; kind: string; balance: string }>): string {
  return (
    csvLine(['code', 'name', 'book', 'normal_side', 'kind', 'balance']) +
    accounts.map((a) => csvLine([a.code, a.name, a.book, a.normal_side, a.kind, a.balance])).join('')
  );
}
