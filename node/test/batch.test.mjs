// `scheduleMany` reads a batch of plain job objects as one JSON text (checked field by field in
// JavaScript, serialised with one `JSON.stringify`), and anything else object by object. Both
// ways must store the same jobs and refuse the same jobs with the same error as `schedule`,
// which reads its one job object by object.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ManualClock, Scheduler } from '../index.mjs'

const URL_OK = 'https://example.com/hook'
const AT = Date.parse('2031-05-06T07:08:09.123Z')

/** Jobs that one way or the other reads differently if the check lets the wrong one through. */
function jobs() {
  const bare = Object.create(null)
  bare.url = URL_OK
  bare.payload = Object.assign(Object.create(null), { k: 'v' })
  return [
    ['plain', { url: URL_OK }],
    ['everything plain', {
      url: URL_OK, method: 'put', after: 1500, timeout: 2000, name: 'n', labels: ['l1', 'l2'],
      headers: { 'X-A': 'b', 'x-skipped': undefined, get: 'a header called get' },
      payload: { a: 1, b: [1, 'x', null], c: { d: 'é😀' } }, idempotencyKey: 'k1',
      contentType: 'application/vnd.x+json', onSuccessUrl: `${URL_OK}/ok`, onFailureUrl: `${URL_OK}/ko`,
    }],
    ['nulls are unset', { url: URL_OK, name: null, payload: null, after: undefined, labels: null }],
    ['null prototypes', bare],
    ['one label, one secret', { url: URL_OK, labels: 'solo', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }],
    ['cron', { url: URL_OK, cron: '*/5 * * * *', tz: 'Europe/Paris', missed: 'skip' }],
    ['text payload', { url: URL_OK, payload: 'just text' }],
    ['number payload', { url: URL_OK, payload: 42.5 }],
    ['boolean payload', { url: URL_OK, payload: false }],
    ['array payload', { url: URL_OK, payload: [1, 'two', { three: 3 }] }],
    ['NaN payload', { url: URL_OK, payload: NaN }],
    ['Buffer payload', { url: URL_OK, payload: Buffer.from('bytes') }],
    ['Uint8Array payload', { url: URL_OK, payload: new Uint8Array([1, 2, 3]) }],
    ['Date payload', { url: URL_OK, payload: new Date(AT) }],
    ['payload with toJSON', { url: URL_OK, payload: { toJSON: (key) => `key ${key}` } }],
    ['nested toJSON', { url: URL_OK, payload: { when: new Date(AT), n: { toJSON: (key) => key } } }],
    ['lone surrogate in a text payload', { url: URL_OK, payload: 'a\ud800b' }],
    ['lone surrogate in a JSON payload', { url: URL_OK, payload: { 'k\udfff': 'v\ud800' } }],
    ['lone surrogate in a name', { url: URL_OK, name: 'n\ud800' }],
    ['at as epoch ms', { url: URL_OK, at: AT }],
    ['at as a Date', { url: URL_OK, at: new Date(AT) }],
    ['at as ISO text', { url: URL_OK, at: '2031-05-06T09:08:09.123+02:00' }],
    ['at with a fraction', { url: URL_OK, at: AT + 0.6 }],
    ['after with a fraction', { url: URL_OK, after: 1499.5 }],
    ['headers as pairs', { url: URL_OK, headers: [['x-a', 'b']] }],
    ['headers as a Map', { url: URL_OK, headers: new Map([['x-a', 'b']]) }],
    ['retry preset', { url: URL_OK, retry: 'none' }],
    // Refused, each with the error `schedule` gives.
    ['after NaN', { url: URL_OK, after: NaN }],
    ['after negative', { url: URL_OK, after: -1 }],
    ['after as text', { url: URL_OK, after: '5' }],
    ['at out of range', { url: URL_OK, at: 2 ** 60 }],
    ['at an invalid Date', { url: URL_OK, at: new Date(NaN) }],
    ['a null header', { url: URL_OK, headers: { 'x-a': null } }],
    ['a number header', { url: URL_OK, headers: { 'x-a': 1 } }],
    ['a label not text', { url: URL_OK, labels: ['a', 1] }],
    ['a hole in the labels', { url: URL_OK, labels: [, 'a'] }], // eslint-disable-line no-sparse-arrays
    ['an unknown field', { url: URL_OK, colour: 'red' }],
    ['a job with toJSON', { url: URL_OK, toJSON: () => ({ url: URL_OK }) }],
    ['no url', { after: 5 }],
    ['url not text', { url: 5 }],
    ['a bad url', { url: 'ftp://example.com/a' }],
    ['a bad method', { url: URL_OK, method: 'no pe' }],
    ['a bad cron', { url: URL_OK, cron: '0 99 * * *' }],
    ['a BigInt payload', { url: URL_OK, payload: { n: 10n } }],
    ['a payload too large', { url: URL_OK, payload: 'x'.repeat(2 * 1024 * 1024) }],
    ['a job that is an array', [URL_OK]],
    ['a job that is null', null],
  ]
}

/** What a call settles to: the stored jobs (ids aside), or the error's code, detail and message. */
async function outcome(s, call) {
  try {
    const ids = await call()
    const stored = []
    for (const id of [ids].flat()) {
      const { id: _, executionId: __, ...job } = await s.get(id)
      stored.push(job)
    }
    return { stored }
  } catch (e) {
    // The batch names the job at fault; `schedule` has only the one.
    return { code: e.code, detail: e.detail, message: String(e.message).replace(/^job 0: /, '') }
  }
}

async function pair() {
  const clock = new ManualClock(new Date(Date.UTC(2030, 0, 1)))
  const open = () => Scheduler.open(':memory:', { autostart: false, clock })
  return [await open(), await open()]
}

test('scheduleMany stores or refuses each job as schedule does', async () => {
  const [many, one] = await pair()
  try {
    for (const [what, job] of jobs()) {
      const batched = await outcome(many, () => many.scheduleMany([job]))
      const single = await outcome(one, () => one.schedule(job))
      assert.deepEqual(batched, single, what)
    }
  } finally {
    await Promise.all([many.close(), one.close()])
  }
})

test('a batch of every job schedule accepts stores each as schedule does, in order', async () => {
  const [many, one] = await pair()
  try {
    const accepted = []
    for (const [, job] of jobs()) {
      const single = await outcome(one, () => one.schedule(job))
      if (single.stored) accepted.push([job, single.stored[0]])
    }
    assert.ok(accepted.length >= 25, `${accepted.length} accepted`)
    // Plain ones alone (the JSON way), then all of them (object by object).
    const plain = accepted.filter(([job]) => !job.payload || typeof job.payload !== 'object' || job.payload.constructor === Object)
    for (const set of [plain, accepted]) {
      const batched = await outcome(many, () => many.scheduleMany(set.map(([job]) => job)))
      assert.deepEqual(batched.stored, set.map(([, stored]) => stored))
    }
  } finally {
    await Promise.all([many.close(), one.close()])
  }
})

test('a plain batch is read as one JSON text; one that is not, object by object', async () => {
  const s = await Scheduler.open(':memory:', { autostart: false })
  try {
    // An array that would serialise as something else is read element by element.
    const odd = [{ url: `${URL_OK}/real` }]
    odd.toJSON = () => [{ url: `${URL_OK}/fake` }]
    const [id] = await s.scheduleMany(odd)
    assert.equal((await s.get(id)).url, `${URL_OK}/real`)
    class Jobs extends Array {}
    const sub = Jobs.from([{ url: `${URL_OK}/sub` }])
    assert.equal((await s.get((await s.scheduleMany(sub))[0])).url, `${URL_OK}/sub`)
    // A getter shows the way taken: object by object reads each field once; the JSON way reads
    // it in the check and again in JSON.stringify.
    const counted = (extra) => {
      const job = { ...extra }
      Object.defineProperty(job, 'reads', { enumerable: false, writable: true, value: 0 })
      Object.defineProperty(job, 'name', {
        enumerable: true,
        get() {
          job.reads++
          return 'counted'
        },
      })
      return job
    }
    const plain = counted({ url: URL_OK })
    const bytes = counted({ url: URL_OK, payload: Buffer.from('b') })
    await s.scheduleMany([plain, { url: URL_OK, after: 5 }])
    await s.scheduleMany([bytes])
    assert.equal(plain.reads, 2, 'the JSON way')
    // The check declines at the Buffer, before it reads `name`.
    assert.equal(bytes.reads, 1, 'object by object')
  } finally {
    await s.close()
  }
})

// From 16,384 jobs the check serialises slices of 8,192, parsed on timehook's runtime while the
// next slice is serialised; a slice it declines sends the whole batch the slow way.
const BIG = 20_000

/** Every job stored, in id order, with its url and body (pages of 1,000, the most with bodies). */
async function storedBatch(s) {
  const all = []
  let after
  for (;;) {
    const page = await s.list({ limit: 1000, after, withBodies: true })
    all.push(...page)
    if (page.length < 1000) return all
    after = page[page.length - 1].id
  }
}

test('a batch read in slices stores every job in order, or none', async () => {
  const s = await Scheduler.open(':memory:', { autostart: false })
  try {
    const big = Array.from({ length: BIG }, (_, i) => ({
      url: `${URL_OK}/${i}`, after: 1000 + i, payload: { i, text: 'é😀' },
    }))
    const ids = await s.scheduleMany(big)
    assert.equal(ids.length, BIG)
    const stored = await storedBatch(s)
    assert.deepEqual(stored.map((j) => j.id), ids, 'ids in input order')
    for (const i of [0, 8191, 8192, 16383, 16384, BIG - 1]) {
      assert.equal(stored[i].url, `${URL_OK}/${i}`)
      assert.deepEqual(JSON.parse(stored[i].body.toString()), { i, text: 'é😀' })
    }
    // A bad job in the last slice: named by its position, and nothing of the batch stored.
    const bad = big.map((job) => ({ ...job }))
    bad[BIG - 7].url = 'ftp://example.com/a'
    await assert.rejects(s.scheduleMany(bad), (e) => e.code === 'invalid_job' && e.message.startsWith(`job ${BIG - 7}: `))
    assert.equal((await storedBatch(s)).length, BIG)
  } finally {
    await s.close()
  }
})

test('a slice the check declines sends the whole batch object by object', async () => {
  const s = await Scheduler.open(':memory:', { autostart: false })
  try {
    for (const [what, odd] of [
      ['a Buffer payload', { url: `${URL_OK}/odd`, payload: Buffer.from('bytes') }],
      ['a lone surrogate', { url: `${URL_OK}/odd`, payload: 'a\ud800b' }],
    ]) {
      const before = (await storedBatch(s)).length
      const big = Array.from({ length: BIG }, (_, i) => ({ url: `${URL_OK}/${i}` }))
      // The first job's getter counts its reads: twice in the first slice (checked,
      // serialised), then once more object by object.
      let reads = 0
      Object.defineProperty(big[0], 'name', {
        enumerable: true,
        get() {
          reads++
          return 'counted'
        },
      })
      big[BIG - 3] = odd
      const ids = await s.scheduleMany(big)
      assert.equal(reads, 3, what)
      const stored = (await storedBatch(s)).slice(before)
      assert.deepEqual(stored.map((j) => j.id), ids, `${what}: each job stored once, in order`)
      assert.equal(stored[0].name, 'counted')
      assert.equal(stored[BIG - 3].url, `${URL_OK}/odd`)
      assert.equal(stored[BIG - 1].url, `${URL_OK}/${BIG - 1}`)
    }
  } finally {
    await s.close()
  }
})
