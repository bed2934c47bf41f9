/**
 * This process's environment without any GATEHOUSE_* variable: what a spawned `gatehouse` command or
 * server starts from, so that the developer's own settings never leak into a test or a benchmark.
 */
export function environmentWithoutGatehouse(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GATEHOUSE_')));
}
