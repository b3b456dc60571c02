import { connectEngine } from './client';

/** The API version the Engine speaks (for `--version --json`); throws when it can't be reached. */
export async function engineApiVersion(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const engine = await connectEngine(env);
  return (await engine.version()).ApiVersion;
}
