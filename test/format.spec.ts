import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The tree keeps the repository's own Prettier settings (.prettierrc), so the test run (and with it CI)
 * fails when a file drifts: it runs the package's `format:check` script, the same command `npm run check`
 * runs first.
 */
const ROOT = path.resolve(__dirname, '..');
const PRETTIER = path.join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs');

function formatCheckArgs(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts['format:check'];
  expect(script).toMatch(/^prettier --check /);
  // the script's globs and files, without the shell's quotes
  return script
    .replace(/^prettier /, '')
    .match(/"[^"]*"|\S+/g)!
    .map((a) => a.replace(/^"|"$/g, ''));
}

describe('formatting', () => {
  it('every source file is formatted as .prettierrc says (npm run format:check)', () => {
    const run = spawnSync(process.execPath, [PRETTIER, ...formatCheckArgs()], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.stderr + run.stdout).toContain('All matched files use Prettier code style');
    expect(run.status).toBe(0);
  });

  it('the same check reports a file that is not formatted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'format-check-'));
    try {
      fs.copyFileSync(path.join(ROOT, '.prettierrc'), path.join(dir, '.prettierrc'));
      fs.writeFileSync(path.join(dir, 'drift.ts'), 'export const x = {a:1,\n  b:"two"}\n');
      const run = spawnSync(process.execPath, [PRETTIER, '--check', 'drift.ts'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr + run.stdout).toContain('drift.ts');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
