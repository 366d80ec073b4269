import { AppError, fieldLabel, type ErrorCode } from '../errors.ts';

interface PgError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/**
 * Constraint names are the contract between the schema and the service: this is the one place
 * where a database refusal becomes a domain error. Anything unlisted is a bug and stays a 500.
 */
const byConstraint: Record<string, [ErrorCode, string]> = {
  account_guarded_nonnegative: ['INSUFFICIENT_BALANCE', '受控科目（1011、8001 或 2307）余额将低于零'],
  fund_allocated_within_appropriated: ['OVER_APPROPRIATION', '分配总额将超过财政拨款'],
  journal_entries_reversed_once: ['ALREADY_REVERSED', '该凭证已冲销'],
  journal_reversal_target: ['CANNOT_REVERSE_REVERSAL', '冲销凭证不能再冲销'],
  journal_entries_four_eyes: ['SAME_ACCOUNTANT', '凭证须由一名会计制单、另一名会计审核'],
  pending_entries_four_eyes: ['SAME_ACCOUNTANT', '制单人不能审核自己的凭证'],
  journal_entry_batches_four_eyes: ['SAME_ACCOUNTANT', '制单人不能审核自己的凭证'],
  period_closes_four_eyes: ['SAME_ACCOUNTANT', '提交结账的会计不能审核该结账'],
  pending_entries_reversed_once: ['ALREADY_REVERSED', '该凭证已冲销或已有待审核的冲销凭证'],
  appropriation_accounts_reserved: ['RESERVED_ACCOUNT', '4001、6001 科目只能由财政拨款凭证（或其冲销）记账'],
  journal_entry_period_closed: ['PERIOD_CLOSED', '凭证日期所在期间已结账'],
  journal_entry_date_in_period: ['DATE_OUT_OF_PERIOD', '凭证日期须在资金启用日至今天之间'],
  period_closes_direction: ['CONFLICT', '结账日期已变化，请重新提交'],
  manual_entry_creates_no_quota: ['MANUAL_ENTRY_CREATES_QUOTA', '手工凭证不能增加 1011（零余额账户用款额度）或 8001（资金结存）：额度只能来自财政拨款'],
  jobs_done_within_total: ['CONFLICT', '任务进度不能超过总数，请重新查看任务'],
  jobs_finished_when_ended: ['CONFLICT', '任务状态已变化，请重新查看任务'],
  jobs_failure_explained: ['CONFLICT', '任务状态已变化，请重新查看任务'],
  jobs_running_has_heartbeat: ['CONFLICT', '任务状态已变化，请重新查看任务'],
  unit_disbursed_nonnegative: ['EXCEEDS_PAYABLE', '退回金额将超过该单位已拨付的金额'],
  unit_disbursed_within_allocated: ['EXCEEDS_PAYABLE', '该单位的拨付将超过分配给它的奖励（已扣除已拨付部分）'],
  fund_disbursed_within_allocated: ['EXCEEDS_PAYABLE', '本资金的拨付总额将超过已分配总额，或退回将超过已拨付总额'],
  funds_opening_in_fiscal_year: ['VALIDATION_FAILED', '启用日须在资金所属年度内或之前'],
  period_closes_one_pending: ['CONFLICT', '本资金已有待审核的结账或反结账，请先审核或退回'],
  period_closes_born_pending: ['CONFLICT', '结账须先提交为待审核，再由另一名会计审核'],
  period_closes_accountants: ['FORBIDDEN', '结账只能由会计提交和审核'],
  period_closes_certificate_own: ['CONFLICT', '结账单须是本资金本次结账由审核人出具的结账单'],
  prepared_born_pending: ['CONFLICT', '凭证须先提交为待审核，再由另一名会计审核记账'],
  entry_books_balance: ['UNBALANCED_ENTRY', '同一账簿内借贷不平衡'],
  departments_code_unique: ['DUPLICATE', '该单位代码已存在'],
  users_username_unique: ['DUPLICATE', '该用户名已存在'],
  funds_code_unique: ['DUPLICATE', '该资金代码已存在'],
  allocation_runs_maker_checker: ['SAME_ACCOUNTANT', '计算分配方案的会计不能审批该方案'],
  disbursements_maker_checker: ['SAME_ACCOUNTANT', '制单会计不能审批自己提交的拨付'],
  disbursements_voucher_unique: ['DUPLICATE', '本资金已有该凭证号'],
  written_reports_once: ['DUPLICATE', '该单位已报送本期书面报告'],
  receipts_supersedes_closed: ['CONFLICT', '只有本单位同一资金已退回或已撤回的发票可以更正后重新提交'],
  receipts_superseded_once: ['CONFLICT', '这张发票已有更正后的发票，不能再次更正'],
  receipts_tax_id_confirmed: ['TAX_ID_NOT_CONFIRMED', '单位申请了校验位不符的销售方代码，审核通过前须确认该代码'],
  attachments_receipt_open: ['CONFLICT', '发票已审核或已退回，不能再上传扫描件'],
  department_status_forward_only: ['STATUS_REGRESSION', '单位只能向前报告状态；如需退回到之前的状态，请联系财政厅会计并说明理由'],
  department_status_regression_reason: ['VALIDATION_FAILED', '将状态退回到之前的阶段须填写理由'],
  disbursements_within_payable: ['EXCEEDS_PAYABLE', '该单位待审批拨付与本笔合计超过其应付未付金额'],
  inspections_document_no_unique: ['DUPLICATE', '已有该文号的督查记录'],
  inventories_once_per_year: ['DUPLICATE', '该单位本年度已报送盘点，待会计审核或已通过'],
  finding_clawbacks_maker_checker: ['SAME_ACCOUNTANT', '制单会计不能审批自己提出的收回'],
  findings_unit_visited: ['VALIDATION_FAILED', '该单位不在本次督查的单位之中'],
  // Rules on what a request brings (a field, or fields together): 422.
  departments_code_format: ['VALIDATION_FAILED', '单位代码格式不正确'],
  departments_accepted_only_completed: ['VALIDATION_FAILED', '只有已完成的单位可以记录验收日期'],
  status_change_accepted_only_completed: ['VALIDATION_FAILED', '只有已完成的单位可以记录验收日期'],
  funds_closed_through_range: ['VALIDATION_FAILED', '结账日期超出可接受的范围'],
  funds_opening_date_range: ['VALIDATION_FAILED', '启用日超出可接受的范围'],
  journal_entries_date_range: ['VALIDATION_FAILED', '凭证日期超出可接受的范围'],
  posting_amount_range: ['VALIDATION_FAILED', '金额须大于零且不超过可记账的上限'],
  receipt_lines_licence_kind: ['VALIDATION_FAILED', '许可类型须为 oem、retail、volume 或 subscription'],
  receipts_invoice_key: ['VALIDATION_FAILED', '发票代码与号码不完整'],
  receipts_kind_code: ['VALIDATION_FAILED', '该种类的发票须（或不能）填写发票代码'],
  receipts_rejection_reason: ['VALIDATION_FAILED', '退回发票须填写理由'],
  software_assets_reason: ['VALIDATION_FAILED', '退回或撤销须填写理由'],
  inventories_returned_reason: ['VALIDATION_FAILED', '退回盘点须填写理由'],
  journal_entry_batches_reject_reason: ['VALIDATION_FAILED', '退回须填写理由'],
  pending_entries_reject_reason: ['VALIDATION_FAILED', '退回须填写理由'],
  period_closes_reopen_reason: ['VALIDATION_FAILED', '反结账须填写理由'],
  findings_unlicensed_count: ['VALIDATION_FAILED', '未正版安装的问题须填写台数，其他问题不填'],
  software_assets_retired_within: ['VALIDATION_FAILED', '报废套数不能超过登记套数'],
  users_department_binding: ['VALIDATION_FAILED', '单位用户须绑定一个单位，其他角色不绑定'],
  attachments_one_owner: ['VALIDATION_FAILED', '扫描件须属于且只属于一张发票、一份报告、一条登记或一次整改'],
  account_department_by_kind: ['VALIDATION_FAILED', '该科目须（或不能）对应一个单位'],
  account_guard_by_kind: ['VALIDATION_FAILED', '该类科目的余额控制设置不正确'],
  statements_department_kind: ['VALIDATION_FAILED', '单位通知书须对应一个单位，汇总表和结账单不对应单位'],
  allocation_lines_one_direction: ['VALIDATION_FAILED', '同一单位的分配金额与收回金额不能同时大于零'],
  // How a record's state and its fields go together (approved ⇔ approver, entry and so on): a write that
  // breaks them conflicts with the record's state.
  allocation_runs_approved: ['CONFLICT', '分配方案的状态与审批人不一致'],
  allocation_runs_superseded: ['CONFLICT', '分配方案的状态与取代它的方案不一致'],
  disbursements_approved: ['CONFLICT', '拨付的状态与记账凭证不一致'],
  finding_clawbacks_approved: ['CONFLICT', '收回的状态与审批人、记账凭证不一致'],
  findings_closed: ['CONFLICT', '问题的状态与销号人不一致'],
  journal_entries_reversal_link: ['CONFLICT', '只有冲销凭证指向被冲销的凭证'],
  pending_entries_reversal_link: ['CONFLICT', '只有冲销凭证指向被冲销的凭证'],
  journal_entry_batches_decided: ['CONFLICT', '批量凭证的状态与审核人不一致'],
  pending_entries_decided: ['CONFLICT', '凭证的状态与审核人不一致'],
  period_closes_decided: ['CONFLICT', '结账的状态与审核人不一致'],
  period_closes_certificate: ['CONFLICT', '已审核的结账须有结账单'],
  software_assets_retired_all: ['CONFLICT', '已报废的登记须全部套数报废'],
  software_assets_reviewed: ['CONFLICT', '登记的状态与审核人不一致'],
  software_assets_source_link: ['CONFLICT', '来自发票的登记须指向发票明细，存量登记不指向'],
};

/** How long a client should wait before trying again while the database does not answer. */
export const unavailableRetryAfter_s = 5;

// Node socket errors, PostgreSQL's connection exceptions (class 08), shutdown and start-up (57P01-57P03)
// too many connections (53300), and a login the server no longer accepts (28P01 wrong password, 28000
// no such role or pg_hba refusal — e.g. another instance changed the pool's password): the database is
// not there for us right now, the request is fine.
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '28P01',
  '28000',
  // A read-only transaction where a write was meant: the connection is on a standby, i.e. the primary moved (docs/ha.md).
  '25006',
]);
// pg and knex raise these without a code when a connection dies or the pool cannot get one.
const unreachableMessages =
  /Connection terminated|Client has encountered a connection error|Knex: Timeout acquiring a connection|connect ECONNREFUSED|Client was closed and is not queryable/;

export function isDatabaseUnreachable(e: unknown): boolean {
  const err = e as PgError & { name?: string; message?: string; errors?: unknown[] };
  if (!err || typeof err !== 'object') return false;
  if (typeof err.code === 'string' && (unreachableCodes.has(err.code) || err.code.startsWith('08'))) return true;
  if (err.name === 'KnexTimeoutError') return true;
  // Node's happy-eyeballs connect failure is an AggregateError of ECONNREFUSED errors.
  if (Array.isArray(err.errors) && err.errors.some(isDatabaseUnreachable)) return true;
  return typeof err.message === 'string' && unreachableMessages.test(err.message);
}

export function unavailable(): AppError {
  return new AppError('UNAVAILABLE', '数据库暂时无法连接，请稍后再试', undefined, { 'Retry-After': String(unavailableRetryAfter_s) });
}

export function translateDbError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  if (isDatabaseUnreachable(e)) return unavailable();
  const err = e as PgError;
  // A report on the standby cancelled because replay needed what it held (docs/ha.md): asking again a moment later works.
  if (err?.code === '40001' && /conflict with recovery/.test((e as Error).message ?? '')) return unavailable();
  if (typeof err?.code !== 'string') return e;
  // A safety net behind the text rule (server/http/schemas.ts): text PostgreSQL cannot store.
  if (err.code === '22021' || err.code === '22P05') return new AppError('VALIDATION_FAILED', '内容包含无法保存的字符（如空字符或无效的 Unicode）');
  // Dates PostgreSQL cannot hold or read (year 0, out of range): the request's fault, not the server's.
  if (err.code === '22008' || err.code === '22007') return new AppError('VALIDATION_FAILED', '日期超出可接受的范围或格式不正确');
  const known = err.constraint ? byConstraint[err.constraint] : undefined;
  if (known) return new AppError(known[0], known[1]);
  return columnRule(err) ?? e;
}

/**
 * A column's own rule: its NOT NULL, or a CHECK on it alone, which PostgreSQL names `<table>_<column>_check`
 * (an amount above zero, a status among its values, a year in range). The request brought a value the
 * field does not take: 422 naming the field. Every other CHECK is a named rule listed above.
 */
export function columnRule(err: PgError): AppError | undefined {
  if (err.code === '23502' && err.column) return fieldError(err.column, '不能为空');
  if (err.code !== '23514' || !err.constraint || !err.table) return undefined;
  const m = new RegExp(`^${err.table}_(.+)_check[0-9]*$`).exec(err.constraint);
  return m ? fieldError(m[1]!, '不符合要求（如金额须大于零、取值须在允许的范围内）') : undefined;
}

function fieldError(column: string, message: string): AppError {
  // The field is named in `errors`; the sentence stays Chinese even for a column without a label.
  const label = fieldLabel(column) || '该项';
  return new AppError('VALIDATION_FAILED', label + message, [{ field: column, message }]);
}

/** Whether a CHECK constraint of the schema has a translation (listed, or a column's own rule): the test reads pg_constraint. */
export function translatesCheck(constraint: string, table: string): boolean {
  return constraint in byConstraint || columnRule({ code: '23514', constraint, table }) !== undefined;
}

export function isRetryable(e: unknown): boolean {
  const code = (e as PgError)?.code;
  return code === '40001' || code === '40P01';
}

export function isUniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as PgError;
  return err?.code === '23505' && err.constraint === constraint;
}
