// Retries, dead letters, cron, pause/resume/trigger and reschedule, driven by a ManualClock and
// runDue(): no sleeps, time moves only when the test says so.
import assert from 'node:assert/strict'
import { after, before, test as nodeTest } from 'node:test'

import { ManualClock, Scheduler, TimehookError, Verifier } from '../index.mjs'
import { SECRET, STORES, receiver, rejectsWith } from './helpers.mjs'

const START = '2030-01-01T00:00:00Z'
const T0 = Date.parse(START)

let hook
let statuses = new Map() // path -> list of statuses to answer, in order (then 204)
before(async () => {
  hook = await receiver((req) => {
    const list = statuses.get(req.url)
    return list && list.length ? list.shift() : 204
  })
})
after(async () => {
  await hook.close()
})

async function open(store) {
  const clock = new ManualClock(START)
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, secret: SECRET, clock, autostart: false })
  return { clock, s }
}

/** Registers `fn` once per store (SQLite and PostgreSQL). */
function test(name, fn) {
  for (const store of STORES) nodeTest(`${name} [${store.name}]`, () => fn(store))
}

test('a failed attempt is retried after its delay, with the same webhook-id', async (store) => {
  const { clock, s } = await open(store)
  try {
    statuses.set('/flaky', [500, 503])
    const base = hook.received.length
    const id = await s.schedule({ url: `${hook.url}/flaky`, payload: { x: 1 }, retry: { delays: [60_000, 120_000] } })

    assert.equal(await s.runDue(), 1)
    let job = await s.get(id)
    assert.equal(job.state, 'retrying')
    assert.equal(job.nextRunAt.getTime(), T0 + 60_000)

    clock.advance(59_999)
    assert.equal(await s.runDue(), 0, 'not due before its delay')
    clock.advance(1)
    assert.equal(await s.runDue(), 1)
    job = await s.get(id)
    assert.equal(job.state, 'retrying')
    assert.equal(job.nextRunAt.getTime(), T0 + 60_000 + 120_000)

    clock.advance(120_000)
    assert.equal(await s.runDue(), 1)
    job = await s.get(id)
    assert.equal(job.state, 'succeeded')
    assert.equal(job.attempts, 3)

    const attempts = await s.attempts(id)
    assert.deepEqual(attempts.map((a) => a.status), [500, 503, 204])
    assert.deepEqual(attempts.map((a) => a.number), [1, 2, 3])
    assert.equal(attempts[0].error, 'status')
    assert.equal(attempts[0].nextRetryAt.getTime(), T0 + 60_000)
    assert.equal(attempts[2].nextRetryAt, undefined)

    const reqs = hook.received.slice(base)
    assert.equal(reqs.length, 3)
    assert.equal(new Set(reqs.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across retries')
    assert.deepEqual(
      reqs.map((r) => Number(r.headers['webhook-timestamp'])),
      [T0 / 1000, (T0 + 60_000) / 1000, (T0 + 180_000) / 1000],
    )
    // Each delivery verifies at its own time.
    const v = new Verifier(SECRET)
    for (const r of reqs) v.verify(r.body, r.headers, { now: Number(r.headers['webhook-timestamp']) })
  } finally {
    await s.close()
  }
})

test('a 4xx fails for good; retry() re-queues the dead letter', async (store) => {
  const { s } = await open(store)
  try {
    statuses.set('/gone', [400])
    const id = await s.schedule({ url: `${hook.url}/gone`, retry: 'svix' })
    assert.equal(await s.runDue(), 1)
    assert.equal((await s.get(id)).state, 'failed')
    assert.deepEqual((await s.list({ state: 'failed' })).map((j) => j.id), [id])
    await s.retry(id)
    assert.equal((await s.get(id)).state, 'scheduled')
    assert.equal(await s.runDue(), 1)
    assert.equal((await s.get(id)).state, 'succeeded')
    // retry() applies only to failed jobs.
    await rejectsWith(() => s.retry(id), 'invalid_state', TimehookError)
  } finally {
    await s.close()
  }
})

test('retries run out: the job fails after maxAttempts', async (store) => {
  const { clock, s } = await open(store)
  try {
    statuses.set('/down', [500, 500, 500])
    const id = await s.schedule({ url: `${hook.url}/down`, retry: { maxAttempts: 2, initial: 1000, factor: 2, jitter: 0 } })
    assert.equal(await s.runDue(), 1)
    clock.advance(1000)
    assert.equal(await s.runDue(), 1)
    const job = await s.get(id)
    assert.equal(job.state, 'failed')
    assert.equal(job.retry.maxAttempts, 2)
    assert.equal((await s.attempts(id)).length, 2)
  } finally {
    await s.close()
  }
})

test('cron: occurrences follow the clock; pause, resume and trigger', async (store) => {
  const { clock, s } = await open(store)
  try {
    const base = hook.received.length
    const id = await s.cron(`${hook.url}/tick`, '*/5 * * * *', { payload: { kind: 'tick' }, name: 'ticker' })
    let job = await s.get(id)
    assert.equal(job.kind, 'cron')
    assert.equal(job.cron, '*/5 * * * *')
    assert.equal(job.tz, 'UTC')
    assert.equal(job.nextRunAt.getTime(), T0 + 5 * 60_000)

    assert.equal(await s.runDue(), 0)
    clock.advance(5 * 60_000)
    assert.equal(await s.runDue(), 1)
    clock.advance(5 * 60_000)
    assert.equal(await s.runDue(), 1)
    job = await s.get(id)
    assert.equal(job.state, 'scheduled')
    assert.equal(job.nextRunAt.getTime(), T0 + 15 * 60_000)
    const ticks = hook.received.slice(base)
    assert.equal(ticks.length, 2)
    assert.notEqual(ticks[0].headers['webhook-id'], ticks[1].headers['webhook-id'], 'each occurrence has its own id')

    await s.pause(id)
    assert.equal((await s.get(id)).state, 'paused')
    clock.advance(10 * 60_000)
    assert.equal(await s.runDue(), 0, 'a paused cron job does not fire')
    await s.resume(id)
    assert.equal((await s.get(id)).state, 'scheduled')

    const exec = await s.trigger(id)
    assert.match(exec, /^exec_/)
    assert.equal(await s.runDue(), 1)
    const last = hook.received.at(-1)
    assert.equal(last.headers['webhook-id'], exec)
    assert.deepEqual(JSON.parse(last.body), { kind: 'tick' })

    // A time zone and a missed-run policy are kept.
    const berlin = await s.cron(`${hook.url}/berlin`, '0 9 * * *', { tz: 'Europe/Berlin', missed: 'skip' })
    const b = await s.get(berlin)
    assert.equal(b.tz, 'Europe/Berlin')
    assert.equal(b.missed, 'skip')
    assert.equal(b.nextRunAt.toISOString(), '2030-01-01T08:00:00.000Z')
  } finally {
    await s.close()
  }
})

test('reschedule moves a pending job; pause does not apply to one-time jobs', async (store) => {
  const { clock, s } = await open(store)
  try {
    const id = await s.schedule({ url: `${hook.url}/moved`, after: 3_600_000 })
    await s.reschedule(id, new Date(T0 + 60_000))
    assert.equal((await s.get(id)).nextRunAt.getTime(), T0 + 60_000)
    await s.reschedule(id, '2030-01-01T00:02:00Z')
    assert.equal((await s.get(id)).nextRunAt.getTime(), T0 + 120_000)
    await s.reschedule(id, T0 + 30_000)
    assert.equal((await s.get(id)).nextRunAt.getTime(), T0 + 30_000)
    clock.advance(30_000)
    assert.equal(await s.runDue(), 1)
    await rejectsWith(() => s.reschedule(id, T0), 'invalid_state', TimehookError)
    await rejectsWith(() => s.pause(id), 'invalid_state', TimehookError)
  } finally {
    await s.close()
  }
})

test('attemptsPage reads every attempt once, in order, a page at a time', async (store) => {
  const { clock, s } = await open(store)
  try {
    statuses.set('/paged', [500, 500, 500, 500])
    const id = await s.schedule({ url: `${hook.url}/paged`, retry: { delays: [1000, 1000, 1000, 1000] } })
    for (let i = 0; i < 5; i++) {
      assert.equal(await s.runDue(), 1)
      clock.advance(2000)
    }
    const all = await s.attempts(id)
    assert.equal(all.length, 5)
    const paged = []
    let after
    for (;;) {
      const page = await s.attemptsPage(id, { after, limit: 2 })
      assert.ok(page.length <= 2)
      if (page.length === 0) break
      paged.push(...page)
      after = page[page.length - 1].cursor
    }
    assert.deepEqual(paged.map((a) => a.number), [1, 2, 3, 4, 5])
    assert.deepEqual(paged.map((a) => a.status), [500, 500, 500, 500, 204])
    const err = await rejectsWith(() => s.attemptsPage(id, { after: 'nope' }), 'invalid_job', TimehookError)
    assert.equal(err.detail, 'after')
  } finally {
    await s.close()
  }
})
