import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Level, Logger } from 'pino';

declare module 'http' {
  interface IncomingMessage {
    /** This request's id: answered in X-Request-Id, written in its log line and in the audit log. */
    id: string;
  }
}

/** While the database is away every request answers 503: one warn line each, not an error with a stack. */
function levelOf(res: Response, err: Error | undefined): Level {
  if (res.statusCode === 503) return 'warn';
  if (err || res.statusCode >= 500) return 'error';
  return res.statusCode >= 400 ? 'warn' : 'info';
}

/**
 * One line per request when it ends, in the shape pino-http wrote (req {id, method, url}, res
 * {statusCode}, err, responseTime, msg). Ours because pino-http made a child logger and serialized the
 * request for every request, even when the line's level was off (LOG_LEVEL=warn and a 2xx): here a
 * request whose line would not be written costs an id and three listeners.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const id = randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const started_ms = Date.now();
    const ended = (err?: Error) => {
      res.off('close', ended);
      res.off('finish', ended);
      res.off('error', ended);
      const level = levelOf(res, err);
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        req: { id, method: req.method, url: (req.originalUrl || req.url).split('?')[0] },
        res: { statusCode: res.statusCode },
        responseTime: Date.now() - started_ms,
      };
      if (err || res.statusCode >= 500) {
        // A 503 is said by its status alone; any other 5xx without an error of its own gets one, as before.
        const error = res.statusCode === 503 && !err ? undefined : (err ?? new Error(`failed with status code ${res.statusCode}`));
        logger[level]({ req: line.req, res: line.res, ...(error ? { err: error } : {}), responseTime: line.responseTime }, 'request errored');
        return;
      }
      logger[level](line, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('close', ended);
    res.on('finish', ended);
    res.on('error', ended);
    next();
  };
}
