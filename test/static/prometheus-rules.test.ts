/**
 * observability/prometheus: both configurations (native and compose) pass `promtool check config`, the rules pass
 * `promtool check rules`, and their unit tests pass `promtool test rules`. Every alert must have a test case that
 * fires it and one where it stays quiet (an empty exp_alerts), so a rule without a test, or a test that cannot fail
 * either way, breaks the build. promtool comes from Debian's `prometheus` package (scripts/setup.sh).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findExecutable, repoRoot, run } from './helpers.js';

const prometheusDir = join(repoRoot, 'observability', 'prometheus');
const promtool = findExecutable('promtool', '/usr/bin/promtool');
const yamlFiles = (folder: string) =>
  readdirSync(join(prometheusDir, folder))
    .filter((file) => file.endsWith('.yml'))
    .map((file) => join(folder, file));
const ruleFiles = yamlFiles('rules');
const testFiles = yamlFiles('tests');

function promtoolRun(...args: string[]) {
  if (!promtool) throw new Error('promtool not found: install Debian package prometheus (make setup)');
  return run(promtool, args, { cwd: prometheusDir });
}

interface RuleFile {
  groups: { rules: { alert?: string; record?: string }[] }[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const alertNames = ruleFiles.flatMap((file) =>
  (parse(readFileSync(join(prometheusDir, file), 'utf8')) as RuleFile).groups.flatMap((group) =>
    group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : [])),
  ),
);

describe('Prometheus configuration and rules (promtool)', () => {
  it.each(['native.yml', 'compose.yml'])('when %s is checked, then promtool finds it and its rules valid', (file) => {
    const result = promtoolRun('check', 'config', file);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it('when the rule files are checked, then promtool accepts every rule', () => {
    const result = promtoolRun('check', 'rules', ...ruleFiles);
    expect(result.status, result.output).toBe(0);
  });

  it.each(testFiles)('when the rule tests of %s run, then every case passes', (file) => {
    const result = promtoolRun('test', 'rules', file);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('when the alerts are listed, then each has a case that fires it and one where it stays quiet', () => {
    const cases = testFiles.flatMap((file) => {
      const tests = parse(readFileSync(join(prometheusDir, file), 'utf8')) as RuleTestFile;
      return tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    });
    const missing = alertNames.flatMap((alert) => {
      const own = cases.filter((entry) => entry.alertname === alert);
      const gaps = [];
      if (!own.some((entry) => (entry.exp_alerts ?? []).length > 0)) gaps.push(`${alert}: no case that fires`);
      if (!own.some((entry) => (entry.exp_alerts ?? []).length === 0)) gaps.push(`${alert}: no quiet case`);
      return gaps;
    });
    expect(alertNames.length).toBeGreaterThanOrEqual(16);
    expect(missing).toEqual([]);
  });
});
