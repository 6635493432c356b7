import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

/**
 * Static checks of the generated REST client, run once (not per database and adapter as the e2e test
 * that drives the service through it): the generated types match openapi.json, and the e2e test
 * compiles under `tsc --strict`.
 */
const ROOT = path.resolve(__dirname, '..');
const CLIENT_TEST = path.join(__dirname, 'openapi-client.e2e-spec.ts');

describe('generated REST client: static checks', () => {
  it('the generated types are up to date with openapi.json (openapi-typescript, regenerated now)', async () => {
    const script = path.join(ROOT, 'scripts', 'openapi-client.ts');
    const run = promisify(execFile);
    const result = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', script, '--check'], {
      cwd: ROOT,
    }).catch((e: { stdout?: string; stderr?: string }) => ({
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? 'failed',
    }));
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/is up to date/);
  });

  it('the client e2e test compiles under tsc --strict with zero errors', () => {
    const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (f) => ts.sys.readFile(f));
    const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
    const program = ts.createProgram([CLIENT_TEST], {
      ...options,
      strict: true,
      noEmit: true,
      incremental: false,
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(program.getCompilerOptions().strict).toBe(true);
    expect(program.getSourceFile(CLIENT_TEST)).toBeDefined();
    expect(diagnostics).toEqual([]);
  });
});
