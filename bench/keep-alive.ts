import http from 'node:http';

/**
 * The timed calls' HTTP client: node:http over keep-alive sockets, the body sent as a ready string.
 * On a 2-core machine the load generator shares the CPU with the service and PostgreSQL; the generated
 * client (openapi-fetch over fetch) spends 0.6–0.85 ms of CPU per call, this one 0.2–0.3 ms. The
 * reference, pgbench, is a C program that costs next to nothing, so the service's figure should not
 * carry a heavy client's cost either. Setup calls keep the generated client.
 */
export function keepAliveClient(baseUrl: string, token: string, sockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const { hostname, port } = new URL(baseUrl);
  return {
    /** POSTs `body` (JSON text) to `path`; resolves with the status and the answer's text. */
    post: (path: string, body: string) => send('POST', path, body),
    /** GETs `path`; resolves with the status and the answer's text. */
    get: (path: string) => send('GET', path),
    close: () => agent.destroy(),
  };

  function send(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${token}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    return new Promise((resolve, reject) => {
      const req = http.request({ agent, host: hostname, port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
