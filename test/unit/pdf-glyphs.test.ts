import { describe, expect, it } from 'vitest';
import { ReportDocument } from '../../reports/pdf/report-document.ts';
import { glyphRuns } from '../../reports/pdf/glyph-runs.ts';
import { pdfText } from '../support/pdf-text.ts';

describe('glyphs outside the main font', () => {
  it('splits text into runs by the font that has each character', () => {
    const has = {
      main: (cp: number) => cp < 0x20000 && cp !== 0x1f600,
      cjkFallback: (cp: number) => cp === 0x20bb7,
      emojiFallback: (cp: number) => cp === 0x1f600,
    };
    expect(glyphRuns('吉𠮷家😀\u{2A6D6}!', has)).toEqual({
      runs: [
        { font: 'main', text: '吉' },
        { font: 'cjkFallback', text: '𠮷' },
        { font: 'main', text: '家' },
        { font: 'emojiFallback', text: '😀' },
        { font: 'main', text: '〓!' },
      ],
      missing: ['\u{2A6D6}'],
    });
  });

  it('prints 𠮷 (CJK Extension B) and emoji as real text, and marks and names what no font has', async () => {
    const pdf = await ReportDocument.create({ title: 't', createdAt: new Date('2011-09-01T00:00:00Z') });
    pdf.title('𠮷野家软件正版化');
    pdf.fields([['单位', '𠮷田信息中心 😀']]);
    pdf.table(
      [
        { header: '单位', width: 2 },
        { header: '金额', width: 1, align: 'right' },
      ],
      [['𠮷林办公室', '1,409.50']],
    );
    pdf.paragraph('罕见字 \u{2A6D6} 结束');
    const text = (await pdfText(await pdf.toBuffer())).join('\n');
    expect(text).toContain('𠮷野家软件正版化');
    expect(text).toContain('𠮷田信息中心');
    expect(text).toContain('😀');
    expect(text).toContain('𠮷林办公室');
    expect(text).toContain('罕见字 〓 结束');
    expect(text).toContain('U+2A6D6');
    expect([...pdf.unprintable]).toEqual(['\u{2A6D6}']);
  });
});
