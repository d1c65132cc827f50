// Interoperability with the npm Standard Webhooks implementations: what they sign, Verifier
// accepts (in every header form); what Signer signs, they accept.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'

import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'

import { Signer, TimehookError, Verifier, generateSecret } from '../index.mjs'

function headerForms(h) {
  return {
    object: h,
    upper: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v])),
    pairs: Object.entries(h),
    Headers: new Headers(h),
    Map: new Map(Object.entries(h)),
  }
}

test('messages signed by standardwebhooks verify with Verifier', () => {
  for (let i = 0; i < 25; i++) {
    const secret = `whsec_${randomBytes(24 + i).toString('base64')}`
    const wh = new StandardWebhook(secret)
    const payload = JSON.stringify({ i, data: randomBytes(i * 7).toString('hex') })
    const msgId = `msg_${i}`
    const at = new Date()
    const signature = wh.sign(msgId, at, payload)
    const headers = {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    }
    const v = new Verifier(secret)
    for (const [form, h] of Object.entries(headerForms(headers))) {
      assert.doesNotThrow(() => v.verify(payload, h), form)
      assert.doesNotThrow(() => v.verify(Buffer.from(payload), h), form)
    }
    assert.throws(() => v.verify(payload + ' ', headers), { code: 'no_matching_signature' })
    assert.throws(() => new Verifier(generateSecret()).verify(payload, headers), { code: 'no_matching_signature' })
  }
})

test('messages signed by svix (svix-* headers) verify with Verifier', () => {
  const secret = generateSecret()
  const wh = new SvixWebhook(secret)
  const payload = '{"type":"invoice.paid"}'
  const at = new Date()
  const headers = {
    'svix-id': 'msg_2LJ',
    'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
    'svix-signature': wh.sign('msg_2LJ', at, payload),
  }
  new Verifier(secret).verify(payload, headers)
  new Verifier(secret).verify(payload, new Headers(headers))
})

test('what Signer signs, standardwebhooks and svix accept; rotation sends every signature', () => {
  const oldSecret = generateSecret()
  const newSecret = generateSecret()
  const signer = new Signer([newSecret, oldSecret])
  const payload = Buffer.from('{"hello":"world"}')
  const ts = Math.floor(Date.now() / 1000)
  const headers = Object.fromEntries(signer.headers('msg_rot', ts, payload))
  assert.equal(headers['webhook-signature'].split(' ').length, 2)
  for (const secret of [newSecret, oldSecret]) {
    assert.deepEqual(new StandardWebhook(secret).verify(payload, headers), { hello: 'world' })
    assert.deepEqual(new SvixWebhook(secret).verify(payload, headers), { hello: 'world' })
  }
  // A receiver holding either secret (or both) accepts it.
  new Verifier([oldSecret]).verify(payload, headers)
  new Verifier([generateSecret(), newSecret]).verify(payload, headers)
})

test('timestamps: tolerance, injected now, and ignoring the timestamp', () => {
  const secret = generateSecret()
  const signer = new Signer(secret)
  const ts = 1_700_000_000
  const headers = Object.fromEntries(signer.headers('msg_t', ts, 'x'))
  const v = new Verifier(secret)
  v.verify('x', headers, { now: ts + 300 })
  v.verify('x', headers, { now: new Date((ts - 300) * 1000) })
  assert.throws(() => v.verify('x', headers, { now: ts + 301 }), { code: 'timestamp_too_old' })
  assert.throws(() => v.verify('x', headers, { now: ts - 301 }), { code: 'timestamp_too_new' })
  assert.throws(() => v.verify('x', headers), (e) => e instanceof TimehookError && e.code === 'timestamp_too_old')
  v.verifyIgnoringTimestamp('x', headers)
  const strict = new Verifier(secret, { toleranceSeconds: 10 })
  assert.equal(strict.toleranceSeconds, 10)
  assert.throws(() => strict.verify('x', headers, { now: ts + 11 }), { code: 'timestamp_too_old' })
  // A partial signature never passes.
  assert.throws(
    () => v.verifyIgnoringTimestamp('x', { ...headers, 'webhook-signature': 'v1,' }),
    (e) => e instanceof TimehookError && ['no_matching_signature', 'invalid_header'].includes(e.code),
  )
})

test('IncomingHttpHeaders with repeated values (arrays) and extra headers', () => {
  const secret = generateSecret()
  const signer = new Signer(secret)
  const ts = Math.floor(Date.now() / 1000)
  const h = Object.fromEntries(signer.headers('msg_arr', ts, 'body'))
  const incoming = {
    host: '127.0.0.1',
    'user-agent': 'x',
    'content-type': 'application/json',
    'set-cookie': ['a=1', 'b=2'],
    'webhook-id': h['webhook-id'],
    'webhook-timestamp': h['webhook-timestamp'],
    'webhook-signature': ['v1,bm90IGl0', h['webhook-signature']],
  }
  new Verifier(secret).verify('body', incoming)
})

test('compatibility schemes: GitHub and Stripe styles', () => {
  const gh = new Signer('It\'s a Secret to Everybody', { scheme: 'github' })
  const body = 'Hello, World!'
  const sig = gh.sign('unused', 0, body)
  assert.equal(sig, 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')
  const v = new Verifier('It\'s a Secret to Everybody', { scheme: 'github' })
  assert.equal(v.scheme, 'hex_body')
  v.verifyIgnoringTimestamp(body, { 'X-Hub-Signature-256': sig })
  const stripe = new Signer('whsec_test', { scheme: 'stripe' })
  const ts = Math.floor(Date.now() / 1000)
  const headers = stripe.headers('unused', ts, body)
  new Verifier('whsec_test', { scheme: 'stripe' }).verify(body, headers)
})
