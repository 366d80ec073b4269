// `npm run migrate`: brings the configured database (DATABASE_URL or the embedded one) to the latest schema.
import { loadConfig } from '../server/config.ts';
import { openDatabase } from './connection.ts';

// Migrations run as the owner inside openDatabase; the pool it returns may not read their bookkeeping.
const db = await openDatabase(loadConfig(), console);
console.log('database is at the latest schema; the pool role has its grants');
await db.close();
