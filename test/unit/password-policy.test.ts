import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../server/auth/passwords.ts';

const weak = '过于常见或容易猜到（如常用密码、重复或连续字符、键盘序列），请换一个更长、更少见的密码';

describe('password policy', () => {
  it.each([
    ['password12', '至少 12 个字符'],
    ['aaaaaaaaaa', '至少 12 个字符'],
    ['12345678901234', '不能全部是数字'],
    ['Accountant01', '不能与用户名相同'],
    // Weak though long enough: the common-password list, repeats, keyboard walks, l33t of a common word.
    ['aaaaaaaaaaaa', weak],
    ['password1234', weak],
    ['qwertyuiop12', weak],
    ['Passw0rd!2024', weak],
    ['accountant01!', weak],
    // The project's own words: the demo's published password and its variants.
    ['jiangbu-demo-2011', weak],
    ['Jiangbu-Demo-2011!', weak],
  ])('refuses %s: %s', (password, problem) => {
    expect(passwordProblem(password, 'accountant01')).toBe(problem);
  });

  it.each(['correct horse battery staple', 'staple-orchard-lantern-91', '财政厅会计主管密码2011'])('accepts %s', (password) => {
    expect(passwordProblem(password, 'accountant01')).toBeNull();
  });
});
