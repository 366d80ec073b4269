import { describe, expect, it } from 'vitest';
import { translateDbError } from '../../server/db/translate-error.ts';
import { AppError } from '../../server/errors.ts';

describe('the one error translator: an unreachable database is 503 UNAVAILABLE with Retry-After', () => {
  const timeout = Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' });
  it.each([
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['57P01 admin shutdown', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['57P03 starting up', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
    ['08006 connection failure', Object.assign(new Error('connection failure'), { code: '08006' })],
    ['28P01 the pool password changed by another instance', Object.assign(new Error('password authentication failed for user "x_app"'), { code: '28P01' })],
    ['28000 the pool login refused', Object.assign(new Error('role "x_app" does not exist'), { code: '28000' })],
    ['a knex acquire timeout', timeout],
    ['a connection that ended', new Error('Connection terminated unexpectedly')],
    ['a report on the standby cancelled by replay', Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001' })],
    ['an AggregateError of refusals', Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {})],
  ])('%s', (_name, e) => {
    const t = translateDbError(e);
    expect(t).toBeInstanceOf(AppError);
    expect(t).toMatchObject({ code: 'UNAVAILABLE', headers: { 'Retry-After': '5' } });
  });

  it('leaves other database errors alone (a bug stays a 500) and maps text PostgreSQL cannot store to 422', () => {
    const bug = Object.assign(new Error('syntax error'), { code: '42601' });
    expect(translateDbError(bug)).toBe(bug);
    expect(translateDbError(Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(translateDbError(Object.assign(new Error('date/time field value out of range: "0000-01-01"'), { code: '22008' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(translateDbError(Object.assign(new Error('invalid input syntax for type date'), { code: '22007' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
