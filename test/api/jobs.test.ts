import { createHash } from 'node:crypto';
import JSZip from 'jszip';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { claimJob, expireJobResults, startJobRunner, type JobRunner } from '../../server/jobs/job-runner.ts';
import { keepRenderedStatements, nextStatementNumbers, StatementNumbersMoved } from '../../server/statements/statements.ts';
import { csrfToken } from '../../server/ui/session.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { binaryParser } from '../support/pdf-text.ts';

/*
 * Bundles as jobs (DESIGN.md "Scale"): 202 with the job's id, progress, the result when done; a job
 * survives its worker (resumed at the chunk it reached, or failed with the reason), is seen only by
 * whoever asked for it, and its result expires while the statements stay. A database of its own: the
 * bundle covers every unit, and this file's runners must not take other files' jobs.
 */
// Small chunks, so that a few dozen units make several (the service's chunks are larger).
const chunk_units = 10;
const units_n = chunk_units * 2 + 10;
const quiet = { info: () => undefined, warn: () => undefined };
let url: string;
let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let fundId: string;
let runner: JobRunner | undefined;
const wakeable = { wake: () => runner?.wake() };

const start = (o: { stale_ms?: number; attempts_max?: number } = {}) =>
  startJobRunner({
    db: h.db,
    witnessFile: h.witnessFile,
    log: quiet,
    threads: 2,
    retention_ms: 7 * 86_400_000,
    poll_ms: 50,
    heartbeat_ms: 200,
    chunk_units,
    ...o,
  });

async function untilDone(id: string, user: TestUser, timeout_ms = 60_000) {
  const until = Date.now() + timeout_ms;
  for (;;) {
    const res = await h.api.get(`/api/v1/jobs/${id}`).set(user.auth);
    expect(res.status).toBe(200);
    if (res.body.status !== 'queued' && res.body.status !== 'running') return res.body;
    if (Date.now() > until) throw new Error(`job ${id} still ${res.body.status} at ${res.body.done}/${res.body.total}`);
    await sleep(50);
  }
}

const askBundle = (user: TestUser) => h.api.post(`/api/v1/funds/${fundId}/statements/bundle`).set(user.auth).send({});
const zipOf = async (id: string, user: TestUser) => {
  const res = await h.api.get(`/api/v1/jobs/${id}/result`).set(user.auth).buffer(true).parse(binaryParser);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/zip');
  return JSZip.loadAsync(res.body as Buffer);
};
const departmentStatements = async () =>
  Number((await h.db('statements').where({ fund_id: fundId, kind: 'department' }).count<{ n: string }[]>('* as n'))[0]!.n);

beforeAll(async () => {
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_jobs');
  h = openHarness(url, { jobs: wakeable });
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, accountant, '1000000.00');
  for (let i = 0; i < units_n; i++) await makeDepartment(h.db);
}, 60_000);
afterAll(async () => {
  await runner?.stop();
  await assertLedgerInvariants(h.db);
  await h.close();
  await dropDatabase(url);
});

describe('a bundle of every unit’s statement, as a job', () => {
  let firstJob: string;
  let firstZip: Map<string, string>;

  it('answers 202 with the job and its Location, counts every unit, and gives a zip of one recorded statement per unit when done', async () => {
    const res = await askBundle(auditor);
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/api/v1/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({ kind: 'statement_bundle', fund_id: fundId, status: 'queued', done: 0, total: units_n, result_url: null });
    firstJob = res.body.id;
    const early = await h.api.get(`/api/v1/jobs/${firstJob}/result`).set(auditor.auth);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('JOB_NOT_FINISHED');

    runner = start();
    runner.wake();
    const job = await untilDone(firstJob, auditor);
    expect(job).toMatchObject({ status: 'done', done: units_n, total: units_n, error: null, result_url: `/api/v1/jobs/${firstJob}/result` });
    const zip = await zipOf(firstJob, auditor);
    const names = Object.keys(zip.files);
    expect(names).toHaveLength(units_n);
    const recorded = await h
      .db('statements as s')
      .join('departments as d', 'd.id', 's.department_id')
      .where('s.fund_id', fundId)
      .select('d.code', 's.statement_no', 's.sha256');
    expect(recorded).toHaveLength(units_n);
    firstZip = new Map();
    for (const s of recorded) {
      const name = `${s.code}-${s.statement_no}.pdf`;
      const bytes = await zip.file(name)!.async('nodebuffer');
      // The bytes in the zip are the statement's recorded bytes: an auditor can check each one.
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.sha256);
      firstZip.set(name, s.sha256);
    }
    // Numbers without gaps, one per unit.
    const seqs = (await h.db('statements').where({ fund_id: fundId }).orderBy('seq').pluck('seq')).map(Number);
    expect(seqs).toEqual(Array.from({ length: units_n }, (_, i) => i + 1));
    // Downloading the bundle is downloading each statement, as the log of downloads says.
    const downloads = await h.db('statement_downloads').where({ user_id: auditor.id }).count<{ n: string }[]>('* as n');
    expect(Number(downloads[0]!.n)).toBe(units_n);
    // A unit's statement asked for on its own is the one in the bundle (read the same way, the same content): not issued again.
    const one = await h.db('statements').where({ fund_id: fundId }).orderBy('seq', 'desc').first('department_id', 'statement_no', 'sha256');
    const single = await h.api.get(`/api/v1/funds/${fundId}/departments/${one.department_id}/statement.pdf`).set(auditor.auth).buffer(true).parse(binaryParser);
    expect(single.status).toBe(200);
    expect(
      createHash('sha256')
        .update(single.body as Buffer)
        .digest('hex'),
    ).toBe(one.sha256);
  });

  it('a second bundle of unchanged units issues nothing new: the same statements, byte for byte', async () => {
    const res = await askBundle(auditor);
    const job = await untilDone(res.body.id, auditor);
    expect(job.status).toBe('done');
    expect(await departmentStatements()).toBe(units_n);
    const zip = await zipOf(res.body.id, auditor);
    for (const [name, digest] of firstZip)
      expect(
        createHash('sha256')
          .update(await zip.file(name)!.async('nodebuffer'))
          .digest('hex'),
      ).toBe(digest);
  });

  it('is not there for anyone but whoever asked for it: another auditor, an accountant, a unit get 404', async () => {
    const unit = await makeDepartment(h.db);
    for (const other of [await makeUser(h.db, 'auditor'), accountant, await makeUser(h.db, 'department', unit.id)]) {
      for (const path of [`/api/v1/jobs/${firstJob}`, `/api/v1/jobs/${firstJob}/result`]) {
        const res = await h.api.get(path).set(other.auth);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
    }
  });

  it('refuses bad requests with 4xx and queues nothing: no such fund, a unit asking, a malformed id', async () => {
    const before = await h.db('jobs').count<{ n: string }[]>('* as n');
    expect((await h.api.post('/api/v1/funds/999999999/statements/bundle').set(auditor.auth).send({})).status).toBe(404);
    const unit = await makeDepartment(h.db);
    const unitUser = await makeUser(h.db, 'department', unit.id);
    expect((await askBundle(unitUser)).status).toBe(403);
    expect((await h.api.get('/api/v1/jobs/abc').set(auditor.auth)).status).toBe(422);
    expect((await h.api.get('/api/v1/jobs/999999999999').set(auditor.auth)).status).toBe(404);
    expect(await h.db('jobs').count<{ n: string }[]>('* as n')).toEqual(before);
  });
});

describe('a job outlives its worker', () => {
  it('a worker stopped half-way leaves the job running; another resumes it where it stopped, issuing each statement once', async () => {
    await runner?.stop();
    runner = undefined;
    // New content for every unit, so this bundle issues statements again (new numbers).
    await h.db('departments').update({ name: h.db.raw(`name || '（更名）'`) });
    const before = await departmentStatements();
    const units = Number((await h.db('departments').count<{ n: string }[]>('* as n'))[0]!.n);
    const res = await askBundle(accountant);
    const first = start();
    first.wake();
    while (Number((await h.db('jobs').where({ id: res.body.id }).first('done')).done) === 0) await sleep(10);
    await first.stop();
    const halfway = await h.db('jobs').where({ id: res.body.id }).first('status', 'done', 'attempts');
    expect(halfway.status).toBe('running');
    expect(halfway.done).toBeGreaterThan(0);
    expect(halfway.done).toBeLessThan(units);

    // The second worker takes it only once the first one's heartbeat is stale.
    runner = start({ stale_ms: 500 });
    const job = await untilDone(res.body.id, accountant);
    expect(job).toMatchObject({ status: 'done', done: units, total: units, attempts: 2, error: null });
    expect(await departmentStatements()).toBe(before + units);
    const zip = await zipOf(res.body.id, accountant);
    expect(Object.keys(zip.files)).toHaveLength(units);
    const seqs = (await h.db('statements').where({ fund_id: fundId }).orderBy('seq').pluck('seq')).map(Number);
    expect(seqs).toEqual(Array.from({ length: before + units }, (_, i) => i + 1));
  });

  it('a job whose workers kept dying fails with the reason shown, and is never lost', async () => {
    const [row] = await h
      .db('jobs')
      .insert({
        kind: 'statement_bundle',
        fund_id: fundId,
        requested_by: auditor.id,
        request_ip: '127.0.0.1',
        status: 'running',
        heartbeat_at: h.db.raw(`now() - interval '1 hour'`),
        attempts: 3,
        total: 0,
      })
      .returning('id');
    // Claiming finds it abandoned and out of attempts: it fails rather than running a fourth time.
    expect(await claimJob(h.db, 'test', 1000, 3)).toBeUndefined();
    const res = await h.api.get(`/api/v1/jobs/${row.id}`).set(auditor.auth);
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toContain('尝试 3 次');
    const result = await h.api.get(`/api/v1/jobs/${row.id}/result`).set(auditor.auth);
    expect(result.status).toBe(409);
    expect(result.body.detail).toContain('未能完成');
  });

  it('a running job with a fresh heartbeat is left to its worker', async () => {
    const [row] = await h
      .db('jobs')
      .insert({
        kind: 'statement_bundle',
        fund_id: fundId,
        requested_by: auditor.id,
        request_ip: '127.0.0.1',
        status: 'running',
        heartbeat_at: h.db.fn.now(),
        worker: 'alive',
        total: 0,
      })
      .returning('id');
    expect(await claimJob(h.db, 'test', 60_000, 3)).toBeUndefined();
    expect((await h.db('jobs').where({ id: row.id }).first('worker')).worker).toBe('alive');
    await h.db('jobs').where({ id: row.id }).update({ status: 'failed', error: 'test over', finished_at: h.db.fn.now() });
  });
});

describe('numbers a chunk was drawn with', () => {
  it('are kept only if still the next ones: a statement issued meanwhile makes the chunk draw again, and no number is lost or doubled', async () => {
    const unit = await makeDepartment(h.db);
    const ctx = {
      actor: { id: auditor.id, username: auditor.username, role: auditor.role, departmentId: null, sessionId: '' },
      requestId: 't',
      ip: '127.0.0.1',
    };
    const fund = await h.db('funds').where({ id: fundId }).first('code');
    const expected = await nextStatementNumbers(h.db, fundId, fund.code, 1);
    // Someone downloads a unit's statement between the drawing and the keeping: it takes that number.
    const single = await h.api.get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`).set(auditor.auth);
    expect(single.status).toBe(200);
    const before = await h.db('statements').where({ fund_id: fundId }).count<{ n: string }[]>('* as n');
    const drawn = {
      s: {
        fundId,
        fundCode: fund.code,
        kind: 'department' as const,
        departmentId: unit.id,
        contentHash: 'c'.repeat(64),
        head: { seq: 0, hash: '0'.repeat(64) },
      },
      pdf: Buffer.from('%PDF-1.7 drawn with a number someone else took'),
    };
    await expect(h.db.transaction((trx) => keepRenderedStatements(trx, ctx, [drawn], expected, h.witnessFile))).rejects.toBeInstanceOf(StatementNumbersMoved);
    expect(await h.db('statements').where({ fund_id: fundId }).count<{ n: string }[]>('* as n')).toEqual(before);
    // Drawn again with the numbers now next, it is kept under them, right after the single one.
    const again = await nextStatementNumbers(h.db, fundId, fund.code, 1);
    expect(again[0]!.seq).toBe(expected[0]!.seq + 1);
    const [kept] = await h.db.transaction((trx) => keepRenderedStatements(trx, ctx, [drawn], again, h.witnessFile));
    expect(kept!.statement_no).toBe(again[0]!.statementNo);
    const seqs = (await h.db('statements').where({ fund_id: fundId }).orderBy('seq').pluck('seq')).map(Number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});

describe('retention', () => {
  it('a result past its retention expires (410); the statements it held stay', async () => {
    const res = await askBundle(auditor);
    runner!.wake();
    await untilDone(res.body.id, auditor);
    const statements = await departmentStatements();
    await h
      .db('jobs')
      .where({ id: res.body.id })
      .update({ result_expires_at: h.db.raw(`now() - interval '1 second'`) });
    expect(await expireJobResults(h.db)).toBe(1);
    const job = await h.api.get(`/api/v1/jobs/${res.body.id}`).set(auditor.auth);
    expect(job.body).toMatchObject({ status: 'expired', result_url: null });
    const gone = await h.api.get(`/api/v1/jobs/${res.body.id}/result`).set(auditor.auth);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('JOB_EXPIRED');
    expect(await departmentStatements()).toBe(statements);
  });
});

describe('the audit bundle as a job', () => {
  it('builds the same bundle as the download, and gives it when done', async () => {
    const res = await h.api.post(`/api/v1/funds/${fundId}/audit-bundle`).set(auditor.auth).send({});
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: 'audit_bundle', total: null });
    runner!.wake();
    expect((await untilDone(res.body.id, auditor)).status).toBe('done');
    const zip = await zipOf(res.body.id, auditor);
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    expect(manifest).toMatchObject({ format: 'jiangbu-audit-bundle/1', fund_id: fundId });
    expect(Object.keys(manifest.files)).toContain('entries.jsonl');
  });
});

describe('the pages', () => {
  it('ask for a bundle from the fund’s statements page and show its progress, reloading until it is done, then the download', async () => {
    await runner?.stop();
    runner = undefined;
    const cookie = `jb_session=${auditor.token}`;
    const page = await h.api.get(`/funds/${fundId}/statements`).set('Cookie', cookie);
    expect(page.text).toContain(`action="/funds/${fundId}/statements/bundle"`);
    const asked = await h.api
      .post(`/funds/${fundId}/statements/bundle`)
      .set('Cookie', cookie)
      .type('form')
      .send({ _csrf: csrfToken(auditor.token) });
    expect(asked.status).toBe(303);
    const jobPage = asked.headers.location as string;
    const waiting = await h.api.get(jobPage).set('Cookie', cookie);
    const units = Number((await h.db('departments').count<{ n: string }[]>('* as n'))[0]!.n);
    expect(waiting.text).toContain(`<progress value="0" max="${units}">`);
    expect(waiting.text).toContain('<meta http-equiv="refresh" content="2">');
    expect(waiting.text).toContain(`href="${jobPage}">手动刷新`);
    runner = start();
    runner.wake();
    await untilDone(jobPage.split('/').pop()!, auditor);
    const done = await h.api.get(jobPage).set('Cookie', cookie);
    expect(done.text).not.toContain('http-equiv="refresh"');
    expect(done.text).toContain(`href="/api/v1${jobPage}/result"`);
    const listed = await h.api.get(`/funds/${fundId}/statements`).set('Cookie', cookie);
    expect(listed.text).toContain(`href="${jobPage}"`);
  });
});
