// The pg-boss side of benchmarks/peers/pgboss_peer.py: install the schema and the queues, and send
// jobs, one request per line on stdin (common.mjs's serve). `node pgboss-client.mjs`, with
// DATABASE_URL. The harness's queues are pg-boss queues; a job's data names its kind.
//
// This process only sends: no maintenance, no cron, no entry in the instance registry, so that the
// harness adds nothing to what the workers' own pg-boss instances do.
import { PgBoss } from 'pg-boss';
import { serve } from './common.mjs';

const boss = new PgBoss({
  connectionString: process.env.DATABASE_URL,
  supervise: false,
  schedule: false,
  registerInstance: false,
});
boss.on('error', (err) => process.stderr.write(`${err.stack || err}\n`));
await boss.start();

serve({
  // Queues with notify on, so that a worker with useListenNotify is woken by each send.
  async setup({ queues }) {
    const existing = new Set((await boss.getQueues()).map((queue) => queue.name));
    for (const name of queues) {
      if (!existing.has(name)) await boss.createQueue(name, { notify: true });
    }
  },
  async send({ kind, queue, key }) {
    await boss.send(queue, key ? { kind, key } : { kind });
  },
  // One insert() of `count` jobs (the adapter calls it with 1,000 at most).
  async insert({ kind, queue, count }) {
    await boss.insert(queue, Array.from({ length: count }, () => ({ data: { kind } })));
  },
  async version() {
    return { node: process.version };
  },
  close: () => boss.stop({ graceful: false }),
});
