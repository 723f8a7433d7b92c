// Shared by the Node scripts of benchmarks/compare.py: the marks file, the clients' line protocol.
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

// Append `key seconds` to $BENCH_MARKS, as benchmarks/marks.py does (one write in append mode).
// The time is the wall clock in seconds with sub-millisecond digits, as Python's time.time().
export function mark(key) {
  const path = process.env.BENCH_MARKS;
  if (!path) return;
  const seconds = (performance.timeOrigin + performance.now()) / 1000;
  appendFileSync(path, `${key} ${seconds}\n`);
}

// The queues a worker takes: $BENCH_QUEUES, comma-separated (default: "default").
export function queues() {
  return (process.env.BENCH_QUEUES || 'default').split(',');
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The job kinds of benchmarks/peers/base.py's KINDS that JavaScript can run: "sleep" (a blocking
// 50 ms) has no counterpart on an event loop, so its adapters leave that row out.
export const HANDLERS = {
  noop: async () => {},
  mark: async (data) => mark(data.key),
  asleep: async () => sleep(50),
};

// Serve one JSON request per line on stdin with one JSON reply per line on stdout, in order:
// {"op": name, ...arguments} -> {"ok": result} or {"error": message}. The adapter in Python waits
// for each reply before it sends the next request. Exits when stdin closes.
export function serve(ops) {
  const lines = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  lines.on('line', (line) => {
    chain = chain.then(async () => {
      let reply;
      try {
        const { op, ...args } = JSON.parse(line);
        reply = { ok: (await ops[op](args)) ?? null };
      } catch (err) {
        reply = { error: String(err?.stack || err) };
      }
      process.stdout.write(`${JSON.stringify(reply)}\n`);
    });
  });
  lines.on('close', async () => {
    await chain;
    if (ops.close) await ops.close();
    process.exit(0);
  });
}

// Parse --name=value and --flag options into an object.
export function options(argv = process.argv.slice(2)) {
  const found = {};
  for (const arg of argv) {
    const [name, value] = arg.replace(/^--/, '').split('=');
    found[name] = value === undefined ? true : value;
  }
  return found;
}
