import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StartupError } from '../server/startup-error.ts';

const reasons: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'the file system is read-only',
  ENOENT: 'a part of the path cannot be created there',
  ENOSPC: 'no space left on the device',
};

function unusable(dir: string, e: unknown): StartupError {
  const code = (e as { code?: string }).code ?? '';
  return new StartupError(`DATA_DIR ${dir} cannot be used: ${reasons[code] ?? code ?? String(e)}; set DATA_DIR to a writable directory`);
}

/**
 * Creates `dir` one level at a time. Node's recursive mkdir never returns on some paths (under /proc it
 * spins at 100 % CPU), so the missing levels are made one by one from the nearest existing parent.
 */
export async function ensureWritableDir(dir: string, mode = 0o755): Promise<void> {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    const info = await stat(d).catch((e: { code?: string }) => {
      if (e.code === 'ENOENT') return undefined;
      throw unusable(dir, e);
    });
    if (info) {
      if (!info.isDirectory()) throw unusable(dir, { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(d);
    if (dirname(d) === d) break;
    d = dirname(d);
  }
  for (const m of missing)
    await mkdir(m, { mode }).catch((e) => {
      if ((e as { code?: string }).code !== 'EEXIST') throw unusable(dir, e);
    });
  await access(dir, constants.W_OK | constants.X_OK).catch((e) => {
    throw unusable(dir, e);
  });
}
