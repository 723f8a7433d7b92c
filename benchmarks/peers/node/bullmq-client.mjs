// The BullMQ side of benchmarks/peers/bullmq_peer.py: add jobs, copy them, read their timestamps
// and empty the benchmark's keys, one request per line on stdin (common.mjs's serve).
// `node bullmq-client.mjs`, with BENCH_REDIS_URL. The harness's queues are BullMQ queues; a job's
// name is its kind.
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { serve } from './common.mjs';
import { PREFIX, connection } from './redis.mjs';

const QUEUES = ['default', 'a', 'b'];
const redis = new IORedis(connection());
const queues = Object.fromEntries(
  QUEUES.map((name) => [name, new Queue(name, { connection: connection(), prefix: PREFIX })]),
);
const key = (queue, what) => `${PREFIX}:${queue}:${what}`;

// The one job in the queues (the caller enqueued, and for `finished` ran, exactly one first).
async function onlyJob(finished) {
  for (const queue of QUEUES) {
    const ids = finished
      ? await redis.zrange(key(queue, 'completed'), 0, 0)
      : await redis.lrange(key(queue, 'wait'), 0, 0);
    if (ids.length) return { queue, id: ids[0] };
  }
  throw new Error(`no ${finished ? 'completed' : 'waiting'} job to copy`);
}

serve({
  async send({ kind, queue, key: markKey }) {
    await queues[queue].add(kind, markKey ? { key: markKey } : {});
  },
  // One addBulk() of `count` jobs (the adapter calls it with 1,000 at most).
  async insert({ kind, queue, count }) {
    await queues[queue].addBulk(Array.from({ length: count }, () => ({ name: kind, data: {} })));
  },
  // Waiting jobs: `count` more of the same through addBulk, 1,000 to a call. Completed ones: copies
  // of its hash under new ids (from the queue's own id counter) added to the completed set with its
  // finishedOn, 10,000 to a pipeline, the way BullMQ keeps a finished job.
  async duplicate({ count, finished }) {
    const { queue, id } = await onlyJob(finished);
    if (!finished) {
      const job = await queues[queue].getJob(id);
      for (let done = 0; done < count; done += 1000) {
        const n = Math.min(1000, count - done);
        const copies = Array.from({ length: n }, () => ({ name: job.name, data: job.data }));
        await queues[queue].addBulk(copies);
      }
      return;
    }
    const fields = await redis.hgetall(key(queue, id));
    const score = Number(fields.finishedOn);
    const last = await redis.incrby(key(queue, 'id'), count);
    for (let next = last - count + 1; next <= last; next += 10000) {
      const pipeline = redis.pipeline();
      const members = [];
      for (let n = next; n < Math.min(next + 10000, last + 1); n++) {
        pipeline.hset(key(queue, n), fields);
        members.push(score, String(n));
      }
      pipeline.zadd(key(queue, 'completed'), ...members);
      await pipeline.exec();
    }
  },
  // Jobs finished since `since` (ms) in every queue: their count, the last finishedOn, and the
  // first processedOn, read among the first 2,000 to finish (more than any worker runs at once).
  async span({ since }) {
    let done = 0;
    let first = null;
    let last = null;
    for (const queue of QUEUES) {
      const completed = key(queue, 'completed');
      done += await redis.zcount(completed, since, '+inf');
      const [, end] = await redis.zrange(
        completed, '+inf', since, 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES',
      );
      if (end !== undefined) last = Math.max(last ?? 0, Number(end));
      const ids = await redis.zrange(completed, since, '+inf', 'BYSCORE', 'LIMIT', 0, 2000);
      if (!ids.length) continue;
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hget(key(queue, id), 'processedOn');
      for (const [, started] of await pipeline.exec()) {
        if (started) first = Math.min(first ?? Infinity, Number(started));
      }
    }
    return { done, first, last };
  },
  // Unlink every key under the benchmark's prefix, 1,000 to a SCAN.
  async reset() {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  },
  async version() {
    const info = await redis.info('server');
    const field = (name) => info.match(new RegExp(`^${name}:(\\S+)`, 'm'))?.[1];
    const pid = Number(field('process_id'));
    return { node: process.version, redis: field('redis_version'), pid };
  },
  close: async () => {
    await Promise.all(Object.values(queues).map((queue) => queue.close()));
    redis.disconnect();
  },
});
