import { Decimal } from 'decimal.js';
import { z } from 'zod';

// People read these messages, in the API's problem documents and beside form fields: Chinese.
z.config(z.locales.zhCN());

/** Strict money input: a string of at most 13 integer digits and 2 decimals. Never a number, never rounded. */
export const moneyString = z
  .string({ error: '金额须以字符串填写，如 "1409.50"' })
  .regex(/^[0-9]{1,13}(\.[0-9]{1,2})?$/, '金额须为数字，最多两位小数，如 "1409.50"（不含符号、空格、分隔符或指数）');

export const money = moneyString.transform((s) => new Decimal(s));

/** A calendar date `YYYY-MM-DD` that exists. */
export const calendarDate = z
  .string({ error: '日期格式须为 YYYY-MM-DD' })
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, '日期格式须为 YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, '不是有效日期');

export const idParam = z.string().regex(/^[1-9][0-9]{0,17}$/, '须为数字编号');

export const limitParam = z
  .string()
  .regex(/^[0-9]{1,3}$/, '须为 1 到 500 的整数')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 500, '须为 1 到 500 的整数')
  .optional();

export const cursorParam = z.string().regex(/^[0-9]{1,18}$/, '不是本列表的游标').optional();

/** Today's calendar date in China, where the books are kept. */
export function todayInShanghai(now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(now);
}
