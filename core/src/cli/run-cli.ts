/**
 * Runs a one-shot command: expected failures (bad config, a refused migration) print their message
 * alone; anything else prints the stack. Either way the exit code is 1.
 */
export async function runCli(
  main: () => Promise<void>,
  expected: ReadonlyArray<new (...args: never[]) => Error>,
): Promise<void> {
  try {
    await main();
  } catch (error) {
    const isExpected = expected.some((type) => error instanceof type);
    console.error(isExpected ? (error as Error).message : error);
    process.exitCode = 1;
  }
}
