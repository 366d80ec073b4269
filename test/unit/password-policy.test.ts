import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../server/auth/passwords.ts';

describe('password policy', () => {
  it.each([
    ['short1234', '至少 10 个字符'],
    ['12345678901234', '不能全部是数字'],
    ['Accountant01', '不能与用户名相同'],
  ])('refuses %s: %s', (password, problem) => {
    expect(passwordProblem(password, 'accountant01')).toBe(problem);
  });
  it('accepts ten characters that are not only digits nor the username', () => {
    expect(passwordProblem('abcdefghi1', 'accountant01')).toBeNull();
  });
});
