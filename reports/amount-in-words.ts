/*
 * Amounts in words (大写) by the People's Bank rules: 零壹贰叁肆伍陆柒捌玖, 拾佰仟 within a
 * section, 万 and 亿 between sections; one 零 for a run of zeros inside the number; 零 written
 * after a zero 元 digit before 角, and after 元 when 角 is 0 and 分 is not; 整 only when the
 * amount ends at 元; always prefixed 人民币.
 */
const digitWords = '零壹贰叁肆伍陆柒捌玖';
const placeWords = ['', '拾', '佰', '仟'];

function integerWords(digits: string): string {
  let out = '';
  let zeroPending = false;
  for (let i = 0; i < digits.length; i++) {
    const place = digits.length - 1 - i;
    const d = Number(digits[i]);
    if (d === 0) zeroPending = true;
    else {
      if (zeroPending && out) out += '零';
      zeroPending = false;
      out += digitWords[d]! + placeWords[place % 4]!;
    }
    if (place > 0 && place % 4 === 0) {
      const section = digits.slice(Math.max(0, i - 3), i + 1);
      if (Number(section) !== 0) out += place % 8 === 0 ? '亿' : '万';
      // 万亿: a 亿 is owed even when the 亿 section itself is empty (10^12 is 壹万亿).
      else if (place % 8 === 0 && out && !out.endsWith('亿')) out += '亿';
    }
  }
  return out;
}

/**
 * An amount string with exactly two decimals, in words: 0.00 to 9999999999999999.99, every amount a
 * NUMERIC(18,2) column can hold (a total of postings each below 10^13 can pass 10^13).
 */
export function amountInWords(amount: string): string {
  const m = /^([0-9]{1,16})\.([0-9])([0-9])$/.exec(amount);
  if (!m) throw new Error(`not an amount with two decimals: ${amount}`);
  const integer = m[1]!.replace(/^0+(?=[0-9])/, '');
  const jiao = Number(m[2]);
  const fen = Number(m[3]);
  if (integer === '0') {
    if (jiao === 0 && fen === 0) return '人民币零元整';
    return `人民币${jiao ? `${digitWords[jiao]}角` : ''}${fen ? `${digitWords[fen]}分` : ''}`;
  }
  let out = `${integerWords(integer)}元`;
  if (jiao === 0 && fen === 0) out += '整';
  else if (jiao === 0) out += `零${digitWords[fen]}分`;
  else {
    if (integer.endsWith('0')) out += '零';
    out += `${digitWords[jiao]}角`;
    if (fen) out += `${digitWords[fen]}分`;
  }
  return `人民币${out}`;
}
