// Every HTTP call the ledger benchmark makes to the service, through the client generated from /openapi.json
// (client/index.ts: openapi-typescript types + openapi-fetch), as an integrator would drive it.
import { jiangbuClient, type operations } from '../client/index.ts';

/** The generated client, signed in; `token` is its bearer token, for the timed calls' lighter client (keep-alive.ts). */
type Client = ReturnType<typeof jiangbuClient>;
export type Session = Client & { token: string };

type Body<Op extends keyof operations> = operations[Op] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
export type ManualEntry = Body<'postFundsByIdJournalEntries'>;

/** The data of a 2xx answer; any other answer throws with its problem document. */
function ok<T>(what: string, res: { data?: T; error?: unknown; response: Response }): T {
  if (res.data === undefined || !res.response.ok) throw new Error(`${what}: ${res.response.status} ${JSON.stringify(res.error)}`);
  return res.data;
}

/** Signs in through POST /auth/login, as a person would; the session's client sends the bearer token from then on. */
export async function signIn(baseUrl: string, username: string, password: string): Promise<Session> {
  const session: { token?: string } = {};
  const client = jiangbuClient(baseUrl, () => session.token);
  session.token = ok('sign-in', await client.POST('/api/v1/auth/login', { body: { username, password } })).token;
  return Object.assign(client, { token: session.token });
}

export const createFund = async (s: Client, body: Body<'postFunds'>) => ok('create fund', await s.POST('/api/v1/funds', { body }));

export const prepareAppropriation = async (s: Client, fundId: string, body: Body<'postFundsByIdAppropriations'>) =>
  ok('prepare appropriation', await s.POST('/api/v1/funds/{id}/appropriations', { params: { path: { id: fundId } }, body }));

export const prepareEntry = async (s: Client, fundId: string, body: ManualEntry) =>
  ok('prepare entry', await s.POST('/api/v1/funds/{id}/journal-entries', { params: { path: { id: fundId } }, body }));

export const approveEntry = async (s: Client, entryId: string) =>
  ok('approve entry', await s.POST('/api/v1/journal-entries/{id}/approve', { params: { path: { id: entryId } }, body: {} }));

export const prepareBatch = async (s: Client, fundId: string, entries: ManualEntry[]) =>
  ok('prepare batch', await s.POST('/api/v1/funds/{id}/journal-entries/batch', { params: { path: { id: fundId } }, body: { entries } }));

export const approveBatch = async (s: Client, batchId: string) =>
  ok('approve batch', await s.POST('/api/v1/journal-entry-batches/{id}/approve', { params: { path: { id: batchId } }, body: {} }));

export const readFund = async (s: Client, fundId: string) => ok('read fund', await s.GET('/api/v1/funds/{id}', { params: { path: { id: fundId } } }));
