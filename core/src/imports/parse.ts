/**
 * Streaming parsers for import files. Both turn a stream of byte chunks into a stream of lines that
 * carry their 1-based line number, either a record (field name -> raw value) or the reason that line
 * cannot be read. Memory is bounded by MAX_RECORD_BYTES whatever the file size.
 *
 * CSV: RFC 4180 through csv-parse (quoted fields, embedded newlines, BOM, CRLF); the first record is
 * the header. NDJSON: one JSON object per line; blank lines are skipped.
 */
import { Readable } from 'node:stream';
import { parse as parseCsv, type CsvError } from 'csv-parse';

/** Longest record (line) accepted; longer ones are reported and skipped. */
export const MAX_RECORD_BYTES = 64 * 1024;

export type ImportFormat = 'csv' | 'ndjson';

export type ParsedLine =
  | { line: number; record: Record<string, unknown>; error?: undefined }
  | { line: number; error: string; record?: undefined };

/** The file cannot be read past some point (bad header, unclosed quote): the import fails as a whole. */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

export function parseImportFile(
  source: AsyncIterable<Buffer>,
  format: ImportFormat,
  columns: { required: readonly string[]; optional: readonly string[] },
): AsyncGenerator<ParsedLine> {
  return format === 'csv' ? parseCsvLines(source, columns) : parseNdjsonLines(source);
}

async function* parseCsvLines(
  source: AsyncIterable<Buffer>,
  columns: { required: readonly string[]; optional: readonly string[] },
): AsyncGenerator<ParsedLine> {
  const skipped: ParsedLine[] = [];
  let fatal: ImportFileError | undefined;
  const parser = parseCsv({
    bom: true,
    info: true,
    raw: true,
    // Per-row problems become line errors instead of ending the parse.
    relax_column_count: true,
    relax_quotes: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    on_skip: (error: CsvError | undefined) => {
      const line = Number((error as { lines?: number } | undefined)?.lines ?? 0);
      // An unclosed quote or a runaway record swallows the rest of the file: nothing after it can be
      // trusted, so the import stops there (rows before it are applied; fix the file and re-run).
      if (error?.code === 'CSV_QUOTE_NOT_CLOSED' || error?.code === 'CSV_MAX_RECORD_SIZE') {
        fatal = new ImportFileError(`line ${line}: ${error.message}; the rest of the file cannot be read`);
      } else {
        skipped.push({ line, error: error?.message ?? 'unreadable record' });
      }
      return undefined;
    },
  });
  const input = Readable.from(source);
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  let header: string[] | undefined;
  for await (const entry of parser as AsyncIterable<{ record: string[]; raw: string; info: { lines: number } }>) {
    yield* skipped.splice(0);
    // The record ends on info.lines; its first line is earlier by the newlines inside it (raw may
    // end with its own record delimiter, which does not count).
    const inner = entry.raw.replace(/\r?\n$|\r$/, '');
    const line = entry.info.lines - (inner.match(/\n/g)?.length ?? 0);
    const fields = entry.record;
    if (fields.length === 1 && fields[0] === '') continue; // blank line
    if (!header) {
      header = readHeader(fields, columns);
      continue;
    }
    if (fields.length !== header.length) {
      yield { line, error: `expected ${header.length} fields, found ${fields.length}` };
      continue;
    }
    const record: Record<string, unknown> = {};
    header.forEach((name, index) => {
      // An empty CSV field means "not given", so optional columns fall back to their defaults.
      if (fields[index] !== '') record[name] = fields[index];
    });
    yield { line, record };
  }
  yield* skipped.splice(0);
  if (fatal) throw fatal;
  if (!header) throw new ImportFileError('the file is empty: a CSV import needs a header line');
}

function readHeader(fields: string[], columns: { required: readonly string[]; optional: readonly string[] }): string[] {
  const names = fields.map((field) => field.trim().toLowerCase());
  const known = new Set([...columns.required, ...columns.optional]);
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new ImportFileError(`line 1: unknown column(s): ${unknown.join(', ')}`);
  const missing = columns.required.filter((name) => !names.includes(name));
  if (missing.length > 0) throw new ImportFileError(`line 1: missing column(s): ${missing.join(', ')}`);
  if (new Set(names).size !== names.length) throw new ImportFileError('line 1: a column appears twice');
  return names;
}

async function* parseNdjsonLines(source: AsyncIterable<Buffer>): AsyncGenerator<ParsedLine> {
  for await (const { line, text, tooLong } of splitLines(source)) {
    if (tooLong) {
      yield { line, error: `line longer than ${MAX_RECORD_BYTES} bytes` };
      continue;
    }
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line, error: 'not valid JSON' };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, error: 'expected a JSON object' };
      continue;
    }
    yield { line, record: value as Record<string, unknown> };
  }
}

/**
 * Splits a byte stream on LF (a CR before it is dropped). A line longer than MAX_RECORD_BYTES is
 * not kept: its bytes are discarded up to the next LF and it is reported as too long.
 */
export async function* splitLines(
  source: AsyncIterable<Buffer>,
): AsyncGenerator<{ line: number; text: string; tooLong: boolean }> {
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let line = 0;
  const finish = () => {
    line += 1;
    let bytes = Buffer.concat(parts, length);
    if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    if (line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const result = { line, text: tooLong ? '' : bytes.toString('utf8'), tooLong };
    parts = [];
    length = 0;
    tooLong = false;
    return result;
  };
  for await (const chunk of source) {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, newline));
      yield finish();
      start = newline + 1;
    }
    take(chunk.subarray(start));
  }
  if (length > 0 || tooLong) yield finish();

  function take(piece: Buffer): void {
    if (piece.length === 0 || tooLong) return;
    if (length + piece.length > MAX_RECORD_BYTES) {
      tooLong = true;
      parts = [];
      length = 0;
      return;
    }
    parts.push(piece);
    length += piece.length;
  }
}
