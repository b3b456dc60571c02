/** Exit codes used by every imagewright command. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** As `docker run`: the Engine refused to create or start the container. */
  engineRefused: 125,
  /** As `docker run`: the container's command exists but cannot be invoked. */
  cannotInvoke: 126,
  /** As `docker run`: the container's command was not found. */
  notFound: 127,
} as const;
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
