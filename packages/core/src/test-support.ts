import { ImagewrightError } from './errors';

/**
 * For tests (core's and docker's, which cannot use @imagewright/testing without an Nx cycle):
 * the ImagewrightError `fn` throws. Anything else, or nothing, fails the test with what happened.
 */
export function thrown(fn: () => unknown): ImagewrightError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ImagewrightError) return error;
    throw new Error(`expected an ImagewrightError, got ${String(error)}`);
  }
  throw new Error('expected an ImagewrightError, nothing was thrown');
}

/** For tests: the usage error `fn` throws, checked to be exit 2 and one line. */
export function usageThrown(fn: () => unknown): ImagewrightError {
  const error = thrown(fn);
  if (error.exitCode !== 2) throw new Error(`expected exit 2, got ${error.exitCode}: ${error.message}`);
  if (error.message.includes('\n')) throw new Error(`expected one line, got: ${error.message}`);
  return error;
}
