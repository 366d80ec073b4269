/**
 * The one catalogue of error codes. Each code is stable once published: clients and the
 * documentation depend on it. Never reuse a code for another meaning; add a new one.
 */
export const errorCatalogue = {
  // 400
  MALFORMED_REQUEST: { status: 400, title: 'The request could not be read', zh: '请求无法读取' },
  // 401
  UNAUTHENTICATED: { status: 401, title: 'Sign in first', zh: '请先登录' },
  INVALID_CREDENTIALS: { status: 401, title: 'Wrong username or password', zh: '用户名或密码错误' },
  // 403
  FORBIDDEN: { status: 403, title: 'Your role may not do this', zh: '您的角色不能进行此操作' },
  SAME_ACCOUNTANT: { status: 403, title: 'The maker of a document cannot approve it', zh: '制单人不能审批自己的单据' },
  // 404
  NOT_FOUND: { status: 404, title: 'Not found', zh: '未找到' },
  // 405
  METHOD_NOT_ALLOWED: { status: 405, title: 'This path does not take this method', zh: '不支持此请求方法' },
  // 409
  CONFLICT: { status: 409, title: 'Conflicts with the current state', zh: '与当前状态冲突' },
  DUPLICATE: { status: 409, title: 'Already exists', zh: '已存在' },
  DUPLICATE_INVOICE: { status: 409, title: 'This invoice is already claimed', zh: '该发票已被申报' },
  ALREADY_REVERSED: { status: 409, title: 'This entry has already been reversed', zh: '该凭证已冲销' },
  CANNOT_REVERSE_REVERSAL: { status: 409, title: 'A reversal cannot itself be reversed; post a new entry', zh: '冲销凭证不能再冲销' },
  INSUFFICIENT_BALANCE: { status: 409, title: 'A guarded account would go below zero', zh: '余额不足' },
  OVER_APPROPRIATION: { status: 409, title: 'Allocation would exceed the appropriation', zh: '分配将超过财政拨款' },
  RUN_STALE: { status: 409, title: 'What the allocation run was computed from has changed; compute it again', zh: '分配方案已过时，请重新计算' },
  EXCEEDS_PAYABLE: { status: 409, title: 'More than the unit is owed', zh: '超过该单位应付金额' },
  NO_POLICY: { status: 409, title: 'The fund has no allocation policy yet', zh: '尚未制定分配政策' },
  ALREADY_POSTED: { status: 409, title: 'This prepared entry has already been posted', zh: '该凭证已审核记账' },
  ALREADY_DECIDED: { status: 409, title: 'This prepared item has already been approved or rejected', zh: '该单据已审核或已退回' },
  PERIOD_CLOSED: { status: 409, title: 'The fund is closed through this date', zh: '该日期所在期间已结账' },
  PENDING_IN_PERIOD: { status: 409, title: 'Entries prepared in this period still wait for approval', zh: '该期间仍有待审核凭证' },
  TAX_ID_NOT_CONFIRMED: {
    status: 409,
    title: 'The unit asked for a seller code that fails its check; confirm it to verify',
    zh: '销售方代码校验位不符，须确认后才能审核通过',
  },
  STATUS_REGRESSION: { status: 409, title: 'A unit moves its own status forward only', zh: '单位只能向前报告状态' },
  RUN_SUPERSEDED: { status: 409, title: 'A newer run replaced this draft', zh: '该分配方案已被新方案取代' },
  JOB_NOT_FINISHED: { status: 409, title: 'The job has not finished; its result is not ready', zh: '任务尚未完成' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is still being processed', zh: '相同请求正在处理' },
  // 410
  JOB_EXPIRED: { status: 410, title: 'The job’s result has expired; ask for it again', zh: '任务结果已过期，请重新生成' },
  // 413, 415
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large', zh: '内容过大' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', zh: '不支持的文件类型' },
  // 422
  VALIDATION_FAILED: { status: 422, title: 'The request is well-formed but invalid', zh: '内容不符合要求' },
  WEAK_PASSWORD: { status: 422, title: 'The password does not meet the policy', zh: '密码不符合要求' },
  UNBALANCED_ENTRY: { status: 422, title: 'Debits and credits differ within a book', zh: '借贷不平衡' },
  RESERVED_ACCOUNT: { status: 422, title: 'Only an appropriation or its reversal may post to 4001 or 6001', zh: '4001、6001 科目只能由财政拨款凭证记账' },
  MANUAL_ENTRY_CREATES_QUOTA: {
    status: 422,
    title: 'A manual entry cannot raise 1011 or 8001; quota comes only from an appropriation',
    zh: '手工凭证不能增加用款额度或资金结存',
  },
  DATE_OUT_OF_PERIOD: { status: 422, title: 'The date is before the fund opened or after today', zh: '日期早于资金启用日或晚于今天' },
  UNKNOWN_ACCOUNT: { status: 422, title: 'No such account in this fund', zh: '没有这个科目' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This Idempotency-Key was used with a different request', zh: '该幂等键已用于其他请求' },
  ACTIVE_CONTENT: {
    status: 422,
    title: 'The PDF contains active content (scripts, launch actions or embedded files)',
    zh: 'PDF 含有可执行内容，请重新打印为 PDF 后上传',
  },
  CSV_INVALID: { status: 422, title: 'The file has invalid rows; nothing was imported', zh: '文件有错误，未导入任何内容' },
  // 429
  TOO_MANY_ATTEMPTS: { status: 429, title: 'Too many failed sign-ins; try again later', zh: '登录失败次数过多，请稍后再试' },
  // 500, 503
  INTERNAL: { status: 500, title: 'Internal error', zh: '系统错误' },
  UNAVAILABLE: { status: 503, title: 'The database does not answer', zh: '数据库无响应' },
} as const satisfies Record<string, { status: number; title: string; zh: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, detail?: string, errors?: FieldError[], headers?: Record<string, string>) {
    super(detail ?? errorCatalogue[code].title);
    this.code = code;
    this.errors = errors;
    this.headers = headers;
  }

  get status(): number {
    return errorCatalogue[this.code].status;
  }
}

/** What people call the fields they fill in; a problem's `detail` names them so, never by their JSON key. */
const fieldLabels: Record<string, string> = {
  fund_id: '资金',
  department_id: '单位',
  department_ids: '单位',
  department: '单位',
  invoice_kind: '发票种类',
  invoice_code: '发票代码',
  invoice_number: '发票号码',
  issue_date: '开票日期',
  seller_name: '销售方名称',
  seller_tax_id: '销售方代码',
  seller_tax_id_override: '校验位确认理由',
  tax_id_override_reason: '校验位不符的理由',
  supersedes_id: '被更正的发票',
  lines: '明细',
  total: '合计金额',
  tax_amount: '税额',
  total_with_tax: '价税合计',
  buyer_name: '购买方',
  product: '软件名称',
  category: '类别',
  licences: '套数',
  amount: '金额',
  date: '日期',
  effective_date: '生效日期',
  accepted_on: '验收日期',
  status: '状态',
  note: '说明',
  reason: '理由',
  voucher_no: '凭证号',
  memo: '摘要',
  document_no: '文号',
  postings: '分录',
  account_code: '科目',
  account: '科目',
  side: '借贷方向',
  name: '名称',
  code: '代码',
  group: '分组',
  contact: '联系人',
  active: '是否启用',
  username: '用户名',
  password: '密码',
  current_password: '当前密码',
  role: '角色',
  file: '文件',
  body: '内容',
  as_of: '截至日期',
  ids: '拨付',
  confirm_tax_id: '确认销售方代码',
  rates: '奖励比例',
  licence_caps: '每套封顶',
  department_ceiling: '单位上限',
  require_completed: '是否要求完成',
  from: '起始日期',
  to: '截止日期',
  limit: '每页条数',
  cursor: '翻页位置',
  deadline: '截止日期',
  title: '标题',
  fiscal_year: '年度',
  entries: '凭证',
  q: '查找内容',
  through: '结账日期',
  opening_date: '启用日',
};

/** `lines.2.amount` → 明细第 3 行 金额; an unknown key is left out rather than shown. */
export function fieldLabel(field: string): string {
  const line = /^line (\d+)$/.exec(field);
  if (line) return `第 ${line[1]} 行`;
  return field
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? `第 ${Number(part) + 1} 项` : (fieldLabels[part] ?? '')))
    .filter(Boolean)
    .join(' ');
}

/** Field problems as one Chinese sentence for a problem's `detail`; the `errors` array keeps the keys for programs. */
export function describeProblems(errors: FieldError[]): string {
  return errors
    .map((e) => {
      const label = fieldLabel(e.field);
      return label ? `${label}：${e.message}` : e.message;
    })
    .join('；');
}

export function validationError(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', describeProblems([{ field, message }]), [{ field, message }]);
}
