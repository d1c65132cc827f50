// Property test: a JSON payload scheduled from Node is delivered as `JSON.stringify` writes it, so
// a receiver that parses the body and stringifies it again (Runlater.eu's and A1Cron's docs do)
// still has the bytes that were signed.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { ManualClock, Scheduler } from '../index.mjs'
import { receiver } from './helpers.mjs'

/** A small seeded PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', 'ß', '€', '\u2028', '\u2029', '😀', '𝄞', '\uffff', '\ud800', '\udfff']
const NUMBERS = [0, -0, 1, -1, 0.1, 5.0, 1e21, 1e-7, 1.5e-10, 123456789012345680000, 2 ** 53, -(2 ** 53) - 2, Number.MAX_VALUE, Number.MIN_VALUE, 1 / 3]

function value(rand, depth) {
  const pick = (list) => list[Math.floor(rand() * list.length)]
  const text = (n) => Array.from({ length: n }, () => pick(ALPHABET)).join('')
  const kind = depth > 3 ? Math.floor(rand() * 5) : Math.floor(rand() * 8)
  switch (kind) {
    case 0:
      return null
    case 1:
      return rand() < 0.5
    case 2:
      return rand() < 0.5 ? pick(NUMBERS) : (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20)
    case 3:
      return Math.floor((rand() - 0.5) * 2 ** 40)
    case 4:
      return text(Math.floor(rand() * 12))
    case 5:
    case 6: {
      // Integer-like keys too: JavaScript orders those first, and so must the body.
      const o = {}
      for (let i = Math.floor(rand() * 5); i > 0; i--) {
        const key = rand() < 0.3 ? String(Math.floor(rand() * 20)) : text(Math.floor(rand() * 6))
        o[key] = value(rand, depth + 1)
      }
      return o
    }
    default:
      return Array.from({ length: Math.floor(rand() * 5) }, () => value(rand, depth + 1))
  }
}

let hook
before(async () => {
  hook = await receiver()
})
after(async () => {
  await hook.close()
})

test('random JSON payloads are delivered as JSON.stringify(JSON.parse(body)) writes them', async () => {
  const seed = Number(process.env.TIMEHOOK_JSON_SEED || Date.now() % 1_000_000)
  const rand = prng(seed)
  const payloads = Array.from({ length: 300 }, () => {
    const v = value(rand, 0)
    return typeof v === 'object' && v !== null ? v : [v]
  })
  payloads.push({ z: 1e21, a: [0.1, 5.0, 'é/😀'], m: { y: 2, b: 1 }, 2: 'two', 1: 'one' })
  const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false, clock: new ManualClock(new Date()) })
  try {
    const base = hook.received.length
    const ids = await s.scheduleMany(payloads.map((payload, i) => ({ url: `${hook.url}/p/${i}`, payload })))
    assert.equal(await s.runDue(), payloads.length)
    const delivered = new Map(hook.received.slice(base).map((r) => [r.url, r.body.toString('utf8')]))
    for (const [i, payload] of payloads.entries()) {
      const body = delivered.get(`/p/${i}`)
      const context = `seed ${seed}, payload ${i}: ${body}`
      assert.equal(body, JSON.stringify(JSON.parse(body)), context)
      assert.equal(body, JSON.stringify(payload), context)
      assert.equal((await s.get(ids[i])).body.toString('utf8'), body, context)
    }
    assert.equal(delivered.get(`/p/${payloads.length - 1}`), '{"1":"one","2":"two","z":1e+21,"a":[0.1,5,"é/😀"],"m":{"y":2,"b":1}}')
  } finally {
    await s.close()
  }
})
