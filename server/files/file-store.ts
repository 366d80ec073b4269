import busboy from 'busboy';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Request } from 'express';
import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
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

/**
 * Hands the multipart field `file` to `consume` as a stream. Over `maxBytes`: 413 (busboy cuts the
 * stream; whatever `consume` kept is its to discard). No such field: null.
 */
async function withFilePart<T>(req: Request, maxBytes: number, consume: (stream: NodeJS.ReadableStream, fileName: string) => Promise<T>): Promise<T | null> {
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', '请以 multipart/form-data 上传，字段名为 "file"');
  }
  return new Promise<T | null>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 5, parts: 6 }, defParamCharset: 'utf8' });
    } catch {
      return reject(new AppError('MALFORMED_REQUEST', '无法读取上传内容'));
    }
    let pending: Promise<T> | null = null;
    let tooLarge = false;
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || pending) {
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        tooLarge = true;
      });
      pending = consume(stream, sanitiseFileName(info.filename));
    });
    parser.on('error', () => reject(new AppError('MALFORMED_REQUEST', '无法读取上传内容')));
    parser.on('close', () => {
      if (!pending) return resolve(null);
      pending.then((v) => (tooLarge ? reject(new AppError('PAYLOAD_TOO_LARGE', `文件超过 ${maxBytes} 字节`)) : resolve(v)), reject);
    });
    req.pipe(parser);
  });
}

const missingFile = () => new AppError('VALIDATION_FAILED', 'file：请在字段 "file" 中上传一个非空文件', [{ field: 'file', message: '请选择文件' }]);

/** The uploaded file's bytes, in memory: for checks that keep nothing (statement verification). */
export async function readUploadedBytes(req: Request, maxBytes: number): Promise<Buffer> {
  const bytes = await withFilePart(req, maxBytes, async (stream) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  });
  if (!bytes || bytes.length === 0) throw missingFile();
  return bytes;
}

/**
 * Streams the multipart field `file` to a temporary file while hashing it, then keeps it under
 * DATA_DIR/files by its SHA-256 (never in a served folder). Too large: 413 and nothing kept.
 * Not a PDF, JPEG or PNG by its bytes: 415 and nothing kept.
 */
export async function receiveUpload(req: Request, dataDir: string, maxBytes: number): Promise<StoredFile> {
  await mkdir(join(filesDir(dataDir), 'tmp'), { recursive: true });
  const tmp = join(filesDir(dataDir), 'tmp', randomBytes(12).toString('hex'));
  try {
    const received = await withFilePart(req, maxBytes, async (stream, fileName) => {
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      await pipeline(stream, createWriteStream(tmp));
      return { sha256: hash.digest('hex'), size, fileName };
    });
    if (!received || received.size === 0) throw missingFile();
    const handle = await open(tmp, 'r');
    const head = Buffer.alloc(16);
    await handle.read(head, 0, 16, 0);
    await handle.close();
    const mediaType = sniffMediaType(head);
    if (!mediaType) throw new AppError('UNSUPPORTED_MEDIA_TYPE', '文件不是 PDF、JPEG 或 PNG');
    const activeContent = mediaType === 'application/pdf' && hasActiveContent(await readFile(tmp));
    const target = pathOf(dataDir, received.sha256);
    await mkdir(join(filesDir(dataDir), received.sha256.slice(0, 2)), { recursive: true });
    if (existsSync(target)) await rm(tmp, { force: true });
    else await rename(tmp, target);
    return { ...received, mediaType, activeContent };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Records the bytes' metadata once; the same bytes uploaded twice are one file. */
export async function recordFile(trx: Knex, f: StoredFile): Promise<void> {
  await trx('files').insert({ sha256: f.sha256, media_type: f.mediaType, size: f.size, active_content: f.activeContent }).onConflict('sha256').ignore();
}

export function readStored(dataDir: string, sha256: string) {
  return createReadStream(pathOf(dataDir, sha256));
}
