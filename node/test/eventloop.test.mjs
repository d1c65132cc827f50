// The event loop stays responsive while 10k jobs are scheduled: SQLite work runs on timehook's
// own threads, so a 1 ms interval timer keeps firing. The store is a real file with full
// durability (an fsync per commit), so blocking on it would show as a long gap between ticks.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'

import { Scheduler } from '../index.mjs'
import { tempDir } from './helpers.mjs'

const JOBS = 10_000
const BATCH = 200
/** The largest gap between two ticks of a 1 ms timer that still counts as responsive. */
const MAX_GAP_MS = 100

function ticker() {
  let last = performance.now()
  let maxGap = 0
  let ticks = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, 1)
  return {
    stop() {
      clearInterval(timer)
      maxGap = Math.max(maxGap, performance.now() - last)
      return { maxGap, ticks }
    },
  }
}

test(`the event loop keeps turning while ${JOBS} jobs are scheduled`, async (t) => {
  const tmp = tempDir()
  const s = await Scheduler.open(tmp.path('jobs.db'), { allowPrivateTargets: true, autostart: false, durability: 'full' })
  try {
    const started = performance.now()
    const tick = ticker()
    // One schedule() call per job, all in flight together: submitted in batches so the test's
    // own loop also yields between them.
    const pending = []
    for (let i = 0; i < JOBS; i++) {
      pending.push(s.schedule({ url: `https://example.com/hooks/${i}`, after: 3_600_000, payload: { i } }))
      if (i % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve))
    }
    const ids = await Promise.all(pending)
    const { maxGap, ticks } = tick.stop()
    const elapsed = performance.now() - started
    t.diagnostic(`${JOBS} jobs in ${elapsed.toFixed(0)} ms; ${ticks} ticks; largest gap ${maxGap.toFixed(1)} ms`)
    assert.equal(new Set(ids).size, JOBS)
    assert.ok(maxGap < MAX_GAP_MS, `the event loop stalled for ${maxGap.toFixed(1)} ms`)
    assert.ok(ticks >= Math.min(10, elapsed / 20), `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`)
    assert.equal((await s.list({ limit: 10_000 })).length, JOBS)
  } finally {
    await s.close()
    tmp.cleanup()
  }
})

test('scheduleMany of 10k jobs does not stall the loop either', async (t) => {
  const tmp = tempDir()
  const s = await Scheduler.open(tmp.path('jobs.db'), { allowPrivateTargets: true, autostart: false })
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ url: `https://example.com/many/${i}`, after: 60_000 }))
    const tick = ticker()
    const ids = await s.scheduleMany(jobs)
    const { maxGap, ticks } = tick.stop()
    t.diagnostic(`${ticks} ticks; largest gap ${maxGap.toFixed(1)} ms`)
    assert.equal(ids.length, JOBS)
    assert.ok(maxGap < MAX_GAP_MS, `the event loop stalled for ${maxGap.toFixed(1)} ms`)
  } finally {
    await s.close()
    tmp.cleanup()
  }
})

test('a process that only awaits its schedule() calls sees each settle, then exits by itself', async () => {
  // `schedule` is polled on the JavaScript thread, woken when the store answers: nothing but the
  // pending promise keeps the loop alive meanwhile, and nothing keeps it alive afterwards.
  const tmp = tempDir()
  try {
    const db = tmp.path('jobs.db')
    const script = `
      const { Scheduler } = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
      ;(async () => {
        const s = await Scheduler.open(${JSON.stringify(db)}, { autostart: false })
        const ids = []
        for (let i = 0; i < 50; i++) ids.push(await s.schedule({ url: 'https://example.com/c/' + i, after: 60000 }))
        const [a, b] = await Promise.all([s.submit({ url: 'https://example.com/k', idempotencyKey: 'k' }),
          s.cron('https://example.com/cron', '0 * * * *')])
        console.log(JSON.stringify({ ids, a, b }))
      })()`
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    })
    const { ids, a, b } = JSON.parse(out)
    assert.equal(new Set(ids).size, 50)
    assert.equal(a.existing, false)
    const s = await Scheduler.open(db, { autostart: false })
    try {
      const stored = await s.list({ limit: 100 })
      assert.deepEqual(stored.map((j) => j.id).sort(), [...ids, a.id, b].sort())
    } finally {
      await s.close()
    }
  } finally {
    tmp.cleanup()
  }
})
