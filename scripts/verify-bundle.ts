// `npm run verify-bundle -- FILE.zip`: checks an audit bundle on its own, with no database and no
// network. Prints what holds; exits 0 when everything does, 1 naming what does not, 2 when unreadable.
import { readFile } from 'node:fs/promises';
import JSZip from 'jszip';
import { checkBundle } from '../server/bundle/bundle-check.ts';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: npm run verify-bundle -- FILE.zip\n');
  process.exit(2);
}
let files: Map<string, Buffer>;
try {
  const zip = await JSZip.loadAsync(await readFile(path));
  files = new Map();
  for (const entry of Object.values(zip.files)) if (!entry.dir) files.set(entry.name, await entry.async('nodebuffer'));
} catch (e) {
  process.stderr.write(`${path}: not a readable zip (${(e as Error).message})\n`);
  process.exit(2);
}
const started_ms = Date.now();
const result = checkBundle(files);
for (const c of result.checks) {
  process.stdout.write(`${c.ok ? 'OK  ' : 'FAIL'} ${c.name}\n`);
  for (const d of c.details) process.stdout.write(`       ${d}\n`);
}
process.stdout.write(`${result.ok ? 'the bundle holds' : 'the bundle does NOT hold'} (${Date.now() - started_ms} ms)\n`);
process.exit(result.ok ? 0 : 1);
