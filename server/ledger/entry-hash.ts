import { createHash } from 'node:crypto';

export const genesis_hash = '0'.repeat(64);

export interface HashableEntry {
  fundId: string;
  seq: string;
  date: string;
  kind: string;
  memo: string;
  documentNo: string | null;
  departmentId: string | null;
  reversesEntryId: string | null;
  createdBy: string;
  /** Absent only on entries posted before four eyes (migration 006): they hash as version 1. */
  approvedBy?: string | null;
  createdAt: string;
  postings: Array<{ accountCode: string; side: string; amount: string }>;
}

/**
 * The canonical form is a JSON array in a fixed order, so no key ordering or number formatting can vary.
 * Version 1; a change of form gets a new leading version number, never a silent change.
 */
export function canonicalEntry(e: HashableEntry): string {
  // Version 2 adds the approver (审核), so it cannot be changed without breaking the chain.
  if (e.approvedBy != null) {
    return JSON.stringify([
      2,
      e.fundId,
      e.seq,
      e.date,
      e.kind,
      e.memo,
      e.documentNo,
      e.departmentId,
      e.reversesEntryId,
      e.createdBy,
      e.approvedBy,
      e.createdAt,
      e.postings.map((p) => [p.accountCode, p.side, p.amount]),
    ]);
  }
  return JSON.stringify([
    1,
    e.fundId,
    e.seq,
    e.date,
    e.kind,
    e.memo,
    e.documentNo,
    e.departmentId,
    e.reversesEntryId,
    e.createdBy,
    e.createdAt,
    e.postings.map((p) => [p.accountCode, p.side, p.amount]),
  ]);
}

export function entryHash(prevHash: string, e: HashableEntry): string {
  return createHash('sha256').update(prevHash).update(canonicalEntry(e)).digest('hex');
}
