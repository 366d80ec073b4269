import type { Knex } from 'knex';
import { z } from 'zod';
import {
  addPreProgrammeAsset,
  installedBaseBody,
  preProgrammeAssetBody,
  reportInstalledBase,
  retire,
  retireBody,
  reviewPreProgrammeAsset,
} from '../assets/asset-changes.ts';
import { complianceReport, unitComplianceOf } from '../assets/compliance.ts';
import { attachAssetEvidence } from '../assets/evidence.ts';
import { acceptInventory, fileInventory, getInventory, inventoryBody, listInventories, returnInventory } from '../assets/inventories.ts';
import { registerPdf, registerTable } from '../assets/register-documents.ts';
import { assetStatuses, getAsset, listAssets } from '../assets/register.ts';
import { recordAudit } from '../audit/audit-log.ts';
import type { Config } from '../config.ts';
import { toCsv, toXlsx } from '../exports/tables.ts';
import { contentDisposition } from '../files/sniff.ts';
import { xlsxMediaType } from '../http/body.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { file, json, mediaTypes, route, written } from '../http/route.ts';
import { asset, assetPage, compliance, installedBase, inventory, inventoryPage, unitCompliance } from './responses/assets.ts';
import { attachment } from './responses/receipts.ts';
import { cursorParam, idParam, limitParam } from '../http/schemas.ts';
import { categories } from '../receipts/receipt-rules.ts';

const byId = z.strictObject({ id: idParam });
const reasonBody = z.strictObject({ reason: z.string().trim().min(1, '请说明理由').max(1000) });

export function softwareAssetRoutes(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  return [
    // Before /software-assets/:id, so that "compliance" is not read as an id.
    route(
      {
        method: 'get',
        path: '/api/v1/software-assets/compliance',
        action: 'assets.compliance',
        tag: 'software-assets',
        summary: 'Compliance per unit, for the programme and by group: licences in use ÷ computers, capped at 1; overall = lowest of os/office/antivirus',
        query: z.strictObject({
          group: z
            .string()
            .regex(/^[a-z][a-z0-9_]{0,39}$/, '不是有效的分组')
            .optional(),
        }),
        response: json(200, '{items, overall, by_group}', compliance),
      },
      async (_req, res, { query }) => {
        return res.json(await complianceReport(db, query));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/software-assets',
        action: 'assets.read',
        tag: 'software-assets',
        summary: "A unit's software-asset register (软件资产台账), in order of entry",
        params: byId,
        query: z.strictObject({ limit: limitParam, cursor: cursorParam, status: z.enum(assetStatuses).optional(), category: z.enum(categories).optional() }),
        response: json(200, '{items, next_cursor}', assetPage),
        errors: { 404: 'NOT_FOUND (also another department)' },
      },
      async (req, res, { params, query }) => {
        return res.json(await listAssets(db, actorOf(req), params.id, { ...query, limit: query.limit ?? 100 }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/departments/:id/software-assets',
        action: 'assets.write',
        tag: 'software-assets',
        summary: 'Add a licence bought before the programme; it counts once an accountant has reviewed its scanned evidence',
        params: byId,
        body: preProgrammeAssetBody,
        response: json(201, 'the register line (status pending)', asset),
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await addPreProgrammeAsset(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/software-assets.:format',
        action: 'assets.read',
        tag: 'software-assets',
        summary: "A unit's register as CSV or XLSX",
        params: z.strictObject({ id: idParam, format: z.enum(['csv', 'xlsx']) }),
        response: file('the table: CSV (UTF-8 with BOM) or XLSX, by the extension', mediaTypes.csv, mediaTypes.xlsx),
      },
      async (req, res, { params }) => {
        const { table, code } = await registerTable(db, actorOf(req), params.id);
        await recordAudit(db, contextOf(req), {
          action: 'export.software_register',
          objectType: 'department',
          objectId: params.id,
          after: { format: params.format },
        });
        res.setHeader('Content-Disposition', contentDisposition('attachment', `软件资产台账-${code}.${params.format}`));
        if (params.format === 'csv') res.type('text/csv; charset=utf-8').send(toCsv(table));
        else res.type(xlsxMediaType).send(await toXlsx([table]));
        return written(res);
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/software-register.pdf',
        action: 'assets.read',
        tag: 'software-assets',
        summary: "A unit's register as PDF, with its installed base and compliance",
        params: byId,
        response: file('the PDF', mediaTypes.pdf),
      },
      async (req, res, { params }) => {
        const { pdf, code, asOf } = await registerPdf(db, actorOf(req), params.id);
        await recordAudit(db, contextOf(req), { action: 'export.software_register_pdf', objectType: 'department', objectId: params.id });
        res.type('application/pdf').setHeader('Content-Disposition', contentDisposition('attachment', `软件资产台账-${code}-${asOf}.pdf`));
        res.send(pdf);
        return written(res);
      },
    ),
    route(
      {
        method: 'put',
        path: '/api/v1/departments/:id/installed-base',
        action: 'assets.write',
        tag: 'software-assets',
        summary: "Report a unit's computers and servers as of a date",
        params: byId,
        body: installedBaseBody,
        response: json(200, 'the installed base', installedBase),
      },
      async (req, res, { params, body }) => {
        return res.json(await reportInstalledBase(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/installed-base',
        action: 'assets.read',
        tag: 'software-assets',
        summary: "A unit's installed base, licences in use and compliance",
        params: byId,
        response: json(200, '{installed_base, licences, os, office, antivirus, overall}', unitCompliance),
      },
      async (req, res, { params }) => {
        return res.json(await unitComplianceOf(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/software-assets/:id',
        action: 'assets.read',
        tag: 'software-assets',
        summary: 'A register line with its retirements and evidence',
        params: byId,
        response: json(200, 'the register line', asset),
      },
      async (req, res, { params }) => {
        return res.json(await getAsset(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/software-assets/:id/attachments',
        action: 'assets.write',
        tag: 'software-assets',
        bodyType: 'multipart',
        summary: 'Attach the scanned evidence of a pre-programme licence (multipart field "file")',
        params: byId,
        response: json(201, '{id, sha256, media_type, size}', attachment),
        errors: { 409: 'CONFLICT (not awaiting review)' },
      },
      async (req, res, { params }) => {
        return res.status(201).json(await attachAssetEvidence(db, contextOf(req), req, config, params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/software-assets/:id/verify',
        action: 'assets.review',
        tag: 'software-assets',
        summary: 'Accept a pre-programme licence on its evidence',
        params: byId,
        body: z.strictObject({}),
        response: json(200, 'the register line', asset),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params }) => {
        return res.json(await reviewPreProgrammeAsset(db, contextOf(req), params.id, 'in_use'));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/software-assets/:id/reject',
        action: 'assets.review',
        tag: 'software-assets',
        summary: 'Refuse a pre-programme licence, with the reason',
        params: byId,
        body: reasonBody,
        response: json(200, 'the register line', asset),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params, body }) => {
        return res.json(await reviewPreProgrammeAsset(db, contextOf(req), params.id, 'rejected', body.reason));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/software-assets/:id/retire',
        action: 'assets.write',
        tag: 'software-assets',
        summary: 'Retire licences (all that remain unless `licences` is given), with date and reason; never deleted',
        params: byId,
        body: retireBody,
        response: json(200, 'the register line', asset),
        errors: { 409: 'CONFLICT (not in use)' },
      },
      async (req, res, { params, body }) => {
        return res.json(await retire(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/departments/:id/inventories',
        action: 'inventories.file',
        tag: 'software-assets',
        summary: 'File the yearly inventory (年度盘点): a count for each asset in use',
        params: byId,
        body: inventoryBody,
        response: json(201, 'the inventory with its differences', inventory),
        errors: { 409: 'DUPLICATE (already filed for the year)' },
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await fileInventory(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/inventories',
        action: 'assets.read',
        tag: 'software-assets',
        summary: 'Inventories, newest first (a unit sees its own)',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          department_id: idParam.optional(),
          year: z
            .string()
            .regex(/^[0-9]{4}$/, '须为年份')
            .transform(Number)
            .optional(),
          status: z.enum(['submitted', 'accepted', 'returned']).optional(),
        }),
        response: json(200, '{items, next_cursor}', inventoryPage),
        errors: { 404: "NOT_FOUND when department_id names another unit than a unit user's own (another unit's data is invisible)" },
      },
      async (req, res, { query }) => {
        return res.json(await listInventories(db, actorOf(req), query));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/inventories/:id',
        action: 'assets.read',
        tag: 'software-assets',
        summary: 'An inventory with its counts and differences',
        params: byId,
        response: json(200, 'the inventory', inventory),
      },
      async (req, res, { params }) => {
        return res.json(await getInventory(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/inventories/:id/accept',
        action: 'inventories.review',
        tag: 'software-assets',
        summary: 'Accept the differences: what was not found is retired',
        params: byId,
        body: z.strictObject({ note: z.string().trim().max(1000).optional() }),
        response: json(200, 'the inventory', inventory),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params, body }) => {
        return res.json(await acceptInventory(db, contextOf(req), params.id, body.note));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/inventories/:id/return',
        action: 'inventories.review',
        tag: 'software-assets',
        summary: 'Send an inventory back to be counted again, with the reason',
        params: byId,
        body: reasonBody,
        response: json(200, 'the inventory', inventory),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params, body }) => {
        return res.json(await returnInventory(db, contextOf(req), params.id, body.reason));
      },
    ),
  ];
}
