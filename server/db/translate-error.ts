import { AppError, type ErrorCode } from '../errors.ts';

interface PgError {
  code?: string;
  constraint?: string;
}

/**
 * Constraint names are the contract between the schema and the service: this is the one place
 * where a database refusal becomes a domain error. Anything unlisted is a bug and stays a 500.
 */
const byConstraint: Record<string, [ErrorCode, string]> = {
  account_guarded_nonnegative: ['INSUFFICIENT_BALANCE', 'a guarded account (1011, 8001 or 2307) would go below zero'],
  fund_allocated_within_appropriated: ['OVER_APPROPRIATION', 'total allocated would exceed total appropriated'],
  journal_entries_reversed_once: ['ALREADY_REVERSED', 'this entry has already been reversed'],
  journal_reversal_target: ['CANNOT_REVERSE_REVERSAL', 'a reversal cannot itself be reversed'],
  entry_books_balance: ['UNBALANCED_ENTRY', 'debits and credits differ within a book'],
  departments_code_unique: ['DUPLICATE', 'a department with this code already exists'],
  users_username_unique: ['DUPLICATE', 'a user with this username already exists'],
  funds_code_unique: ['DUPLICATE', 'a fund with this code already exists'],
  allocation_runs_maker_checker: ['SAME_ACCOUNTANT', 'the accountant who made a run cannot approve it'],
  disbursements_maker_checker: ['SAME_ACCOUNTANT', 'the accountant who made a payment cannot approve it'],
  disbursements_voucher_unique: ['DUPLICATE', 'this voucher number is already used in this fund'],
  written_reports_once: ['DUPLICATE', 'this unit has already filed its report for this deadline'],
};

export function translateDbError(e: unknown): unknown {
  const err = e as PgError;
  if (typeof err?.code !== 'string') return e;
  const known = err.constraint ? byConstraint[err.constraint] : undefined;
  if (known) return new AppError(known[0], known[1]);
  return e;
}

export function isRetryable(e: unknown): boolean {
  const code = (e as PgError)?.code;
  return code === '40001' || code === '40P01';
}

export function isUniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as PgError;
  return err?.code === '23505' && err.constraint === constraint;
}
