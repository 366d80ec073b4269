import { roleNames } from '../ui/html.ts';
import { entryKindName } from '../ledger/entry-kinds.ts';

/** What each audit-log action is called in Chinese (the log keeps the stable code; people read this). */
export const auditActionNames: Record<string, string> = {
  'auth.login': '登录',
  'auth.login_failed': '登录失败',
  'auth.login_throttled': '登录受限（多次失败）',
  'auth.logout': '退出',
  'user.create': '新建用户',
  'user.update': '修改用户',
  'user.password_change': '修改密码',
  'fund.create': '新建资金',
  'department.create': '新建单位',
  'department.import': '导入单位',
  'department.status': '报告正版化状态',
  'department.accept': '验收单位',
  'receipt.submit': '提交发票',
  'receipt.import': '导入发票',
  'receipt.verified': '发票审核通过',
  'receipt.rejected': '退回发票',
  'receipt.withdrawn': '撤回发票',
  'attachment.upload': '上传扫描件',
  'attachment.download': '下载扫描件',
  'policy.create': '发布分配政策',
  'allocation.run_create': '计算分配方案',
  'allocation.run_approve': '审核分配方案',
  'allocation.run_cancel': '作废分配方案',
  'allocation.run_supersede': '分配方案被取代',
  'disbursement.create': '制单拨付',
  'disbursement.approve': '审核拨付',
  'disbursement.cancel': '作废拨付',
  'refund.prepare': '制单单位退回',
  'refund.approve': '审核单位退回',
  'ledger.batch_prepare': '批量凭证制单',
  'ledger.batch_approve': '批量凭证审核记账',
  'ledger.batch_reject': '退回批量凭证',
  'ledger.verify': '账簿核验',
  'ledger.audit_bundle': '下载审计包',
  'statement.issue': '出具通知书',
  'statement.download': '下载通知书',
  'statement.verify': '核验通知书',
  'progress.deadline': '设定书面报告截止日',
  'progress.target': '设定完成目标',
  'progress.written_report': '报送书面报告',
  'progress.bulletin_download': '下载进度通报',
  'export.journal': '导出序时账',
  'export.trial_balance': '导出试算平衡表',
  'export.allocation_run': '导出分配方案',
  'export.software_register': '导出软件台账',
  'export.software_register_pdf': '导出软件台账（PDF）',
  'export.audit_log': '导出审计日志',
  'asset.installed_base': '登记装机数',
  'asset.register_from_receipt': '按发票登记软件资产',
  'asset.add_pre_programme': '登记既有正版软件',
  'asset.retire': '软件资产报废',
  'asset.revoke_with_receipt': '随发票撤销资产',
  'inventory.file': '报送盘点',
  'inventory.accept': '确认盘点',
  'inventory.return': '退回盘点',
  'inspection.create': '新建督查',
  'finding.create': '登记督查发现',
  'finding.rectify': '报送整改',
  'finding.close': '督查问题销号',
  'finding.keep_open': '整改不合格，继续整改',
  'clawback.prepare': '制单督查收回',
  'clawback.approve': '审核督查收回',
  'clawback.cancel': '作废督查收回',
  'period.close_prepare': '提交结账',
  'period.close_approve': '审核结账',
  'period.close_reject': '退回结账',
  'period.reopen_prepare': '提交反结账',
  'period.reopen_approve': '审核反结账',
  'period.reopen_reject': '退回反结账',
};

const entrySteps: Record<string, string> = { prepare: '制单', approve: '审核记账', reject: '退回' };

/** The Chinese name of an action; entries name their kind (财政拨款凭证审核记账). An unknown code is shown as it is. */
export function auditActionName(action: string): string {
  if (auditActionNames[action]) return auditActionNames[action];
  const entry = /^ledger\.([a-z]+)_(prepare|approve|reject)$/.exec(action);
  if (entry) return `${entryKindName(entry[1]!)}凭证${entrySteps[entry[2]!]}`;
  return action;
}

/** Every action a filter can choose, entry steps included, in the catalogue's order. */
export function auditActionChoices(): Array<[string, string]> {
  const entryActions = ['appropriation', 'manual', 'reversal'].flatMap((k) => ['prepare', 'approve', 'reject'].map((s) => `ledger.${k}_${s}`));
  return [...Object.keys(auditActionNames), ...entryActions].map((a) => [a, auditActionName(a)]);
}

export const auditObjectNames: Record<string, string> = {
  user: '用户',
  fund: '资金',
  department: '单位',
  receipt: '发票',
  attachment: '扫描件',
  policy: '分配政策',
  allocation_run: '分配方案',
  disbursement: '拨付',
  journal_entry: '凭证',
  journal_entry_batch: '批量凭证',
  period_close: '结账',
  statement: '通知书',
  bulletin: '进度通报',
  report_deadline: '书面报告要求',
  programme_target: '完成目标',
  written_report: '书面报告',
  software_asset: '软件资产',
  inventory: '盘点',
  inspection: '督查',
  finding: '督查发现',
  finding_event: '整改记录',
  finding_clawback: '督查收回',
};

export const auditRoleName = (role: string | null) => (role ? (roleNames[role] ?? role) : '—');

/** The address as people write it: an IPv4 client seen on a dual-stack socket (::ffff:10.1.2.3) reads 10.1.2.3. */
export const auditIp = (ip: string | null | undefined): string => (ip ? ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1') : '');
