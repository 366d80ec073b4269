import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import type { Config } from '../config.ts';
import { findAttachment } from '../files/attachments.ts';
import { readStored } from '../files/file-store.ts';
import { contentDisposition } from '../files/sniff.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { file, mediaTypes, route, written } from '../http/route.ts';
import { idParam } from '../http/schemas.ts';

export function attachmentRoutes(db: Knex, config: Pick<Config, 'dataDir'>) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/attachments/:id',
        action: 'attachments.read',
        tag: 'receipts',
        summary: 'Download an attachment (inline=1 to show it in the browser)',
        params: z.strictObject({ id: idParam }),
        query: z.strictObject({ inline: z.enum(['0', '1']).optional() }),
        response: file('the stored file, in the type it was sniffed as', mediaTypes.pdf, mediaTypes.jpeg, mediaTypes.png),
      },
      async (req, res, { params, query }) => {
        const a = await findAttachment(db, actorOf(req), params.id);
        await recordAudit(db, contextOf(req), { action: 'attachment.download', objectType: 'attachment', objectId: params.id });
        res.setHeader('Content-Type', a.mediaType);
        res.setHeader('Content-Length', String(a.size));
        res.setHeader('Content-Disposition', contentDisposition(query.inline === '1' ? 'inline' : 'attachment', a.fileName));
        res.setHeader('X-Content-Type-Options', 'nosniff');
        // A scan shown inline must not run anything in the page's origin.
        res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
        readStored(config.dataDir, a.sha256)
          .on('error', () => res.destroy())
          .pipe(res);
        return written(res);
      },
    ),
  ];
}
