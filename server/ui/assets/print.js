// 打印 buttons on the voucher and ledger pages (no inline handlers: the CSP allows only scripts from here).
document.addEventListener('click', (event) => {
  if (event.target instanceof Element && event.target.closest('[data-print]')) window.print();
});
