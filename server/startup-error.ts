import { editDatabaseUrl } from '../db/multi-host.ts';
import { AppError } from './errors.ts';

/** A reason the service cannot start that its operator can act on; printed as one line, without a stack. */
export class StartupError extends Error {}

interface SystemError {
  code?: string;
  message?: string;
}

/** The URL as it may be printed: the password is never shown. */
export function redactUrl(url: string): string {
  try {
    return editDatabaseUrl(url, (u) => {
      if (u.password) u.password = '***';
    });
  } catch {
    return '(DATABASE_URL is not a valid URL)';
  }
}

const connectionProblems: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is PostgreSQL running there?)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ECONNRESET: 'connection reset by the server',
  '28P01': 'password authentication failed',
  '28000': 'the server refused this user (pg_hba.conf or role)',
  '3D000': 'the database does not exist (create it first)',
  '42501': 'permission denied (the user may not create tables there)',
  '57P03': 'the server is starting up or shutting down; try again',
};

/**
 * One line for an error met while starting: what failed and what to do. Unknown errors keep their
 * message; their stack is left to LOG_LEVEL=debug.
 */
export function describeStartupError(e: unknown, databaseUrl: string | undefined): string {
  if (e instanceof StartupError) return e.message;
  if (e instanceof AppError) return `cannot start: ${e.message}`;
  const err = (e ?? {}) as SystemError;
  const problem = err.code ? connectionProblems[err.code] : undefined;
  if (problem) return `cannot use the database ${databaseUrl ? `at DATABASE_URL ${redactUrl(databaseUrl)}` : '(embedded)'}: ${problem}`;
  if (e instanceof Error && e.name === 'KnexTimeoutError')
    return `cannot use the database${databaseUrl ? ` at DATABASE_URL ${redactUrl(databaseUrl)}` : ''}: no connection within the timeout`;
  return `cannot start: ${e instanceof Error ? e.message : String(e)}`;
}
