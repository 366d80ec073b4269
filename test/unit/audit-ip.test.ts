import { describe, expect, it } from 'vitest';
import { auditIp } from '../../server/audit/audit-names.ts';

describe('the address in the audit log, as people write it', () => {
  it('shows an IPv4 client seen on a dual-stack socket as plain IPv4, and leaves real IPv6 and missing addresses alone', () => {
    expect(auditIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(auditIp('::FFFF:10.20.30.40')).toBe('10.20.30.40');
    expect(auditIp('10.20.30.40')).toBe('10.20.30.40');
    expect(auditIp('2001:db8::1')).toBe('2001:db8::1');
    expect(auditIp('::ffff:abcd')).toBe('::ffff:abcd');
    expect(auditIp(null)).toBe('');
  });
});
