import { Writable } from 'node:stream';
import { pino } from 'pino';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { createApp } from '../../server/app.ts';

describe('while the database is away', () => {
  it('each 503 is one warn line, with no error and no stack', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).trim().split('\n')) lines.push(JSON.parse(l));
        done();
      },
    });
    const db = createKnex('postgres://nobody@127.0.0.1:1/none', 1, 1_000);
    try {
      const app = createApp({
        db,
        config: { tokenTtlHours: 8, uploadMaxBytes: 1 << 20, trustProxy: false, dataDir: '/nonexistent' },
        logger: pino({ level: 'info' }, sink),
      });
      const res = await supertest(app)
        .get('/api/v1/funds/1')
        .set('Authorization', `Bearer ${'t'.repeat(40)}`);
      expect(res.status).toBe(503);
      const logged = lines.filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503);
      expect(logged).toHaveLength(1);
      expect(logged[0]!.level).toBe(40);
      expect(JSON.stringify(logged[0])).not.toContain('stack');
    } finally {
      await db.destroy();
    }
  });
});
