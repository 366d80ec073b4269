/**
 * Writes the document the service serves at /openapi.json to a file (or stdout): asked of the app
 * itself, so what is linted and what the client is generated from is exactly what integrators get.
 * The app never reaches a database for this route, so none is needed.
 */
import { writeFileSync } from 'node:fs';
import knex from 'knex';
import { pino } from 'pino';
import supertest from 'supertest';
import { createApp } from '../server/app.ts';

const db = knex({ client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none' });
const app = createApp({
  db,
  config: { tokenTtlHours: 8, uploadMaxBytes: 10 * 1024 * 1024, trustProxy: false, dataDir: '/nonexistent' },
  logger: pino({ level: 'silent' }),
});
const res = await supertest(app).get('/openapi.json');
await db.destroy();
if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
const text = `${JSON.stringify(res.body, null, 2)}\n`;
const out = process.argv[2];
if (out) writeFileSync(out, text);
else process.stdout.write(text);
