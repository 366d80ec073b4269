import { Decimal } from 'decimal.js';
import { z } from 'zod';
import { AppError, type FieldError } from '../errors.ts';

// People read these messages, in the API's problem documents and beside form fields: Chinese.
z.config(z.locales.zhCN());

/** Strict money input: a string of at most 13 integer digits and 2 decimals. Never a number, never rounded. */
export const moneyString = z
  .string({ error: '金额须以字符串填写，如 "1409.50"' })
  .regex(/^[0-9]{1,13}(\.[0-9]{1,2})?$/, '金额须为数字，最多两位小数，如 "1409.50"（不含符号、空格、分隔符或指数）');

export const money = moneyString.transform((s) => new Decimal(s));

/** An amount that moves money (a payment, a refund): above zero. */
export const positiveMoney = moneyString
  .refine((s) => !/^0+(\.0{1,2})?$/.test(s), '金额须大于零')
  .meta({ pattern: '^(?!0+(?:\\.0{1,2})?$)[0-9]{1,13}(?:\\.[0-9]{1,2})?$' })
  .transform((s) => new Decimal(s));

export const date_min = '1900-01-01';
export const date_max = '2999-12-31';

/** The same rule as one pattern, for the document: years 1900–2999, months' lengths, leap years (1900, 2100 … are not). */
const leapYear = '(?:19(?:0[48]|[2468][048]|[13579][26])|2[0-9](?:0[48]|[2468][048]|[13579][26])|2000|2400|2800)';
export const calendarDatePattern = `^(?:${leapYear}-02-29|(?:19[0-9]{2}|2[0-9]{3})-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8])))$`;

/**
 * The one date rule for every date a person types: a real calendar day `YYYY-MM-DD` from 1900-01-01
 * to 2999-12-31 (year 0000, 2011-02-30 and 9999-12-31 are 422, never a database error).
 */
export const calendarDate = z
  .string({ error: '日期格式须为 YYYY-MM-DD' })
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, '日期格式须为 YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, '不是有效日期')
  .refine((s) => s >= date_min && s <= date_max, `日期须在 ${date_min} 至 ${date_max} 之间`)
  .meta({ format: 'date', pattern: calendarDatePattern, description: `A calendar day YYYY-MM-DD from ${date_min} to ${date_max}` });

/**
 * A moment with its offset (a filter's from/to: 2011-09-20T00:00:00+08:00): its calendar day within
 * the date rule above, its offset one PostgreSQL takes (within ±14:00), so no typed time reaches the
 * database as an error.
 */
export const instant = z.iso
  .datetime({ offset: true, error: '时间格式须为 ISO 8601，如 2011-09-20T00:00:00+08:00' })
  .refine((s) => calendarDate.safeParse(s.slice(0, 10)).success, `日期须为 ${date_min} 至 ${date_max} 之间的有效日期`)
  .refine((s) => {
    const m = /([+-])([0-9]{2}):?([0-9]{2})$/.exec(s);
    return !m || Number(m[2]) * 60 + Number(m[3]) <= 14 * 60;
  }, '时区偏移须在 ±14:00 之内')
  .meta({ format: 'date-time' });

/**
 * An accounting date (entry, appropriation, payment, run, close): a calendar date not after today in
 * China. Whether it is on or after the fund's opening date and after its closed-through date depends
 * on the fund, and is checked where the fund is read (ledger/period-rules.ts) and by the database.
 */
export const accountingDate = calendarDate.refine((s) => s <= todayInShanghai(), '会计日期不能晚于今天');

export const idParam = z.string().regex(/^[1-9][0-9]{0,17}$/, '须为数字编号');

export const limit_max = 500;

export const limitParam = z
  .string()
  .regex(/^[0-9]{1,3}$/, `须为 1 到 ${limit_max} 的整数`)
  .transform(Number)
  .refine((n) => n >= 1 && n <= limit_max, `须为 1 到 ${limit_max} 的整数`)
  .meta({ documented: { type: 'integer', minimum: 1, maximum: limit_max, default: 100, description: 'How many items per page' } })
  .optional();

export const cursorParam = z
  .string()
  .regex(/^[0-9]{1,18}$/, '不是本列表的游标')
  .optional();

/** The calendar day in China at a moment: the books are kept there, so a day is Asia/Shanghai's. */
export function dateInShanghai(at: Date): string {
  return todayInShanghai(at);
}

/** Made once: a formatter costs a tenth of a millisecond to make, and a batch of entries asks thousands of times. */
const shanghaiDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' });

/** Today's calendar date in China, where the books are kept. */
export function todayInShanghai(now: Date = new Date()): string {
  return shanghaiDay.format(now);
}

/**
 * The one text rule: U+0000 and lone UTF-16 surrogates are refused wherever text comes in.
 * PostgreSQL's text and jsonb cannot store either (the insert would fail as a 500, or in the audit
 * log after the change), and no person types them.
 */
export function unsafeTextProblem(s: string): string | null {
  if (s.includes('\u0000')) return '不能包含空字符（U+0000）';
  // A high surrogate not followed by a low one, or a low one not preceded by a high one.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) return '不能包含不成对的代理字符（无效的 Unicode）';
  return null;
}

/** A string under the text rule, for schemas that want to say so explicitly. */
export const plainText = z.string().superRefine((s, ctx) => {
  const problem = unsafeTextProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const walkDepth_max = 64;

/** Every string in a decoded input (keys included) that breaks the text rule, with its path. */
export function unsafeTextFields(value: unknown, path = '', depth = 0): FieldError[] {
  if (typeof value === 'string') {
    const problem = unsafeTextProblem(value);
    return problem ? [{ field: path || 'body', message: problem }] : [];
  }
  if (value === null || typeof value !== 'object' || depth > walkDepth_max || Buffer.isBuffer(value)) return [];
  const found: FieldError[] = [];
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const keyProblem = unsafeTextProblem(key);
    if (keyProblem) found.push({ field: path || 'body', message: `字段名${keyProblem}` });
    found.push(...unsafeTextFields(inner, at, depth + 1));
    if (found.length >= 20) break;
  }
  return found;
}

/** Throws 422 naming each field that breaks the text rule; `where` names the input when a field has no path. */
export function assertSafeText(value: unknown, where: 'body' | 'query' | 'params'): void {
  const errors = unsafeTextFields(value).map((e) => ({ ...e, field: e.field === 'body' ? where : e.field }));
  if (errors.length === 0) return;
  throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
}
