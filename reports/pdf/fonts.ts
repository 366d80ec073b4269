import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Noto Sans SC as TrueType from npm; pdfkit embeds only the glyphs used (a subset), as real text.
export const regularFontPath = require.resolve('@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf');
const boldPath = require.resolve('@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf');
// Fallbacks for what Noto Sans SC lacks: Noto Sans JP carries the CJK Extension B characters used in
// names (𠮷 U+20BB7 and others of JIS X 0213); Noto Emoji (monochrome outlines) the emoji.
const cjkFallbackPath = require.resolve('@expo-google-fonts/noto-sans-jp/400Regular/NotoSansJP_400Regular.ttf');
const emojiFallbackPath = require.resolve('@expo-google-fonts/noto-emoji/400Regular/NotoEmoji_400Regular.ttf');

interface GlyphRun {
  positions: object[];
}
interface FontkitFont {
  hasGlyphForCodePoint(codePoint: number): boolean;
  layout(text: string, ...options: unknown[]): GlyphRun;
}
const fontkit = require('fontkit') as { create(buffer: Buffer): FontkitFont };

export interface LoadedFont {
  /**
   * The parsed font, handed to pdfkit as it is (registerFont takes a fontkit font): given the file's
   * bytes, pdfkit would parse the font again for every document, and parsing its layout tables (GSUB,
   * GPOS, cmap of 30,000 glyphs) was most of a statement's rendering time. Each document still embeds
   * its own subset.
   */
  font: FontkitFont;
  has(codePoint: number): boolean;
}

// Enough for the words and figures that recur; a unit's own strings come and go (the cache starts over when full).
const layouts_max = 5_000;

/**
 * The font with its shaping (fontkit's `layout`, a third of a statement's drawing) remembered across
 * documents: the same words and figures recur in every statement, and a string's glyphs and positions
 * depend on the font alone. Everything else is the font's own (reached through the prototype). pdfkit
 * scales the positions it is given in place, so each call gets its own copy of them.
 */
function withSharedLayout(font: FontkitFont): FontkitFont {
  const runs = new Map<string, GlyphRun>();
  const shared = Object.create(font) as FontkitFont;
  shared.layout = (text, ...options) => {
    if (options.some((o) => o !== undefined)) return font.layout(text, ...options);
    let run = runs.get(text);
    if (!run) {
      if (runs.size >= layouts_max) runs.clear();
      runs.set(text, (run = font.layout(text)));
    }
    return Object.assign(Object.create(Object.getPrototypeOf(run) as object) as GlyphRun, run, { positions: run.positions.map((p) => ({ ...p })) });
  };
  return shared;
}

function load(path: string): LoadedFont {
  const font = fontkit.create(readFileSync(path));
  const known = new Map<number, boolean>();
  return {
    font: withSharedLayout(font),
    has(cp) {
      let v = known.get(cp);
      if (v === undefined) known.set(cp, (v = font.hasGlyphForCodePoint(cp)));
      return v;
    },
  };
}

let fonts: { regular: LoadedFont; bold: LoadedFont; cjkFallback: LoadedFont; emojiFallback: LoadedFont } | undefined;

/** Read and parsed once per process (per render thread), not per document: each file is several MB. */
export function cjkFonts() {
  fonts ??= { regular: load(regularFontPath), bold: load(boldPath), cjkFallback: load(cjkFallbackPath), emojiFallback: load(emojiFallbackPath) };
  return fonts;
}

/** The characters of `text` that neither the main font nor a fallback can print (each shown as 〓). */
export function unprintableIn(text: string): string[] {
  const f = cjkFonts();
  const found = new Set<string>();
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x200d) continue;
    if (!f.regular.has(cp) && !f.cjkFallback.has(cp) && !f.emojiFallback.has(cp)) found.add(ch);
  }
  return [...found];
}
