/**
 * RFC 4180 CSV output, safe to open in a spreadsheet. Product names come from imports, and a report
 * is opened in Excel or LibreOffice, so no cell may start a formula
 * (https://owasp.org/www-community/attacks/CSV_Injection):
 * - text starting with `=`, `+`, `-`, `@`, tab or CR gets a leading apostrophe (OWASP's list);
 * - text holding `,`, `;`, a quote or a line break is quoted. `;` is the separator that spreadsheets in
 *   locales with a decimal comma (de, fr, ...) use, also for this comma-separated file;
 * - so quoting alone is not enough there: such a spreadsheet splits a line at every `;`, inside quotes
 *   too when the quote does not open its cell (`7,"a;=1+2"` opens as `7,"a` and `=1+2"`). A formula
 *   start after a `;` (and any spaces or quotes) gets the same apostrophe: `a;'=1+2`.
 */
const NEEDS_QUOTES = /[",;\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;
const FORMULA_AFTER_SEMICOLON = /;([ "]*)(?=[=+\-@\t\r])/g;

export function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const guarded = value.replace(FORMULA_AFTER_SEMICOLON, ";$1'");
  const safe = FORMULA_START.test(guarded) ? `'${guarded}` : guarded;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvLine(values: readonly (string | number)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
