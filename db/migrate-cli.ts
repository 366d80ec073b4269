// `npm run migrate`: brings the configured database (DATABASE_URL or the embedded one) to the latest schema.
import { loadConfig } from '../server/config.ts';
import { openDatabase } from './connection.ts';

const db = await openDatabase(loadConfig(), console);
const [completed] = (await db.knex.migrate.list()) as [unknown[], unknown[]];
console.log(`database is at the latest schema (${completed.length} migrations applied)`);
await db.close();
