/**
 * What people type into an amount box, made into what the API's strict parser reads
 * (`^\d{1,13}(\.\d{1,2})?$`): full-width digits and points (an IME left on), thousands separators
 * (12,450,000.00, as every statement prints them), a leading ¥ or a trailing 元. Anything it does not
 * recognise is left as typed, so the parser refuses it and says why; nothing is rounded or guessed.
 */
export function normaliseAmountInput(raw: string): string {
  // NFKC: ０-９ → 0-9, ． → ., ， → ,, the ideographic space → space, ￥ → ¥.
  const s = raw
    .normalize('NFKC')
    .trim()
    .replace(/^¥\s*/, '')
    .replace(/\s*元$/, '');
  // Separators only where they group thousands: "1,23" or "12,34.5" stay wrong, and are refused.
  if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(s)) return s.replaceAll(',', '');
  if (/^\d{1,3}( \d{3})+(\.\d*)?$/.test(s)) return s.replaceAll(' ', '');
  return s;
}

/** The page forms' fields that hold an amount (or a rate or percentage, which only need the digits made plain). */
const amountField = /^(amount|total|tax_amount|total_with_tax|line_amount|value|department_ceiling|target_percent|(rate|cap)_[a-z]+)$/;

/** Normalises the amount fields of a parsed form in place, before the page hands them to the API's schemas. */
export function normaliseAmountFields(body: unknown): void {
  if (!body || typeof body !== 'object') return;
  const fields = body as Record<string, unknown>;
  for (const [name, value] of Object.entries(fields)) {
    if (!amountField.test(name)) continue;
    if (typeof value === 'string') fields[name] = normaliseAmountInput(value);
    else if (Array.isArray(value)) fields[name] = value.map((v) => (typeof v === 'string' ? normaliseAmountInput(v) : v));
  }
}
