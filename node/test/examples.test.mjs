// The receivers in examples/ (Express, Fastify, Hono), each run on 127.0.0.1 against real
// requests: a scheduled delivery is accepted; tampered, stale and unsigned requests get 401.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { serve } from '@hono/node-server'

import { ManualClock, Scheduler, Signer } from '../index.mjs'
import { createApp as expressApp } from '../examples/express.mjs'
import { createApp as fastifyApp } from '../examples/fastify.mjs'
import { createApp as honoApp } from '../examples/hono.mjs'
import { SECRET, within } from './helpers.mjs'

const frameworks = {
  async express(onEvent) {
    const server = expressApp({ secret: SECRET, onEvent }).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    return { url: `http://127.0.0.1:${server.address().port}`, close: () => closeServer(server) }
  },
  async fastify(onEvent) {
    const app = fastifyApp({ secret: SECRET, onEvent })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return {
      url,
      close: () => {
        app.server.closeAllConnections()
        return app.close()
      },
    }
  },
  async hono(onEvent) {
    const { promise, resolve } = Promise.withResolvers?.() ?? deferred()
    const server = serve({ fetch: honoApp({ secret: SECRET, onEvent }).fetch, port: 0, hostname: '127.0.0.1' }, resolve)
    const info = await promise
    return { url: `http://127.0.0.1:${info.port}`, close: () => closeServer(server) }
  },
}

/** Closes a server and its keep-alive connections (which Node 18 would otherwise wait for). */
function closeServer(server) {
  const closed = new Promise((resolve) => server.close(resolve))
  server.closeAllConnections()
  return closed
}

function deferred() {
  let resolve
  const promise = new Promise((r) => (resolve = r))
  return { promise, resolve }
}

for (const [name, start] of Object.entries(frameworks)) {
  test(`${name}: a scheduled delivery is verified and handled`, async () => {
    const events = []
    const arrived = deferred()
    const app = await start((event, id) => {
      events.push({ event, id })
      arrived.resolve()
    })
    const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, secret: SECRET })
    try {
      const id = await s.schedule({ url: `${app.url}/webhooks`, payload: { type: 'user.created', via: name } })
      await within(arrived.promise, 10_000, `the ${name} receiver`)
      assert.deepEqual(events[0].event, { type: 'user.created', via: name })
      assert.equal(events[0].id, (await s.get(id)).executionId)
    } finally {
      await s.close()
      await app.close()
    }
  })

  test(`${name}: tampered, stale and unsigned requests get 401 with the code`, async () => {
    const events = []
    const app = await start((event) => events.push(event))
    try {
      const signer = new Signer(SECRET)
      const body = JSON.stringify({ type: 'invoice.paid', amount: 10 })
      const now = Math.floor(Date.now() / 1000)
      const send = (b, headers) =>
        fetch(`${app.url}/webhooks`, { method: 'POST', body: b, headers: { 'content-type': 'application/json', ...headers } })

      const ok = await send(body, Object.fromEntries(signer.headers('msg_ok', now, body)))
      assert.equal(ok.status, 204)
      assert.deepEqual(events, [{ type: 'invoice.paid', amount: 10 }])

      const tampered = await send(body.replace('10', '1000'), Object.fromEntries(signer.headers('msg_t', now, body)))
      assert.equal(tampered.status, 401)
      assert.deepEqual(await tampered.json(), { error: 'no_matching_signature' })

      const stale = await send(body, Object.fromEntries(signer.headers('msg_s', now - 3600, body)))
      assert.equal(stale.status, 401)
      assert.deepEqual(await stale.json(), { error: 'timestamp_too_old' })

      const unsigned = await send(body, {})
      assert.equal(unsigned.status, 401)
      assert.deepEqual(await unsigned.json(), { error: 'missing_header' })
      assert.equal(events.length, 1, 'only the authentic request was handled')
    } finally {
      await app.close()
    }
  })
}

test('a ManualClock-driven delivery to a receiver verifies at the clock\'s time', async () => {
  const clock = new ManualClock('2030-06-01T12:00:00Z')
  const events = []
  const app = await frameworks.express((e) => events.push(e))
  const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, secret: SECRET, clock, autostart: false })
  try {
    // The receiver checks against the real time, so a delivery stamped in 2030 is refused as
    // too new; the attempt records the 401 and, being a 4xx, the job fails for good.
    const id = await s.schedule({ url: `${app.url}/webhooks`, payload: { n: 1 } })
    assert.equal(await s.runDue(), 1)
    const [attempt] = await s.attempts(id)
    assert.equal(attempt.status, 401)
    assert.deepEqual(JSON.parse(attempt.responseBody.toString()), { error: 'timestamp_too_new' })
    assert.equal((await s.get(id)).state, 'failed')
    assert.equal(events.length, 0)
  } finally {
    await s.close()
    await app.close()
  }
})
