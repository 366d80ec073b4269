import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Noto Sans SC as TrueType from npm; pdfkit embeds only the glyphs used (a subset), as real text.
export const regularFontPath = require.resolve('@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf');
const boldPath = require.resolve('@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf');

let regular: Buffer | undefined;
let bold: Buffer | undefined;

/** Read once per process, not per document: each file is about 10 MB. */
export function cjkFonts(): { regular: Buffer; bold: Buffer } {
  regular ??= readFileSync(regularFontPath);
  bold ??= readFileSync(boldPath);
  return { regular, bold };
}
