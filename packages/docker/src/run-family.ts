import { parseRunFlagArgs, type RunFlags, splitRunPars } from './run-flags';

/**
 * The run family's flags: IMAGE_RUN_PARS, then the docker-run flags given on the command line,
 * read as one `docker run` flag list (so a later `--rm=false` or `-u` overrides the config's).
 * IMAGE_RUN_PARS is checked on its own first, so an error names the input it came from.
 */
export function runFlagsFrom(runPars: string, runArgs: string[], env: NodeJS.ProcessEnv = process.env): RunFlags {
  const configured = splitRunPars(runPars, 'IMAGE_RUN_PARS');
  const fromConfig = parseRunFlagArgs(configured, { env, source: 'IMAGE_RUN_PARS' });
  if (runArgs.length === 0) return fromConfig;
  parseRunFlagArgs(runArgs, { env, source: 'command line' });
  return parseRunFlagArgs([...configured, ...runArgs], { env, source: 'command line' });
}
