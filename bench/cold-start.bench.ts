/**
 * Cold start of the built service: from spawning the process to its first 200 on `GET /healthz`.
 * Three cases, BENCH_COLD_RUNS times each (default 5; BENCH_COLD=0 skips the section):
 * - first start: an empty data folder (SQLite file created, migrations, bootstrap admin);
 * - restart: the same folder again (what a redeploy or a crash restart costs);
 * - `npm start` restart: the same through npm, with the up-to-date check of scripts/build.js in front.
 * The service runs as `npm start` runs it (its Node flags, dist/src/main.js); the build is brought up to
 * date first and not timed. Prints min / median / max wall time and, on Linux, the server's own CPU
 * time up to that first answer (on a busy machine the wall time mostly says how busy it was).
 * Nothing here asserts a time.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, NODE_FLAGS, stop } from './totp-check.bench';

const ROOT = path.resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);

/** User + system CPU seconds of a process so far (Linux /proc), or NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, counted after the command name (field 2) here.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function firstHealthy(port: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts the service once, returns seconds to the first 200 and the server's CPU seconds by then. */
async function coldStart(dataDir: string, viaNpm: boolean): Promise<{ wall: number; cpu: number }> {
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    METRICS_PORT: '0',
    GRPC_PORT: '0',
  };
  const t0 = performance.now();
  const child = viaNpm
    ? spawn('npm', ['start', '--silent'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      })
    : spawn(process.execPath, [...NODE_FLAGS, path.join('dist', 'src', 'main.js')], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
  try {
    await firstHealthy(port, child);
    const wall = (performance.now() - t0) / 1000;
    return { wall, cpu: viaNpm ? NaN : cpuSeconds(child.pid!) };
  } finally {
    if (viaNpm) {
      // npm, its shell and the service: the whole process group.
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    } else {
      await stop(child);
    }
  }
}

function summary(label: string, runs: { wall: number; cpu: number }[]): void {
  const stats = (xs: number[]): string => {
    if (xs.some(Number.isNaN)) return '–';
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0].toFixed(2)} / ${s[Math.floor(s.length / 2)].toFixed(2)} / ${s[s.length - 1].toFixed(2)} s`;
  };
  console.log(`| ${label} | ${stats(runs.map((r) => r.wall))} | ${stats(runs.map((r) => r.cpu))} |`);
}

export async function runColdStartBench(): Promise<void> {
  if (process.env.BENCH_COLD === '0' || RUNS < 1) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  console.log(
    `\nCold start, spawn → first 200 on /healthz (Node ${process.version}, ${RUNS} runs, load average ${os.loadavg()[0].toFixed(1)})`,
  );
  console.log('| case | wall min / median / max | server CPU min / median / max |');
  console.log('|---|---|---|');
  const first: { wall: number; cpu: number }[] = [];
  const again: { wall: number; cpu: number }[] = [];
  const npm: { wall: number; cpu: number }[] = [];
  const dirs: string[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-cold-'));
      dirs.push(dir);
      first.push(await coldStart(path.join(dir, 'data'), false));
      again.push(await coldStart(path.join(dir, 'data'), false));
      npm.push(await coldStart(path.join(dir, 'data'), true));
    }
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  summary('first start (empty data folder)', first);
  summary('restart (`node … dist/src/main.js`)', again);
  summary('restart with `npm start`', npm);
}
