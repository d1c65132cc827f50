// Verifier.verify on a 1 KB body against the npm `standardwebhooks` package and a plain
// node:crypto HMAC implementation, measured in the same run on the same inputs: a Buffer body
// and an IncomingHttpHeaders-like object of 9 headers, as an http/Express/Fastify handler has.
// Figures are the median of ROUNDS rounds of about ROUND_MS each, after a warm-up.
import { createHmac, timingSafeEqual } from 'node:crypto'
import os from 'node:os'

import { Webhook } from 'standardwebhooks'

import { Signer, VERSION, Verifier } from '../index.mjs'

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const ROUND_MS = Number(process.env.ROUND_MS ?? 300)
const TOLERANCE = 300

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const event = { type: 'invoice.paid', id: 'evt_1', data: { note: '' } }
event.data.note = 'x'.repeat(1024 - JSON.stringify(event).length)
const body = Buffer.from(JSON.stringify(event))
if (body.length !== 1024) throw new Error(`body is ${body.length} bytes`)
const ts = Math.floor(Date.now() / 1000)
const signed = Object.fromEntries(new Signer(secret).headers('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', ts, body))
const headers = {
  host: '127.0.0.1:3000',
  'user-agent': `timehook/${VERSION}`,
  'content-type': 'application/json',
  'content-length': String(body.length),
  'accept-encoding': 'gzip, br',
  connection: 'keep-alive',
  ...signed,
}

// A plain node:crypto implementation of Standard Webhooks verification.
const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
function cryptoVerify(payload, h) {
  const id = h['webhook-id']
  const timestamp = h['webhook-timestamp']
  const signatures = h['webhook-signature']
  if (!id || !timestamp || !signatures) throw new Error('missing header')
  const t = Number.parseInt(timestamp, 10)
  const now = Math.floor(Date.now() / 1000)
  if (Number.isNaN(t) || now - t > TOLERANCE || t - now > TOLERANCE) throw new Error('bad timestamp')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(payload).digest()
  for (const s of signatures.split(' ')) {
    const comma = s.indexOf(',')
    if (s.slice(0, comma) !== 'v1') continue
    const got = Buffer.from(s.slice(comma + 1), 'base64')
    if (got.length === expected.length && timingSafeEqual(got, expected)) return
  }
  throw new Error('no matching signature')
}

const verifier = new Verifier(secret)
const wh = new Webhook(secret)
const candidates = {
  'timehook Verifier.verify': () => verifier.verify(body, headers),
  'node:crypto HMAC': () => cryptoVerify(body, headers),
  'standardwebhooks (jsonParse: false)': () => wh.verify(body, headers, { jsonParse: false }),
  'standardwebhooks (default: parses JSON)': () => wh.verify(body, headers),
}

function round(fn) {
  let n = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(ROUND_MS) * 1_000_000n
  let now = start
  while (now < deadline) {
    for (let i = 0; i < 200; i++) fn()
    n += 200
    now = process.hrtime.bigint()
  }
  return n / (Number(now - start) / 1e9)
}

for (const fn of Object.values(candidates)) fn() // each must accept the input
for (const fn of Object.values(candidates)) round(fn) // warm-up

const results = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(candidates)) (results[name] ??= []).push(round(fn))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

console.log(`verify, 1 KB body, 9 headers; node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`)
console.log(`median of ${ROUNDS} rounds of ${ROUND_MS} ms, all in this run`)
const ours = median(results['timehook Verifier.verify'])
for (const [name, xs] of Object.entries(results)) {
  const ops = median(xs)
  console.log(`  ${name.padEnd(42)} ${(ops / 1000).toFixed(1).padStart(8)} k/s  ${(1e6 / ops).toFixed(2).padStart(7)} µs/op`)
}
const ratio = (name) => ours / median(results[name])
const rows = [
  ['vs standardwebhooks (jsonParse: false)', ratio('standardwebhooks (jsonParse: false)'), 3],
  ['vs standardwebhooks (default)', ratio('standardwebhooks (default: parses JSON)'), 3],
  ['vs node:crypto HMAC', ratio('node:crypto HMAC'), 1],
]
for (const [what, r, goal] of rows) {
  console.log(`  Verifier.verify ${what.padEnd(40)} ${r.toFixed(2)}x  (goal >= ${goal}x: ${r >= goal ? 'met' : 'NOT met'})`)
}
