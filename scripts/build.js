#!/usr/bin/env node
'use strict';
/**
 * Builds dist/ with the TypeScript compiler (incremental: a rebuild re-checks and re-emits what changed).
 *
 *   node scripts/build.js                       always compile (`npm run build`)
 *   node scripts/build.js --if-stale            compile only when a build input is newer than the last build
 *                                               (`npm start`: a built tree starts without the compiler)
 *   node scripts/build.js --if-stale --optional the same, but a tree without TypeScript (an install with
 *                                               `--omit=dev`) is not an error (`prepare`, after npm ci / install)
 *
 * Plain JavaScript without dependencies, so the up-to-date check costs a directory walk, not a compiler start.
 * The last build is marked by dist/.build-stamp, whose time is the build's start (an input saved while
 * tsc runs is therefore still newer than it). Inputs: everything under src/ (a deleted or renamed file
 * changes its folder's time), ormconfig.ts, scripts/keys-rotate.ts, the tsconfig files and package-lock.json.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.build-stamp');
const ENTRY = path.join(DIST, 'src', 'main.js');
const INPUT_FILES = ['ormconfig.ts', 'scripts/keys-rotate.ts', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const INPUT_DIRS = ['src'];

/** Newest modification time (ms) of the build inputs under `root`. */
function newestInput(root) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return; // an optional input that does not exist
    }
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  for (const f of INPUT_FILES) visit(path.join(root, f));
  for (const d of INPUT_DIRS) visit(path.join(root, d));
  return newest;
}

/** Why dist/ needs a build, or null when it is up to date. */
function staleReason(root = ROOT) {
  const dist = path.join(root, 'dist');
  if (!fs.existsSync(path.join(dist, 'src', 'main.js'))) return 'dist/src/main.js is missing';
  let built;
  try {
    built = fs.statSync(path.join(dist, '.build-stamp')).mtimeMs;
  } catch {
    return 'no record of the last build';
  }
  return newestInput(root) > built ? 'sources changed since the last build' : null;
}

function compilerPath() {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  } catch {
    return null;
  }
}

function build() {
  const tsc = compilerPath();
  if (!tsc) return { ok: false, missing: true };
  const started = Date.now();
  // Inputs saved in the future (clock skew, files from another machine) must not force a build on every
  // start; one millisecond above the newest input, as file times come back from utimes rounded down.
  const stampTime = new Date(Math.max(started, Math.ceil(newestInput(ROOT)) + 1));
  const buildInfo = path.join(DIST, 'tsconfig.build.tsbuildinfo');
  // tsc trusts its build info, not the outputs: without the entry point, compile everything again.
  if (!fs.existsSync(ENTRY)) fs.rmSync(buildInfo, { force: true });
  const args = [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', buildInfo];
  const run = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) return { ok: false, missing: false };
  fs.writeFileSync(STAMP, '');
  fs.utimesSync(STAMP, stampTime, stampTime);
  return { ok: true };
}

function main(argv) {
  const ifStale = argv.includes('--if-stale');
  const optional = argv.includes('--optional');
  if (ifStale) {
    const reason = staleReason();
    if (!reason) return 0;
    if (!compilerPath()) {
      if (fs.existsSync(ENTRY)) {
        process.stderr.write(`build: ${reason}, but TypeScript is not installed; using the existing dist/\n`);
        return 0;
      }
      process.stderr.write(`build: ${reason} and TypeScript is not installed (install the dev dependencies, then npm run build)\n`);
      return optional ? 0 : 1;
    }
    process.stderr.write(`build: ${reason}; compiling\n`);
  }
  const result = build();
  if (result.missing) {
    process.stderr.write('build: TypeScript is not installed (install the dev dependencies)\n');
    return optional ? 0 : 1;
  }
  return result.ok ? 0 : 1;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

module.exports = { staleReason, newestInput };
