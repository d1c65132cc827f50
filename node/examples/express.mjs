// An Express receiver for timehook (or any Standard Webhooks sender). `express.raw` keeps the
// body as the exact bytes that were signed: never verify a re-serialised JSON body.
//   WEBHOOK_SECRET=whsec_... node examples/express.mjs
import express from 'express'
import { TimehookError, Verifier } from 'timehook'

export function createApp({ secret = process.env.WEBHOOK_SECRET, onEvent = console.log } = {}) {
  const verifier = new Verifier(secret)
  const app = express()
  app.post('/webhooks', express.raw({ type: '*/*' }), (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    try {
      verifier.verify(body, req.headers)
    } catch (err) {
      if (!(err instanceof TimehookError)) throw err
      return res.status(401).json({ error: err.code })
    }
    onEvent(JSON.parse(body.toString('utf8')), req.headers['webhook-id'])
    res.status(204).end()
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000)
  createApp().listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/webhooks`))
}
