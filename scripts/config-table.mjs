#!/usr/bin/env node
// Writes README.md's configuration table from .env.example, the one place settings are described: each setting's
// comment block becomes its meaning, its `# --- section ---` header says who reads it, and dev-only or empty values
// are shown as such. `node scripts/config-table.mjs --check` exits 1 when the README's table differs (the README test runs it).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

function rows(envExample) {
  const out = [];
  let section = '';
  let comment = [];
  for (const line of envExample.split('\n')) {
    const header = /^# --- (.+?) -+$/.exec(line);
    if (header) {
      section = header[1];
      comment = [];
    } else if (line.startsWith('#')) {
      comment.push(line.replace(/^#\s?/, ''));
    } else if (line.trim() === '') {
      comment = [];
    } else {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      const value = line.slice(eq + 1);
      const shown = value === '' ? '(empty)' : /dev-only|change[-_]me/i.test(value) ? '(dev only)' : `\`${value}\``;
      const meaning = comment.join(' ').replaceAll('|', '\\|');
      out.push(`| \`${name}\` | ${section} | ${shown} | ${meaning} |`);
      comment = [];
    }
  }
  return out;
}

const envExample = readFileSync(`${root}.env.example`, 'utf8');
// Only from the first section header on: the file's preamble describes the file, not a setting.
const body = envExample.slice(envExample.indexOf('# --- '));
const table = ['| setting | read by | default in .env.example | meaning |', '|---|---|---|---|', ...rows(body)].join(
  '\n',
);
const readme = readFileSync(`${root}README.md`, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < from) {
  console.error(`README.md lacks the ${START} ... ${END} markers`);
  process.exit(1);
}
const next = `${readme.slice(0, from + START.length)}\n${table}\n${readme.slice(to)}`;
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md configuration table is out of date: run node scripts/config-table.mjs');
    process.exit(1);
  }
} else if (next !== readme) {
  writeFileSync(`${root}README.md`, next);
  console.log('README.md configuration table rewritten from .env.example');
}
