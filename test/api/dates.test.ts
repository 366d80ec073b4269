import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { receiptBody, sellerTaxId } from '../support/receipts.ts';

/*
 * One date rule for every date a person types (DESIGN.md "Internal control"): a real calendar day from
 * 1900-01-01 to 2999-12-31, else 422 — never a 500, and nothing changes. Accounting dates also fall
 * from the fund's opening date to today.
 */
let h: Harness;
let accountant: TestUser;
let inspector: TestUser;
let fundId: string;
let entryId: string;
let dept: { id: string; code: string };
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  inspector = await makeUser(h.db, 'inspector');
  dept = await makeDepartment(h.db);
  fundId = await makeFund(h, accountant, '1000.00');
  entryId = String((await h.db('journal_entries').where({ fund_id: fundId }).first('id')).id);
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

interface DateRoute {
  name: string;
  field: string;
  /** Whether the date is an accounting date (also bounded by the fund's period and today). */
  accounting?: boolean;
  call(date: string): Promise<{ status: number; body: { code?: string; errors?: Array<{ field: string }>; detail?: string } }>;
}

const entry = (date: string) => ({
  date,
  memo: '日期',
  postings: [
    { account_code: `5001.${dept.code}`, side: 'debit', amount: '1.00' },
    { account_code: `2307.${dept.code}`, side: 'credit', amount: '1.00' },
  ],
});
const get = (path: string) => h.api.get(path).set(accountant.auth);
const post = (path: string, body: object) => h.api.post(path).set(accountant.auth).send(body);
const put = (path: string, body: object) => h.api.put(path).set(accountant.auth).send(body);
const csvReceipt = (date: string) =>
  [
    'department_code,invoice_kind,invoice_code,invoice_number,issue_date,seller_name,seller_tax_id,total,product,category,licences,amount',
    `${dept.code},vat_normal,6500111130,${String(Date.now()).slice(-8)},${date},新疆软件公司,${sellerTaxId()},100.00,Windows,os,1,100.00`,
  ].join('\n');

const routes: DateRoute[] = [
  {
    name: 'POST /funds opening_date',
    field: 'opening_date',
    call: (d) => post('/api/v1/funds', { code: unique('F'), name: '资金', fiscal_year: 2011, document_no: 'X', opening_date: d }),
  },
  {
    name: 'POST /funds/:id/appropriations',
    field: 'date',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/appropriations`, { amount: '1.00', document_no: 'D', date: d }),
  },
  { name: 'POST /funds/:id/journal-entries', field: 'date', accounting: true, call: (d) => post(`/api/v1/funds/${fundId}/journal-entries`, entry(d)) },
  {
    name: 'POST /funds/:id/journal-entries/batch',
    field: 'entries.0.date',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/journal-entries/batch`, { entries: [entry(d)] }),
  },
  {
    name: 'POST /journal-entries/:id/reversal',
    field: 'date',
    accounting: true,
    call: (d) => post(`/api/v1/journal-entries/${entryId}/reversal`, { date: d }),
  },
  { name: 'GET /funds/:id/journal from', field: 'from', call: (d) => get(`/api/v1/funds/${fundId}/journal?from=${d}`) },
  { name: 'GET /funds/:id/journal to', field: 'to', call: (d) => get(`/api/v1/funds/${fundId}/journal?to=${d}`) },
  { name: 'GET /funds/:id/trial-balance as_of', field: 'as_of', call: (d) => get(`/api/v1/funds/${fundId}/trial-balance?as_of=${d}`) },
  { name: 'GET /funds/:id/journal.csv from', field: 'from', call: (d) => get(`/api/v1/funds/${fundId}/journal.csv?from=${d}`) },
  { name: 'GET /funds/:id/journal.csv to', field: 'to', call: (d) => get(`/api/v1/funds/${fundId}/journal.csv?to=${d}`) },
  { name: 'GET /funds/:id/trial-balance.csv as_of', field: 'as_of', call: (d) => get(`/api/v1/funds/${fundId}/trial-balance.csv?as_of=${d}`) },
  {
    name: 'PUT /departments/:id/status effective_date',
    field: 'effective_date',
    call: (d) => put(`/api/v1/departments/${dept.id}/status`, { status: 'in_progress', effective_date: d }),
  },
  {
    name: 'PUT /departments/:id/status accepted_on',
    field: 'accepted_on',
    call: (d) => put(`/api/v1/departments/${dept.id}/status`, { status: 'completed', effective_date: '2011-08-01', accepted_on: d }),
  },
  {
    name: 'POST /departments/import effective_date',
    field: 'effective_date',
    call: (d) =>
      h.api.post(`/api/v1/departments/import?effective_date=${d}`).set(accountant.auth).set('Content-Type', 'text/csv').send('code,name,group,status,note\n'),
  },
  { name: 'GET /progress as_of', field: 'as_of', call: (d) => get(`/api/v1/progress?as_of=${d}`) },
  { name: 'GET /progress/bulletin.pdf as_of', field: 'as_of', call: (d) => get(`/api/v1/progress/bulletin.pdf?as_of=${d}`) },
  { name: 'PUT /progress/deadline', field: 'deadline', call: (d) => put('/api/v1/progress/deadline', { deadline: d, title: '书面报告' }) },
  {
    name: 'POST /departments/:id/receipts issue_date',
    field: 'issue_date',
    call: (d) => post(`/api/v1/departments/${dept.id}/receipts`, receiptBody(fundId, { issue_date: d })),
  },
  {
    name: 'POST /funds/:id/receipts/import issue_date',
    field: 'issue_date',
    call: (d) => h.api.post(`/api/v1/funds/${fundId}/receipts/import`).set(accountant.auth).set('Content-Type', 'text/csv').send(csvReceipt(d)),
  },
  { name: 'GET /receipts from', field: 'from', call: (d) => get(`/api/v1/receipts?from=${d}`) },
  { name: 'GET /receipts to', field: 'to', call: (d) => get(`/api/v1/receipts?to=${d}`) },
  {
    name: 'POST /funds/:id/allocation-runs as_of',
    field: 'as_of',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/allocation-runs`, { as_of: d }),
  },
  {
    name: 'POST /funds/:id/disbursements',
    field: 'date',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/disbursements`, { department_id: dept.id, amount: '1.00', voucher_no: unique('V'), date: d }),
  },
  {
    name: 'POST /funds/:id/refunds',
    field: 'date',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/refunds`, { department_id: dept.id, amount: '1.00', voucher_no: unique('R'), date: d }),
  },
  {
    name: 'POST /departments/acceptance accepted_on',
    field: 'accepted_on',
    call: (d) => post('/api/v1/departments/acceptance', { department_ids: [dept.id], accepted_on: d }),
  },
  // These two name an object that does not exist here: only the rule a date obeys by itself is tried.
  { name: 'POST /allocation-runs/:id/disbursements', field: 'date', call: (d) => post('/api/v1/allocation-runs/999999999/disbursements', { date: d }) },
  { name: 'POST /finding-clawbacks/:id/approve', field: 'date', call: (d) => post('/api/v1/finding-clawbacks/999999999/approve', { date: d }) },
  {
    name: 'POST /inspections date',
    field: 'date',
    call: (d) =>
      h.api
        .post('/api/v1/inspections')
        .set(inspector.auth)
        .send({ document_no: unique('督'), team: ['张三'], date: d, department_ids: [dept.id] }),
  },
  {
    name: 'POST /inspections/:id/findings deadline',
    field: 'deadline',
    call: (d) =>
      h.api
        .post('/api/v1/inspections/999999999/findings')
        .set(inspector.auth)
        .send({ department_id: dept.id, kind: 'other', description: '说明', deadline: d }),
  },
  {
    name: 'PUT /departments/:id/installed-base as_of',
    field: 'as_of',
    call: (d) => put(`/api/v1/departments/${dept.id}/installed-base`, { as_of: d, computers: 1, servers: 0 }),
  },
  { name: 'GET /progress/escalations as_of', field: 'as_of', call: (d) => get(`/api/v1/progress/escalations?as_of=${d}`) },
  {
    name: 'POST /funds/:id/period-closes through',
    field: 'through',
    accounting: true,
    call: (d) => post(`/api/v1/funds/${fundId}/period-closes`, { through: d }),
  },
];

const snapshot = async () => ({
  funds: await h.db('funds').count<{ n: string }[]>('* as n'),
  entries: await h.db('journal_entries').count<{ n: string }[]>('* as n'),
  pending: await h.db('pending_entries').count<{ n: string }[]>('* as n'),
  receipts: await h.db('receipts').count<{ n: string }[]>('* as n'),
  closes: await h.db('period_closes').count<{ n: string }[]>('* as n'),
  disbursements: await h.db('disbursements').count<{ n: string }[]>('* as n'),
});

describe('every date a person types', () => {
  const impossible = ['0000-01-01', '2011-02-30', '9999-12-31'];
  for (const r of routes) {
    it.each(impossible)(`${r.name}: %s is 422, naming the field, and changes nothing`, async (date) => {
      const before = await snapshot();
      const res = await r.call(date);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(JSON.stringify(res.body.errors ?? res.body.detail)).toContain(r.field.split('.').pop());
      expect(await snapshot()).toEqual(before);
    });
  }
});

describe('export queries', () => {
  it('refuses a parameter an export does not take with 422', async () => {
    for (const path of [
      `/api/v1/funds/${fundId}/journal.csv?as_of=0000-01-01`,
      `/api/v1/funds/${fundId}/journal.xlsx?as_of=2011-07-01`,
      `/api/v1/funds/${fundId}/trial-balance.csv?from=2011-07-01`,
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(422);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it('exports the journal between two dates', async () => {
    // The rows under the header line (the title block comes first).
    const rowsOf = (text: string) =>
      text
        .trim()
        .split('\r\n')
        .slice(
          text
            .trim()
            .split('\r\n')
            .findIndex((l) => l.startsWith('凭证号,')),
        );
    const all = rowsOf((await get(`/api/v1/funds/${fundId}/journal.csv`)).text);
    const none = rowsOf((await get(`/api/v1/funds/${fundId}/journal.csv?to=2010-12-31`)).text);
    expect(all.length).toBeGreaterThan(1);
    expect(none).toHaveLength(1);
  });
});

describe('every accounting date', () => {
  // Real calendar dates, but outside the fund's period: before it opened (2011-01-01), or after today.
  const outOfPeriod = ['1900-01-01', '2010-12-31', '2099-01-01', '2999-12-31'];
  for (const r of routes.filter((x) => x.accounting)) {
    it.each(outOfPeriod)(`${r.name}: %s is 422 and changes nothing`, async (date) => {
      const before = await snapshot();
      const res = await r.call(date);
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(await snapshot()).toEqual(before);
    });
  }

  it('refuses an opening date after today or after the fund’s fiscal year, and takes one before it', async () => {
    const tomorrow = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(Date.now() + 36 * 3600 * 1000));
    for (const [fiscalYear, openingDate] of [
      [2011, '2999-12-31'],
      [2011, tomorrow],
      [2011, '2012-01-01'],
      [2010, '2011-01-01'],
    ] as const) {
      const before = await snapshot();
      const res = await post('/api/v1/funds', { code: unique('F'), name: '资金', fiscal_year: fiscalYear, document_no: 'X', opening_date: openingDate });
      expect(res.status, `${fiscalYear} ${openingDate}`).toBe(422);
      expect(res.body.errors[0].field).toBe('opening_date');
      expect(await snapshot()).toEqual(before);
    }
    const carried = await post('/api/v1/funds', { code: unique('F'), name: '资金', fiscal_year: 2011, document_no: 'X', opening_date: '2010-12-01' });
    expect(carried.body).toMatchObject({ opening_date: '2010-12-01', fiscal_year: 2011 });
  });

  it('takes a fund’s own opening date when given at creation', async () => {
    const created = await post('/api/v1/funds', { code: unique('F'), name: '资金', fiscal_year: 2011, document_no: 'X', opening_date: '2011-07-01' });
    expect(created.body).toMatchObject({ opening_date: '2011-07-01', closed_through: null });
    const early = await post(`/api/v1/funds/${created.body.id}/appropriations`, { amount: '1.00', document_no: 'D', date: '2011-06-30' });
    expect(early.body).toMatchObject({ status: 422, code: 'DATE_OUT_OF_PERIOD' });
    expect((await post(`/api/v1/funds/${created.body.id}/appropriations`, { amount: '1.00', document_no: 'D', date: '2011-07-01' })).status).toBe(201);
    expect((await get(`/api/v1/funds/${fundId}`)).body.opening_date).toBe('2011-01-01');
  });
});
