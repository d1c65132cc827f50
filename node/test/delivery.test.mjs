// Real deliveries to a receiver on 127.0.0.1, signed so that the npm `standardwebhooks` and
// `svix` packages accept them; persistence across reopening the file; idempotency keys; cancel.
import assert from 'node:assert/strict'
import { after, before, test as nodeTest } from 'node:test'

import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'

import { ManualClock, Scheduler, TimehookError, Verifier } from '../index.mjs'
import { SECRET, STORES, receiver, rejectsWith, tempDir, within } from './helpers.mjs'

/** Registers `fn` once per store (SQLite and PostgreSQL). */
function test(name, fn) {
  for (const store of STORES) nodeTest(`${name} [${store.name}]`, () => fn(store))
}

let hook
before(async () => {
  hook = await receiver()
})
after(async () => {
  await hook.close()
})

test('a scheduled job arrives signed; standardwebhooks, svix and Verifier accept it', async (store) => {
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, secret: SECRET })
  try {
    const payload = { event: 'trial.ended', account: 42, note: 'naïve ✓' }
    const id = await s.schedule({ url: `${hook.url}/hooks/a`, payload, name: 'signed' })
    const req = await hook.next()
    assert.equal(req.method, 'POST')
    assert.equal(req.url, '/hooks/a')
    assert.equal(req.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), payload)

    const job = await s.get(id)
    assert.equal(req.headers['webhook-id'], job.executionId)
    const now = Math.floor(Date.now() / 1000)
    assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - now) <= 60)

    // The npm packages verify the raw body with the headers as Node received them.
    assert.deepEqual(new StandardWebhook(SECRET).verify(req.body, req.headers), payload)
    assert.deepEqual(new SvixWebhook(SECRET).verify(req.body, req.headers), payload)
    new Verifier(SECRET).verify(req.body, req.headers)
    s.verifier().verify(req.body.toString('utf8'), req.headers)
    // And they reject a tampered body.
    const tampered = Buffer.from(req.body.toString('utf8').replace('42', '43'))
    assert.throws(() => new StandardWebhook(SECRET).verify(tampered, req.headers))
    assert.throws(() => new SvixWebhook(SECRET).verify(tampered, req.headers))
    assert.throws(() => new Verifier(SECRET).verify(tampered, req.headers), { code: 'no_matching_signature' })

    const done = await within(waitForState(s, id, 'succeeded'), 10_000, 'the job to succeed')
    assert.equal(done.attempts, 1)
    const attempts = await s.attempts(id)
    assert.equal(attempts.length, 1)
    assert.equal(attempts[0].status, 204)
    assert.ok(attempts[0].startedAt instanceof Date)
  } finally {
    await s.close()
  }
})

test('payload kinds: string, Buffer, Uint8Array, array; headers and method', async (store) => {
  const clock = new ManualClock('2030-01-01T00:00:00Z')
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, secret: SECRET, clock, autostart: false })
  try {
    const base = hook.received.length
    await s.scheduleMany([
      { url: `${hook.url}/text`, payload: 'plain text' },
      { url: `${hook.url}/buffer`, payload: Buffer.from([0, 1, 2, 255]) },
      { url: `${hook.url}/u8`, payload: new Uint8Array([9, 8, 7]), method: 'put' },
      { url: `${hook.url}/array`, payload: [1, 'two'], headers: { 'X-Extra': 'yes' } },
      { url: `${hook.url}/pairs`, headers: [['x-a', '1'], ['x-b', '2']], contentType: 'application/cloudevents+json', payload: {} },
      { url: `${hook.url}/map`, headers: new Map([['x-m', 'map']]) },
      { url: `${hook.url}/headers`, headers: new Headers({ 'X-H': 'fetch' }) },
    ])
    assert.equal(await s.runDue(), 7)
    const got = Object.fromEntries(hook.received.slice(base).map((r) => [r.url, r]))
    assert.equal(got['/text'].body.toString(), 'plain text')
    assert.equal(got['/text'].headers['content-type'], 'text/plain; charset=utf-8')
    assert.deepEqual([...got['/buffer'].body], [0, 1, 2, 255])
    assert.equal(got['/buffer'].headers['content-type'], 'application/octet-stream')
    assert.deepEqual([...got['/u8'].body], [9, 8, 7])
    assert.equal(got['/u8'].method, 'PUT')
    assert.equal(got['/array'].body.toString(), '[1,"two"]')
    assert.equal(got['/array'].headers['x-extra'], 'yes')
    assert.equal(got['/pairs'].headers['x-b'], '2')
    assert.equal(got['/pairs'].headers['content-type'], 'application/cloudevents+json')
    assert.equal(got['/map'].headers['x-m'], 'map')
    assert.equal(got['/headers'].headers['x-h'], 'fetch')
    // Deliveries carry the manual clock's time.
    assert.equal(got['/text'].headers['webhook-timestamp'], String(Date.parse('2030-01-01T00:00:00Z') / 1000))
  } finally {
    await s.close()
  }
})

test('jobs persist when the file is reopened', async (store) => {
  const tmp = tempDir()
  try {
    // The same store twice: a file, or the same PostgreSQL schema.
    const file = store.name === 'sqlite' ? tmp.path('jobs.db') : store.location()
    let s = await Scheduler.open(file, { allowPrivateTargets: true, secret: SECRET, autostart: false })
    const at = new Date(Date.now() + 3_600_000)
    const id = await s.schedule({ url: `${hook.url}/later`, at, payload: { n: 1 }, labels: ['a', 'b'] })
    const cronId = await s.cron(`${hook.url}/cron`, '0 9 * * MON-FRI', { tz: 'Europe/Berlin' })
    await s.close()
    assert.equal(s.closed, true)

    s = await Scheduler.open(file, { allowPrivateTargets: true, secret: SECRET, autostart: false })
    try {
      const job = await s.get(id)
      assert.equal(job.state, 'scheduled')
      assert.equal(job.url, `${hook.url}/later`)
      assert.equal(job.nextRunAt.getTime(), at.getTime())
      assert.deepEqual(job.labels, ['a', 'b'])
      assert.deepEqual(JSON.parse(job.body.toString()), { n: 1 })
      const cron = await s.get(cronId)
      assert.equal(cron.kind, 'cron')
      assert.equal(cron.tz, 'Europe/Berlin')
      assert.equal((await s.list()).length, 2)
      assert.deepEqual((await s.list({ kind: 'cron' })).map((j) => j.id), [cronId])
    } finally {
      await s.close()
    }
  } finally {
    tmp.cleanup()
  }
})

test('an idempotency key returns the existing job and creates nothing', async (store) => {
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, autostart: false })
  try {
    const a = await s.schedule({ url: `${hook.url}/x`, after: 60_000, idempotencyKey: 'order-7' })
    const b = await s.schedule({ url: `${hook.url}/y`, after: 120_000, idempotencyKey: 'order-7' })
    const [c] = await s.scheduleMany([{ url: `${hook.url}/z`, idempotencyKey: 'order-7' }])
    assert.equal(b, a)
    assert.equal(c, a)
    const jobs = await s.list()
    assert.equal(jobs.length, 1)
    assert.equal(jobs[0].url, `${hook.url}/x`)
    assert.equal(jobs[0].idempotencyKey, 'order-7')
    const other = await s.schedule({ url: `${hook.url}/x`, idempotencyKey: 'order-8' })
    assert.notEqual(other, a)
  } finally {
    await s.close()
  }
})

test('submit tells an idempotency hit from a new job', async (store) => {
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, autostart: false })
  try {
    const first = await s.submit({ url: `${hook.url}/x`, after: 60_000, idempotencyKey: 'order-9' })
    assert.equal(first.existing, false)
    const again = await s.submit({ url: `${hook.url}/y`, idempotencyKey: 'order-9' })
    assert.deepEqual(again, { id: first.id, existing: true })
    const batch = await s.submitMany([
      { url: `${hook.url}/z`, idempotencyKey: 'order-9' },
      { url: `${hook.url}/z`, idempotencyKey: 'order-10' },
      { url: `${hook.url}/z`, idempotencyKey: 'order-10' },
    ])
    assert.deepEqual(batch.map((b) => b.existing), [true, false, true])
    assert.equal(batch[2].id, batch[1].id)
    assert.equal((await s.list()).length, 2)
  } finally {
    await s.close()
  }
})

test('list leaves payloads out unless withBodies', async (store) => {
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, autostart: false })
  try {
    const id = await s.schedule({ url: `${hook.url}/x`, after: 60_000, payload: 'hello' })
    const [plain] = await s.list()
    assert.equal(plain.id, id)
    assert.equal(plain.body.length, 0)
    const [full] = await s.list({ withBodies: true })
    assert.equal(full.body.toString(), 'hello')
    assert.equal((await s.get(id)).body.toString(), 'hello')
  } finally {
    await s.close()
  }
})

test('a cancelled job is never delivered', async (store) => {
  const clock = new ManualClock('2030-01-01T00:00:00Z')
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, clock, autostart: false })
  try {
    const base = hook.received.length
    const id = await s.schedule({ url: `${hook.url}/cancelled`, after: 60_000 })
    const kept = await s.schedule({ url: `${hook.url}/kept`, after: 60_000 })
    await s.cancel(id)
    assert.equal((await s.get(id)).state, 'cancelled')
    clock.advance(120_000)
    assert.equal(await s.runDue(), 1)
    assert.deepEqual(hook.received.slice(base).map((r) => r.url), ['/kept'])
    assert.equal((await s.get(kept)).state, 'succeeded')
    assert.deepEqual(await s.attempts(id), [])
    assert.deepEqual((await s.list({ state: 'cancelled' })).map((j) => j.id), [id])
  } finally {
    await s.close()
  }
})

async function waitForState(s, id, state) {
  // Polls the store between event-loop turns (no timers): each get() is a round trip.
  for (;;) {
    const job = await s.get(id)
    if (job.state === state) return job
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** The first request to `path` after the `base`-th one, waited for. */
async function arrival(path, base) {
  for (let waited = 0; waited < 10_000; waited += 20) {
    const req = hook.received.slice(base).find((r) => r.url === path)
    if (req) return req
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no request to ${path}`)
}

test('a job or a whole scheduler signs in the style its receiver knows', async (store) => {
  const { createHmac } = await import('node:crypto')
  const hex = (secret, body) => createHmac('sha256', secret).update(body).digest('hex')
  let s = await Scheduler.open(store.location(), { allowPrivateTargets: true, secret: SECRET })
  try {
    const base = hook.received.length
    await s.schedule({ url: `${hook.url}/legacy`, payload: { n: 1 }, scheme: { kind: 'hex_body', header: 'X-Signature' }, secret: 'legacy-secret' })
    const req = await arrival('/legacy', base)
    assert.equal(req.headers['x-signature'], `sha256=${hex('legacy-secret', req.body)}`)
    assert.equal(req.headers['webhook-signature'], undefined)
    assert.ok(req.headers['webhook-id'])
    const err = await rejectsWith(() => s.schedule({ url: `${hook.url}/x`, scheme: 'github' }), 'invalid_job', TimehookError)
    assert.equal(err.detail, 'secret')
  } finally {
    await s.close()
  }
  s = await Scheduler.open(store.location(), { allowPrivateTargets: true, scheme: 'github', secret: 'gh-secret' })
  try {
    const base = hook.received.length
    await s.schedule({ url: `${hook.url}/github`, payload: 'hello' })
    const req = await arrival('/github', base)
    assert.equal(req.headers['x-hub-signature-256'], `sha256=${hex('gh-secret', req.body)}`)
    new Verifier('gh-secret', { scheme: 'github' }).verify(req.body, req.headers)
  } finally {
    await s.close()
  }
  const err = await rejectsWith(() => Scheduler.open(store.location(), { scheme: 'stripe' }), 'invalid_config', TimehookError)
  assert.equal(err.detail, 'secret')
})

test('profiles deliver what the services receivers check', async (store) => {
  const { createHmac } = await import('node:crypto')
  const hex = (body) => createHmac('sha256', 'svc-secret').update(body).digest('hex')
  const s = await Scheduler.open(store.location(), { allowPrivateTargets: true, profile: 'runlater', secret: 'svc-secret' })
  try {
    const base = hook.received.length
    const id = await s.schedule({ url: `${hook.url}/runlater`, payload: { n: 1 } })
    let req = await arrival('/runlater', base)
    const ts = req.headers['x-runlater-timestamp']
    assert.equal(req.headers['x-runlater-signature'], hex(`${ts}.${req.body}`))
    assert.equal(req.headers['x-runlater-job-id'], id)
    await s.schedule({ url: `${hook.url}/a1cron`, profile: 'a1cron', secret: 'svc-secret' })
    req = await arrival('/a1cron', base)
    assert.equal(req.headers['x-a1cron-signature'], hex(req.body))
    new Verifier('svc-secret', { scheme: 'a1cron' }).verify(req.body, req.headers)
    const err = await rejectsWith(() => s.schedule({ url: `${hook.url}/x`, profile: 'hookdeck', secret: 's' }), 'invalid_job', TimehookError)
    assert.equal(err.detail, 'profile')
  } finally {
    await s.close()
  }
})
