/**
 * Sets `names` in this process's environment to their values in `from` (deleting those it lacks)
 * and returns what puts back the values they had: for tests whose in-process client reads them.
 */
export function overrideProcessEnv(from: Record<string, string | undefined>, names: readonly string[]): () => void {
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) {
    if (from[name] === undefined) delete process.env[name];
    else process.env[name] = from[name];
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
