/**
 * Size limits that keep the code readable in one sitting: no file over 400 lines (data and lock files aside) and no
 * function over 120 lines. A test suite's `describe` body is a list of tests, not logic, so it is not a function here.
 * Functions are measured with the TypeScript parser (TypeScript and JavaScript) and by their braces (shell).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 120;

/** Tracked files and new ones git does not ignore: what a commit would hold. */
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: repoRoot,
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean)
  .filter((file) => {
    try {
      readFileSync(join(repoRoot, file));
      return true;
    } catch {
      return false; // deleted in the working tree
    }
  });

const isData = (file: string) => /(^|\/)package-lock\.json$|\.(json|png|csv|ndjson)$/.test(file);
const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

const suiteCalls = new Set(['describe', 'describeStack', 'describe.skip', 'describe.each', 'describe.sequential']);

function longFunctions(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const parent = node.parent;
      const suite =
        ts.isCallExpression(parent) && suiteCalls.has(parent.expression.getText(source).replace(/\(.*$/s, ''));
      const start = lineOf(node.getStart(source));
      const lines = lineOf(node.getEnd()) - start + 1;
      if (!suite && lines > MAX_FUNCTION_LINES) {
        const name = 'name' in node && node.name ? node.name.getText(source) : '(anonymous)';
        found.push(`${file}:${start} ${name} is ${lines} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Shell functions: `name() {` at the start of a line, to the first `}` alone at the start of a line. */
function longShellFunctions(file: string, text: string): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const match = /^([A-Za-z_][\w-]*)\(\)\s*\{\s*$/.exec(line);
    if (!match) return;
    const end = lines.findIndex((candidate, at) => at > index && /^\}/.test(candidate));
    const length = (end === -1 ? lines.length : end) - index + 1;
    if (length > MAX_FUNCTION_LINES) found.push(`${file}:${index + 1} ${match[1]} is ${length} lines`);
  });
  return found;
}

describe('code size', () => {
  it(`when a file is not data, then it has at most ${MAX_FILE_LINES} lines`, () => {
    const long = files
      .filter((file) => !isData(file))
      .map((file) => ({ file, lines: lineCount(readFileSync(join(repoRoot, file), 'utf8')) }))
      .filter(({ lines }) => lines > MAX_FILE_LINES)
      .map(({ file, lines }) => `${file} is ${lines} lines`);
    expect(long).toEqual([]);
  });

  it(`when code declares a function, then it has at most ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files.flatMap((file) => {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      if (/\.(ts|js|mjs|cjs)$/.test(file)) return longFunctions(file, text);
      if (/\.sh$/.test(file)) return longShellFunctions(file, text);
      return [];
    });
    expect(long).toEqual([]);
  });
});
