/** Progress lines of the native stack go to stderr (stdout carries only what a caller reads: the URL, a path). */
export const log = (message: string): void => void process.stderr.write(`[native] ${message}\n`);
export const warn = (message: string): void => void process.stderr.write(`[native] WARNING: ${message}\n`);

/** An error the native stack reports as its whole message (a missing tool, a failed start with its log tail). */
export class NativeStackError extends Error {
  override name = 'NativeStackError';
}
