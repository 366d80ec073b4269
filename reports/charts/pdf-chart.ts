import type { ReportDocument } from '../pdf/report-document.ts';

/** Draws a chart's SVG into the PDF at the current position, full text width, kept on one page; text in the document's CJK font. */
export async function drawChart(pdf: ReportDocument, svg: string, height: number, caption?: string): Promise<void> {
  const { default: SVGtoPDF } = await import('svg-to-pdfkit');
  pdf.ensureSpace(height + (caption ? 24 : 8));
  const x = pdf.doc.page.margins.left;
  const y = pdf.doc.y;
  SVGtoPDF(pdf.doc, svg, x, y, { width: pdf.width, height, preserveAspectRatio: 'xMidYMid meet', fontCallback: () => 'regular' });
  pdf.doc.y = y + height + 4;
  if (caption) pdf.paragraph(caption, { align: 'center', size: 9 });
}
