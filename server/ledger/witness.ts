import { createReadStream, existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Knex } from 'knex';
import { ensureWritableDir } from '../../db/data-dir.ts';
import { AppError } from '../errors.ts';
import { StartupError } from '../startup-error.ts';

/*
 * The witness: an append-only file of JSON lines, outside the database, each a chain head someone
 * relied on — {ledger, fund, seq, hash, time, anchor}. Whoever owns the database can rewrite the
 * chain and its anchors table, but not what was written here (ship it elsewhere: WITNESS_FILE).
 * `ledger` is the database's identity, because fund ids repeat across databases.
 */
export interface WitnessLine {
  ledger: string;
  fund: string;
  seq: number;
  hash: string;
  time: string;
  /** What anchored it: 'statement STMT-NO', 'close …', 'head' (the periodic head), 'bundle'. */
  anchor: string;
}

export interface Anchor {
  seq: number;
  hash: string;
  source: string;
}

export function witnessFileOf(config: { dataDir: string; witnessFile?: string | undefined }): string {
  return config.witnessFile ?? join(config.dataDir, 'witness.jsonl');
}

export async function ledgerIdentity(db: Knex): Promise<string> {
  return String((await db('ledger_identity').first('id')).id);
}

/** One write with O_APPEND per call: lines of concurrent writers never interleave within a line. */
export async function appendWitness(file: string, lines: WitnessLine[]): Promise<void> {
  if (lines.length === 0) return;
  try {
    // The directory was made at start-up (assertWitnessWritable); a recursive mkdir here could spin (see db/data-dir.ts).
    await appendFile(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { flag: 'a', mode: 0o640 });
  } catch (e) {
    throw new AppError('UNAVAILABLE', `见证文件 ${file} 无法写入（${(e as NodeJS.ErrnoException).code ?? String(e)}），请联系管理员`, undefined, { 'Retry-After': '60' });
  }
}

/** At start-up: the witness file must be writable, or the service says so in one line and stops. */
export async function assertWitnessWritable(file: string): Promise<void> {
  try {
    await ensureWritableDir(dirname(file));
    await appendFile(file, '', { flag: 'a', mode: 0o640 });
  } catch (e) {
    if (e instanceof StartupError) throw new StartupError(`WITNESS_FILE ${file} cannot be written (${e.message.replace(/^DATA_DIR \S+ cannot be used: /, '').replace(/; set DATA_DIR.*$/, '')}): set WITNESS_FILE to a writable path`);
    throw new StartupError(`WITNESS_FILE ${file} cannot be written (${(e as NodeJS.ErrnoException).code ?? String(e)}): set WITNESS_FILE to a writable path`);
  }
}

/**
 * Records an anchor in the database (ledger_anchors) and in the witness file. Called inside the
 * transaction that issues the document, so a document that fails leaves no database anchor; its
 * witness line, for a head that was committed anyway, does no harm.
 */
export async function recordAnchor(
  trx: Knex,
  witnessFile: string,
  a: { fundId: string; seq: number; hash: string; source: 'statement' | 'close' | 'bundle'; ref: string },
): Promise<void> {
  await trx('ledger_anchors').insert({ fund_id: a.fundId, seq: a.seq, hash: a.hash, source: a.source, ref: a.ref });
  // No anchor without its witness line: a document that cannot be witnessed is not issued.
  await appendWitness(witnessFile, [{ ledger: await ledgerIdentity(trx), fund: a.fundId, seq: a.seq, hash: a.hash, time: new Date().toISOString(), anchor: `${a.source} ${a.ref}` }]);
}

/** The witness lines of one fund of this ledger, streamed; a line that does not parse is reported, not skipped. */
export async function readWitness(file: string, ledger: string, fundId: string): Promise<{ anchors: Anchor[]; unreadable: number[] }> {
  const anchors: Anchor[] = [];
  const unreadable: number[] = [];
  if (!existsSync(file)) return { anchors, unreadable };
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let line: Partial<WitnessLine>;
    try {
      line = JSON.parse(text) as Partial<WitnessLine>;
    } catch {
      unreadable.push(n);
      continue;
    }
    if (line.ledger !== ledger || line.fund !== fundId) continue;
    if (!Number.isSafeInteger(line.seq) || typeof line.hash !== 'string' || !/^[0-9a-f]{64}$/.test(line.hash)) {
      unreadable.push(n);
      continue;
    }
    anchors.push({ seq: line.seq!, hash: line.hash, source: `witness ${file.split('/').pop()}:${n} (${line.anchor ?? 'head'}, ${line.time ?? '?'})` });
  }
  return { anchors, unreadable };
}

const headInterval_ms = 30_000;

/**
 * Writes each fund's head to the witness when it has moved: at least one head per minute of posting
 * (every 30 s, so a minute always holds one). Returns a stop function.
 */
export function startWitness(db: Knex, file: string, log: { warn(m: string): void }, interval_ms = headInterval_ms): { stop(): void; tick(): Promise<void> } {
  const written = new Map<string, string>();
  let running = false;
  async function tick(): Promise<void> {
    if (running) return;
    running = true;
    try {
      const ledger = await ledgerIdentity(db);
      const heads = await db('funds').where('head_seq', '>', 0).select('id', 'head_seq', 'head_hash');
      const time = new Date().toISOString();
      const moved = heads.filter((f) => written.get(String(f.id)) !== `${f.head_seq}:${f.head_hash}`);
      await appendWitness(file, moved.map((f) => ({ ledger, fund: String(f.id), seq: Number(f.head_seq), hash: String(f.head_hash), time, anchor: 'head' })));
      for (const f of moved) written.set(String(f.id), `${f.head_seq}:${f.head_hash}`);
    } catch (e) {
      log.warn(`witness: could not write the chain heads: ${String(e)}`);
    } finally {
      running = false;
    }
  }
  const timer = setInterval(() => void tick(), interval_ms);
  timer.unref();
  void tick();
  return { stop: () => clearInterval(timer), tick };
}
