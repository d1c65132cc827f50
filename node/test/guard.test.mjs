// The SSRF guard, on by default: loopback and private addresses are refused unless the scheduler
// allows them. Everything here talks to 127.0.0.1 only.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { Scheduler, TimehookError } from '../index.mjs'
import { receiver, rejectsWith } from './helpers.mjs'

let hook
before(async () => {
  hook = await receiver()
})
after(async () => {
  await hook.close()
})

test('loopback URLs are refused by default and nothing is sent', async () => {
  const s = await Scheduler.open(':memory:', { autostart: false })
  try {
    const port = hook.url.split(':').pop()
    for (const url of [`${hook.url}/ok`, `http://[::1]:${port}/ok`]) {
      const err = await rejectsWith(() => s.schedule({ url }), 'blocked', TimehookError)
      assert.equal(err.detail, 'url')
      assert.match(err.message, /loopback/)
    }
    const err = await rejectsWith(
      () => s.schedule({ url: 'https://example.com/x', onFailureUrl: `${hook.url}/cb` }),
      'blocked',
      TimehookError,
    )
    assert.equal(err.detail, 'onFailureUrl')
    assert.deepEqual(await s.list(), [])
    // A name that resolves to loopback fails its attempt, for good.
    const id = await s.schedule({ url: `http://localhost:${port}/ok` })
    assert.equal(await s.runDue(), 1)
    const [attempt] = await s.attempts(id)
    assert.equal(attempt.error, 'blocked')
    assert.match(attempt.message, /127\.0\.0\.1/)
    assert.equal((await s.get(id)).state, 'failed')
    assert.equal(hook.received.length, 0)
  } finally {
    await s.close()
  }
})

test('allowTargets and allowPrivateTargets let loopback through', async () => {
  const before = hook.received.length
  for (const options of [{ allowTargets: ['127.0.0.1/32'] }, { allowPrivateTargets: true }]) {
    const s = await Scheduler.open(':memory:', { autostart: false, ...options })
    try {
      const id = await s.schedule({ url: `${hook.url}/ok` })
      assert.equal(await s.runDue(), 1)
      assert.equal((await s.get(id)).state, 'succeeded')
    } finally {
      await s.close()
    }
  }
  assert.equal(hook.received.length, before + 2)
  const err = await rejectsWith(() => Scheduler.open(':memory:', { allowTargets: ['10.0.0.0/99'] }), 'invalid_config', TimehookError)
  assert.match(err.message, /10\.0\.0\.0\/99/)
})
