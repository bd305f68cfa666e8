/**
 * Splits one CSV record (as cut by `RecordSplitter`, so quoted newlines are inside it) into its
 * fields, RFC 4180 style: `"` quotes a field, `""` inside quotes is one quote. Lenient where
 * RFC 4180 is silent: a quote inside an unquoted field is literal, and text between a closing
 * quote and the next delimiter is kept. Returns null for an unterminated quoted field.
 */
export function splitCsvFields(text: string, delimiter = ','): string[] | null {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return null;
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(j, q + 1);
          j = q + 2;
          continue;
        }
        value += text.slice(j, q);
        i = q + 1;
        break;
      }
      const d = text.indexOf(delimiter, i);
      if (d < 0) {
        out.push(i < n ? value + text.slice(i) : value);
        return out;
      }
      out.push(d > i ? value + text.slice(i, d) : value);
      i = d + 1;
      continue;
    }
    const d = text.indexOf(delimiter, i);
    if (d < 0) {
      out.push(text.slice(i));
      return out;
    }
    out.push(text.slice(i, d));
    i = d + 1;
  }
}
