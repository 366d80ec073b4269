/**
 * The one catalogue of error codes. Each code is stable once published: clients and the
 * documentation depend on it. Never reuse a code for another meaning; add a new one.
 */
export const errorCatalogue = {
  // 400
  MALFORMED_REQUEST: { status: 400, title: 'The request could not be read' },
  // 401
  UNAUTHENTICATED: { status: 401, title: 'Sign in first' },
  INVALID_CREDENTIALS: { status: 401, title: 'Wrong username or password' },
  // 403
  FORBIDDEN: { status: 403, title: 'Your role may not do this' },
  SAME_ACCOUNTANT: { status: 403, title: 'The maker of a document cannot approve it' },
  // 404
  NOT_FOUND: { status: 404, title: 'Not found' },
  // 409
  CONFLICT: { status: 409, title: 'Conflicts with the current state' },
  DUPLICATE: { status: 409, title: 'Already exists' },
  DUPLICATE_INVOICE: { status: 409, title: 'This invoice is already claimed' },
  ALREADY_REVERSED: { status: 409, title: 'This entry has already been reversed' },
  CANNOT_REVERSE_REVERSAL: { status: 409, title: 'A reversal cannot itself be reversed; post a new entry' },
  INSUFFICIENT_BALANCE: { status: 409, title: 'A guarded account would go below zero' },
  OVER_APPROPRIATION: { status: 409, title: 'Allocation would exceed the appropriation' },
  RUN_STALE: { status: 409, title: 'What the allocation run was computed from has changed; compute it again' },
  EXCEEDS_PAYABLE: { status: 409, title: 'More than the unit is owed' },
  NO_POLICY: { status: 409, title: 'The fund has no allocation policy yet' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  // 413, 415
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  // 422
  VALIDATION_FAILED: { status: 422, title: 'The request is well-formed but invalid' },
  WEAK_PASSWORD: { status: 422, title: 'The password does not meet the policy' },
  UNBALANCED_ENTRY: { status: 422, title: 'Debits and credits differ within a book' },
  UNKNOWN_ACCOUNT: { status: 422, title: 'No such account in this fund' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This Idempotency-Key was used with a different request' },
  CSV_INVALID: { status: 422, title: 'The file has invalid rows; nothing was imported' },
  // 429
  TOO_MANY_ATTEMPTS: { status: 429, title: 'Too many failed sign-ins; try again later' },
  // 500, 503
  INTERNAL: { status: 500, title: 'Internal error' },
  UNAVAILABLE: { status: 503, title: 'The database does not answer' },
} as const satisfies Record<string, { status: number; title: string }>;

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

export function validationError(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, [{ field, message }]);
}
