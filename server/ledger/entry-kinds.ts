/** What each kind of journal entry is called in the books (one vocabulary for pages, queues and vouchers). */
export const entryKindNames: Record<string, string> = {
  appropriation: '财政拨款',
  manual: '手工凭证',
  allocation: '奖励分配',
  clawback: '收回奖励',
  disbursement: '拨付',
  refund: '单位退回',
  reversal: '冲销',
};

export const entryKindName = (kind: string) => entryKindNames[kind] ?? kind;
