import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWitness, readWitness, witnessProblems, witnessState } from '../../server/ledger/witness.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jiangbu-witness-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ledger = '11111111-1111-4111-8111-111111111111';
const other = '22222222-2222-4222-8222-222222222222';
const line = (l: string, seq: number) => JSON.stringify({ ledger: l, fund: '7', seq, hash: 'b'.repeat(64), time: '2011-07-01T00:00:00Z', anchor: 'head' });

describe('the witness file', () => {
  it('missing or empty at start: one warning line, then begun again naming its ledger', async () => {
    const warnings: string[] = [];
    const file = join(dir, 'w.jsonl');
    await ensureWitness(file, ledger, { warn: (m) => warnings.push(m) }, await witnessState(file));
    expect(warnings).toEqual([expect.stringContaining('does not exist')]);
    expect(JSON.parse((await readFile(file, 'utf8')).trim())).toMatchObject({ ledger, anchor: 'ledger' });
    await writeFile(file, '');
    await ensureWitness(file, ledger, { warn: (m) => warnings.push(m) }, await witnessState(file));
    expect(warnings[1]).toContain('is empty');
    await ensureWitness(file, other, { warn: (m) => warnings.push(m) }, await witnessState(file));
    expect(warnings[2]).toContain(`witnesses ledger ${ledger}`);
  });

  it('is read under the ledger its first line names; lines of another ledger and a changed database identity are named', async () => {
    const file = join(dir, 'x.jsonl');
    await writeFile(file, `${line(ledger, 1)}\n${line(other, 2)}\n`);
    const read = await readWitness(file, '7');
    expect(read.ledger).toBe(ledger);
    expect(read.anchors.map((a) => a.seq)).toEqual([1]);
    expect(read.foreign).toEqual([2]);
    expect(witnessProblems(read, other, 1).map((p) => p.kind)).toEqual(['witness_ledger', 'witness_foreign']);
    expect(witnessProblems(await readWitness(join(dir, 'none.jsonl'), '7'), ledger, 3).map((p) => p.kind)).toEqual(['witness_missing']);
  });
});
