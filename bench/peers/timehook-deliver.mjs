// timehook from Node delivering webhooks to the benchmarks' receiver: `scheduleMany` of n jobs due
// at once into a SQLite file, then the scheduler starts (deliveries run on Rust threads: signed,
// sent, each attempt recorded durably, 64 in flight per host); the figure is attempts per second
// from the start to the last attempt.
//
//   node timehook-deliver.mjs <receiver-url> <jobs>
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Scheduler } from '../../node/index.mjs'

const [url, n] = [process.argv[2], Number(process.argv[3])]
const dir = mkdtempSync(join(tmpdir(), 'timehook-deliver-'))
const s = await Scheduler.open(join(dir, 'jobs.db'), {
  allowPrivateTargets: true,
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  autostart: false,
})
const jobs = []
for (let i = 0; i < n; i++) jobs.push({ url: `${url}/d`, payload: `{"n":${i}}`, contentType: 'application/json' })
await s.scheduleMany(jobs)
let done = 0
let finish
const finished = new Promise((resolve) => (finish = resolve))
s.on('attempt', () => {
  if (++done === n) finish()
})
// The attempt listener does not keep Node's event loop alive by itself.
const alive = setInterval(() => {}, 1000)
const start = performance.now()
s.start()
await finished
clearInterval(alive)
const secs = (performance.now() - start) / 1000
await s.close()
rmSync(dir, { recursive: true, force: true })
console.log(`timehook-node ${Math.round(n / secs)}/s`)
