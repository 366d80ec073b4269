import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** A header helmet sets, or one it removes (value undefined). */
type HeaderChange = [name: string, value: string | number | readonly string[] | undefined];

/** What helmet() does to a response, recorded once: with its defaults no header depends on the request. */
export function helmetHeaderChanges(): HeaderChange[] {
  const changes: HeaderChange[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void changes.push([name, value]),
    removeHeader: (name: string) => void changes.push([name, undefined]),
  };
  let finished = false;
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    finished = true;
  });
  // helmet() answers synchronously; a version that did not would leave headers out, so refuse to start.
  if (!finished) throw new Error('helmet() did not finish synchronously: its headers cannot be computed once');
  return changes;
}

/**
 * The security headers of helmet(), set from values computed at start-up. helmet() rebuilds them for
 * every request (it walks a dozen middlewares, and the Content-Security-Policy is formatted each time);
 * the values never change, so each request only copies them.
 */
export function securityHeaders(): RequestHandler {
  const changes = helmetHeaderChanges();
  return (_req, res, next) => {
    for (const [name, value] of changes) {
      if (value === undefined) res.removeHeader(name);
      else res.setHeader(name, value);
    }
    next();
  };
}
