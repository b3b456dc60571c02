import { parseRunFlagArgs, type RunFlags, splitRunPars } from './run-flags';

/**
 * The run family's flags: IMAGE_RUN_PARS, then the docker-run flags given on the command line,
 * read as one `docker run` flag list (so a later `--rm=false` or `-u` overrides the config's).
 * Each list is read on its own, so an error names the input it came from.
 */
export function runFlagsFrom(runPars: string, runArgs: string[], env: NodeJS.ProcessEnv = process.env): RunFlags {
  const fromConfig = parseRunFlagArgs(splitRunPars(runPars, 'IMAGE_RUN_PARS'), { env, source: 'IMAGE_RUN_PARS' });
  // Read on top of the config's, once: --env-file and seccomp files are not read again.
  return parseRunFlagArgs(runArgs, { env, source: 'command line' }, fromConfig);
}
