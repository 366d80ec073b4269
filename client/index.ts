/**
 * A thin typed client of the Jiangbu API, generated from the served /openapi.json (`npm run generate:client`
 * rewrites schema.d.ts; CI checks it is current). What an integrator gets from the document, used by our own tests.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.d.ts';

export type { components, operations, paths };

/** A client of the service at `baseUrl`; `token()` gives the bearer token to send, when signed in. */
export function jiangbuClient(baseUrl: string, token: () => string | undefined = () => undefined) {
  const client = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    onRequest({ request }) {
      const t = token();
      if (t) request.headers.set('Authorization', `Bearer ${t}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}
