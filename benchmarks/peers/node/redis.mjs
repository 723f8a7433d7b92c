// Where BullMQ keeps the benchmark's queues: BENCH_REDIS_URL (default redis://127.0.0.1:6379/5) and
// the key prefix "djbench", so that emptying them touches no one else's keys (never FLUSHDB).
export const PREFIX = 'djbench';

export function connection() {
  const url = new URL(process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/5');
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
    password: url.password || undefined,
    maxRetriesPerRequest: null, // as BullMQ requires of a worker's connection
  };
}
