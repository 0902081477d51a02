import { describe, expect, it } from 'vitest';
import { csvField, csvLine } from '../src/reports/csv.js';

/** What a spreadsheet splitting on `separator` makes of one CSV line: its cells, quotes removed (RFC 4180). */
function cellsAsOpenedWith(line: string, separator: ',' | ';'): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i] as string;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"' && cell === '') quoted = true;
    else if (char === separator) {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells;
}

const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r'];

describe('CSV cells', () => {
  it('when text starts like a formula (=, +, -, @, tab, CR), then it gets a leading apostrophe', () => {
    for (const start of FORMULA_STARTS) {
      const field = csvField(`${start}HYPERLINK("http://x")`);
      expect(cellsAsOpenedWith(field, ',')[0]?.startsWith("'"), JSON.stringify(start)).toBe(true);
    }
    expect(csvField('=1+2')).toBe("'=1+2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });

  it('when text holds a semicolon, then it is quoted and a formula after it is neutralized too', () => {
    expect(csvField('a;b')).toBe('"a;b"');
    expect(csvField('a;=1+2')).toBe('"a;\'=1+2"');
    expect(csvField('a; "@x')).toBe('"a; ""\'@x"');
    const line = csvLine([7, 'sku;1', 'Tea;=HYPERLINK("http://evil")', 3]).trimEnd();
    expect(cellsAsOpenedWith(line, ',')).toEqual(['7', 'sku;1', 'Tea;\'=HYPERLINK("http://evil")', '3']);
    // A semicolon-locale spreadsheet splits this comma-separated line at every `;`, even inside the
    // quotes (they do not open its cells): no cell it makes may start a formula.
    expect(cellsAsOpenedWith(line, ';')).toHaveLength(3);
    for (const cell of cellsAsOpenedWith(line, ';')) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('when text holds a comma, quote or line break, then it is quoted with quotes doubled (RFC 4180)', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('\r=cmd')).toBe('"\'\r=cmd"');
  });

  it('when text is plain or a number, then it is written as is', () => {
    expect(csvField('Green tea')).toBe('Green tea');
    expect(csvField(-5)).toBe('-5');
    expect(csvLine(['day', 1, 2])).toBe('day,1,2\r\n');
  });

  it('when any formula start follows a separator of either convention, then no opened cell starts a formula', () => {
    for (const separator of [',', ';'] as const) {
      for (const start of FORMULA_STARTS) {
        const line = csvLine([1, `x${separator}${start}cmd`, `${start}cmd`, `y${separator} "${start}cmd`]).replace(
          /\r\n$/,
          '',
        );
        for (const cell of cellsAsOpenedWith(line, separator)) {
          expect(cell, JSON.stringify({ separator, start })).not.toMatch(/^[=+\-@\t\r]/);
        }
      }
    }
  });
});
