import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser } from '../support/pdf-text.ts';
import { receiptBody } from '../support/receipts.ts';

const run = promisify(execFile);
let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let fundId: string;
let dir: string;

beforeAll(async () => {
  h = openHarness();
  dir = await mkdtemp(join(tmpdir(), 'jiangbu-bundle-test-'));
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, maker, '1000000.00');
  await h.api
    .put(`/api/v1/funds/${fundId}/policy`)
    .set(maker.auth)
    .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: { office: '600.00' }, require_completed: true });
  for (const amount of ['8200.00', '14095.00']) {
    const d = await makeDepartment(h.db);
    await h.api
      .put(`/api/v1/departments/${d.id}/status`)
      .set(maker.auth)
      .send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' });
    const receipt = await h.api
      .post(`/api/v1/departments/${d.id}/receipts`)
      .set(maker.auth)
      .send(receiptBody(fundId, { lines: [{ product: 'Windows 7', category: 'os', licences: 10, amount }], total: amount }));
    await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
  }
  const r = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
  expect((await h.api.post(`/api/v1/allocation-runs/${r.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
  const line = r.body.lines[0];
  const pay = await h.api
    .post(`/api/v1/funds/${fundId}/disbursements`)
    .set(maker.auth)
    .send({ department_id: line.department_id, amount: '1000.00', voucher_no: unique('付'), date: '2011-10-08' });
  await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
  expect((await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(auditor.auth)).status).toBe(200);
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

async function verifyBundle(bytes: Buffer, witness?: string): Promise<{ code: number; out: string }> {
  const file = join(dir, `${unique('b')}.zip`);
  await writeFile(file, bytes);
  const extra: string[] = [];
  if (witness !== undefined) {
    extra.push('--witness', join(dir, `${unique('w')}.jsonl`));
    await writeFile(extra[1]!, witness);
  }
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/verify-bundle.ts', file, ...extra], {
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    });
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  }
}

/** Rewrites one posting amount of entry `seq` in entries.jsonl; with `forgeManifest`, also fixes the manifest's SHA-256. */
async function flipAmount(bundle: Buffer, seq: number, forgeManifest: boolean): Promise<Buffer> {
  const zip = await JSZip.loadAsync(bundle);
  const lines = (await zip.file('entries.jsonl')!.async('string')).split('\n');
  const i = lines.findIndex((l) => l && JSON.parse(l).seq === seq);
  const entry = JSON.parse(lines[i]!);
  entry.postings[0].amount = '99999.00';
  lines[i] = JSON.stringify(entry);
  const text = lines.join('\n');
  zip.file('entries.jsonl', text);
  if (forgeManifest) {
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    manifest.files['entries.jsonl'] = { sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text) };
    zip.file('manifest.json', JSON.stringify(manifest));
  }
  return zip.generateAsync({ type: 'nodebuffer' });
}

describe('the offline audit bundle', () => {
  it('is for accountants and auditors; a unit gets 403 and an unknown fund 404', async () => {
    const unit = await makeUser(h.db, 'department', (await makeDepartment(h.db)).id);
    expect((await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(unit.auth)).status).toBe(403);
    expect((await h.api.get('/api/v1/funds/999999999/audit-bundle.zip').set(auditor.auth)).status).toBe(404);
  });

  it('round trip: download → verify-bundle exits 0 with every check held; one flipped amount → exit 1 naming it', async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(auditor.auth).buffer(true).parse(binaryParser);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['cache-control']).toBe('no-store');
    const zip = await JSZip.loadAsync(res.body);
    expect(Object.keys(zip.files).sort()).toEqual(
      [
        'accounts.csv',
        'accounts.json',
        'anchors.json',
        'attachments.json',
        'entries.jsonl',
        'fund.json',
        'manifest.json',
        'payments.json',
        'policies.json',
        'postings.csv',
        'runs.json',
        'statements.json',
      ].sort(),
    );
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;
    expect(manifest).toMatchObject({ format: 'jiangbu-audit-bundle/1', fund_id: fundId, entries: fund.entries ?? manifest.head.seq });

    const good = await verifyBundle(res.body);
    expect(good.out).not.toContain('FAIL');
    expect(good.out).toContain('the bundle holds');
    expect(good.out).toMatch(/OK\s+trial balance, financial book/);
    expect(good.out).toMatch(/OK\s+trial balance, budget book/);
    expect(good.out).toMatch(/OK\s+allocation runs: each total is the sum of its lines \(1 runs\)/);
    expect(good.code).toBe(0);

    const flipped = await verifyBundle(await flipAmount(res.body, 2, false));
    expect(flipped.code).toBe(1);
    expect(flipped.out).toContain('entries.jsonl: SHA-256 differs from the manifest');
    expect(flipped.out).toContain('entry_hash seq 2');

    // A forger who also rewrites the manifest is still named by the chain.
    const forged = await verifyBundle(await flipAmount(res.body, 2, true));
    expect(forged.code).toBe(1);
    expect(forged.out).not.toContain('SHA-256 differs');
    expect(forged.out).toContain('entry_hash seq 2');
  });

  it("an auditor's own witness file that saw a longer chain than the bundle shows: exit 1, the tail was cut", async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(auditor.auth).buffer(true).parse(binaryParser);
    const manifest = JSON.parse(await (await JSZip.loadAsync(res.body)).file('manifest.json')!.async('string'));
    const line = (seq: number, hash: string) =>
      JSON.stringify({ ledger: manifest.ledger, fund: fundId, seq, hash, time: new Date().toISOString(), anchor: 'head' });
    const same = await verifyBundle(res.body, `${line(manifest.head.seq, manifest.head.hash)}\n`);
    expect(same.code).toBe(0);
    const longer = await verifyBundle(res.body, `${line(manifest.head.seq + 1, 'a'.repeat(64))}\n`);
    expect(longer.code).toBe(1);
    expect(longer.out).toContain(`anchor_beyond_head seq ${manifest.head.seq + 1}`);
  });

  it('verify-bundle --witness trusts the ledger its witness names, not the manifest: a manifest naming another ledger still meets the witness lines', async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(auditor.auth).buffer(true).parse(binaryParser);
    const zip = await JSZip.loadAsync(res.body);
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    const witness = `${JSON.stringify({ ledger: manifest.ledger, fund: fundId, seq: manifest.head.seq + 1, hash: 'a'.repeat(64), time: new Date().toISOString(), anchor: 'head' })}\n`;
    zip.file('manifest.json', JSON.stringify({ ...manifest, ledger: '00000000-0000-4000-8000-000000000000' }));
    const forged = await verifyBundle(await zip.generateAsync({ type: 'nodebuffer' }), witness);
    expect(forged.code).toBe(1);
    expect(forged.out).toContain(`your witness witnesses ledger ${manifest.ledger}`);
    expect(forged.out).toContain(`anchor_beyond_head seq ${manifest.head.seq + 1}`);
    const empty = await verifyBundle(res.body, '');
    expect(empty.code).toBe(1);
    expect(empty.out).toContain('your witness has no line for fund');
  });

  it('postings.csv, accounts.csv and statements.json are checked against the hashed entries, even with the manifest recomputed; the download is anchored in the witness', async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(auditor.auth).buffer(true).parse(binaryParser);
    const { readFile } = await import('node:fs/promises');
    const manifestText = await (await JSZip.loadAsync(res.body)).file('manifest.json')!.async('string');
    const witness = (await readFile(h.witnessFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(witness).toContainEqual(
      expect.objectContaining({ fund: fundId, anchor: expect.stringMatching(/^bundle /), sha256: createHash('sha256').update(manifestText).digest('hex') }),
    );
    const edit = async (name: string, change: (text: string) => string) => {
      const zip = await JSZip.loadAsync(res.body);
      const text = change(await zip.file(name)!.async('string'));
      zip.file(name, text);
      const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
      manifest.files[name] = { sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text) };
      zip.file('manifest.json', JSON.stringify(manifest));
      return verifyBundle(await zip.generateAsync({ type: 'nodebuffer' }));
    };
    const postings = await edit('postings.csv', (t) => t.replace(/,(\d+\.\d{2}),/, (_m, a: string) => `,${(Number(a) + 1).toFixed(2)},`));
    expect(postings.code).toBe(1);
    expect(postings.out).toContain('postings.csv: a posting of entry');
    const accounts = await edit('accounts.csv', (t) => t.replace(/\n1011,([^\n]*),(\d+\.\d{2})\n/, (_m, mid: string) => `\n1011,${mid},1.00\n`));
    expect(accounts.code).toBe(1);
    expect(accounts.out).toContain('accounts.csv line');
    const statements = await edit('statements.json', (t) => t.replace(/"head_hash": "[0-9a-f]{64}"/, `"head_hash": "${'c'.repeat(64)}"`));
    expect(statements.code).toBe(1);
    expect(statements.out).toContain('statements.json:');
  });

  it("the fund's verify page links the bundle, which the signed-in auditor's session downloads", async () => {
    const page = await h.api.get(`/funds/${fundId}/verify`).set('Cookie', `jb_session=${auditor.token}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('账簿完整');
    expect(page.text).toContain(`href="/api/v1/funds/${fundId}/audit-bundle.zip"`);
    const zip = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set('Cookie', `jb_session=${auditor.token}`).buffer(true).parse(binaryParser);
    expect(zip.status).toBe(200);
    expect(Object.keys((await JSZip.loadAsync(zip.body)).files)).toContain('manifest.json');
  });

  it("statements' heads anchor the chain on their own: a bundle whose statement saw entries the chain no longer has fails", async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/audit-bundle.zip`).set(auditor.auth).buffer(true).parse(binaryParser);
    const zip = await JSZip.loadAsync(res.body);
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    const statements = JSON.parse(await zip.file('statements.json')!.async('string'));
    expect(statements.length).toBeGreaterThan(0);
    // As if the tail after the statement had been cut and anchors.json cleaned: the statement still says how far the chain went.
    statements[0].head_seq = manifest.head.seq + 3;
    const text = JSON.stringify(statements);
    zip.file('statements.json', text);
    manifest.files['statements.json'] = { sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text) };
    zip.file('manifest.json', JSON.stringify(manifest));
    const out = await verifyBundle(await zip.generateAsync({ type: 'nodebuffer' }));
    expect(out.code).toBe(1);
    expect(out.out).toContain(`anchor_beyond_head seq ${manifest.head.seq + 3}`);
    expect(out.out).toContain(`statement ${statements[0].statement_no}`);
  });
});
