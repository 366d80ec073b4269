/** Which registered font prints a run of text; 'main' is the caller's (regular or bold). */
export type RunFont = 'main' | 'cjkFallback' | 'emojiFallback';

export interface Run {
  font: RunFont;
  text: string;
}

/** Printed in place of a character no font has: 〓 (geta mark), the usual sign for a missing glyph in CJK typesetting. */
export const missingMark = '〓';

// Variation selectors, zero-width joiner, skin tones and combining marks belong to the character before them.
const joinsPrevious = (cp: number) =>
  (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x200d || (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0xe0100 && cp <= 0xe01ef);
const isLayout = (cp: number) => cp === 0x20 || cp === 0x0a || cp === 0x0d || cp === 0x09;

/**
 * Splits text into runs, each printable in one font: the main font where it has the glyph, else
 * the CJK fallback, else the emoji fallback. A character none of them has becomes 〓 and is
 * reported, so nothing vanishes without a word.
 */
export function glyphRuns(text: string, has: Record<RunFont, (cp: number) => boolean>): { runs: Run[]; missing: string[] } {
  const runs: Run[] = [];
  const missing: string[] = [];
  const push = (font: RunFont, s: string) => {
    const last = runs[runs.length - 1];
    if (last && last.font === font) last.text += s;
    else runs.push({ font, text: s });
  };
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const last = runs[runs.length - 1];
    if (last && (joinsPrevious(cp) || isLayout(cp))) {
      // The previous font prints it if it can; a joiner it cannot print is simply left out of the glyphs.
      if (isLayout(cp) || (last.font === 'main' ? has.main(cp) : has[last.font](cp))) last.text += ch;
      continue;
    }
    if (has.main(cp) || isLayout(cp)) push('main', ch);
    else if (has.cjkFallback(cp)) push('cjkFallback', ch);
    else if (has.emojiFallback(cp)) push('emojiFallback', ch);
    else {
      missing.push(ch);
      push('main', missingMark);
    }
  }
  return { runs, missing };
}

/** U+20BB7 style, as people who look characters up write them. */
export const codePointName = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
