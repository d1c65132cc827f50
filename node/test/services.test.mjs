// Each service's own receiver code, copied from its docs into tests/receivers/ and run unchanged
// (tests/receivers/serve.cjs), against deliveries scheduled from Node with that service's
// profile. A manual clock walks each retry schedule. Every docs handler must answer 2xx, see or
// log the fields it reads, and refuse a tampered body.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { ManualClock, Scheduler } from '../index.mjs'
import { SECRET, within } from './helpers.mjs'

const SERVE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'receivers', 'serve.cjs')

/** Starts one service's docs receiver in a process of its own; resolves once it listens. */
async function docsReceiver(service, env) {
  const child = spawn(process.execPath, [SERVE, service], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const logs = []
  const requests = []
  const waiters = []
  let listening
  const port = new Promise((resolve, reject) => {
    listening = resolve
    child.on('exit', (code) => reject(new Error(`serve.cjs ${service} exited with ${code}`)))
  })
  createInterface({ input: child.stdout }).on('line', (line) => {
    const record = JSON.parse(line)
    if (record.listening) listening(record.listening)
    if (record.log !== undefined) logs.push(record.log)
    if (record.request) requests.push(record.request)
    for (const w of waiters.splice(0)) w()
  })
  const url = `http://127.0.0.1:${await within(port, 15_000, `${service} to listen`)}`
  return {
    url,
    logs,
    requests,
    /** Waits until `n` requests have been answered; returns them. */
    async answered(n) {
      while (requests.length < n) {
        await within(new Promise((resolve) => waiters.push(resolve)), 10_000, `request ${n} at ${service}`)
      }
      return requests.slice(0, n)
    },
    /** Sends a recorded request again with `body` in place of its own; resolves with the status. */
    async replay(request, body) {
      const headers = { ...request.headers }
      delete headers['content-length']
      delete headers.host
      const res = await fetch(`${url}${request.path}`, { method: 'POST', headers, body })
      await res.arrayBuffer()
      return res.status
    },
    close() {
      child.kill()
    },
  }
}

/** A scheduler on a fresh SQLite store whose manual clock starts at the real time (the RunLater
 * verifier checks the timestamp against its own clock). */
async function open(options) {
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000))
  const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false, clock, ...options })
  return { s, clock }
}

/** Runs the attempts of a retry schedule: one now, then one after each of `delays` (seconds),
 * checking that nothing is due a second before each. `runDue` also delivers what an attempt
 * makes due at once (callbacks, events), so it may count more than the attempt. */
async function walk(s, clock, delays) {
  assert.ok((await s.runDue()) >= 1)
  for (const d of delays) {
    clock.advance((d - 1) * 1000)
    assert.equal(await s.runDue(), 0, `nothing is due 1 s before the retry after ${d} s`)
    clock.advance(1000)
    assert.ok((await s.runDue()) >= 1, `the retry after ${d} s`)
  }
}

const statuses = (requests) => requests.map((r) => r.status)

test('Runlater.eu: the docs handler verifies after 5 retries at 20 s, 45 s, 90 s, 120 s and 180 s', async () => {
  const rx = await docsReceiver('runlater-eu', { RUNLATER_WEBHOOK_SECRET: 'rl-secret', TIMEHOOK_FAIL_FIRST: '5' })
  const { s, clock } = await open({ profile: 'runlater-eu', secret: 'rl-secret' })
  try {
    const id = await s.schedule({ url: `${rx.url}/webhook`, payload: { action: 'sync', note: 'naïve / ✓', n: 0.1 } })
    await walk(s, clock, [20, 45, 90, 120, 180])
    const got = await rx.answered(6)
    assert.deepEqual(statuses(got), [503, 503, 503, 503, 503, 200])
    const job = await s.get(id)
    assert.equal(job.state, 'succeeded')
    for (const r of got) {
      assert.equal(r.headers['x-runlater-job-id'], id)
      assert.equal(r.headers['x-runlater-execution-id'], job.executionId)
    }
    assert.equal(await rx.replay(got[5], got[5].body.replace('sync', 'drop')), 401)
    assert.equal(await rx.replay(got[5], got[5].body), 200)
  } finally {
    await s.close()
    rx.close()
  }
})

test('RunLater: the docs verifyRunLater accepts the retry 60 s later and refuses a tampered body', async () => {
  const rx = await docsReceiver('runlater', { RUNLATER_WEBHOOK_SECRET: 'rl-secret', TIMEHOOK_FAIL_FIRST: '1' })
  const { s, clock } = await open({ profile: 'runlater', secret: 'rl-secret' })
  try {
    const id = await s.schedule({ url: `${rx.url}/api/downgrade`, payload: { user_id: 'u_123', plan: 'free' } })
    await walk(s, clock, [60])
    const got = await rx.answered(2)
    assert.deepEqual(statuses(got), [503, 200])
    assert.equal(got[1].headers['x-runlater-job-id'], id)
    assert.equal(Number(got[1].headers['x-runlater-timestamp']), Math.floor(clock.now().getTime() / 1000))
    assert.equal(await rx.replay(got[1], got[1].body.replace('free', 'paid')), 401)
  } finally {
    await s.close()
    rx.close()
  }
})

test('CronFlow: job.failed after 30 s, 2 m, 10 m, 1 h and 6 h, and job.completed, reach the handler once each', async () => {
  const rx = await docsReceiver('cronflow', { CRONFLOW_WEBHOOK_SECRET: 'cf-secret' })
  const { s, clock } = await open({ profile: 'cronflow', secret: 'cf-secret', environment: 'production' })
  try {
    await s.subscribe(`${rx.url}/webhooks/cronflow`, ['job.failed', 'job.completed'])
    const failing = await s.schedule({ url: `${rx.url}/fail/sync`, payload: { n: 1 } })
    // The last attempt, then its job.failed event.
    await walk(s, clock, [30, 120, 600, 3600, 6 * 3600])
    const nightly = await s.cron(`${rx.url}/ok/nightly`, '0 3 * * *')
    await s.trigger(nightly)
    assert.equal(await s.runDue(), 2, 'the triggered run, then its job.completed event')
    const got = await rx.answered(9)
    assert.deepEqual(statuses(got), [500, 500, 500, 500, 500, 500, 200, 200, 200])
    // The job's own requests carry the idempotency key, the same on every retry.
    const keys = new Set(got.slice(0, 6).map((r) => r.headers['x-cronflow-idempotency-key']))
    assert.equal(keys.size, 1)
    assert.equal([...keys][0], (await s.get(failing)).executionId)
    assert.equal(got[6].path, '/webhooks/cronflow')
    assert.equal(got[8].path, '/webhooks/cronflow')
    assert.ok(rx.logs.some((l) => l.startsWith(`job.failed for ${failing} (production) at `)), rx.logs.join('\n'))
    assert.ok(rx.logs.includes('error 500: HTTP 500 after 5 retries'), rx.logs.join('\n'))
    const next = new Date(clock.now().getTime() + 86_400_000)
    assert.ok(rx.logs.some((l) => l.startsWith(`job.completed for ${nightly} (production)`)), rx.logs.join('\n'))
    assert.ok(rx.logs.some((l) => /^took \d+ ms, next run \d{4}-\d\d-\d\dT03:00:00\.000Z$/.test(l)), rx.logs.join('\n'))
    assert.ok(next > clock.now())
    // A duplicate is recognised by its key; a tampered event is refused.
    const logged = rx.logs.length
    assert.equal(await rx.replay(got[6], got[6].body), 200)
    assert.equal(rx.logs.length, logged)
    assert.equal(await rx.replay(got[6], got[6].body.replace('production', 'staging')), 401)
  } finally {
    await s.close()
    rx.close()
  }
})

test('Svix (Runa): the docs handler with the svix package verifies after retries at 0 s and 5 s', async () => {
  const rx = await docsReceiver('svix', { SVIX_WEBHOOK_SECRET: SECRET, TIMEHOOK_FAIL_FIRST: '2' })
  const { s, clock } = await open({ profile: 'svix', secret: SECRET })
  try {
    const id = await s.schedule({ url: `${rx.url}/webhook`, payload: { type: 'order.completion', order: 7 } })
    assert.equal(await s.runDue(), 2, 'the first retry is immediate')
    clock.advance(4000)
    assert.equal(await s.runDue(), 0)
    clock.advance(1000)
    assert.equal(await s.runDue(), 1)
    const got = await rx.answered(3)
    assert.deepEqual(statuses(got), [503, 503, 200])
    const job = await s.get(id)
    assert.equal(got[2].headers['svix-id'], job.executionId)
    assert.equal(got[2].headers['webhook-id'], job.executionId)
    assert.ok(rx.logs.includes(`svix message ${job.executionId}: {"type":"order.completion","order":7}`), rx.logs.join('\n'))
    assert.equal(await rx.replay(got[2], got[2].body.replace('7', '8')), 400)
  } finally {
    await s.close()
    rx.close()
  }
})

test('A1Cron: the docs Express handlers log success and failure callbacks, verified by the docs function', async () => {
  const rx = await docsReceiver('a1cron', { WEBHOOK_SECRET: 'a1-secret' })
  const { s, clock } = await open({})
  try {
    const callbacks = {
      profile: 'a1cron',
      secret: 'a1-secret',
      name: 'Daily Sales Report',
      onSuccessUrl: `${rx.url}/webhooks/cron-success`,
      onFailureUrl: `${rx.url}/webhooks/cron-failure`,
    }
    const ok = await s.schedule({ url: `${rx.url}/ok/report`, ...callbacks })
    assert.equal(await s.runDue(), 2, 'the job, then its success callback')
    const okJob = await s.get(ok)
    const failing = await s.schedule({ url: `${rx.url}/fail/report`, retry: { delays: [300_000] }, ...callbacks })
    // Each failed attempt is reported.
    await walk(s, clock, [300])
    const got = await rx.answered(6)
    assert.deepEqual(statuses(got), [200, 200, 500, 200, 500, 200])
    const failures = got.filter((r) => r.path === '/webhooks/cron-failure').map((r) => JSON.parse(r.body))
    assert.deepEqual(failures.map((f) => f.retry_attempt).sort(), [0, 1])
    assert.ok(failures.every((f) => f.cron_job_id === failing))
    const expected = [
      '✅ Cron job "Daily Sales Report" executed successfully',
      `Execution ID: ${okJob.executionId}`,
      'Response: {"message":"Report generated successfully"}',
      '❌ Cron job "Daily Sales Report" failed',
      'Status: failure',
      'Retry attempt: 0',
      'Retry attempt: 1',
      'No more retries scheduled',
    ]
    for (const line of expected) assert.ok(rx.logs.includes(line), `${line}\nnot in\n${rx.logs.join('\n')}`)
    assert.ok(rx.logs.some((l) => l.startsWith('Next retry at: ')), rx.logs.join('\n'))
    const success = got.find((r) => r.path === '/webhooks/cron-success')
    assert.equal(await rx.replay(success, success.body.replace('Daily', 'Weekly')), 401)
  } finally {
    await s.close()
    rx.close()
  }
})
