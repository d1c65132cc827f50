// Bad input gets the right error code, names the field at fault, and stores nothing.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { after, before, test } from 'node:test'

import { ERROR_CODES, ErrorCode, Scheduler, TimehookError, Verifier } from '../index.mjs'
import { SECRET, rejectsWith, tempDir } from './helpers.mjs'

let s
before(async () => {
  s = await Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false, maxPayloadSize: 1024 })
})
after(async () => {
  await s.close()
})

const URL_OK = 'https://example.com/hook'

const badJobs = [
  ['no url', {}, 'invalid_job', 'url'],
  ['url not a string', { url: 42 }, 'invalid_job', 'url'],
  ['ftp url', { url: 'ftp://example.com/' }, 'invalid_job', 'url'],
  ['relative url', { url: '/hook' }, 'invalid_job', 'url'],
  ['at unparsable', { url: URL_OK, at: 'tomorrow' }, 'invalid_job', 'at'],
  ['at without offset', { url: URL_OK, at: '2030-01-01T00:00:00' }, 'invalid_job', 'at'],
  ['at an invalid Date', { url: URL_OK, at: new Date(Number.NaN) }, 'invalid_job', 'at'],
  ['at a boolean', { url: URL_OK, at: true }, 'invalid_job', 'at'],
  ['at and after', { url: URL_OK, at: Date.now(), after: 5 }, 'invalid_job', 'after'],
  ['negative after', { url: URL_OK, after: -1 }, 'invalid_job', 'after'],
  ['after a string', { url: URL_OK, after: '5' }, 'invalid_job', 'after'],
  ['bad method', { url: URL_OK, method: 'FETCH' }, 'invalid_job', 'method'],
  ['bad retry preset', { url: URL_OK, retry: 'sometimes' }, 'invalid_job', 'retry'],
  ['bad retry numbers', { url: URL_OK, retry: { maxAttempts: 0 } }, 'invalid_job', 'retry'],
  ['unknown retry field', { url: URL_OK, retry: { attempts: 3 } }, 'invalid_job', 'retry'],
  ['unknown field', { url: URL_OK, payLoad: {} }, 'invalid_job', 'job'],
  ['bigint payload', { url: URL_OK, payload: { n: 1n } }, 'invalid_job', 'payload'],
  ['circular payload', { url: URL_OK, payload: circular() }, 'invalid_job', 'payload'],
  ['Int16Array payload', { url: URL_OK, payload: new Int16Array(2) }, 'invalid_job', 'payload'],
  ['payload too large', { url: URL_OK, payload: 'x'.repeat(2048) }, 'payload_too_large', 'payload'],
  ['header value not a string', { url: URL_OK, headers: { 'x-a': 1 } }, 'invalid_job', 'headers'],
  ['bad header name', { url: URL_OK, headers: { 'bad name': 'x' } }, 'invalid_job', 'headers'],
  ['tz without cron', { url: URL_OK, tz: 'Europe/Berlin' }, 'invalid_job', 'tz'],
  ['bad cron', { url: URL_OK, cron: 'every day' }, 'invalid_cron', 'cron'],
  ['bad time zone', { url: URL_OK, cron: '0 9 * * *', tz: 'Mars/Olympus' }, 'invalid_timezone', 'tz'],
  ['labels not strings', { url: URL_OK, labels: [1] }, 'invalid_job', 'labels'],
  ['ftp onFailureUrl', { url: URL_OK, onFailureUrl: 'ftp://example.com/cb' }, 'invalid_job', 'onFailureUrl'],
  ['relative onFailureUrl', { url: URL_OK, onFailureUrl: '/cb' }, 'invalid_job', 'onFailureUrl'],
  ['onFailureUrl not a string', { url: URL_OK, onFailureUrl: 5 }, 'invalid_job', 'onFailureUrl'],
  ['ftp onSuccessUrl', { url: URL_OK, onSuccessUrl: 'ftp://example.com/cb' }, 'invalid_job', 'onSuccessUrl'],
]

function circular() {
  const o = {}
  o.self = o
  return o
}

for (const [name, job, code, field] of badJobs) {
  test(`schedule rejects ${name} with ${code}`, async () => {
    const e = await rejectsWith(() => s.schedule(job), code, TimehookError)
    if (field !== undefined) assert.equal(e.detail, field, e.message)
    assert.equal(e.name, 'TimehookError')
    assert.deepEqual(await s.list(), [], 'nothing stored')
  })
}

test('a bad job in a batch rejects the whole batch and names its position', async () => {
  const e = await rejectsWith(
    () => s.scheduleMany([{ url: URL_OK }, { url: URL_OK }, { url: URL_OK, method: 'nope' }]),
    'invalid_job',
    TimehookError,
  )
  assert.match(e.message, /^job 2: /)
  assert.equal(e.detail, 'method')
  // Refused by the engine rather than in reading the object: located the same way.
  const late = await rejectsWith(() => s.scheduleMany([{ url: URL_OK }, { url: 'mailto:x@y' }]), 'invalid_job', TimehookError)
  assert.match(late.message, /^job 1: .*mailto:x@y/)
  assert.equal(late.detail, 'url')
  await rejectsWith(() => s.scheduleMany({ url: URL_OK }), 'invalid_job', TimehookError)
  assert.deepEqual(await s.list(), [], 'nothing stored')
})

test('cron() rejects bad expressions, zones and conflicting fields', async () => {
  await rejectsWith(() => s.cron(URL_OK, '61 * * * *'), 'invalid_cron', TimehookError)
  const zone = await rejectsWith(() => s.cron(URL_OK, '* * * * *', { tz: 'Nowhere/City' }), 'invalid_timezone', TimehookError)
  assert.equal(zone.detail, 'tz', zone.message)
  assert.match(zone.message, /Nowhere\/City/)
  const bad = await rejectsWith(() => s.cron(URL_OK, '61 * * * *'), 'invalid_cron', TimehookError)
  assert.equal(bad.detail, 'cron', bad.message)
  const cb = await rejectsWith(() => s.cron(URL_OK, '* * * * *', { onFailureUrl: 'nope' }), 'invalid_job', TimehookError)
  assert.equal(cb.detail, 'onFailureUrl', cb.message)
  await rejectsWith(() => s.cron(URL_OK, '* * * * *', { url: URL_OK }), 'invalid_job', TimehookError)
  await rejectsWith(() => s.cron(URL_OK, '* * * * *', { after: 5 }), 'invalid_job', TimehookError)
  await rejectsWith(() => s.cron(URL_OK, '* * * * *', { missed: 'sometimes' }), 'invalid_job', TimehookError)
  assert.deepEqual(await s.list(), [], 'nothing stored')
})

test('unknown ids, bad ids and bad filters', async () => {
  await rejectsWith(() => s.get('job_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 'not_found', TimehookError)
  await rejectsWith(() => s.cancel('job_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 'not_found', TimehookError)
  const e = await rejectsWith(() => s.get('exec_1'), 'invalid_job', TimehookError)
  assert.equal(e.detail, 'id')
  await rejectsWith(() => s.get(7), 'invalid_job', TimehookError)
  await rejectsWith(() => s.list({ state: 'done' }), 'invalid_job', TimehookError)
  await rejectsWith(() => s.list({ colour: 'red' }), 'invalid_job', TimehookError)
  await rejectsWith(() => s.attempts('job_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 'not_found', TimehookError)
})

test('bad promises reject rather than throw synchronously', async () => {
  const p = s.schedule({ url: 'nope' })
  assert.ok(p instanceof Promise)
  await assert.rejects(p, { code: 'invalid_job' })
})

test('bad options are configuration errors; bad secrets never appear in messages', async () => {
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, durability: 'paranoid' }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, maxConcurrency: -1 }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, defaultRetry: 'often' }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: 'yes' }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, colour: 'red' }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(':memory:', { allowPrivateTargets: true, clock: new Date() }), 'invalid_config', TimehookError)
  await rejectsWith(() => Scheduler.open(''), 'invalid_config', TimehookError)
  for (const maxInterruptedAttempts of [0, -1, 1.5]) {
    const e = await rejectsWith(
      () => Scheduler.open(':memory:', { allowPrivateTargets: true, maxInterruptedAttempts }),
      'invalid_config',
      TimehookError,
    )
    assert.equal(e.detail, 'maxInterruptedAttempts', e.message)
  }
  const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, maxInterruptedAttempts: 2, autostart: false })
  await s.close()
  const e = await rejectsWith(
    () => Scheduler.open(':memory:', { allowPrivateTargets: true, secret: [SECRET, 'whsec_topsecret!!'] }),
    'invalid_secret',
    TimehookError,
  )
  assert.match(e.message, /^secret 2 of 2: /)
  assert.doesNotMatch(e.message, /topsecret/)
  const tmp = tempDir()
  try {
    await rejectsWith(() => Scheduler.open(tmp.path('missing/dir/jobs.db'), { allowPrivateTargets: true }), 'store_error', TimehookError)
  } finally {
    tmp.cleanup()
  }
})

test('opening a file that is not a timehook store names the file', async () => {
  const tmp = tempDir()
  try {
    const notes = tmp.path('notes.txt')
    writeFileSync(notes, 'not a database\n'.repeat(100))
    const e = await rejectsWith(() => Scheduler.open(notes, { autostart: false }), 'store_error', TimehookError)
    assert.ok(e.message.includes(notes), e.message)
    assert.equal(e.detail, 'corrupt')
  } finally {
    tmp.cleanup()
  }
})

test('a closed scheduler rejects with closed', async () => {
  const c = await Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false })
  await c.close()
  await c.close() // closing twice is a no-op
  assert.equal(c.closed, true)
  await rejectsWith(() => c.schedule({ url: URL_OK }), 'closed', TimehookError)
  await rejectsWith(() => c.list(), 'closed', TimehookError)
  assert.throws(() => c.start(), { code: 'closed' })
})

test('Verifier errors: codes for deliveries, TypeError for arguments', () => {
  assert.throws(() => new Verifier([]), { code: 'no_keys' })
  assert.throws(() => new Verifier('whsec_!!'), { code: 'invalid_secret' })
  assert.throws(() => new Verifier(SECRET, { scheme: 'gitlab' }), { code: 'invalid_scheme' })
  assert.throws(() => new Verifier(SECRET, { scheme: { kind: 'hex_body' } }), { code: 'invalid_scheme' })
  assert.throws(() => new Verifier(42), TypeError)
  const v = new Verifier(SECRET)
  assert.throws(() => v.verify(42, {}), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => v.verify('{}', 'headers'), { name: 'TypeError' })
  assert.throws(() => v.verify('{}', { 'webhook-id': 5 }), { name: 'TypeError' })
  assert.throws(() => v.verify('{}', {}, { now: 'soon' }), { name: 'TypeError' })
  const e = (() => {
    try {
      v.verify('{}', { 'webhook-id': 'msg_1', 'webhook-timestamp': '1' })
    } catch (err) {
      return err
    }
  })()
  assert.ok(e instanceof TimehookError)
  assert.equal(e.code, 'missing_header')
  assert.equal(e.detail, 'webhook-signature')
})

test('the codes are exported as constants, the same list as the bindings', () => {
  assert.equal(ERROR_CODES.length, 22)
  assert.ok(ERROR_CODES.includes('blocked'))
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length)
  assert.deepEqual(Object.values(ErrorCode), [...ERROR_CODES])
  for (const code of ERROR_CODES) assert.equal(ErrorCode[code.toUpperCase()], code)
  assert.ok(Object.isFrozen(ErrorCode))
  const e = new TimehookError('m', ErrorCode.NOT_FOUND, 'x')
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'not_found')
  assert.equal(e.detail, 'x')
  assert.equal(String(e), 'TimehookError: m')
})
