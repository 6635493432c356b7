/**
 * `npm run bench`: the TOTP verify micro-benchmark (otplib vs the node:crypto routine), what metrics add to
 * one request (in process), the service's cold
 * start (spawn → first 200 on /healthz), what tracing costs on `_check` (the service as a process, tracing on
 * vs off), one verify over REST, Connect, gRPC-Web and gRPC and the `_check` load test against the raw baseline (SQLite, plus
 * PostgreSQL when TEST_DATABASE_URL is set), then every seed operation, sign-in check and create/send path
 * against the raw baseline on each database setting and adapter (bench/seed-ops.bench.ts).
 * Not part of `npm test`; nothing here asserts a time.
 */
import { runColdStartBench } from './cold-start.bench';
import { runMetricsCostBench } from './metrics-cost.bench';
import { runRpcVerifyBench } from './rpc-verify.bench';
import { runSeedOpsBench } from './seed-ops.bench';
import { runCheckBench } from './totp-check.bench';
import { runTracingCostBench } from './tracing-cost.bench';
import { runVerifyBench } from './totp-verify.bench';

async function main(): Promise<void> {
  runVerifyBench();
  await runMetricsCostBench();
  await runColdStartBench();
  await runTracingCostBench();
  await runRpcVerifyBench();
  await runCheckBench();
  await runSeedOpsBench();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
