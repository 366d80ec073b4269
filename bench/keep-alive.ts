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
    post(path: string, body: string): Promise<{ status: number; text: string }> {
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: hostname,
            port,
            method: 'POST',
            path,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
