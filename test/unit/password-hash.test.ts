import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../server/auth/passwords.ts';

// Written by the native `argon2` package (0.45.1) that earlier releases used, with the same parameters.
const earlierHash = '$argon2id$v=19$m=19456,p=1,t=2$xM55ccHCQwG6qrCxsDJjJQ$0Gw6Vkh7XHatOSvhI3CxC7lrRvsycYQ0kTLuYNCxsQc';

describe('password hashes', () => {
  it('still accepts a hash written by the earlier argon2 package, and only with its password', async () => {
    expect(await verifyPassword(earlierHash, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(earlierHash, 'correct horse battery stapl')).toBe(false);
  });

  it('writes argon2id with m = 19 MiB, t = 2, p = 1 and a fresh salt each time', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, 'correct horse battery staple')).toBe(true);
  });

  it('answers false, not an error, for a stored value that is not a hash', async () => {
    expect(await verifyPassword('not a hash', 'anything')).toBe(false);
  });
});
