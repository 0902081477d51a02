import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/stack.js';

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');
const withoutComments = (yaml: string) => yaml.replace(/^\s*#.*$/gm, '');

describe('README', () => {
  it('when .env.example has a setting, then the README configuration table lists it', () => {
    const settings = [...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
    const readme = read('README.md');
    expect(settings.length).toBeGreaterThan(20);
    expect(settings.filter((name) => !new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, 'm').test(readme))).toEqual([]);
  });

  it('when .env.example changes, then the README configuration table is regenerated from it (scripts/config-table.mjs)', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'config-table.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('when the README names a make target, then the Makefile has it', () => {
    const targets = new Set([...read('Makefile').matchAll(/^([a-z][a-z0-9_-]*):/gm)].map((match) => match[1]));
    const named = [...read('README.md').matchAll(/`make ([a-z][a-z0-9_-]*)/g)].map((match) => match[1]);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((target) => !targets.has(target))).toEqual([]);
  });
});

describe('.env.example', () => {
  it('when a compose file substitutes a variable, then .env.example documents it', () => {
    const documented = new Set([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
    const used = ['docker-compose.yml', 'docker-compose.prod.yml', 'observability/docker-compose.yml'].flatMap((file) =>
      // `$${NAME}` is an escaped `$`: the container's shell expands it, compose does not.
      [...withoutComments(read(file)).matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]),
    );
    expect(used.length).toBeGreaterThan(5);
    expect([...new Set(used)].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('when .env.example has a setting, then docker-compose.yml hands it to a container or sets it itself', () => {
    const compose = withoutComments(read('docker-compose.yml') + read('observability/docker-compose.yml'));
    const settings = [...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] as string);
    const reaches = (name: string) => compose.includes(`\${${name}:`) || new RegExp(`^\\s+${name}:`, 'm').test(compose);
    expect(settings.filter((name) => !reaches(name))).toEqual([]);
  });
});
