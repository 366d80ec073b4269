import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, translateDbError } from './translate-error.ts';

const attempts_max = 5;

/**
 * One operation = one transaction. Serialization failures and deadlocks are retried here and
 * nowhere else; constraint violations leave as domain errors.
 */
export async function inTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (e) {
      if (isRetryable(e) && attempt < attempts_max) {
        await sleep(Math.random() * 10 * attempt);
        continue;
      }
      throw translateDbError(e);
    }
  }
}
