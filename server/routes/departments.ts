import type { Knex } from 'knex';
import { z } from 'zod';
import { departmentChange, departmentFields } from '../departments/department-rules.ts';
import { createDepartment, getDepartment, importDepartments, listDepartments, updateDepartment } from '../departments/departments.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { route } from '../http/route.ts';
import { calendarDate, cursorParam, idParam, limitParam } from '../http/schemas.ts';

export function departmentRoutes(db: Knex) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/departments',
        action: 'departments.create',
        tag: 'departments',
        summary: 'Create a department (unit)',
        body: z.strictObject({
          code: departmentFields.code,
          name: departmentFields.name,
          group: departmentFields.group,
          status: departmentFields.status.optional(),
          note: departmentFields.note.optional(),
        }),
        responses: { 201: 'the department', 409: 'DUPLICATE' },
      },
      async (req, res, { body }) => {
        res.status(201).json(await createDepartment(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/departments/import',
        action: 'departments.import',
        tag: 'departments',
        bodyType: 'csv',
        summary: 'Create or update units by code from text/csv with the columns code,name,group,status,note; effective_date dates the statuses',
        query: z.strictObject({ effective_date: calendarDate.optional() }),
        responses: { 200: '{created, updated}', 422: 'CSV_INVALID naming each bad line' },
      },
      async (req, res, { body, query }) => {
        res.json(await importDepartments(db, contextOf(req), typeof body === 'string' ? body : '', query.effective_date));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments',
        action: 'departments.list',
        tag: 'departments',
        summary: 'List departments (a department user sees only its own)',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          group: departmentFields.group.optional(),
          status: departmentFields.status.optional(),
          q: z.string().max(200, '最多 200 个字符').optional(),
          active: z.enum(['true', 'false'], { error: '须为 true 或 false' }).optional(),
        }),
        responses: { 200: '{items, next_cursor}; q searches code (from its start) and name' },
      },
      async (req, res, { query }) => {
        const { active, ...rest } = query;
        res.json(await listDepartments(db, actorOf(req), { ...rest, limit: query.limit ?? 100, active: active === undefined ? undefined : active === 'true' }));
      },
    ),
    route(
      {
        method: 'patch',
        path: '/api/v1/departments/:id',
        action: 'departments.update',
        tag: 'departments',
        summary: 'Correct a unit’s name, group or contact, or deactivate it (units are never deleted)',
        params: z.strictObject({ id: idParam }),
        body: departmentChange,
        responses: { 200: 'the department', 404: 'NOT_FOUND', 422: 'VALIDATION_FAILED' },
      },
      async (req, res, { params, body }) => {
        res.json(await updateDepartment(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id',
        action: 'departments.read',
        tag: 'departments',
        summary: 'One department',
        params: z.strictObject({ id: idParam }),
        responses: { 200: 'the department', 404: 'NOT_FOUND (also for another department)' },
      },
      async (req, res, { params }) => {
        res.json(await getDepartment(db, actorOf(req), params.id));
      },
    ),
  ];
}
