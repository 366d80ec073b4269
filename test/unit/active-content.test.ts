import { describe, expect, it } from 'vitest';
import { hasActiveContent } from '../../server/files/sniff.ts';

const pdf = (body: string) => Buffer.from(`%PDF-1.4\n${body}\n%%EOF\n`, 'latin1');

describe('PDF active content', () => {
  it.each([
    ['an /OpenAction running JavaScript', '1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj', true],
    ['a bare /JS string', '1 0 obj << /S /JavaScript /JS 2 0 R >> endobj', true],
    ['a /Launch action', '1 0 obj << /S /Launch /F (calc.exe) >> endobj', true],
    ['embedded files', '1 0 obj << /Names << /EmbeddedFiles 2 0 R >> >> endobj', true],
    ['one embedded file', '1 0 obj << /Type /EmbeddedFile /Length 3 >> endobj', true],
    ['rich media', '1 0 obj << /Subtype /RichMedia >> endobj', true],
    ['a name written with #xx escapes', '1 0 obj << /S /J#61vaScript /J#53 (x) >> endobj', true],
    ['an /OpenAction that opens a page', '1 0 obj << /Type /Catalog /OpenAction [3 0 R /Fit] >> endobj', false],
    ['a plain scan', '1 0 obj << /Type /XObject /Subtype /Image /Filter /DCTDecode >> endobj', false],
    ['a name that only starts like one (/JSON, /Launcher)', '1 0 obj << /JSON 1 /Launcher 2 >> endobj', false],
  ])('%s → %s', (_name, body, expected) => {
    expect(hasActiveContent(pdf(body))).toBe(expected);
  });
});
