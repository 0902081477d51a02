import { describe, expect, it } from 'vitest';
import {
  IMPORT_COLUMNS,
  ImportFileError,
  MAX_RECORD_BYTES,
  parseImportFile,
  splitLines,
  validateImportRow,
  type ParsedLine,
} from '@stack/core';

async function* chunks(text: string, size = 7): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(text: string, format: 'csv' | 'ndjson', size?: number): Promise<ParsedLine[]> {
  const lines: ParsedLine[] = [];
  for await (const line of parseImportFile(chunks(text, size), format, IMPORT_COLUMNS)) lines.push(line);
  return lines.sort((a, b) => a.line - b.line);
}

describe('CSV import parsing', () => {
  it('when rows are well formed, then each comes with its line number and header names', async () => {
    const lines = await collect(
      '\uFEFFSKU,Category,Name,Price_Cents\r\nA-1,tools,Hammer,1299\r\nA-2,tools,"Saw, big",2599\r\n',
      'csv',
    );
    expect(lines).toEqual([
      { line: 2, record: { sku: 'A-1', category: 'tools', name: 'Hammer', price_cents: '1299' } },
      { line: 3, record: { sku: 'A-2', category: 'tools', name: 'Saw, big', price_cents: '2599' } },
    ]);
  });

  it('when a quoted field spans lines, then the row is reported at the line it starts on', async () => {
    const lines = await collect(
      'sku,category,name,price_cents,description\na,tools,x,1,"two\nlines"\nb,tools,y,2,\n',
      'csv',
    );
    expect(lines.map((line) => [line.line, line.record?.sku])).toEqual([
      [2, 'a'],
      [4, 'b'],
    ]);
  });

  it('when a row has the wrong number of fields or a stray quote, then only that line is an error', async () => {
    const lines = await collect(
      'sku,category,name,price_cents\na,tools,x,1\nb,tools\nc,tools,"x"y,3\n\nd,tools,z,4\n',
      'csv',
    );
    expect(lines.filter((line) => line.error !== undefined)).toEqual([
      { line: 3, error: 'expected 4 fields, found 2' },
    ]);
    expect(lines.filter((line) => line.record).map((line) => line.line)).toEqual([2, 4, 6]);
  });

  it('when the header has an unknown or missing column, then the whole file is refused', async () => {
    await expect(collect('sku,category,name,price,colour\n', 'csv')).rejects.toThrow(
      /unknown column\(s\): price, colour/,
    );
    await expect(collect('sku,name\n', 'csv')).rejects.toBeInstanceOf(ImportFileError);
    await expect(collect('', 'csv')).rejects.toThrow(/empty/);
  });

  it('when a quote is never closed, then the import stops with the line where it opened', async () => {
    await expect(collect('sku,category,name,price_cents\na,tools,"x,1\nb,tools,y,2\n', 'csv')).rejects.toThrow(
      /Quote Not Closed/,
    );
  });
});

describe('NDJSON import parsing', () => {
  it('when lines hold objects, bad JSON or non-objects, then each gets its own line number', async () => {
    const text = '{"sku":"a"}\n\n{oops\n[1,2]\r\n{"sku":"b"}';
    expect(await collect(text, 'ndjson', 3)).toEqual([
      { line: 1, record: { sku: 'a' } },
      { line: 3, error: 'not valid JSON' },
      { line: 4, error: 'expected a JSON object' },
      { line: 5, record: { sku: 'b' } },
    ]);
  });

  it('when one line is longer than the limit, then it is skipped as too long without being held', async () => {
    const huge = `{"sku":"${'x'.repeat(MAX_RECORD_BYTES)}"}`;
    const lines: { line: number; tooLong: boolean }[] = [];
    for await (const line of splitLines(chunks(`${huge}\n{"sku":"ok"}\n`, 4_096))) lines.push(line);
    expect(lines.map(({ line, tooLong }) => ({ line, tooLong }))).toEqual([
      { line: 1, tooLong: true },
      { line: 2, tooLong: false },
    ]);
  });
});

describe('import row validation', () => {
  it('when CSV text and NDJSON values describe the same product, then both give the same row', () => {
    const fromCsv = validateImportRow({
      sku: ' A-1 ',
      category: 'tools',
      name: 'Hammer',
      price_cents: '1299',
      stock: '3',
      active: 'false',
    });
    const fromJson = validateImportRow({
      sku: 'A-1',
      category: 'tools',
      name: 'Hammer',
      price_cents: 1299,
      stock: 3,
      active: false,
    });
    expect(fromCsv).toEqual(fromJson);
    expect(fromCsv).toEqual({
      row: {
        sku: 'A-1',
        category: 'tools',
        name: 'Hammer',
        description: '',
        price_cents: 1299,
        stock: 3,
        active: false,
      },
    });
  });

  it('when fields are missing or wrong, then the reason names each of them', () => {
    const result = validateImportRow({ sku: 'A-1', category: 'Not A Slug', price_cents: '-5', colour: 'red' });
    expect('error' in result && result.error).toMatch(/unknown field\(s\): colour/);
    expect('error' in result && result.error).toMatch(/category: must be a category slug/);
    expect('error' in result && result.error).toMatch(/name: is required/);
    expect('error' in result && result.error).toMatch(/price_cents: /);
  });
});
