export type MediaType = 'application/pdf' | 'image/jpeg' | 'image/png';

/** What the bytes are, whatever the name or declared type says. */
export function sniffMediaType(head: Buffer): MediaType | null {
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return null;
}

/**
 * PDFs that can run code, launch programs or carry other files when opened: scripts (/JavaScript,
 * /JS — an /OpenAction or /AA runs one through these), /Launch, embedded files. Names may hide
 * behind #xx escapes (/J#61vaScript), so those are decoded first. A plain /OpenAction that only opens
 * a page is harmless and common. Scripts inside compressed object streams are not seen here; a
 * scanner's or a printer driver's PDF has none.
 */
export function hasActiveContent(pdf: Buffer): boolean {
  const text = pdf
    .toString('latin1')
    .replace(/\/[^\s/<>[\]()%{}]*/g, (name) => name.replace(/#([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))));
  return /\/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9])/.test(text);
}

/** A name safe to keep and to echo back: no directories, control characters or quotes. */
export function sanitiseFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base
    // Control characters are exactly what this removes.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f"<>|:*?]/g, '')
    .replace(/^\.+/, '')
    .trim()
    .slice(0, 200);
  return clean || 'upload';
}

/** RFC 6266 / RFC 5987: an ASCII fallback and the UTF-8 name. */
export function contentDisposition(kind: 'inline' | 'attachment', fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
