import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../server/auth/passwords.ts';

describe('password policy', () => {
  it.each([
    ['short1234', 'must be at least 10 characters long'],
    ['12345678901234', 'must not consist of digits only'],
    ['Accountant01', 'must not be the username'],
  ])('refuses %s: %s', (password, problem) => {
    expect(passwordProblem(password, 'accountant01')).toBe(problem);
  });
  it('accepts ten characters that are not only digits nor the username', () => {
    expect(passwordProblem('abcdefghi1', 'accountant01')).toBeNull();
  });
});
