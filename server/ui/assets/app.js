// Client-side checks that mirror the server's rules for receipts; the server still decides.
(function () {
  const amount = /^[0-9]{1,13}(\.[0-9]{1,2})?$/;
  const toFen = (s) => {
    const [w, f = ''] = s.split('.');
    return BigInt(w) * 100n + BigInt((f + '00').slice(0, 2));
  };
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
      const a = row.querySelector('[name=line_amount]').value.trim();
      const p = row.querySelector('[name=line_product]').value.trim();
      if (!a && !p) return;
      lines++;
      if (!amount.test(a)) problems.push(['lines', '金额须为数字，最多两位小数，如 1409.50']);
      else sum += toFen(a);
    });
    if (!lines) problems.push(['lines', '至少填写一行软件明细']);
    const total = form.elements.total.value.trim();
    if (!amount.test(total)) problems.push(['total', '合计金额须为数字，最多两位小数']);
    else if (toFen(total) !== sum) problems.push(['total', '合计金额须等于明细之和']);
    return problems;
  }
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('form.receipt')) return;
    form.querySelectorAll('.client-error').forEach((e) => e.remove());
    const problems = check(form);
    if (!problems.length) return;
    event.preventDefault();
    for (const [field, message] of problems) {
      const anchor = form.querySelector(`[data-field="${field}"]`);
      const span = document.createElement('span');
      span.className = 'field-error client-error';
      span.setAttribute('role', 'alert');
      span.textContent = message;
      (anchor || form).appendChild(span);
    }
  });
  document.addEventListener('click', (event) => {
    const button = event.target;
    if (!(button instanceof HTMLElement) || !button.matches('[data-add-line]')) return;
    const body = document.querySelector('tbody.lines');
    const row = body.querySelector('tr.line').cloneNode(true);
    row.querySelectorAll('input').forEach((i) => {
      i.value = '';
    });
    body.appendChild(row);
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
