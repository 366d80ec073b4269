// Every HTTP call the benchmarks make to the service, in one place (a generated OpenAPI client can replace it).

export interface Session {
  baseUrl: string;
  headers: Record<string, string>;
}

async function call(
  s: Pick<Session, 'baseUrl'> & { headers?: Record<string, string> },
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...s.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Signs in through POST /auth/login, as a person would. */
export async function signIn(baseUrl: string, username: string, password: string): Promise<Session> {
  const { token } = await call({ baseUrl }, 'POST', '/api/v1/auth/login', { username, password });
  return { baseUrl, headers: { authorization: `Bearer ${String(token)}` } };
}

export const createFund = (s: Session, body: { code: string; name: string; fiscal_year: number; document_no: string }) =>
  call(s, 'POST', '/api/v1/funds', body);

export const prepareAppropriation = (s: Session, fundId: string, body: { amount: string; document_no: string; date: string }) =>
  call(s, 'POST', `/api/v1/funds/${fundId}/appropriations`, body);

export const prepareEntry = (s: Session, fundId: string, entry: unknown) => call(s, 'POST', `/api/v1/funds/${fundId}/journal-entries`, entry);

export const approveEntry = (s: Session, entryId: string) => call(s, 'POST', `/api/v1/journal-entries/${entryId}/approve`, {});

export const prepareBatch = (s: Session, fundId: string, entries: unknown[]) => call(s, 'POST', `/api/v1/funds/${fundId}/journal-entries/batch`, { entries });

export const approveBatch = (s: Session, batchId: string) => call(s, 'POST', `/api/v1/journal-entry-batches/${batchId}/approve`, {});

export const readFund = (s: Session, fundId: string) => call(s, 'GET', `/api/v1/funds/${fundId}`);
