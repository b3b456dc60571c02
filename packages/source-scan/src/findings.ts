/** One problem a source scan found, whatever the tool: the shape of every sscan-* --json. */
export interface Finding {
  tool: 'bandit' | 'flake8' | 'shellcheck' | 'yaml';
  file: string;
  line: number;
  col?: number;
  /** The check: bandit's `B602 subprocess_popen_with_shell_equals_true`, flake8's `E501`, `SC2086`, yaml's error code. */
  test: string;
  severity?: string;
  confidence?: string;
  text: string;
}

/** `file:line[:col]: [test] SEVERITY/CONFIDENCE text`, the compiler-style line editors jump to. */
export function formatFinding(f: Finding): string {
  const where = `${f.file}:${f.line}${f.col === undefined ? '' : `:${f.col}`}`;
  const level = f.severity ? ` ${f.severity.toUpperCase()}${f.confidence ? `/${f.confidence.toUpperCase()}` : ''}` : '';
  return `${where}: [${f.test}]${level} ${f.text}`;
}

/** How a path is shown in findings (relative to the current directory when inside it). */
export type ShowPath = (path: string) => string;
