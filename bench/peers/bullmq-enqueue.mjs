// BullMQ storing n delayed jobs (delay an hour; data: the URL and the same small JSON payload
// timehook-enqueue.mjs stores) with a Queue and no Worker, into a Redis with AOF everysec. The job
// objects are built and the database is flushed (so every run starts empty) before the clock
// starts. Afterwards the delayed jobs are counted; a wrong count is an error (exit code 1). Run
// from the directory bullmq and ioredis are installed in (bench/redis.sh installs them).
//
//   node bullmq-enqueue.mjs bulk|concurrent|sequential <redis-port> <jobs>
//     bulk        `addBulk` of 1000 jobs at a time, as bullmq-deliver.mjs adds them (10k a
//                 call, or all 100k in one, were no faster here)
//     concurrent  64 callers, each awaiting one `add` after another
//     sequential  one caller, each `add` awaited before the next
//
// Prints `result <figure> <jobs> <jobs/s>`.
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'

const CALLERS = 64
const DUE_IN_MS = 3_600_000
const BULK = 1000

const [mode, port, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const jobs = Array.from({ length: n }, (_, i) => ({
  name: 'hook',
  data: { url: `https://example.com/hooks/${i % 100}`, payload: { user: i, event: 'trial.ended' } },
  opts: { delay: DUE_IN_MS },
}))
const batches = []
for (let i = 0; i < n; i += BULK) batches.push(jobs.slice(i, i + BULK))

async function concurrently(queue) {
  let next = 0
  const caller = async () => {
    while (next < n) {
      const { name, data, opts } = jobs[next++]
      await queue.add(name, data, opts)
    }
  }
  await Promise.all(Array.from({ length: CALLERS }, caller))
}

const redis = new Redis(port, '127.0.0.1')
await redis.flushdb()
redis.disconnect()
const queue = new Queue(`enqueue-${process.pid}-${Date.now()}`, {
  connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
})
await queue.waitUntilReady()
try {
  const start = performance.now()
  if (mode === 'bulk') for (const batch of batches) await queue.addBulk(batch)
  else if (mode === 'concurrent') await concurrently(queue)
  else if (mode === 'sequential') for (const { name, data, opts } of jobs) await queue.add(name, data, opts)
  else throw new Error(`unknown mode ${mode}`)
  const secs = (performance.now() - start) / 1000
  const count = await queue.getDelayedCount()
  if (count !== n) throw new Error(`bullmq ${mode}: ${count} delayed jobs stored, expected ${n}`)
  console.log(`result node_${mode === 'bulk' ? 'many' : mode} ${n} ${Math.round(n / secs)}`)
} finally {
  await queue.close()
}
