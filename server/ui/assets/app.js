// Client-side help for the receipt form, mirroring the server's rules; the server still decides.
(function () {
  const amount = /^[0-9]{1,13}(\.[0-9]{1,2})?$/;
  // The same normalisation as server/ui/form-amounts.ts: full-width digits, grouped thousands, ¥ and 元.
  const plain = (raw) => {
    const s = raw
      .normalize('NFKC')
      .trim()
      .replace(/^¥\s*/, '')
      .replace(/\s*元$/, '');
    if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(s)) return s.replaceAll(',', '');
    if (/^\d{1,3}( \d{3})+(\.\d*)?$/.test(s)) return s.replaceAll(' ', '');
    return s;
  };
  const toFen = (s) => {
    const [w, f = ''] = s.split('.');
    return BigInt(w) * 100n + BigInt((f + '00').slice(0, 2));
  };
  const fromFen = (fen) => {
    const s = fen.toString().padStart(3, '0');
    const whole = s.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${whole}.${s.slice(-2)}`;
  };
  /** Σ lines, and Σ + tax, in fen; null where a figure cannot be read yet. */
  function figures(form) {
    let sum = 0n;
    let readable = true;
    form.querySelectorAll('[name=line_amount]').forEach((input) => {
      const a = plain(input.value);
      if (!a) return;
      if (amount.test(a)) sum += toFen(a);
      else readable = false;
    });
    const taxText = plain(form.elements.tax_amount ? form.elements.tax_amount.value : '');
    const tax = taxText === '' ? 0n : amount.test(taxText) ? toFen(taxText) : null;
    return { sum: readable ? sum : null, withTax: readable && tax !== null ? sum + tax : null };
  }
  function recompute(form) {
    const f = figures(form);
    if (f.sum !== null) form.elements.total.value = fromFen(f.sum);
    if (form.elements.total_with_tax && f.withTax !== null) form.elements.total_with_tax.value = fromFen(f.withTax);
  }
  function check(form) {
    const problems = [];
    const kind = form.elements.invoice_kind.value;
    const code = form.elements.invoice_code.value.trim();
    const number = form.elements.invoice_number.value.trim();
    if (kind === 'digital') {
      if (!/^[0-9]{20}$/.test(number)) problems.push(['invoice_number', '数电票号码为 20 位数字']);
    } else {
      if (!/^([0-9]{10}|[0-9]{12})$/.test(code)) problems.push(['invoice_code', '发票代码为 10 或 12 位数字']);
      if (!/^[0-9]{8}$/.test(number)) problems.push(['invoice_number', '发票号码为 8 位数字']);
    }
    let sum = 0n;
    let lines = 0;
    form.querySelectorAll('tr.line').forEach((row) => {
      const a = plain(row.querySelector('[name=line_amount]').value);
      const p = row.querySelector('[name=line_product]').value.trim();
      if (!a && !p) return;
      lines++;
      if (!amount.test(a)) problems.push(['lines', '金额须为数字，最多两位小数，如 1,409.50']);
      else sum += toFen(a);
    });
    if (!lines) problems.push(['lines', '至少填写一行软件明细']);
    const total = plain(form.elements.total.value);
    if (!amount.test(total)) problems.push(['total', '合计金额须为数字，最多两位小数']);
    else if (toFen(total) !== sum) problems.push(['total', '合计金额须等于明细之和']);
    const tax = plain(form.elements.tax_amount ? form.elements.tax_amount.value : '');
    if (tax && !amount.test(tax)) problems.push(['tax_amount', '税额须为数字，最多两位小数']);
    const withTax = plain(form.elements.total_with_tax ? form.elements.total_with_tax.value : '');
    if (withTax && amount.test(total) && (!tax || amount.test(tax))) {
      if (!amount.test(withTax) || toFen(withTax) !== toFen(total) + (tax ? toFen(tax) : 0n))
        problems.push(['total_with_tax', '价税合计须等于金额合计与税额之和']);
    }
    return problems;
  }
  function mark(form, field, message) {
    const anchor = form.querySelector(`[data-field="${field}"]`);
    const span = document.createElement('span');
    span.className = 'field-error client-error';
    span.setAttribute('role', 'alert');
    span.id = `client-error-${field}`;
    span.textContent = message;
    (anchor || form).appendChild(span);
    const control = form.elements[field];
    if (control && control.setAttribute) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', span.id);
    }
  }
  document.addEventListener('input', (event) => {
    const input = event.target;
    const form = input instanceof HTMLInputElement ? input.closest('form.receipt') : null;
    if (form && (input.name === 'line_amount' || input.name === 'tax_amount')) recompute(form);
  });
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('form.receipt')) return;
    form.querySelectorAll('.client-error').forEach((e) => e.remove());
    form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    const problems = check(form);
    if (!problems.length) return;
    event.preventDefault();
    for (const [field, message] of problems) mark(form, field, message);
    const first = form.querySelector('[aria-invalid=true]');
    if (first) first.focus();
  });
  // A new line is added in place, below the others, its fields labelled with its number.
  document.addEventListener('click', (event) => {
    const button = event.target;
    if (!(button instanceof HTMLElement) || !button.matches('[data-add-line]')) return;
    const body = button.closest('form').querySelector('tbody.lines');
    const row = body.querySelector('tr.line').cloneNode(true);
    const n = body.querySelectorAll('tr.line').length + 1;
    row.querySelectorAll('input').forEach((i) => {
      i.value = '';
    });
    row.querySelectorAll('[aria-label]').forEach((c) => c.setAttribute('aria-label', c.getAttribute('aria-label').replace(/^第 \d+ 行/, `第 ${n} 行`)));
    body.appendChild(row);
    row.querySelector('input').focus();
  });
})();

// "Select all" for lists of check boxes (acceptance); without script, each box is ticked by hand.
document.addEventListener('change', (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches('[data-check-all]')) return;
  const form = box.closest('form');
  if (!form) return;
  for (const b of form.querySelectorAll('input[type=checkbox][name]')) b.checked = box.checked;
});
