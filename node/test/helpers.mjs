// Shared test helpers: a real HTTP receiver on 127.0.0.1 and waiting without sleeps.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/** Rejects after `ms` with `what` in the message; otherwise settles as `promise` does. */
export function within(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * A receiver on 127.0.0.1. Each request is recorded ({ method, url, headers, body: Buffer });
 * `respond(req, n)` chooses the status (default 204). `next()` resolves with the next request
 * not yet taken (waiting for it if needed).
 */
export async function receiver(respond = () => 204) {
  const received = []
  const waiters = []
  let taken = 0
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const request = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) }
      received.push(request)
      const status = respond(request, received.length)
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(status < 300 ? 'ok' : 'nope')
      while (waiters.length && taken < received.length) waiters.shift()(received[taken++])
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    next(ms = 10_000) {
      if (taken < received.length) return Promise.resolve(received[taken++])
      return within(new Promise((resolve) => waiters.push(resolve)), ms, 'a delivery')
    },
    close() {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeAllConnections()
      return closed
    },
  }
}

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'timehook-node-'))
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Expects `fn()` (sync or async) to throw a TimehookError with `code`; returns the error. */
export async function rejectsWith(fn, code, TimehookError) {
  let error
  try {
    await fn()
  } catch (e) {
    error = e
  }
  assert.ok(error, `expected a ${code} error, got none`)
  assert.ok(error instanceof TimehookError, `expected a TimehookError, got ${error}`)
  assert.equal(error.code, code, error.message)
  return error
}

/**
 * The stores a behaviour test runs against: an in-memory SQLite store, and a schema of its own on
 * the test PostgreSQL server (TIMEHOOK_TEST_POSTGRES_URL, which `make test` provides; without it
 * the PostgreSQL tests fail, never skip). `location()` makes a fresh one each call.
 */
export const STORES = [
  { name: 'sqlite', location: () => ':memory:' },
  {
    name: 'postgres',
    location: () => {
      const url = process.env.TIMEHOOK_TEST_POSTGRES_URL
      if (!url) {
        throw new Error(
          'TIMEHOOK_TEST_POSTGRES_URL is not set: run `make test`, or `bash tests/with-postgres.sh bash node/test.sh`',
        )
      }
      const schema = `node_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`
      return `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`
    },
  },
]
