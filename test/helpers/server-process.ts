import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  /** stdout lines so far (the JSON log). */
  stdout: string[];
  stderr: () => string;
  /** Resolves when the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line matching, rejects if the process ends first. */
  waitForLine(pattern: RegExp): Promise<string>;
}

/**
 * Runs src/main.ts as `npm start` would run the built file, compiled on the fly (ts-node, transpile
 * only: a `tsc` build per test run would be slow and racy between the parallel e2e projects). Only
 * `env` (plus PATH and HOME, and the e2e-fastify project's HTTP_ADAPTER) reaches the process.
 */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.E2E_HTTP_ADAPTER ? { HTTP_ADAPTER: process.env.E2E_HTTP_ADAPTER } : {}),
      // No management server unless the test asks for one: processes of parallel tests would share its port.
      METRICS_PORT: '0',
      // Nor on the default gRPC port: any free one.
      GRPC_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      stdout.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout,
    stderr: () => stderr,
    exited,
    waitForLine: (pattern) => {
      const seen = stdout.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then(({ code, signal }) =>
          reject(
            new Error(`server ended (code ${code}, signal ${signal}) before logging ${pattern}:\n${stderr}`),
          ),
        );
      });
    },
  };
}

/** The port from main.ts' `listening on http://<host>:<port>` line. */
export async function listeningPort(server: ServerProcess): Promise<number> {
  const line = await server.waitForLine(/listening on http:\/\//);
  const m = /listening on http:\/\/[^:]+:(\d+)/.exec(line);
  if (!m) throw new Error(`no port in ${line}`);
  return Number(m[1]);
}
