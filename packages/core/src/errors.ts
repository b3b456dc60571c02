/** Exit codes used by every imagewright command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The one error type. `exitCode` 2 means bad input (usage, config, unreachable engine): nothing
 * was changed. 1 means the operation or a check failed.
 */
export class ImagewrightError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.failed, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImagewrightError';
    this.exitCode = exitCode;
  }
}

/** Bad input: one line naming the input and what is allowed. */
export function usageError(message: string): ImagewrightError {
  return new ImagewrightError(message, EXIT.usage);
}

/** The operation or check failed. */
export function failure(message: string, cause?: unknown): ImagewrightError {
  return new ImagewrightError(message, EXIT.failed, cause === undefined ? undefined : { cause });
}
