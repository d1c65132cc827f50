// timehook from Node storing n one-time jobs (a URL, due in an hour, a small JSON payload) into a
// fresh SQLite file with the default durability (full, unless told), the scheduler not delivering
// (`autostart: false`), the way bullmq-enqueue.mjs stores the same jobs with a Queue and no
// Worker. The job objects are built before the clock starts. Afterwards the stored jobs are
// counted through `list`; a wrong count is an error (exit code 1).
//
//   node timehook-enqueue.mjs many|concurrent|sequential|sequential-normal <jobs>
//     many               one `scheduleMany` of every job
//     concurrent         64 callers, each awaiting one `schedule` after another
//     sequential         one caller, each `schedule` awaited before the next
//     sequential-normal  the same with `durability: 'normal'` (a commit survives the process's
//                        crash without waiting for its fsync; a power cut may lose the last
//                        ones), the durability of Redis's AOF everysec
//
// Prints `result <figure> <jobs> <jobs/s>`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Scheduler } from '../../node/index.mjs'

const CALLERS = 64
const DUE_IN_MS = 3_600_000
const PAGE = 10_000

const [mode, n] = [process.argv[2], Number(process.argv[3])]
const jobs = Array.from({ length: n }, (_, i) => ({
  url: `https://example.com/hooks/${i % 100}`,
  after: DUE_IN_MS,
  payload: { user: i, event: 'trial.ended' },
}))

async function concurrently(s) {
  let next = 0
  const caller = async () => {
    while (next < n) await s.schedule(jobs[next++])
  }
  await Promise.all(Array.from({ length: CALLERS }, caller))
}

async function stored(s) {
  let count = 0
  let after
  for (;;) {
    const page = await s.list({ limit: PAGE, after })
    count += page.length
    if (page.length < PAGE) return count
    after = page[page.length - 1].id
  }
}

const dir = mkdtempSync(join(tmpdir(), 'timehook-enqueue-'))
try {
  const durability = mode === 'sequential-normal' ? 'normal' : 'full'
  const s = await Scheduler.open(join(dir, 'jobs.db'), { autostart: false, durability })
  const start = performance.now()
  if (mode === 'many') await s.scheduleMany(jobs)
  else if (mode === 'concurrent') await concurrently(s)
  else if (mode.startsWith('sequential')) for (const job of jobs) await s.schedule(job)
  else throw new Error(`unknown mode ${mode}`)
  const secs = (performance.now() - start) / 1000
  const count = await stored(s)
  await s.close()
  if (count !== n) throw new Error(`timehook ${mode}: ${count} jobs stored, expected ${n}`)
  console.log(`result node_${mode.replace('-', '_')} ${n} ${Math.round(n / secs)}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
