import type { Knex } from 'knex';
import { z } from 'zod';
import { departmentChange, departmentFields } from '../departments/department-rules.ts';
import { createDepartment, getDepartment, importDepartments, listDepartments, updateDepartment } from '../departments/departments.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { json, route } from '../http/route.ts';
import { department, departmentImport, departmentPage } from './responses/departments.ts';
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
        response: json(201, 'the department', department),
        errors: { 409: 'DUPLICATE' },
      },
      async (req, res, { body }) => {
        return res.status(201).json(await createDepartment(db, contextOf(req), body));
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
        response: json(200, '{created, updated}', departmentImport),
        errors: { 422: 'CSV_INVALID naming each bad line' },
      },
      async (req, res, { body, query }) => {
        return res.json(await importDepartments(db, contextOf(req), typeof body === 'string' ? body : '', query.effective_date));
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
        response: json(200, '{items, next_cursor}; q searches code (from its start) and name', departmentPage),
      },
      async (req, res, { query }) => {
        const { active, ...rest } = query;
        return res.json(
          await listDepartments(db, actorOf(req), { ...rest, limit: query.limit ?? 100, active: active === undefined ? undefined : active === 'true' }),
        );
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
        response: json(200, 'the department', department),
      },
      async (req, res, { params, body }) => {
        return res.json(await updateDepartment(db, contextOf(req), params.id, body));
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
        response: json(200, 'the department', department),
        errors: { 404: 'NOT_FOUND (also for another department)' },
      },
      async (req, res, { params }) => {
        return res.json(await getDepartment(db, actorOf(req), params.id));
      },
    ),
  ];
}
