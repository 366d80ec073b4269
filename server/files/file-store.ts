import busboy from 'busboy';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Request } from 'express';
import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import { csrfRefusal } from '../ui/session.ts';
import { hasActiveContent, sanitiseFileName, sniffMediaType, type MediaType } from './sniff.ts';

export interface StoredFile {
  sha256: string;
  mediaType: MediaType;
  size: number;
  activeContent: boolean;
  fileName: string;
}

const filesDir = (dataDir: string) => join(dataDir, 'files');
export const pathOf = (dataDir: string, sha256: string) => join(filesDir(dataDir), sha256.slice(0, 2), sha256);

/** Most files one request may carry (several pages of one invoice, say). */
export const filesPerRequest_max = 20;

/**
 * Hands each multipart field `file` to `consume` as a stream, in order. Any file over `maxBytes`:
 * 413 (busboy cuts the stream; whatever `consume` kept is its to discard). More than `maxFiles`: 413.
 * No such field: an empty list.
 */
async function withFileParts<T>(
  req: Request,
  maxBytes: number,
  maxFiles: number,
  consume: (stream: NodeJS.ReadableStream, fileName: string) => Promise<T>,
): Promise<T[]> {
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', '请以 multipart/form-data 上传，字段名为 "file"');
  }
  return new Promise<T[]>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: maxFiles, fileSize: maxBytes, fields: 5, parts: maxFiles + 5 }, defParamCharset: 'utf8' });
    } catch {
      return reject(new AppError('MALFORMED_REQUEST', '无法读取上传内容'));
    }
    const pending: Array<Promise<T>> = [];
    let tooLarge = false;
    let tooMany = false;
    // A page's upload form proves itself with its first field; no file is read before that.
    let csrfPassed = req.csrfInBody === undefined;
    parser.on('field', (name, value) => {
      if (name === '_csrf' && value === req.csrfInBody) csrfPassed = true;
    });
    parser.on('file', (field, stream, info) => {
      if (!csrfPassed) {
        stream.resume();
        req.unpipe(parser);
        req.resume();
        return reject(new AppError('FORBIDDEN', csrfRefusal));
      }
      if (field !== 'file') {
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        tooLarge = true;
      });
      pending.push(consume(stream, sanitiseFileName(info.filename)));
    });
    parser.on('filesLimit', () => {
      tooMany = true;
    });
    parser.on('error', () => reject(new AppError('MALFORMED_REQUEST', '无法读取上传内容')));
    parser.on('close', () => {
      if (!csrfPassed) return reject(new AppError('FORBIDDEN', csrfRefusal));
      Promise.all(pending).then((v) => {
        if (tooLarge) reject(new AppError('PAYLOAD_TOO_LARGE', `文件超过 ${maxBytes} 字节`));
        else if (tooMany) reject(new AppError('PAYLOAD_TOO_LARGE', `一次最多上传 ${maxFiles} 个文件，未保存任何文件`));
        else resolve(v);
      }, reject);
    });
    req.pipe(parser);
  });
}

const missingFile = () => new AppError('VALIDATION_FAILED', 'file：请在字段 "file" 中上传一个非空文件', [{ field: 'file', message: '请选择文件' }]);

/** The uploaded file's bytes, in memory: for checks that keep nothing (statement verification). */
export async function readUploadedBytes(req: Request, maxBytes: number): Promise<Buffer> {
  const [bytes] = await withFileParts(req, maxBytes, 1, async (stream) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  });
  if (!bytes || bytes.length === 0) throw missingFile();
  return bytes;
}

export interface ReceivedFiles {
  files: StoredFile[];
  /** Removes what this upload added to the store, if the database refuses to record it. */
  discard(): Promise<void>;
}

/**
 * Streams every multipart field `file` to a temporary file while hashing it, checks them all, then
 * keeps them under DATA_DIR/files by SHA-256 (never in a served folder). All or none: a file that is
 * too large (413), not a PDF, JPEG or PNG by its bytes (415), empty (422) or a PDF with active content
 * (422) refuses the whole request and nothing is kept.
 */
export async function receiveUploads(req: Request, dataDir: string, maxBytes: number): Promise<ReceivedFiles> {
  await mkdir(join(filesDir(dataDir), 'tmp'), { recursive: true });
  const temporaries: string[] = [];
  try {
    const received = await withFileParts(req, maxBytes, filesPerRequest_max, async (stream, fileName) => {
      const tmp = join(filesDir(dataDir), 'tmp', randomBytes(12).toString('hex'));
      temporaries.push(tmp);
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      await pipeline(stream, createWriteStream(tmp));
      return { tmp, sha256: hash.digest('hex'), size, fileName };
    });
    if (received.length === 0 || received.some((r) => r.size === 0)) throw missingFile();
    const files: Array<StoredFile & { tmp: string }> = [];
    for (const r of received) {
      const handle = await open(r.tmp, 'r');
      const head = Buffer.alloc(16);
      await handle.read(head, 0, 16, 0);
      await handle.close();
      const mediaType = sniffMediaType(head);
      if (!mediaType) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `文件“${r.fileName}”不是 PDF、JPEG 或 PNG，未保存任何文件`);
      if (mediaType === 'application/pdf' && hasActiveContent(await readFile(r.tmp))) {
        throw new AppError(
          'ACTIVE_CONTENT',
          `文件“${r.fileName}”含有脚本、启动程序或嵌入文件等可执行内容，未保存任何文件。请用“打印为 PDF”重新生成该文件后再上传。`,
          [{ field: 'file', message: '请用“打印为 PDF”重新生成后上传' }],
        );
      }
      files.push({ ...r, mediaType, activeContent: false });
    }
    const added: string[] = [];
    for (const f of files) {
      const target = pathOf(dataDir, f.sha256);
      await mkdir(join(filesDir(dataDir), f.sha256.slice(0, 2)), { recursive: true });
      if (!existsSync(target)) {
        await rename(f.tmp, target);
        added.push(target);
      }
    }
    return {
      files: files.map(({ tmp: _tmp, ...f }) => f),
      discard: async () => {
        for (const target of added) await rm(target, { force: true });
      },
    };
  } finally {
    for (const tmp of temporaries) await rm(tmp, { force: true });
  }
}

/** Exactly one uploaded file, for owners that take one at a time (a licence's or a rectification's evidence). */
export async function receiveUpload(req: Request, dataDir: string, maxBytes: number): Promise<StoredFile> {
  const received = await receiveUploads(req, dataDir, maxBytes);
  if (received.files.length > 1) {
    await received.discard();
    throw new AppError('VALIDATION_FAILED', '请一次只上传一个文件，未保存任何文件', [{ field: 'file', message: '请一次只上传一个文件' }]);
  }
  return received.files[0]!;
}

/** Records the bytes' metadata once; the same bytes uploaded twice are one file. */
export async function recordFile(trx: Knex, f: StoredFile): Promise<void> {
  await trx('files').insert({ sha256: f.sha256, media_type: f.mediaType, size: f.size, active_content: f.activeContent }).onConflict('sha256').ignore();
}

export function readStored(dataDir: string, sha256: string) {
  return createReadStream(pathOf(dataDir, sha256));
}
