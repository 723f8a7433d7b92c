// A pg-boss worker for benchmarks/compare.py: `node pgboss-worker.mjs [--concurrency=N] [--burst]`,
// with DATABASE_URL, BENCH_QUEUES (comma-separated) and BENCH_MARKS in the environment.
//
// One PgBoss instance with its defaults (maintenance, cron, instance registry) and LISTEN/NOTIFY
// on, one work() per queue. Each fetch takes a batch; the handler runs the batch's jobs at once and
// pg-boss completes the batch. While a fetch comes back full the next one follows at once
// (burstWhenBatchFull); otherwise the worker waits for a NOTIFY, or polls.
//
// No-op work (concurrency <= 10): batchSize 100, one fetch loop (localConcurrency 1). Concurrency N
// above that: batches of min(100, N / 2) and N / batch loops, so that N jobs can run at once.
//
// pg-boss has no burst mode; with --burst, every 100 ms the worker asks the job table whether any
// job of its queues is still created or retry (the same partial index pg-boss fetches by), and once
// none is, stops gracefully (the batch in hand completes) and exits.
import { PgBoss } from 'pg-boss';
import { HANDLERS, options, queues, sleep } from './common.mjs';

const opts = options();
const concurrency = Number(opts.concurrency || 10);
const batchSize = concurrency <= 10 ? 100 : Math.min(100, Math.floor(concurrency / 2));
const localConcurrency = concurrency <= 10 ? 1 : Math.ceil(concurrency / batchSize);
const names = queues();

const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, useListenNotify: true });
boss.on('error', (err) => process.stderr.write(`${err.stack || err}\n`));
await boss.start();

const handler = (jobs) => Promise.all(jobs.map((job) => HANDLERS[job.data.kind](job.data)));
const workOptions = {
  batchSize,
  localConcurrency,
  burstWhenBatchFull: true,
  pollingIntervalSeconds: 0.5, // its minimum; with NOTIFY on, notifyPollingIntervalSeconds applies
};
for (const name of names) await boss.work(name, workOptions, handler);
const mode = opts.burst ? ' burst' : '';
console.log(`pg-boss worker on ${names} ${JSON.stringify(workOptions)}${mode}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await boss.stop({ graceful: true, timeout: 30000 });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (opts.burst) {
  const db = boss.getDb();
  const waiting = `SELECT 1 FROM pgboss.job
    WHERE name = ANY($1) AND state < 'active' AND NOT blocked LIMIT 1`;
  while (!stopping) {
    await sleep(100);
    if ((await db.executeSql(waiting, [names])).rows.length === 0) await stop();
  }
}
