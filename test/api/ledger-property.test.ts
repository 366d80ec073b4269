import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let departments: string[];
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  departments = [(await makeDepartment(h.db)).code, (await makeDepartment(h.db)).code];
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

type P = [string, 'debit' | 'credit', string];
const normalDebit = (code: string) => /^(1011|8001|5001|7101)/.test(code);
const guarded = (code: string) => /^(1011|8001|2307)/.test(code);

const amount = fc.integer({ min: 1, max: 50_000 }).map((fen) => new Decimal(fen).div(100).toFixed(2));
const dept = fc.integer({ min: 0, max: 1 });
const op = fc.oneof(
  fc.record({ t: fc.constant('appropriate' as const), amount }),
  fc.record({ t: fc.constant('allocate' as const), amount, dept }),
  fc.record({ t: fc.constant('pay' as const), amount, dept }),
  fc.record({ t: fc.constant('clawback' as const), amount, dept }),
  fc.record({ t: fc.constant('batch' as const), amounts: fc.array(amount, { minLength: 1, maxLength: 5 }), dept }),
  fc.record({ t: fc.constant('reverse' as const), pick: fc.nat() }),
);

function postingsOf(o: { t: string; amount?: string; dept?: number }, d: (i: number) => string): P[] {
  const a = o.amount!;
  const c = o.dept === undefined ? '' : d(o.dept);
  switch (o.t) {
    case 'appropriate':
      return [
        ['1011', 'debit', a],
        ['4001', 'credit', a],
        ['8001', 'debit', a],
        ['6001', 'credit', a],
      ];
    case 'allocate':
      return [
        [`5001.${c}`, 'debit', a],
        [`2307.${c}`, 'credit', a],
      ];
    case 'pay':
      return [
        [`2307.${c}`, 'debit', a],
        ['1011', 'credit', a],
        [`7101.${c}`, 'debit', a],
        ['8001', 'credit', a],
      ];
    default:
      return [
        [`2307.${c}`, 'debit', a],
        [`5001.${c}`, 'credit', a],
      ];
  }
}

/** The model: balances in normal-side terms, and whether a set of entries fits the guards. */
class Model {
  balances = new Map<string, Decimal>();
  entries: Array<{ id: string; postings: P[]; reversed: boolean; isReversal: boolean }> = [];
  tryApply(entries: P[][]): boolean {
    const next = new Map(this.balances);
    for (const postings of entries) {
      for (const [code, side, amt] of postings) {
        const effect = new Decimal(amt).times((side === 'debit') === normalDebit(code) ? 1 : -1);
        const b = (next.get(code) ?? new Decimal(0)).plus(effect);
        if (guarded(code) && b.isNegative()) return false;
        next.set(code, b);
      }
      // No allocation run here, so `allocated` (kept by kind) stays 0: budget control never refuses.
    }
    this.balances = next;
    return true;
  }
}

const approve = (path: string) => h.api.post(path).set(checker.auth).send({});

describe('random sequences of postings', () => {
  it('are prepared, and posted on approval exactly when they fit, leaving balanced books, true balances and a verifiable chain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const fundId = await makeFund(h, accountant);
        const model = new Model();
        const send = (postings: P[]) => ({
          date: '2011-07-01',
          memo: 'property',
          postings: postings.map(([account_code, side, amount]) => ({ account_code, side, amount })),
        });
        for (const o of ops) {
          if (o.t === 'reverse') {
            if (model.entries.length === 0) continue;
            const target = model.entries[o.pick % model.entries.length]!;
            const mirror = target.postings.map(([c, s, a]): P => [c, s === 'debit' ? 'credit' : 'debit', a]);
            const prepared = await h.api.post(`/api/v1/journal-entries/${target.id}/reversal`).set(accountant.auth).send({});
            const reversible = !target.reversed && !target.isReversal;
            expect(prepared.status, JSON.stringify(prepared.body)).toBe(reversible ? 201 : 409);
            if (!reversible) continue;
            const res = await approve(`/api/v1/journal-entries/${prepared.body.id}/approve`);
            const fits = model.tryApply([mirror]);
            expect(res.status, JSON.stringify(res.body)).toBe(fits ? 200 : 409);
            if (!fits) await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/reject`).set(checker.auth).send({ reason: '余额不足' });
            if (fits) {
              target.reversed = true;
              model.entries.push({ id: res.body.id, postings: mirror, reversed: false, isReversal: true });
            }
          } else if (o.t === 'batch') {
            const entries = o.amounts.map((a) => postingsOf({ t: 'allocate', amount: a, dept: o.dept }, (i) => departments[i]!));
            const prepared = await h.api
              .post(`/api/v1/funds/${fundId}/journal-entries/batch`)
              .set(accountant.auth)
              .send({ entries: entries.map(send) });
            expect(prepared.status, JSON.stringify(prepared.body)).toBe(201);
            const res = await approve(`/api/v1/journal-entry-batches/${prepared.body.id}/approve`);
            const fits = model.tryApply(entries);
            expect(res.status, JSON.stringify(res.body)).toBe(fits ? 200 : 409);
            if (fits)
              res.body.items.forEach((e: { id: string }, i: number) =>
                model.entries.push({ id: e.id, postings: entries[i]!, reversed: false, isReversal: false }),
              );
          } else {
            const postings = postingsOf(o, (i) => departments[i]!);
            const prepared =
              o.t === 'appropriate'
                ? await h.api
                    .post(`/api/v1/funds/${fundId}/appropriations`)
                    .set(accountant.auth)
                    .send({ amount: o.amount, document_no: 'P', date: '2011-07-01' })
                : await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(send(postings));
            expect(prepared.status, JSON.stringify(prepared.body)).toBe(201);
            const res = await approve(`/api/v1/journal-entries/${prepared.body.id}/approve`);
            const fits = model.tryApply([postings]);
            expect(res.status, JSON.stringify(res.body)).toBe(fits ? 200 : 409);
            if (fits) model.entries.push({ id: res.body.id, postings, reversed: false, isReversal: false });
          }
          const accounts = await h.db('accounts').where({ fund_id: fundId }).select('code', 'balance');
          for (const a of accounts) expect(a.balance, a.code).toBe((model.balances.get(a.code) ?? new Decimal(0)).toFixed(2));
          const verify = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(accountant.auth);
          expect(verify.body).toMatchObject({ ok: true, entries: model.entries.length });
        }
      }),
      { numRuns: 25 },
    );
  });
});
