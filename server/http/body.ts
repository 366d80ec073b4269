import type { Request } from 'express';
import { AppError } from '../errors.ts';

const jsonDepth_max = 32;
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

/** Counts bracket nesting outside strings, so hostile nesting is refused before JSON.parse recurses. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') deepest = Math.max(deepest, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return deepest;
}

export function parseJsonBody(raw: string): unknown {
  if (nestingDepth(raw) > jsonDepth_max) {
    throw new AppError('MALFORMED_REQUEST', `JSON 嵌套超过 ${jsonDepth_max} 层`);
  }
  try {
    return JSON.parse(raw, (key, value: unknown) => {
      if (forbiddenKeys.has(key)) throw new AppError('MALFORMED_REQUEST', `不允许的键 "${key}"`);
      return value;
    });
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('MALFORMED_REQUEST', '请求内容不是有效的 JSON');
  }
}

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export const xlsxMediaType = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** A spreadsheet upload: the media type says which reader to use. */
export interface Sheet {
  type: 'csv' | 'xlsx';
  bytes: Buffer;
}

/** Decodes the raw body read by express.raw according to what the route expects. */
export function decodeBody(req: Request, expected: 'json' | 'csv' | 'upload'): unknown {
  const raw: unknown = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  const type = mediaType(req);
  if (expected === 'upload') {
    if (type === 'text/csv') return { type: 'csv', bytes: raw } satisfies Sheet;
    if (type === xlsxMediaType) return { type: 'xlsx', bytes: raw } satisfies Sheet;
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `请以 text/csv 或 ${xlsxMediaType} 发送`);
  }
  if (expected === 'csv') {
    if (type !== 'text/csv') throw new AppError('UNSUPPORTED_MEDIA_TYPE', '请以 text/csv 发送文件');
    return new TextDecoder('utf-8', { fatal: false }).decode(raw);
  }
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]*\+json$/.test(type)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', '请以 application/json 发送请求内容');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new AppError('MALFORMED_REQUEST', '请求内容不是有效的 UTF-8');
  }
  return parseJsonBody(text);
}
