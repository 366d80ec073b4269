import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { requestLog } from '../../server/http/request-log.ts';

function appLogging(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).trim().split('\n')) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = express();
  app.use(requestLog(pino({ level }, sink)));
  app.get('/ok', (_req, res) => void res.json({ ok: true }));
  app.get('/missing', (_req, res) => void res.status(404).json({}));
  app.get('/broken', (_req, res) => void res.status(500).json({}));
  app.get('/away', (_req, res) => void res.status(503).json({}));
  return { api: supertest(app), lines };
}

describe('request log', () => {
  it('writes one info line per successful request: its id (as answered in X-Request-Id), method, path without query, status and time', async () => {
    const { api, lines } = appLogging('info');
    const res = await api.get('/ok?token=secret');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      req: { id: res.headers['x-request-id'], method: 'GET', url: '/ok' },
      res: { statusCode: 200 },
      msg: 'request completed',
    });
    expect(lines[0]!.responseTime).toEqual(expect.any(Number));
    expect(JSON.stringify(lines[0])).not.toContain('secret');
  });

  it('writes a 4xx at warn and a 5xx at error with an err, a 503 at warn without one', async () => {
    const { api, lines } = appLogging('info');
    await api.get('/missing');
    await api.get('/broken');
    await api.get('/away');
    expect(lines.map((l) => [l.level, (l.res as { statusCode: number }).statusCode, l.msg])).toEqual([
      [40, 404, 'request completed'],
      [50, 500, 'request errored'],
      [40, 503, 'request errored'],
    ]);
    expect(lines[1]!.err).toMatchObject({ type: 'Error', message: 'failed with status code 500' });
    expect(lines[2]).not.toHaveProperty('err');
  });

  it('at LOG_LEVEL=warn writes nothing for a success and still the 4xx and 5xx', async () => {
    const { api, lines } = appLogging('warn');
    const ok = await api.get('/ok');
    expect(ok.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await api.get('/missing');
    await api.get('/broken');
    expect(lines.map((l) => l.level)).toEqual([40, 50]);
  });
});
