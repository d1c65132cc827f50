// A Hono receiver for timehook (or any Standard Webhooks sender): the raw body as bytes and the
// request's WHATWG Headers go straight to the verifier.
//   WEBHOOK_SECRET=whsec_... node examples/hono.mjs
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { TimehookError, Verifier } from 'timehook'

export function createApp({ secret = process.env.WEBHOOK_SECRET, onEvent = console.log } = {}) {
  const verifier = new Verifier(secret)
  const app = new Hono()
  app.post('/webhooks', async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer())
    try {
      verifier.verify(body, c.req.raw.headers)
    } catch (err) {
      if (!(err instanceof TimehookError)) throw err
      return c.json({ error: err.code }, 401)
    }
    onEvent(JSON.parse(new TextDecoder().decode(body)), c.req.header('webhook-id'))
    return c.body(null, 204)
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000)
  serve({ fetch: createApp().fetch, port, hostname: '127.0.0.1' })
  console.log(`listening on http://127.0.0.1:${port}/webhooks`)
}
