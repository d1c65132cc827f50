// The shared signing corpus tests/vectors/signatures.json, run completely: every case verifies
// (or fails with its code) through Verifier with the headers as sent, and, where the names allow
// it, as a plain object and as a WHATWG Headers too; every `sign` block signs exactly; every key
// case parses (or fails) as expected.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import {
  Signer,
  TimehookError,
  Verifier,
  normalizePublicKey,
  normalizeSecret,
  publicKey,
} from '../index.mjs'

const corpus = JSON.parse(
  readFileSync(new URL('../../tests/vectors/signatures.json', import.meta.url), 'utf8'),
)

function scheme(c) {
  switch (c.scheme) {
    case 'standard':
      return 'standard'
    case 'hex_body':
      return { kind: 'hex_body', header: c.header, prefix: c.prefix }
    case 'timestamped_hex':
      return { kind: 'timestamped_hex', header: c.header, timestampHeader: c.timestamp_header ?? undefined }
    default:
      throw new Error(`${c.id}: unknown scheme ${c.scheme}`)
  }
}

function body(c) {
  if (typeof c.body === 'string') return Buffer.from(c.body, 'utf8')
  if (typeof c.body_base64 === 'string') return Buffer.from(c.body_base64, 'base64')
  if (c.body_recipe) return Buffer.from(c.body_recipe.repeat.repeat(c.body_recipe.count), 'utf8')
  throw new Error(`${c.id}: no body`)
}

function outcome(verifier, b, headers, now) {
  try {
    if (now === null || now === undefined) verifier.verifyIgnoringTimestamp(b, headers)
    else verifier.verify(b, headers, { now })
    return { code: 'ok' }
  } catch (e) {
    assert.ok(e instanceof TimehookError, `not a TimehookError: ${e}`)
    return { code: e.code, header: e.detail }
  }
}

function check(c, got, form) {
  assert.equal(got.code, c.expect, `${c.id} (${form}): got ${got.code}, expected ${c.expect}`)
  if (c.expect !== 'ok' && c.error_header) {
    assert.equal(got.header, c.error_header, `${c.id} (${form}): error names ${got.header}`)
  }
}

test('the corpus has the expected shape', () => {
  assert.equal(corpus.version, 1)
  assert.ok(corpus.cases.length >= 50, 'corpus unexpectedly small')
  assert.ok(corpus.key_cases.length >= 20, 'key corpus unexpectedly small')
})

test('every verification case', (t) => {
  let ran = 0
  let asObject = 0
  let asHeaders = 0
  for (const c of corpus.cases) {
    const verifier = new Verifier(c.secrets, {
      scheme: scheme(c),
      toleranceSeconds: c.tolerance ?? undefined,
    })
    const b = body(c)
    check(c, outcome(verifier, b, c.headers, c.now), 'pairs')
    // The same headers as a plain object and as WHATWG Headers, when no name repeats in any case.
    const names = c.headers.map(([n]) => n.toLowerCase())
    if (new Set(names).size === names.length) {
      check(c, outcome(verifier, b, Object.fromEntries(c.headers), c.now), 'object')
      check(c, outcome(verifier, b, new Headers(c.headers), c.now), 'Headers')
      asObject++
      asHeaders++
    }
    ran++
  }
  assert.equal(ran, corpus.cases.length)
  assert.ok(asObject > corpus.cases.length / 2, `only ${asObject} cases ran as objects`)
  t.diagnostic(`${ran} cases (${asObject} also as objects and ${asHeaders} as Headers)`)
})

test('every signing case', () => {
  let signed = 0
  for (const c of corpus.cases.filter((c) => c.sign)) {
    const signer = new Signer(c.sign.keys, { scheme: scheme(c) })
    const b = body(c)
    assert.equal(signer.sign(c.sign.msg_id, c.sign.timestamp, b), c.sign.expect_signature, c.id)
    if (c.sign.expect_headers) {
      assert.deepEqual(signer.headers(c.sign.msg_id, c.sign.timestamp, b), c.sign.expect_headers, c.id)
    }
    signed++
  }
  assert.equal(signed, corpus.cases.filter((c) => c.sign).length)
  assert.ok(signed > 0)
})

function keyOutcome(k) {
  try {
    switch (k.kind) {
      case 'secret':
        return { code: 'ok', canonical: normalizeSecret(k.input) }
      case 'signing_key':
        return { code: 'ok', public: publicKey(k.input) }
      case 'verifying_key':
        return { code: 'ok', public: normalizePublicKey(k.input) }
      case 'raw':
        // A raw secret is what the compatibility schemes use: verbatim bytes.
        new Verifier(k.input, { scheme: { kind: 'hex_body', header: 'X-Signature' } })
        return { code: 'ok' }
      default:
        throw new Error(`${k.id}: unknown kind ${k.kind}`)
    }
  } catch (e) {
    assert.ok(e instanceof TimehookError, `${k.id}: not a TimehookError: ${e}`)
    return { code: e.code }
  }
}

test('every key case', () => {
  let ran = 0
  for (const k of corpus.key_cases) {
    const got = keyOutcome(k)
    assert.equal(got.code, k.expect, `${k.id}: got ${got.code}`)
    if (k.expect_canonical) assert.equal(got.canonical, k.expect_canonical, k.id)
    if (k.expect_public) assert.equal(got.public, k.expect_public, k.id)
    ran++
  }
  assert.equal(ran, corpus.key_cases.length)
})
