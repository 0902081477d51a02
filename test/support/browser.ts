/**
 * Headless Chromium for the tests that check a page in a real browser: Debian's /usr/bin/chromium driven by
 * playwright-core, with the flags our machines need (no sandbox as root, no GPU, no background traffic).
 * Screenshots go to test-results/ (ignored by git) for a person to look at.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const repoRoot = join(import.meta.dirname, '..', '..');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** test-results/<name>, the folder created when missing. */
export function screenshotPath(name: string): string {
  const dir = join(repoRoot, 'test-results');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
