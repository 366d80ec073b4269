import { createReadStream, existsSync } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
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
 * `ledger` is the database's identity, because fund ids repeat across databases. The file pins it:
 * its first line names the ledger it witnesses, and the identity in the database is checked against
 * the file, never the other way round (whoever owns the database could change ledger_identity and
 * make every line look like another ledger's). Lines under another ledger are named, not skipped.
 */
export interface WitnessLine {
  ledger: string;
  fund: string;
  seq: number;
  hash: string;
  time: string;
  /** What anchored it: 'statement STMT-NO', 'close …', 'head' (the periodic head), 'bundle'. */
  anchor: string;
  /** The document's number and the SHA-256 of its bytes, for anchors that are documents. */
  ref?: string;
  sha256?: string;
}

/** The first line of a witness file: which ledger it witnesses. */
interface WitnessHeader {
  ledger: string;
  time: string;
  anchor: 'ledger';
}

/** A document that rests on no one fund's chain (a progress bulletin): what it is and its SHA-256. */
interface DocumentLine {
  ledger: string;
  time: string;
  anchor: string;
  ref: string;
  sha256: string;
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
export async function appendWitness(file: string, lines: Array<WitnessLine | WitnessHeader | DocumentLine>): Promise<void> {
  if (lines.length === 0) return;
  try {
    // The directory was made at start-up (assertWitnessWritable); a recursive mkdir here could spin (see db/data-dir.ts).
    await appendFile(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { flag: 'a', mode: 0o640 });
  } catch (e) {
    throw new AppError('UNAVAILABLE', `见证文件 ${file} 无法写入（${(e as NodeJS.ErrnoException).code ?? String(e)}），请联系管理员`, undefined, {
      'Retry-After': '60',
    });
  }
}

/** At start-up: the witness file must be writable, or the service says so in one line and stops. */
export async function assertWitnessWritable(file: string): Promise<void> {
  try {
    await ensureWritableDir(dirname(file));
    await appendFile(file, '', { flag: 'a', mode: 0o640 });
  } catch (e) {
    if (e instanceof StartupError)
      throw new StartupError(
        `WITNESS_FILE ${file} cannot be written (${e.message.replace(/^DATA_DIR \S+ cannot be used: /, '').replace(/; set DATA_DIR.*$/, '')}): set WITNESS_FILE to a writable path`,
      );
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
  a: { fundId: string; seq: number; hash: string; source: 'statement' | 'close' | 'bundle' | 'bulletin'; ref: string; sha256?: string },
): Promise<void> {
  await recordAnchors(trx, witnessFile, [a]);
}

/** Several anchors at once (a bundle's chunk of statements): one insert and one append to the witness. */
export async function recordAnchors(
  trx: Knex,
  witnessFile: string,
  anchors: Array<{ fundId: string; seq: number; hash: string; source: 'statement' | 'close' | 'bundle' | 'bulletin'; ref: string; sha256?: string }>,
): Promise<void> {
  if (anchors.length === 0) return;
  await trx('ledger_anchors').insert(anchors.map((a) => ({ fund_id: a.fundId, seq: a.seq, hash: a.hash, source: a.source, ref: a.ref })));
  // No anchor without its witness line: a document that cannot be witnessed is not issued.
  const ledger = await ledgerIdentity(trx);
  const time = new Date().toISOString();
  await appendWitness(
    witnessFile,
    anchors.map((a) => ({
      ledger,
      fund: a.fundId,
      seq: a.seq,
      hash: a.hash,
      time,
      anchor: `${a.source} ${a.ref}`,
      ref: a.ref,
      ...(a.sha256 ? { sha256: a.sha256 } : {}),
    })),
  );
}

/**
 * Records a document that rests on no one fund's chain (a progress bulletin) in the witness: its
 * SHA-256 and what it is, with the time, so that a copy shown later can be checked against a line the
 * database's owner could not rewrite.
 */
export async function witnessDocument(db: Knex, witnessFile: string, d: { kind: 'bulletin'; ref: string; sha256: string }): Promise<void> {
  await appendWitness(witnessFile, [
    { ledger: await ledgerIdentity(db), time: new Date().toISOString(), anchor: `${d.kind} ${d.ref}`, ref: `${d.kind} ${d.ref}`, sha256: d.sha256 },
  ]);
}

export type WitnessState = 'missing' | 'empty' | 'lines';

/** Whether the witness file is there and holds anything: asked at start, before anything writes it. */
export async function witnessState(file: string): Promise<WitnessState> {
  if (!existsSync(file)) return 'missing';
  return (await stat(file)).size > 0 ? 'lines' : 'empty';
}

/**
 * Makes sure the witness file exists and names its ledger on its first line. A file that is missing or
 * empty at start is said out loud (it may have been removed or emptied), then begun again.
 */
export async function ensureWitness(file: string, ledger: string, log: { warn(m: string): void }, before: WitnessState): Promise<void> {
  if (before === 'lines') {
    const first = await firstLedger(file);
    if (first && first !== ledger) log.warn(`witness file ${file} witnesses ledger ${first}, but this database says it is ${ledger}: verify will report it`);
    return;
  }
  log.warn(
    before === 'missing'
      ? `witness file ${file} does not exist: starting a new one (if it existed before, it was removed)`
      : `witness file ${file} is empty: starting it again (if it held lines, they were erased)`,
  );
  // Its directory was made by assertWitnessWritable.
  await appendWitness(file, [{ ledger, time: new Date().toISOString(), anchor: 'ledger' }]);
}

async function firstLedger(file: string): Promise<string | null> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (text.trim() === '') continue;
      try {
        const l = JSON.parse(text) as { ledger?: unknown };
        return typeof l.ledger === 'string' ? l.ledger : null;
      } catch {
        return null;
      }
    }
    return null;
  } finally {
    lines.close();
  }
}

export interface WitnessRead {
  /** The ledger the file witnesses (its first line), or null for an empty or missing file. */
  ledger: string | null;
  anchors: Anchor[];
  /** Lines of this fund that name documents: ref → {seq, hash, sha256}. */
  documents: Map<string, { seq: number; hash: string; sha256?: string; line: number }>;
  unreadable: number[];
  /** Lines under another ledger than the first line names. */
  foreign: number[];
  exists: boolean;
}

/** Every line of the witness about one fund of the ledger the file itself names, streamed; a line that does not parse is reported, not skipped. */
export async function readWitness(file: string, fundId: string): Promise<WitnessRead> {
  const read: WitnessRead = { ledger: null, anchors: [], documents: new Map(), unreadable: [], foreign: [], exists: existsSync(file) };
  if (!read.exists) return read;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let line: Partial<WitnessLine>;
    try {
      line = JSON.parse(text) as Partial<WitnessLine>;
    } catch {
      read.unreadable.push(n);
      continue;
    }
    if (typeof line.ledger !== 'string') {
      read.unreadable.push(n);
      continue;
    }
    read.ledger ??= line.ledger;
    if (line.ledger !== read.ledger) {
      read.foreign.push(n);
      continue;
    }
    if (line.fund === undefined && (line.anchor as string | undefined) === 'ledger') continue;
    if (line.fund !== fundId) continue;
    if (!Number.isSafeInteger(line.seq) || typeof line.hash !== 'string' || !/^[0-9a-f]{64}$/.test(line.hash)) {
      read.unreadable.push(n);
      continue;
    }
    read.anchors.push({ seq: line.seq!, hash: line.hash, source: `witness ${file.split('/').pop()}:${n} (${line.anchor ?? 'head'}, ${line.time ?? '?'})` });
    // Lines written before they carried `ref` name the document in `anchor` ('statement NO').
    const ref = typeof line.ref === 'string' ? line.ref : /^(?:statement|bulletin|close|bundle) (.+)$/.exec(line.anchor ?? '')?.[1];
    if (ref !== undefined)
      read.documents.set(ref, { seq: line.seq!, hash: line.hash, ...(typeof line.sha256 === 'string' ? { sha256: line.sha256 } : {}), line: n });
  }
  return read;
}

/** What the witness as a whole says is wrong, beside its anchors: kind and detail, for verify. */
export function witnessProblems(
  read: WitnessRead,
  databaseLedger: string,
  anchorsInDatabase: number,
): Array<{ kind: 'witness_ledger' | 'witness_foreign' | 'witness_missing'; detail: string }> {
  const problems: Array<{ kind: 'witness_ledger' | 'witness_foreign' | 'witness_missing'; detail: string }> = [];
  if (read.ledger && read.ledger !== databaseLedger) {
    problems.push({
      kind: 'witness_ledger',
      detail: `数据库记录的账簿标识 ${databaseLedger} 与见证文件首行所记 ${read.ledger} 不符（账簿标识被改动，或见证文件不属于本账簿）`,
    });
  }
  if (read.foreign.length) {
    problems.push({
      kind: 'witness_foreign',
      detail: `见证文件中有 ${read.foreign.length} 行属于另一账簿（第 ${read.foreign.slice(0, 5).join('、')}${read.foreign.length > 5 ? ' 等' : ''} 行），与文件首行所记账簿不符`,
    });
  }
  if (anchorsInDatabase > 0 && read.anchors.length === 0) {
    problems.push({
      kind: 'witness_missing',
      detail: read.exists
        ? `数据库中本资金有 ${anchorsInDatabase} 个锚点，见证文件中却没有本资金的任何一行（见证文件被清空、截断或调换）`
        : `数据库中本资金有 ${anchorsInDatabase} 个锚点，见证文件却不存在（被删除或配置指向了别处）`,
    });
  }
  return problems;
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
      await appendWitness(
        file,
        moved.map((f) => ({ ledger, fund: String(f.id), seq: Number(f.head_seq), hash: String(f.head_hash), time, anchor: 'head' })),
      );
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

/** The SHA-256 the witness recorded for a document that rests on no one fund's chain (`bulletin 文号`), if it has a line for it. */
export async function witnessedDocumentSha256(file: string, ref: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  let found: string | undefined;
  for await (const text of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (!text.includes(ref)) continue;
    try {
      const line = JSON.parse(text) as Partial<DocumentLine> & { fund?: unknown };
      if (line.fund === undefined && line.ref === ref && typeof line.sha256 === 'string') found = line.sha256;
    } catch {
      // An unreadable line is verify's to report; it witnesses nothing here.
    }
  }
  return found;
}
