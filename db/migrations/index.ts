import type { Knex } from 'knex';
import * as foundation from './001-foundation.ts';
import * as ledger from './002-ledger.ts';
import * as progressReceipts from './003-progress-receipts.ts';
import * as allocation from './004-allocation.ts';
import * as statements from './005-statements.ts';
import * as internalControl from './006-internal-control.ts';
import * as proof from './007-proof.ts';
import * as exceptionPaths from './008-exception-paths.ts';
import * as assetsInspections from './009-assets-inspections.ts';
import * as figuresByUnit from './010-figures-by-unit.ts';
import * as poolHardening from './011-pool-hardening.ts';
import * as postingInOneCall from './012-posting-in-one-call.ts';
import * as provinceScale from './013-province-scale.ts';
import * as jobs from './014-jobs.ts';
import * as voucherNumbers from './015-voucher-numbers.ts';
import * as documents from './016-documents.ts';
import * as sessionNotify from './017-session-notify.ts';
import * as setBasedLedgerGuards from './021-set-based-ledger-guards.ts';
import * as postingThroughput from './023-posting-throughput.ts';
import * as postingTriggersAtScale from './024-posting-triggers-at-scale.ts';
import * as groupApprovalSetBased from './025-group-approval-set-based.ts';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Listed, not discovered: the order is the schema's history and must not depend on the file system.
const migrations: Array<[string, Migration]> = [
  ['001-foundation', foundation],
  ['002-ledger', ledger],
  ['003-progress-receipts', progressReceipts],
  ['004-allocation', allocation],
  ['005-statements', statements],
  ['006-internal-control', internalControl],
  ['007-proof', proof],
  ['008-exception-paths', exceptionPaths],
  ['009-assets-inspections', assetsInspections],
  ['010-figures-by-unit', figuresByUnit],
  ['011-pool-hardening', poolHardening],
  ['012-posting-in-one-call', postingInOneCall],
  ['013-province-scale', provinceScale],
  ['014-jobs', jobs],
  ['015-voucher-numbers', voucherNumbers],
  ['016-documents', documents],
  ['017-session-notify', sessionNotify],
  ['021-set-based-ledger-guards', setBasedLedgerGuards],
  ['023-posting-throughput', postingThroughput],
  ['024-posting-triggers-at-scale', postingTriggersAtScale],
  ['025-group-approval-set-based', groupApprovalSetBased],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
