import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * `npm start` on a built tree starts the built service and never runs the compiler; after a source file
 * changes it compiles first. Runs the project's own package.json scripts and scripts/build.js in a
 * scratch copy whose TypeScript compiler is a stand-in that records each run and emits a tiny
 * dist/src/main.js (so the test judges which commands ran, not how long they took).
 */
const ROOT = path.resolve(__dirname, '..');

const FAKE_TSC = `#!/usr/bin/env node
const fs = require('node:fs');
fs.appendFileSync('tsc-runs.log', process.argv.slice(2).join(' ') + '\\n');
fs.mkdirSync('dist/src', { recursive: true });
fs.writeFileSync('dist/src/main.js', "console.log('service started')\\n");
`;

describe('the start command', () => {
  let dir: string;
  const T0 = new Date(Date.now() - 3600_000);

  /** The project's scripts with a stand-in source tree; every input dated an hour ago. */
  function scratchProject(opts: { compiler: boolean }): void {
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'build.js'), path.join(dir, 'scripts', 'build.js'));
    fs.mkdirSync(path.join(dir, 'src', 'common'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'main.ts'), 'export {};\n');
    fs.writeFileSync(path.join(dir, 'src', 'common', 'util.ts'), 'export const x = 1;\n');
    for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])
      fs.writeFileSync(path.join(dir, f), '{}\n');
    if (opts.compiler) {
      const ts = path.join(dir, 'node_modules', 'typescript');
      fs.mkdirSync(path.join(ts, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(ts, 'package.json'), '{"name":"typescript","version":"0.0.0"}\n');
      fs.writeFileSync(path.join(ts, 'bin', 'tsc'), FAKE_TSC, { mode: 0o755 });
      // Where npm scripts find `tsc` on their PATH, too.
      fs.mkdirSync(path.join(dir, 'node_modules', '.bin'));
      fs.symlinkSync(
        path.join('..', 'typescript', 'bin', 'tsc'),
        path.join(dir, 'node_modules', '.bin', 'tsc'),
      );
    }
    for (const p of [
      'src/main.ts',
      'src/common/util.ts',
      'src/common',
      'src',
      'tsconfig.json',
      'tsconfig.build.json',
      'package-lock.json',
    ])
      fs.utimesSync(path.join(dir, p), T0, T0);
  }

  /** Runs an npm script in the scratch project (with this npm, when the tests run under npm). */
  function npm(...args: string[]): { status: number | null; out: string } {
    const [cmd, pre] = process.env.npm_execpath
      ? [process.execPath, [process.env.npm_execpath]]
      : ['npm', []];
    const r = spawnSync(cmd, [...pre, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        npm_config_update_notifier: 'false',
      },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }

  const compilerRuns = (): number =>
    fs.existsSync(path.join(dir, 'tsc-runs.log'))
      ? fs.readFileSync(path.join(dir, 'tsc-runs.log'), 'utf8').split('\n').filter(Boolean).length
      : 0;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-start-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('on a built tree starts the service without running the compiler or rewriting dist/', () => {
    scratchProject({ compiler: true });
    expect(npm('run', 'build').status).toBe(0);
    expect(compilerRuns()).toBe(1);
    const entry = path.join(dir, 'dist', 'src', 'main.js');
    const built = fs.statSync(entry).mtimeMs;

    for (let i = 0; i < 2; i++) {
      const run = npm('start');
      expect(run.status).toBe(0);
      expect(run.out).toContain('service started');
    }
    expect(compilerRuns()).toBe(1);
    expect(fs.statSync(entry).mtimeMs).toBe(built);
  });

  it('compiles (incrementally) before starting when a source file, or the source tree, changed since the build', () => {
    scratchProject({ compiler: true });
    expect(npm('run', 'build').status).toBe(0);
    const stamp = fs.statSync(path.join(dir, 'dist', '.build-stamp')).mtime;
    const later = new Date(stamp.getTime() + 10_000);

    fs.utimesSync(path.join(dir, 'src', 'common', 'util.ts'), later, later);
    const run = npm('start');
    expect(run.status).toBe(0);
    expect(run.out).toContain('sources changed since the last build; compiling');
    expect(run.out).toContain('service started');
    expect(compilerRuns()).toBe(2);
    expect(fs.readFileSync(path.join(dir, 'tsc-runs.log'), 'utf8')).toContain('--incremental');
    expect(npm('start').status).toBe(0);
    expect(compilerRuns()).toBe(2);

    // A deleted file shows only in its folder's time.
    fs.rmSync(path.join(dir, 'src', 'common', 'util.ts'));
    const later2 = new Date(fs.statSync(path.join(dir, 'dist', '.build-stamp')).mtime.getTime() + 10_000);
    fs.utimesSync(path.join(dir, 'src', 'common'), later2, later2);
    expect(npm('start').status).toBe(0);
    expect(compilerRuns()).toBe(3);
  });

  it('builds on a fresh tree; without TypeScript installed `prepare` passes and `start` explains what is missing', () => {
    scratchProject({ compiler: true });
    const run = npm('start');
    expect(run.status).toBe(0);
    expect(run.out).toContain('service started');
    expect(compilerRuns()).toBe(1);

    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    scratchProject({ compiler: false });
    expect(npm('run', 'prepare').status).toBe(0);
    const start = npm('start');
    expect(start.status).not.toBe(0);
    expect(start.out).toContain('TypeScript is not installed');
  });
});
