// A Fastify receiver for timehook (or any Standard Webhooks sender). The webhook route parses
// every body as a Buffer, the exact bytes that were signed.
//   WEBHOOK_SECRET=whsec_... node examples/fastify.mjs
import Fastify from 'fastify'
import { TimehookError, Verifier } from 'timehook'

export function createApp({ secret = process.env.WEBHOOK_SECRET, onEvent = console.log } = {}) {
  const verifier = new Verifier(secret)
  const app = Fastify()
  app.register(async (webhooks) => {
    // Only in this plugin's scope: the raw body instead of parsed JSON.
    webhooks.removeAllContentTypeParsers()
    webhooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    webhooks.post('/webhooks', async (request, reply) => {
      const body = request.body ?? Buffer.alloc(0)
      try {
        verifier.verify(body, request.headers)
      } catch (err) {
        if (!(err instanceof TimehookError)) throw err
        return reply.code(401).send({ error: err.code })
      }
      onEvent(JSON.parse(body.toString('utf8')), request.headers['webhook-id'])
      return reply.code(204).send()
    })
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000)
  await createApp().listen({ port, host: '127.0.0.1' })
  console.log(`listening on http://127.0.0.1:${port}/webhooks`)
}
