import type { Knex } from 'knex';
import type { Actor } from '../auth/roles.ts';
import { AppError } from '../errors.ts';

/** What a printed ledger says above its table: which fund, which document, which period, made when and by whom. */
export interface TitleBlock {
  title: string;
  lines: Array<[string, string]>;
}

const shanghaiTime = (at: Date) =>
  new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', dateStyle: 'long', timeStyle: 'medium', hourCycle: 'h23' }).format(at);

/** A file name the way an office names its files: fund, what it is, period (自治区软件正版化以奖代补资金-序时账-2011). */
export function exportFileName(fundName: string, what: string, period: string): string {
  // Characters no file system takes are left out; the rest of the name stays as the fund is called.
  return [fundName, what, period]
    .filter(Boolean)
    .join('-')
    .replace(/[\\/:*?"<>|]/g, '')
    .replace(/\p{Cc}/gu, '');
}

/** A title block for any document: its own lines, then when it was made and by whom. */
export function titleBlock(title: string, lines: Array<[string, string]>, actor: Actor, at = new Date()): TitleBlock {
  return { title, lines: [...lines, ['生成时间', shanghaiTime(at)], ['生成人', actor.username]] };
}

/** The title block and file name of an export of `fundId`, for `actor`, now. */
export async function fundExportHeading(db: Knex, fundId: string, actor: Actor, what: string, period: { label: string; text: string }, at = new Date()) {
  const fund = await db('funds').where({ id: fundId }).first('name', 'code', 'document_no', 'fiscal_year');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  const block = titleBlock(
    `${fund.name}${what}`,
    [
      ['资金', `${fund.name}（${fund.code}）`],
      ['资金文号', String(fund.document_no)],
      [period.label, period.text],
    ],
    actor,
    at,
  );
  return { block, fund: { name: String(fund.name), fiscalYear: Number(fund.fiscal_year) } };
}
