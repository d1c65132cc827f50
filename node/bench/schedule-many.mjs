// scheduleMany of 100k jobs (a URL, a delay and a small JSON payload; and without the payload)
// into a fresh SQLite file (default durability: full) and into an in-memory store, timed from the call to the resolved promise:
// converting the JavaScript objects (on the JavaScript thread, until the call returns), then
// validating and committing them in one transaction (on timehook's threads). Median of RUNS runs.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

import { Scheduler } from '../index.mjs'

const JOBS = Number(process.env.JOBS ?? 100_000)
const RUNS = Number(process.env.RUNS ?? 5)
const GOAL = 150_000

const withPayload = Array.from({ length: JOBS }, (_, i) => ({
  url: `https://example.com/hooks/${i % 100}`,
  after: 3_600_000 + i,
  payload: { user: i, event: 'trial.ended' },
}))
const bare = withPayload.map(({ url, after }) => ({ url, after }))

async function run(path, jobs) {
  const s = await Scheduler.open(path, { autostart: false })
  try {
    const start = performance.now()
    const pending = s.scheduleMany(jobs)
    const converted = performance.now() - start
    const ids = await pending
    const ms = performance.now() - start
    if (ids.length !== JOBS) throw new Error(`got ${ids.length} ids`)
    return { ms, converted }
  } finally {
    await s.close()
  }
}

console.log(`scheduleMany of ${JOBS} jobs; node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cases = [
  ['file, JSON payload', 'file', withPayload],
  [':memory:, JSON payload', 'memory', withPayload],
  ['file, URL + delay only', 'file', bare],
  [':memory:, URL + delay only', 'memory', bare],
]
for (const [label, store, jobs] of cases) {
  const runs = []
  for (let r = 0; r < RUNS; r++) {
    const dir = mkdtempSync(join(os.tmpdir(), 'timehook-bench-'))
    try {
      runs.push(await run(store === 'file' ? join(dir, 'jobs.db') : ':memory:', jobs))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const ms = median(runs.map((r) => r.ms))
  const converted = median(runs.map((r) => r.converted))
  const rate = JOBS / (ms / 1000)
  console.log(
    `  ${label.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms  ${(rate / 1000).toFixed(0).padStart(5)}k jobs/s` +
      `  (${(rate / GOAL).toFixed(2)}x the goal of ${GOAL / 1000}k/s: ${rate >= GOAL ? 'met' : 'NOT met'})` +
      `; of which converting on the JS thread ${converted.toFixed(0)} ms, storing ${(ms - converted).toFixed(0)} ms`,
  )
}
