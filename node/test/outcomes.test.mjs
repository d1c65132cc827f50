// Outcomes against real receivers on 127.0.0.1, with a ManualClock for every time window:
// per-job callbacks, subscriptions, in-process listeners (`on` / `once` / `off`), dead letters and
// recovery, endpoint health, flow control, sendTest, and exports of the attempt log.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test } from 'node:test'

import { AttemptExport, ManualClock, Scheduler, TimehookError } from '../index.mjs'
import { SECRET, receiver, rejectsWith, tempDir, within } from './helpers.mjs'

const T0 = '2030-01-15T10:00:00.000Z'
const DAY = 86_400_000

/**
 * A receiver answering `/status/{code}` with that status, the first request to each `/flaky/...`
 * path with 500, and anything else with 200.
 */
function statusReceiver() {
  const flaky = new Set()
  return receiver((req) => {
    if (req.url.startsWith('/flaky/') && !flaky.has(req.url)) {
      flaky.add(req.url)
      return 500
    }
    return Number(/^\/status\/(\d+)/.exec(req.url)?.[1] ?? 200)
  })
}

async function open(options = {}) {
  const clock = new ManualClock(T0)
  const s = await Scheduler.open(options.path ?? ':memory:', { allowPrivateTargets: true,
    secret: SECRET,
    clock,
    autostart: false,
    environment: 'staging',
    ...options,
    path: undefined,
  })
  return { s, clock }
}

/** Resolves once `cond()` holds, checking after each turn of the event loop (bounded wait). */
function waitFor(cond, what, ms = 10_000) {
  return within(
    (async () => {
      while (!cond()) await new Promise((resolve) => setTimeout(resolve, 1))
    })(),
    ms,
    what,
  )
}

const json = (req) => JSON.parse(req.body.toString('utf8'))
const byPath = (hook, path) => hook.received.filter((r) => r.url === path)

/** Resolves with the next `count` events of `type` (bounded wait). */
function collect(s, type, count, ms = 10_000) {
  const events = []
  return within(
    new Promise((resolve) => {
      const listener = (e) => {
        events.push(e)
        if (events.length === count) {
          s.off(type, listener)
          resolve(events)
        }
      }
      s.on(type, listener)
    }),
    ms,
    `${count} ${type} event(s)`,
  )
}

test('per-job callbacks: signed success and failure bodies with the documented fields', async () => {
  const hook = await statusReceiver()
  const { s, clock } = await open()
  try {
    const ok = await s.schedule({
      url: `${hook.url}/ok`,
      name: 'welcome',
      onSuccessUrl: `${hook.url}/cb/success`,
      onFailureUrl: `${hook.url}/cb/failure`,
    })
    const flaky = await s.schedule({
      url: `${hook.url}/flaky/1`,
      retry: { delays: [30_000] },
      onSuccessUrl: `${hook.url}/cb/success`,
      onFailureUrl: `${hook.url}/cb/failure`,
    })
    assert.equal(await s.runDue(), 4, 'two jobs, then their two callbacks')

    const job = await s.get(ok)
    assert.equal(job.onSuccessUrl, `${hook.url}/cb/success`)
    assert.equal(job.onFailureUrl, `${hook.url}/cb/failure`)
    const [success] = byPath(hook, '/cb/success')
    const [failure] = byPath(hook, '/cb/failure')
    const verifier = s.verifier()
    verifier.verify(success.body, success.headers, { now: clock.now() })
    verifier.verify(failure.body, failure.headers, { now: clock.now() })

    assert.deepEqual(json(success), {
      job_id: ok,
      job_name: 'welcome',
      execution_id: job.executionId,
      status: 'success',
      executed_at: T0,
      response_code: 200,
      response_time_ms: json(success).response_time_ms,
      response_body: 'ok',
      error_message: null,
      retry_attempt: 0,
      next_retry_at: null,
    })
    assert.equal(typeof json(success).response_time_ms, 'number')
    const f = json(failure)
    assert.equal(f.job_id, flaky)
    assert.equal(f.status, 'failure')
    assert.equal(f.response_code, 500)
    assert.equal(f.response_body, 'nope')
    assert.equal(f.retry_attempt, 0)
    assert.equal(f.next_retry_at, '2030-01-15T10:00:30.000Z')

    clock.advance(30_000)
    assert.equal(await s.runDue(), 2, 'the retry, then its success callback')
    const last = byPath(hook, '/cb/success').at(-1)
    assert.equal(json(last).job_id, flaky)
    assert.equal(json(last).retry_attempt, 1)
    // Callback deliveries are internal jobs: the listing shows the two jobs only.
    assert.equal((await s.list()).length, 2)

    const cron = await s.cron(`${hook.url}/tick`, '@hourly', { onFailureUrl: `${hook.url}/cb/cron` })
    assert.equal((await s.get(cron)).onFailureUrl, `${hook.url}/cb/cron`)
    await rejectsWith(() => s.schedule({ url: `${hook.url}/x`, onSuccessUrl: 5 }), 'invalid_job', TimehookError)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('subscriptions: Standard Webhooks events, persisted in the file, listed and removed', async () => {
  const hook = await statusReceiver()
  const tmp = tempDir()
  const path = tmp.path('jobs.db')
  try {
    let { s, clock } = await open({ path })
    const sub = await s.subscribe(`${hook.url}/events`, ['job.completed', 'job.failed'])
    assert.match(sub.id, /^sub_/)
    assert.deepEqual(sub.events, ['job.completed', 'job.failed'])
    assert.ok(sub.createdAt instanceof Date)
    assert.equal(sub.createdAt.toISOString(), T0)
    clock.advance(1000)
    const one = await s.subscribe(`${hook.url}/one`, 'endpoint.disabled')
    assert.deepEqual(one.events, ['endpoint.disabled'])

    // A bad type: invalid_job, and nothing stored.
    const e = await rejectsWith(() => s.subscribe(`${hook.url}/bad`, ['job.done']), 'invalid_job', TimehookError)
    assert.match(e.message, /job\.done/)
    await rejectsWith(() => s.subscribe(`${hook.url}/bad`, 42), 'invalid_job', TimehookError)
    assert.equal((await s.subscriptions()).length, 2)

    const id = await s.schedule({ url: `${hook.url}/ok`, name: 'trial' })
    assert.equal(await s.runDue(), 2, 'the job, then its event')
    const [event] = byPath(hook, '/events')
    s.verifier().verify(event.body, event.headers, { now: clock.now() })
    const body = json(event)
    assert.equal(body.type, 'job.completed')
    assert.equal(body.timestamp, clock.now().toISOString())
    assert.equal(body.data.job_id, id)
    assert.equal(body.data.job_name, 'trial')
    assert.equal(body.data.status, 'success')
    assert.equal(body.data.environment, 'staging')
    await s.close()

    // Reopening the file keeps them.
    ;({ s, clock } = await open({ path }))
    const listed = await s.subscriptions()
    assert.deepEqual(
      listed.map((x) => [x.id, x.url, x.events]),
      [
        [sub.id, `${hook.url}/events`, ['job.completed', 'job.failed']],
        [one.id, `${hook.url}/one`, ['endpoint.disabled']],
      ],
    )
    await s.unsubscribe(sub.id)
    assert.deepEqual((await s.subscriptions()).map((x) => x.id), [one.id])
    await rejectsWith(() => s.unsubscribe(sub.id), 'not_found', TimehookError)
    await s.schedule({ url: `${hook.url}/ok` })
    assert.equal(await s.runDue(), 1, 'no subscriber any more')
    await s.close()
  } finally {
    tmp.cleanup()
    await hook.close()
  }
})

test('a burst of events: each reaches every listener once, and a loop that awaits each event and listens again misses none', async () => {
  const hook = await statusReceiver()
  const { s } = await open()
  try {
    const n = 300
    const seen = []
    s.on('attempt', (e) => seen.push(e.attempt.jobId))
    // Promise callbacks run between events, so this loop is listening again before the next one.
    const looped = []
    const loop = (async () => {
      while (looped.length < n) {
        const e = await new Promise((resolve) => s.once('attempt', resolve))
        looped.push(e.attempt.jobId)
      }
    })()
    let onceCalls = 0
    s.once('attempt', () => onceCalls++)
    let tenCalls = 0
    const ten = () => {
      if (++tenCalls === 10) s.off('attempt', ten)
    }
    s.on('attempt', ten)
    const ids = await s.scheduleMany(Array.from({ length: n }, (_, i) => ({ url: `${hook.url}/b/${i}` })))
    assert.equal(await s.runDue(), n)
    await waitFor(() => seen.length === n, 'every attempt event')
    assert.deepEqual([...seen].sort(), [...ids].sort(), 'each attempt once')
    await within(loop, 10_000, 'the awaiting loop')
    assert.deepEqual(looped, seen, 'the awaiting loop saw every event, in order')
    assert.equal(onceCalls, 1)
    assert.equal(tenCalls, 10)
    assert.equal(s.listenerCount('attempt'), 1)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('an attempt event holds the same attempt as attempts(): every field, the same keys in the same order', async () => {
  const hook = await statusReceiver()
  // A receiver that hangs up on every request: an attempt with no answer at all.
  const hangUp = createServer((req) => req.socket.destroy())
  await new Promise((resolve) => hangUp.listen(0, '127.0.0.1', resolve))
  const { s } = await open()
  try {
    const events = collect(s, 'attempt', 5)
    for (const path of ['/ok', '/status/204', '/flaky/a', '/status/404']) await s.schedule({ url: `${hook.url}${path}` })
    await s.schedule({ url: `http://127.0.0.1:${hangUp.address().port}/hang-up` })
    assert.equal(await s.runDue(), 5)
    const got = await events
    for (const e of got) {
      assert.deepEqual(Object.keys(e), ['type', 'attempt', 'jobState'])
      const [listed] = await s.attempts(e.attempt.jobId)
      assert.deepStrictEqual(e.attempt, listed)
      assert.deepEqual(Object.keys(e.attempt), Object.keys(listed), 'keys in the same order')
    }
    // Each shape an attempt takes: a body, an empty body, a retry to come, no answer at all.
    const bodies = got.map((e) => e.attempt.responseBody?.toString())
    assert.deepEqual([...bodies].sort(), ['', 'nope', 'nope', 'ok', undefined])
    assert.ok(got.some((e) => e.attempt.status === 500 && e.attempt.nextRetryAt instanceof Date))
    const noAnswer = got.find((e) => e.attempt.status === undefined)
    assert.equal(typeof noAnswer.attempt.error, 'string')
    assert.ok(noAnswer.attempt.message)
    assert.ok(noAnswer.attempt.nextRetryAt instanceof Date)
    assert.equal(noAnswer.jobState, 'retrying')
  } finally {
    await s.close()
    await hook.close()
    await new Promise((resolve) => hangUp.close(resolve))
  }
})

test('listeners: typed events with Dates, on / once / off, listenerCount, bad arguments', async () => {
  const hook = await statusReceiver()
  const { s } = await open()
  try {
    const all = []
    const onAll = (e) => all.push(e)
    s.on('*', onAll)
    const attempts = collect(s, 'attempt', 2)
    const completed = collect(s, 'job.completed', 1)
    const failed = collect(s, 'job.failed', 1)
    let onceCalls = 0
    s.once('attempt', () => onceCalls++)
    assert.equal(s.listenerCount('attempt'), 2)

    const ok = await s.schedule({ url: `${hook.url}/ok`, name: 'ok' })
    const bad = await s.schedule({ url: `${hook.url}/status/404`, name: 'bad' })
    assert.equal(await s.runDue(), 2)

    const [a1, a2] = await attempts
    for (const a of [a1, a2]) {
      assert.equal(a.type, 'attempt')
      assert.ok(a.attempt.startedAt instanceof Date)
      assert.equal(a.attempt.startedAt.toISOString(), T0)
    }
    const byJob = Object.fromEntries([a1, a2].map((a) => [a.attempt.jobId, a]))
    assert.equal(byJob[ok].jobState, 'succeeded')
    assert.equal(byJob[ok].attempt.status, 200)
    assert.equal(byJob[bad].jobState, 'failed')

    const [c] = await completed
    assert.equal(c.type, 'job.completed')
    assert.equal(c.outcome.jobId, ok)
    assert.equal(c.outcome.jobName, 'ok')
    assert.equal(c.outcome.status, 'success')
    assert.equal(c.outcome.responseCode, 200)
    assert.ok(c.outcome.executedAt instanceof Date)
    assert.equal(c.outcome.retryAttempt, 0)
    assert.equal(c.outcome.nextRetryAt, undefined)
    const [f] = await failed
    assert.equal(f.outcome.jobId, bad)
    assert.equal(f.outcome.status, 'failure')
    assert.equal(f.outcome.responseCode, 404)

    assert.equal(onceCalls, 1, 'a once listener runs for one event')
    assert.equal(s.listenerCount('attempt'), 0, 'collect() and once() removed themselves')
    // '*' saw both attempts and both job events (in whatever order the feed delivered them).
    await waitFor(() => all.length === 4, "the '*' events")
    assert.deepEqual(all.map((e) => e.type).sort(), ['attempt', 'attempt', 'job.completed', 'job.failed'])

    assert.equal(s.off('*', onAll), true)
    assert.equal(s.off('*', onAll), false, 'already removed')
    assert.equal(s.listenerCount('*'), 0)

    const e = await rejectsWith(() => s.on('job.finished', () => {}), 'invalid_config', TimehookError)
    assert.equal(e.detail, 'event')
    assert.throws(() => s.on('attempt', 'not a function'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    assert.equal(s.listenerCount('job.finished'), 0)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('a listener that throws or rejects stops neither the others nor later events', async () => {
  const hook = await statusReceiver()
  const { s } = await open()
  try {
    const seen = []
    s.on('attempt', () => {
      throw new Error('sync boom')
    })
    s.on('attempt', async () => {
      throw new Error('async boom')
    })
    s.on('attempt', (e) => seen.push(e.attempt.jobId))
    const errors = []
    s.on('error', (error, event) => errors.push([error.message, event.type, event.attempt.jobId]))
    const a = await s.schedule({ url: `${hook.url}/a` })
    const b = await s.schedule({ url: `${hook.url}/b`, after: 60_000 })
    await s.runDue()
    await waitFor(() => errors.length === 2 && seen.length === 1, 'the first event')
    await s.reschedule(b, T0)
    await s.runDue()
    await waitFor(() => errors.length === 4 && seen.length === 2, 'the later event')
    assert.deepEqual(seen, [a, b])
    assert.deepEqual(
      errors.map((e) => e.join(' ')).sort(),
      [`async boom attempt ${a}`, `async boom attempt ${b}`, `sync boom attempt ${a}`, `sync boom attempt ${b}`],
    )
  } finally {
    await s.close()
    await hook.close()
  }
})

test('without an error listener, a listener error becomes a process warning', async () => {
  const hook = await statusReceiver()
  const { s } = await open()
  let onWarning
  const warned = new Promise((resolve) => {
    onWarning = (w) => w.name === 'TimehookListenerError' && resolve(w)
    process.on('warning', onWarning)
  })
  try {
    s.on('job.completed', () => {
      throw new Error('listener failed')
    })
    const later = collect(s, 'job.completed', 1)
    await s.schedule({ url: `${hook.url}/ok` })
    await s.runDue()
    const warning = await within(warned, 10_000, 'a warning')
    assert.equal(warning.name, 'TimehookListenerError')
    assert.match(warning.message, /job\.completed/)
    assert.match(warning.message, /listener failed/)
    await later
  } finally {
    process.off('warning', onWarning)
    await s.close()
    await hook.close()
  }
})

test('the event loop keeps turning while listeners receive 500 attempts', async () => {
  const hook = await statusReceiver()
  const { s } = await open()
  try {
    let count = 0
    const done = new Promise((resolve) => {
      s.on('attempt', () => {
        if (++count === 500) resolve()
      })
    })
    await s.scheduleMany(Array.from({ length: 500 }, (_, i) => ({ url: `${hook.url}/n/${i}` })))
    let last = performance.now()
    let maxGap = 0
    const timer = setInterval(() => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
    }, 1)
    await s.runDue()
    await within(done, 20_000, '500 attempt events')
    clearInterval(timer)
    assert.equal(count, 500)
    assert.ok(maxGap < 100, `the event loop stalled for ${maxGap.toFixed(1)} ms`)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('close() removes every listener; listeners never keep the process alive', async () => {
  const { s } = await open()
  s.on('*', () => {})
  s.on('error', () => {})
  await s.close()
  assert.equal(s.listenerCount('*'), 0)
  assert.equal(s.listenerCount('error'), 0)
  await rejectsWith(() => s.on('attempt', () => {}), 'closed', TimehookError)

  // A child that listens and never closes exits on its own once its work is done.
  const script = `
    const { Scheduler } = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
    Scheduler.open(':memory:', { allowPrivateTargets: true }).then((s) => {
      s.on('*', () => {})
      s.once('job.completed', () => {})
      console.log('listening')
    })`
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })
  assert.equal(out.trim(), 'listening')
})

test('dead letters: listed, retried one by one or in a window, purged', async () => {
  const hook = await statusReceiver()
  const { s, clock } = await open()
  try {
    const job = (name) => ({ url: `${hook.url}/status/500`, name, retry: 'none', labels: ['batch'] })
    const early = await s.schedule(job('early'))
    await s.runDue()
    clock.advance(3_600_000)
    const late = await s.schedule(job('late'))
    const other = await s.schedule(job('other'))
    await s.runDue()

    const failed = await s.list({ state: 'failed' })
    assert.deepEqual(failed.map((j) => j.id).sort(), [early, late, other].sort())

    // retry(id): the same webhook-id, due now.
    const exec = (await s.get(other)).executionId
    await s.retry(other)
    assert.equal((await s.get(other)).state, 'scheduled')
    await s.runDue()
    assert.equal(hook.received.at(-1).headers['webhook-id'], exec)

    // Only those that failed in the last half hour.
    const since = new Date(clock.now().getTime() - 1_800_000)
    assert.equal(await s.retryFailed({ since, name: 'late' }), 1)
    assert.equal((await s.get(late)).state, 'scheduled')
    assert.equal((await s.get(early)).state, 'failed')
    assert.equal(await s.retryFailed({ until: T0, since: T0 }), 0, 'an empty window')
    await rejectsWith(() => s.retryFailed({ since: clock.now(), until: T0 }), 'invalid_job', TimehookError)
    await rejectsWith(() => s.retryFailed({ when: T0 }), 'invalid_job', TimehookError)

    assert.equal(await s.purge({ job: early }), 1)
    await rejectsWith(() => s.get(early), 'not_found', TimehookError)
    assert.equal(await s.purge({ label: 'batch' }), 1, 'other, failed again; late is scheduled')
    assert.equal((await s.get(late)).state, 'scheduled')
    await rejectsWith(() => s.purge({ job: 'nope' }), 'invalid_job', TimehookError)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('endpoint health: disabled after 5 days and 10 failures, jobs held, then enabled', async () => {
  const failing = await statusReceiver()
  const other = await statusReceiver()
  const { s, clock } = await open()
  try {
    const disabledEvent = collect(s, 'endpoint.disabled', 1)
    const ids = []
    // One failing job every 12 hours: the 11th failure, at T0 + 5 days, reaches both thresholds.
    for (let i = 0; i < 12; i++) {
      ids.push(await s.schedule({ url: `${failing.url}/status/503`, retry: 'none' }))
      await s.runDue()
      clock.advance(DAY / 2)
    }
    const [ep] = await s.endpoints()
    assert.equal(ep.origin, failing.url)
    assert.equal(ep.failures, 11)
    assert.ok(ep.failingSince instanceof Date)
    assert.equal(ep.failingSince.toISOString(), T0)
    assert.equal(ep.disabledAt.toISOString(), new Date(Date.parse(T0) + 5 * DAY).toISOString())
    const [event] = await disabledEvent
    assert.equal(event.type, 'endpoint.disabled')
    assert.equal(event.endpoint.origin, failing.url)
    assert.ok(event.endpoint.disabledAt instanceof Date)

    // The 12th job is held, not dropped; other endpoints are served.
    assert.equal(failing.received.length, 11)
    assert.equal((await s.get(ids[11])).state, 'scheduled')
    await s.schedule({ url: `${other.url}/ok` })
    await s.schedule({ url: `${failing.url}/ok` })
    assert.equal(await s.runDue(), 1, 'only the healthy endpoint')
    assert.equal(other.received.length, 1)

    await s.enableEndpoint(ep)
    assert.equal(await s.runDue(), 2, 'held jobs go out once enabled')
    assert.equal(failing.received.length, 13)
    assert.equal((await s.get(ids[11])).attempts, 1)
    assert.ok((await s.endpoints()).every((e) => e.disabledAt === undefined), 'enabled')
    await rejectsWith(() => s.enableEndpoint(failing.url), 'invalid_state', TimehookError)
  } finally {
    await s.close()
    await failing.close()
    await other.close()
  }
})

test('endpoint health: both the period and the minimum of failures are needed; 410 when configured', async () => {
  const hook = await statusReceiver()
  let { s, clock } = await open({ disableEndpointsAfter: 60_000, disableEndpointsMinFailures: 3 })
  try {
    const fail = () => s.schedule({ url: `${hook.url}/status/500`, retry: 'none' })
    await fail()
    await s.runDue()
    clock.advance(120_000)
    await fail()
    await s.runDue()
    let [ep] = await s.endpoints()
    assert.equal(ep.failures, 2)
    assert.equal(ep.disabledAt, undefined, 'past the period, short of the failures')
    await fail()
    await s.runDue()
    ;[ep] = await s.endpoints()
    assert.equal(ep.failures, 3)
    assert.ok(ep.disabledAt instanceof Date)
    await s.enableEndpoint(`${hook.url}/any/path`)
    await s.close()

    ;({ s, clock } = await open({ disableEndpointOnGone: true }))
    await s.schedule({ url: `${hook.url}/status/410` })
    await s.runDue()
    ;[ep] = await s.endpoints()
    assert.ok(ep.disabledAt instanceof Date, 'a 410 disables at once')
    await s.close()

    ;({ s, clock } = await open())
    await s.schedule({ url: `${hook.url}/status/410` })
    await s.runDue()
    ;[ep] = await s.endpoints()
    assert.equal(ep.disabledAt, undefined, 'off by default')
  } finally {
    await s.close()
    await hook.close()
  }
})

/** A receiver that answers after `delayMs` and records the most requests it had in flight. */
async function slowReceiver(delayMs) {
  let inFlight = 0
  const stats = { count: 0, maxInFlight: 0 }
  const waiters = []
  const server = createServer((req, res) => {
    inFlight++
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight)
    req.resume()
    req.on('end', () => {
      setTimeout(() => {
        inFlight--
        stats.count++
        res.writeHead(200).end('ok')
        for (const w of waiters.splice(0)) w()
      }, delayMs)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    /** Resolves once `n` requests have been answered (bounded wait). */
    async reach(n, ms = 10_000) {
      const wait = async () => {
        while (stats.count < n) await new Promise((resolve) => waiters.push(resolve))
      }
      await within(wait(), ms, `${n} requests`)
    },
    close() {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeAllConnections()
      return closed
    },
  }
}

test('flow control: a burst to one endpoint respects its in-flight bound and rate; others are not slowed', async () => {
  const busy = await slowReceiver(30)
  const other = await slowReceiver(0)
  const { s, clock } = await open({
    maxConcurrency: 16,
    perHostRate: 1000,
    endpointLimits: { [busy.url]: { maxInFlight: 2, perSecond: 5 } },
  })
  try {
    await s.scheduleMany(Array.from({ length: 200 }, (_, i) => ({ url: `${busy.url}/b/${i}` })))
    await s.scheduleMany(Array.from({ length: 20 }, (_, i) => ({ url: `${other.url}/o/${i}` })))
    s.start()
    await other.reach(20)
    // Without the clock moving, the busy endpoint gets at most its one-second burst of 5.
    await busy.reach(5)
    assert.ok(busy.stats.count <= 5, `rate: ${busy.stats.count}`)
    for (let second = 1; second <= 3; second++) {
      clock.advance(1000)
      await busy.reach(5 + 5 * second)
      assert.ok(busy.stats.count <= 5 + 5 * second, `rate after ${second} s: ${busy.stats.count}`)
    }
    assert.ok(busy.stats.maxInFlight <= 2, `in flight: ${busy.stats.maxInFlight}`)
    assert.equal(busy.stats.maxInFlight, 2, 'the bound is used')
  } finally {
    await s.close(5_000)
    await busy.close()
    await other.close()
  }
})

test('flow control options are checked', async () => {
  const bad = [
    { endpointLimits: { 'not a url': { maxInFlight: 2 } } },
    { endpointLimits: { 'http://127.0.0.1:9': { perSecond: 2 } } },
    { endpointLimits: { 'http://127.0.0.1:9': { maxInFlight: 2, burst: 1 } } },
    { endpointLimits: [{ maxInFlight: 2 }] },
    { perHostRate: -1 },
    { perHostRate: 'fast' },
    { disableEndpointsAfter: -5 },
    { disableEndpointOnGone: 'yes' },
  ]
  for (const options of bad) {
    await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false, ...options }), 'invalid_config', TimehookError)
  }
})

test('sendTest delivers a signed sample event now and returns the attempt', async () => {
  const hook = await statusReceiver()
  const { s, clock } = await open()
  try {
    const attempt = await s.sendTest(`${hook.url}/probe`, 'job.failed')
    assert.equal(attempt.status, 200)
    assert.ok(attempt.startedAt instanceof Date)
    assert.equal(attempt.startedAt.toISOString(), T0)
    const [req] = byPath(hook, '/probe')
    s.verifier().verify(req.body, req.headers, { now: clock.now() })
    assert.equal(json(req).type, 'job.failed')
    assert.equal(json(req).data.environment, 'staging')
    assert.equal(req.headers['webhook-id'], attempt.executionId)

    const plain = await s.sendTest(`${hook.url}/probe`)
    assert.equal(json(byPath(hook, '/probe')[1]).type, 'job.completed', 'the default type')
    assert.equal(plain.number, 1)
    const down = await s.sendTest(`${hook.url}/status/503`, 'endpoint.disabled')
    assert.equal(down.status, 503)
    await rejectsWith(() => s.sendTest(`${hook.url}/probe`, 'job.later'), 'invalid_job', TimehookError)
  } finally {
    await s.close()
    await hook.close()
  }
})

test('exports: CSV and JSON Lines, to a path and as a stream, filtered by time, job and state', async () => {
  const hook = await statusReceiver()
  const tmp = tempDir()
  const { s, clock } = await open()
  try {
    const a = await s.schedule({ url: `${hook.url}/status/500`, name: 'a, "quoted"', retry: { delays: [10_000] } })
    await s.runDue()
    clock.advance(10_000)
    const b = await s.schedule({ url: `${hook.url}/ok`, name: 'b' })
    await s.runDue()

    const csvPath = tmp.path('attempts.csv')
    assert.equal(await s.exportAttempts(csvPath), 3)
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n')
    assert.equal(lines[0], 'started_at,job_id,job_name,job_state,execution_id,attempt,duration_ms,status,error,message,next_retry_at')
    assert.equal(lines.length, 4)
    assert.ok(lines[1].startsWith(`${T0},${a},"a, ""quoted""",failed,`), lines[1])

    const jsonlPath = tmp.path('b.jsonl')
    assert.equal(await s.exportAttempts(jsonlPath, { format: 'jsonl', job: b }), 1)
    const row = JSON.parse(readFileSync(jsonlPath, 'utf8'))
    assert.equal(row.job_id, b)
    assert.equal(row.status, 200)
    assert.equal(row.job_state, 'succeeded')

    const since = new Date(Date.parse(T0) + 5_000)
    assert.equal(await s.exportAttempts(tmp.path('w.jsonl'), { format: 'jsonl', since }), 2)
    assert.equal(await s.exportAttempts(tmp.path('u.csv'), { until: since.toISOString() }), 1)
    assert.equal(await s.exportAttempts(tmp.path('f.csv'), { state: 'failed' }), 2)

    // As a stream: an async iterable of Buffers.
    const stream = s.exportAttemptsStream({ format: 'jsonl', state: 'failed' })
    assert.ok(stream instanceof AttemptExport)
    const chunks = []
    for await (const chunk of stream) {
      assert.ok(Buffer.isBuffer(chunk))
      chunks.push(chunk)
    }
    const rows = Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l))
    assert.deepEqual(rows.map((r) => [r.job_id, r.attempt]), [[a, 1], [a, 2]])
    assert.equal(await stream.read(), null, 'finished')

    // Piped to a file, and through Readable.from.
    const piped = tmp.path('piped.csv')
    await pipeline(s.exportAttemptsStream({ since }), createWriteStream(piped))
    assert.equal(readFileSync(piped, 'utf8').trim().split('\n').length, 3)
    let text = ''
    for await (const chunk of Readable.from(s.exportAttemptsStream({ job: b }))) text += chunk
    assert.equal(text.trim().split('\n').length, 2)

    // Leaving early cancels the export.
    const early = s.exportAttemptsStream()
    for await (const chunk of early) {
      assert.ok(chunk.length > 0)
      break
    }
    assert.equal(await early.read(), null)

    await rejectsWith(() => s.exportAttempts(tmp.path('x'), { format: 'xml' }), 'invalid_config', TimehookError)
    await rejectsWith(() => s.exportAttempts(tmp.path('x'), { state: 'lost' }), 'invalid_job', TimehookError)
    await rejectsWith(() => s.exportAttemptsStream({ format: 'xml' }), 'invalid_config', TimehookError)
    await rejectsWith(() => s.exportAttemptsStream({ job: 'nope' }), 'invalid_job', TimehookError)
    await rejectsWith(() => s.exportAttemptsStream({ since: 'yesterday' }), 'invalid_job', TimehookError)
  } finally {
    await s.close()
    tmp.cleanup()
    await hook.close()
  }
})
