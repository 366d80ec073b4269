import type PDFKitDocument from 'pdfkit';
import { cjkFonts, type LoadedFont } from './fonts.ts';
import { codePointName, glyphRuns, missingMark } from './glyph-runs.ts';

export interface Column {
  header: string;
  width: number;
  align?: 'left' | 'right' | 'center';
}

const margin = 56; // 2 cm
// pdfkit takes a parsed fontkit font where its types say file bytes or a path (PDFFontFactory.open).
const parsed = (f: LoadedFont) => f.font as unknown as PDFKit.Mixins.PDFFontSource;
const footer_height = 28;
const cellPadding = 4;

/**
 * An A4 page frame for statements and bulletins: CJK text, tables that break across pages with
 * their header repeated, and "第 x 页 共 y 页" on every page. The same input gives the same bytes:
 * the creation date is the caller's, not the clock's.
 */
type Meta = { title: string; subject?: string; createdAt: Date };

export class ReportDocument {
  readonly doc: PDFKit.PDFDocument;
  private readonly chunks: Buffer[] = [];

  /** pdfkit is loaded on the first document, not at start-up: most requests never draw one. */
  static async create(meta: Meta): Promise<ReportDocument> {
    const { default: PDFDocument } = await import('pdfkit');
    return new ReportDocument(PDFDocument, meta);
  }

  private constructor(PDFDocument: typeof PDFKitDocument, meta: Meta) {
    this.doc = new PDFDocument({
      size: 'A4',
      margins: { top: margin, bottom: margin + footer_height, left: margin, right: margin },
      bufferPages: true,
      info: {
        Title: meta.title,
        Subject: meta.subject ?? meta.title,
        Creator: 'Jiangbu',
        Producer: 'Jiangbu',
        CreationDate: meta.createdAt,
        ModDate: meta.createdAt,
      },
      lang: 'zh-CN',
      displayTitle: true,
    });
    const fonts = cjkFonts();
    this.doc.registerFont('regular', parsed(fonts.regular));
    this.doc.registerFont('bold', parsed(fonts.bold));
    this.doc.registerFont('cjkFallback', parsed(fonts.cjkFallback));
    this.doc.registerFont('emojiFallback', parsed(fonts.emojiFallback));
    this.doc.font('regular').fontSize(10.5);
    this.doc.on('data', (c: Buffer) => this.chunks.push(c));
  }

  /** Characters no font could print, each shown as 〓 and named in the last page's footer. */
  readonly unprintable = new Set<string>();

  /**
   * Every piece of text goes through here: characters the main font lacks (CJK Extension B such as
   * 𠮷, emoji) are printed from the fallback fonts in the same line, as real, extractable text.
   */
  private write(text: string, font: 'regular' | 'bold', x: number, y: number, options: PDFKit.Mixins.TextOptions): void {
    const fonts = cjkFonts();
    const main = font === 'regular' ? fonts.regular : fonts.bold;
    const { runs, missing } = glyphRuns(text, {
      main: (cp) => main.has(cp),
      cjkFallback: (cp) => fonts.cjkFallback.has(cp),
      emojiFallback: (cp) => fonts.emojiFallback.has(cp),
    });
    for (const ch of missing) this.unprintable.add(ch);
    if (runs.length <= 1) {
      this.doc.font(runs[0]?.font === 'main' || !runs[0] ? font : runs[0].font).text(runs[0]?.text ?? text, x, y, options);
      return;
    }
    runs.forEach((run, i) => {
      const continued = i < runs.length - 1;
      this.doc.font(run.font === 'main' ? font : run.font);
      if (i === 0) this.doc.text(run.text, x, y, { ...options, continued });
      else this.doc.text(run.text, { ...options, continued });
    });
    this.doc.font(font);
  }

  get width(): number {
    return this.doc.page.width - margin * 2;
  }

  private get bottom(): number {
    return this.doc.page.height - margin - footer_height;
  }

  /** Starts a new page unless `height` points still fit on this one. */
  ensureSpace(height: number): void {
    if (this.doc.y + height > this.bottom) this.doc.addPage();
  }

  title(text: string): this {
    this.doc.fontSize(18);
    this.write(text, 'bold', margin, this.doc.y, { width: this.width, align: 'center' });
    this.doc.moveDown(0.6).font('regular').fontSize(10.5);
    return this;
  }

  heading(text: string): this {
    // Keep a heading with at least a few lines of what follows it.
    this.ensureSpace(90);
    this.doc.moveDown(0.4).fontSize(12.5);
    this.write(text, 'bold', margin, this.doc.y, { width: this.width });
    this.doc.moveDown(0.3).font('regular').fontSize(10.5);
    return this;
  }

  paragraph(text: string, options: { align?: 'left' | 'right' | 'center' | 'justify'; size?: number } = {}): this {
    this.doc.fontSize(options.size ?? 10.5);
    this.write(text, 'regular', margin, this.doc.y, { width: this.width, align: options.align ?? 'left', lineGap: 2 });
    this.doc.fontSize(10.5).moveDown(0.3);
    return this;
  }

  /** Label–value pairs in two columns, for headers of statements. */
  fields(pairs: Array<[string, string]>, labelWidth = 90): this {
    for (const [label, value] of pairs) {
      const h = Math.max(this.doc.heightOfString(value, { width: this.width - labelWidth }), 14);
      this.ensureSpace(h + 2);
      const y = this.doc.y;
      this.write(label, 'bold', margin, y, { width: labelWidth });
      this.write(value, 'regular', margin + labelWidth, y, { width: this.width - labelWidth });
      this.doc.y = y + h + 2;
    }
    return this;
  }

  /** A ruled table; rows that do not fit go to the next page under a repeated header. */
  table(columns: Column[], rows: string[][], options: { fontSize?: number; lastRowKeepsWith?: number } = {}): this {
    const size = options.fontSize ?? 9;
    const total = columns.reduce((s, c) => s + c.width, 0);
    const scale = this.width / total;
    const widths = columns.map((c) => c.width * scale);
    const heightOf = (cells: string[], font: string) => {
      this.doc.font(font).fontSize(size);
      return Math.max(...cells.map((text, i) => this.doc.heightOfString(text || ' ', { width: widths[i]! - cellPadding * 2 }))) + cellPadding * 2;
    };
    const drawRow = (cells: string[], font: string, shaded: boolean) => {
      const h = heightOf(cells, font);
      const y = this.doc.y;
      let x = margin;
      if (shaded) this.doc.rect(margin, y, this.width, h).fillColor('#eeeeee').fill().fillColor('black');
      cells.forEach((text, i) => {
        this.doc.rect(x, y, widths[i]!, h).lineWidth(0.5).strokeColor('#555555').stroke();
        this.doc.fontSize(size).fillColor('black');
        this.write(text, font as 'regular' | 'bold', x + cellPadding, y + cellPadding, {
          width: widths[i]! - cellPadding * 2,
          align: columns[i]!.align ?? 'left',
        });
        x += widths[i]!;
      });
      this.doc.y = y + h;
    };
    const header = columns.map((c) => c.header);
    const headerHeight = heightOf(header, 'bold');
    this.ensureSpace(headerHeight + heightOf(rows[0] ?? [''], 'regular'));
    drawRow(header, 'bold', true);
    for (const [i, row] of rows.entries()) {
      // The last row (a 合计) may be asked to stay with what follows it, e.g. the signatures.
      const after = i === rows.length - 1 ? (options.lastRowKeepsWith ?? 0) : 0;
      if (this.doc.y + heightOf(row, 'regular') + after > this.bottom && (after === 0 || i > 0)) {
        this.doc.addPage();
        drawRow(header, 'bold', true);
      }
      drawRow(row, 'regular', false);
    }
    this.doc.font('regular').fontSize(10.5).moveDown(0.5);
    this.doc.x = margin;
    return this;
  }

  /**
   * Blocks for signatures, e.g. 制单 / 审核 / 会计主管: the name the system knows printed on the line
   * (the person still signs beside it), or an empty line for a hand.
   */
  signatures(labels: string[], names: Array<string | undefined> = []): this {
    this.ensureSpace(60);
    this.doc.moveDown(1.5);
    const y = this.doc.y;
    const w = this.width / labels.length;
    labels.forEach((label, i) => {
      this.doc.font('regular').fontSize(10.5);
      this.write(`${label}：`, 'regular', margin + i * w, y, { width: 56, lineBreak: false });
      const name = names[i];
      if (name) this.write(name, 'regular', margin + i * w + 58, y, { width: w - 72, lineBreak: false, ellipsis: true });
      this.doc
        .moveTo(margin + i * w + 56, y + 14)
        .lineTo(margin + (i + 1) * w - 12, y + 14)
        .lineWidth(0.5)
        .stroke();
    });
    this.doc.y = y + 30;
    this.doc.x = margin;
    return this;
  }

  /** The height `signatures` and `closing` take, for keeping them on the page of what they sign. */
  static readonly signatures_height = 60;
  static readonly closing_height = 110;

  /**
   * 落款: the issuing office and the date, right-aligned, with the place for its seal (盖章处) drawn
   * over them, as on a paper notice.
   */
  closing(office: string, date: string): this {
    this.ensureSpace(ReportDocument.closing_height);
    this.doc.moveDown(1);
    const y = this.doc.y;
    const right = margin + this.width;
    const blockWidth = 200;
    this.write(office, 'regular', right - blockWidth, y + 30, { width: blockWidth, align: 'center' });
    this.write(date, 'regular', right - blockWidth, y + 48, { width: blockWidth, align: 'center' });
    // The seal goes across the office and date, a 42 mm circle in practice; drawn here at 30 mm.
    const cx = right - blockWidth / 2;
    const cy = y + 44;
    this.doc.save().circle(cx, cy, 40).lineWidth(0.6).dash(3, { space: 3 }).strokeColor('#999999').stroke().restore();
    this.doc.fontSize(8).fillColor('#777777');
    this.write('（盖章处）', 'regular', cx - 40, cy - 36, { width: 80, align: 'center' });
    this.doc.fillColor('black').fontSize(10.5);
    this.doc.y = y + 96;
    this.doc.x = margin;
    return this;
  }

  /** Numbers every page and returns the finished bytes. */
  async toBuffer(footerLeft = ''): Promise<Buffer> {
    const range = this.doc.bufferedPageRange();
    for (let i = range.start; i < range.start + range.count; i++) {
      this.doc.switchToPage(i);
      const y = this.doc.page.height - margin - footer_height + 10;
      this.doc.page.margins.bottom = 0;
      this.doc.font('regular').fontSize(8.5).fillColor('#444444');
      if (footerLeft) this.doc.text(footerLeft, margin, y, { width: this.width * 0.7, lineBreak: false });
      this.doc.text(`第 ${i + 1} 页 共 ${range.count} 页`, margin, y, { width: this.width, align: 'right', lineBreak: false });
      if (i === range.start + range.count - 1 && this.unprintable.size > 0) {
        const names = [...this.unprintable].map(codePointName).join('、');
        this.doc.text(`注：${missingMark} 处为本文件无法显示的字符（${names}）`, margin, y + 11, { width: this.width, lineBreak: false });
      }
      this.doc.fillColor('black');
    }
    const done = new Promise<void>((resolve) => this.doc.on('end', () => resolve()));
    this.doc.end();
    await done;
    return Buffer.concat(this.chunks);
  }
}
