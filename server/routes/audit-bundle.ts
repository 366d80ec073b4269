import type { Knex } from 'knex';
import { z } from 'zod';
import { writeAuditBundle } from '../bundle/audit-bundle.ts';
import { contentDisposition } from '../files/sniff.ts';
import { contextOf } from '../http/context.ts';
import { file, mediaTypes, route, written } from '../http/route.ts';
import { idParam } from '../http/schemas.ts';
import { witnessFileOf } from '../ledger/witness.ts';

export function auditBundleRoutes(db: Knex, config: { dataDir: string; witnessFile?: string | undefined }) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/audit-bundle.zip',
        action: 'ledger.read',
        tag: 'ledger',
        summary:
          'The offline audit bundle: entries, postings, accounts, policies, runs, payments, statements, attachments, anchors (check with npm run verify-bundle)',
        params: z.strictObject({ id: idParam }),
        response: file('the ZIP', mediaTypes.zip),
      },
      async (req, res, { params }) => {
        try {
          await writeAuditBundle(db, contextOf(req), params.id, witnessFileOf(config), res, () => {
            res.setHeader('Content-Type', 'application/zip');
            res.setHeader('Content-Disposition', contentDisposition('attachment', `audit-bundle-${params.id}.zip`));
          });
        } catch (e) {
          // Once bytes have gone out, cut the download so no one keeps a truncated bundle as whole.
          if (res.headersSent) res.destroy(e as Error);
          throw e;
        }
        return written(res);
      },
    ),
  ];
}
