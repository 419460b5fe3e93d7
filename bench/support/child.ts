/** Helper processes of the benchmarks (bench/support/*-process.ts), started beside the process measured. */
import { spawn } from 'node:child_process';

/**
 * Starts `script` (a path relative to this folder) with `args`; resolves with the JSON line it prints on
 * stdout once ready. `stop()` sends SIGTERM and resolves when it has exited.
 */
export async function startChild<T>(
  script: string,
  args: string[] = [],
): Promise<{ ready: T; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [new URL(script, import.meta.url).pathname, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<T>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const end = text.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(text.slice(0, end)) as T);
    });
    void exited.then((code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return {
    ready,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
