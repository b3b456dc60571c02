/**
 * What a command's bin loads at start: the runner and the few helpers bins use, without the
 * rest of core (templates, setup-env writing, …), so `--help` stays cheap. Not in the index.
 */
export { command } from './cli';
export { usageError } from './errors';
export { formatElapsed, shortId, shownPath } from './output';
export { DERIVED_NAMES, INPUT_NAMES, INPUTS, toExports } from './config';
