/**
 * Micro-benchmark: otplib's verify against the node:crypto RFC 6238 routine used on the request path
 * (src/totp/totp-algorithm.ts). Both answer "which step within ±1 matches this code". Prints µs per
 * call for a hit and a miss. Run: npx ts-node --transpile-only bench/totp-verify.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { matchStep, newTotpSecret, totpCode } from '../src/totp/totp-algorithm';
import { matchStepWithOtplib } from '../test/helpers/otplib-reference';

type Fn = (secret: string, code: string, now: number) => number | undefined;

function measure(name: string, fn: Fn, secrets: string[], now: number, hit: boolean, rounds: number): number {
  const codes = secrets.map((s) => (hit ? totpCode(s, now) : '000000'));
  for (let i = 0; i < 2000; i++) fn(secrets[i % secrets.length], codes[i % secrets.length], now); // warm up
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) fn(secrets[i % secrets.length], codes[i % secrets.length], now);
  const us = ((performance.now() - t0) * 1000) / rounds;
  console.log(`${name.padEnd(28)} ${hit ? 'hit ' : 'miss'}  ${us.toFixed(2).padStart(7)} µs/verify`);
  return us;
}

export function runVerifyBench(rounds = 50_000): { otplibUs: number; nodeUs: number } {
  const secrets = Array.from({ length: 256 }, () => newTotpSecret());
  const now = Date.now();
  console.log(`\nTOTP verify (±1 step, ${rounds} calls each)`);
  const otplibHit = measure('otplib verifySync (noble)', matchStepWithOtplib, secrets, now, true, rounds);
  const otplibMiss = measure('otplib verifySync (noble)', matchStepWithOtplib, secrets, now, false, rounds);
  const nodeHit = measure('node:crypto RFC 6238', matchStep, secrets, now, true, rounds);
  const nodeMiss = measure('node:crypto RFC 6238', matchStep, secrets, now, false, rounds);
  const otplibUs = (otplibHit + otplibMiss) / 2;
  const nodeUs = (nodeHit + nodeMiss) / 2;
  console.log(`node:crypto routine is ${(otplibUs / nodeUs).toFixed(1)}x faster than otplib verify`);
  return { otplibUs, nodeUs };
}

if (require.main === module) runVerifyBench();
