import type { Knex } from 'knex';
import { z } from 'zod';
import { departmentFields } from '../departments/department-rules.ts';
import { createDepartment, getDepartment, importDepartments, listDepartments } from '../departments/departments.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { route } from '../http/route.ts';
import { calendarDate, cursorParam, idParam, limitParam } from '../http/schemas.ts';

export function departmentRoutes(db: Knex) {
  return [
    route(
      {
        method: 'post', path: '/api/v1/departments', action: 'departments.create', tag: 'departments', summary: 'Create a department (unit)',
        body: z.strictObject({ code: departmentFields.code, name: departmentFields.name, group: departmentFields.group, status: departmentFields.status.optional(), note: departmentFields.note.optional() }),
        responses: { 201: 'the department', 409: 'DUPLICATE' },
      },
      async (req, res, { body }) => {
        res.status(201).json(await createDepartment(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'post', path: '/api/v1/departments/import', action: 'departments.import', tag: 'departments', bodyType: 'csv',
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
        method: 'get', path: '/api/v1/departments', action: 'departments.list', tag: 'departments', summary: 'List departments (a department user sees only its own)',
        query: z.strictObject({ limit: limitParam, cursor: cursorParam, group: departmentFields.group.optional(), status: departmentFields.status.optional() }),
        responses: { 200: '{items, next_cursor}' },
      },
      async (req, res, { query }) => {
        res.json(await listDepartments(db, actorOf(req), { ...query, limit: query.limit ?? 100 }));
      },
    ),
    route(
      { method: 'get', path: '/api/v1/departments/:id', action: 'departments.read', tag: 'departments', summary: 'One department', params: z.strictObject({ id: idParam }), responses: { 200: 'the department', 404: 'NOT_FOUND (also for another department)' } },
      async (req, res, { params }) => {
        res.json(await getDepartment(db, actorOf(req), params.id));
      },
    ),
  ];
}
