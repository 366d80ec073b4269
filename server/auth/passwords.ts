import { Algorithm, hash, verify } from '@node-rs/argon2';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import { AppError } from '../errors.ts';

// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1. @node-rs/argon2 ships prebuilt
// binaries (no compiler, no Node headers at install); it reads and writes the same PHC strings
// ($argon2id$v=19$m=…) as the earlier native `argon2` package, so existing hashes stay valid.
const options = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, options);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

// Verifying against this when the user does not exist keeps the answer time the same.
const decoyHash = hashPassword('decoy password that never matches');

export async function burnVerification(password: string): Promise<void> {
  await verifyPassword(await decoyHash, password);
}

// zxcvbn with the common-password and diceware lists of a maintained package (not a hand-typed list):
// it finds dictionary words, l33t, repeats, sequences, keyboard walks and dates inside a password.
let strength: ZxcvbnFactory | undefined;
function checker(): ZxcvbnFactory {
  strength ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs, useLevenshteinDistance: true });
  return strength;
}

export const password_minLength = 12;
/** zxcvbn's score 3: "safely unguessable: moderate protection from offline slow-hash scenario". */
const score_min = 3;

/**
 * Words of this project that an attacker tries first: its name, the demo's password and the year of
 * its case. zxcvbn takes them as user inputs, so 'jiangbu-demo-2011' or 'Jiangbu2011!' score low.
 */
const projectWords = ['jiangbu', 'jiangbu-demo-2011', 'jiangbudemo', 'demo', '2011', 'jiangbu2011', 'zhengban', 'zhengbanhua', 'admin'];

/** Returns the reason a password is refused, or null when it meets the policy. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < password_minLength) return `至少 ${password_minLength} 个字符`;
  if (password.length > 256) return '最多 256 个字符';
  if (/^[0-9]+$/.test(password)) return '不能全部是数字';
  if (password.toLowerCase() === username.toLowerCase()) return '不能与用户名相同';
  // Only the first 100 characters are scored: zxcvbn's matching grows fast with length, and a
  // password that long is not weak for its tail.
  if (checker().check(password.slice(0, 100), [username, ...projectWords]).score < score_min)
    return '过于常见或容易猜到（如常用密码、重复或连续字符、键盘序列），请换一个更长、更少见的密码';
  return null;
}

export function assertPasswordPolicy(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw new AppError('WEAK_PASSWORD', `密码${problem}`, [{ field: 'password', message: problem }]);
}
