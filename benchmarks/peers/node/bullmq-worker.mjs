// A BullMQ worker for benchmarks/compare.py: `node bullmq-worker.mjs [--concurrency=N] [--burst]`,
// with BENCH_REDIS_URL, BENCH_QUEUES (comma-separated) and BENCH_MARKS in the environment.
//
// One Worker per queue with BullMQ's defaults (completed jobs kept, stalled checks, lock renewal)
// and `concurrency` N; the processor runs the handler its job's name picks. With --burst, the
// worker closes (its jobs in hand finish) once it reports `drained`: no job was left waiting.
import { Worker } from 'bullmq';
import { HANDLERS, options, queues } from './common.mjs';
import { PREFIX, connection } from './redis.mjs';

const opts = options();
const concurrency = Number(opts.concurrency || 10);
const processor = (job) => HANDLERS[job.name](job.data);
const workers = queues().map(
  (name) => new Worker(name, processor, { connection: connection(), prefix: PREFIX, concurrency }),
);
for (const worker of workers) {
  worker.on('error', (err) => process.stderr.write(`${err.stack || err}\n`));
}
console.log(`BullMQ worker on ${queues()} concurrency ${concurrency}${opts.burst ? ' burst' : ''}`);

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await Promise.all(workers.map((worker) => worker.close()));
  process.exit(0);
}
process.on('SIGTERM', close);
process.on('SIGINT', close);
if (opts.burst) for (const worker of workers) worker.on('drained', close);
