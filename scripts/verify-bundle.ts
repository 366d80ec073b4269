// `npm run verify-bundle -- FILE.zip [--witness witness.jsonl]`: checks an audit bundle on its own,
// with no database and no network; a witness file kept apart from the server adds its heads as anchors.
// Prints what holds; exits 0 when everything does, 1 naming what does not, 2 when unreadable.
import { readFile } from 'node:fs/promises';
import JSZip from 'jszip';
import { checkBundle, witnessAnchors } from '../server/bundle/bundle-check.ts';

const args = process.argv.slice(2);
const witnessAt = args.indexOf('--witness');
const witnessPath = witnessAt >= 0 ? args.splice(witnessAt, 2)[1] : undefined;
const path = args[0];
if (!path || (witnessAt >= 0 && !witnessPath)) {
  process.stderr.write('usage: npm run verify-bundle -- FILE.zip [--witness witness.jsonl]\n');
  process.exit(2);
}
const witness = witnessPath ? await readFile(witnessPath, 'utf8') : '';
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
const result = checkBundle(files, witnessPath ? (manifest, n) => witnessAnchors(witness, manifest, n) : undefined);
for (const c of result.checks) {
  process.stdout.write(`${c.ok ? 'OK  ' : 'FAIL'} ${c.name}\n`);
  for (const d of c.details) process.stdout.write(`       ${d}\n`);
}
process.stdout.write(`${result.ok ? 'the bundle holds' : 'the bundle does NOT hold'} (${Date.now() - started_ms} ms)\n`);
process.exit(result.ok ? 0 : 1);
