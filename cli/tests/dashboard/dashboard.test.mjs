// The dashboard of `timehook serve` in real headless Chromium (Debian's `chromium`, driven by
// playwright-core): log in with a key, find a failed job and its attempts, retry it and see the
// state change, enable a disabled endpoint, and check escaping, the cookie, CSRF and a phone-sized
// screen. A screenshot of each page is saved in cli/tests/dashboard/output/ for people to look at.
//
//   TIMEHOOK_BIN=target/debug/timehook node --test cli/tests/dashboard/
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const BIN = process.env.TIMEHOOK_BIN || join(here, '..', '..', '..', 'target', 'debug', 'timehook')
const OUTPUT = join(here, 'output')
const CHROMIUM = process.env.TIMEHOOK_CHROMIUM || '/usr/bin/chromium'
// The flags that work on this kind of machine (root, no GPU, no network beyond loopback).
const FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

let dir, db, key, readKey, server, base, receivers, browser

/** A receiver on 127.0.0.1: /fail answers 500, /flaky 500 once then 204, anything else 204. */
function receiver() {
  let flaky = 0
  const srv = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      let status = 204
      if (req.url.startsWith('/fail')) status = 500
      if (req.url.startsWith('/flaky')) status = flaky++ === 0 ? 500 : 204
      res.writeHead(status).end(status === 500 ? 'upstream is down' : '')
    })
  })
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` })))
}

function cli(...args) {
  return execFileSync(BIN, [...args, '--db', db], { encoding: 'utf8' }).trim()
}

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  return res.json()
}

/** Polls `f` (reloading nothing itself) until it is truthy; fails after `ms`. */
async function until(what, f, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

before(async () => {
  mkdirSync(OUTPUT, { recursive: true })
  dir = mkdtempSync(join(tmpdir(), 'timehook-dashboard-'))
  db = join(dir, 'jobs.db')
  key = cli('keys', 'create', '--scope', 'write', '--name', 'ui')
  readKey = cli('keys', 'create', '--scope', 'read', '--name', 'viewer')
  receivers = [await receiver(), await receiver()]
  server = spawn(BIN, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--allow-private-targets', '--disable-endpoints-after', '1s', '--disable-endpoints-min-failures', '3'], {
    env: { ...process.env, TIMEHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve))
  base = line.replace('listening on ', '').trim()
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: FLAGS })
})

after(async () => {
  await browser?.close()
  server?.kill()
  for (const r of receivers ?? []) r.srv.close()
  rmSync(dir, { recursive: true, force: true })
})

async function loggedIn(k = key, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport })
  const page = await context.newPage()
  page.on('dialog', (d) => d.accept())
  await page.goto(`${base}/ui`)
  assert.match(page.url(), /\/ui\/login$/, 'a visitor without the cookie is sent to log in')
  await page.screenshot({ path: join(OUTPUT, 'login.png'), fullPage: true })
  await page.fill('input[name=key]', k)
  await page.click('button[type=submit]')
  await page.waitForURL(/\/ui\/jobs$/)
  return { context, page }
}

test('log in, find the failed job and its attempts, retry it, enable an endpoint', async () => {
  const [a, b] = receivers
  const failed = await api('POST', '/v1/jobs', { url: `${a.url}/flaky/report`, name: 'nightly-report', retry: 'none', payload: { day: 'monday' } })
  await api('POST', '/v1/jobs', { url: `${a.url}/ok`, name: 'welcome-email' })
  await api('POST', '/v1/jobs', { url: `${a.url}/ok`, name: '<script>alert("x")</script>', after_seconds: 3600 })
  await api('POST', '/v1/subscriptions', { url: `${a.url}/events`, events: ['job.failed'] })
  // An endpoint that fails long enough to be disabled (1 s and 3 failures, in this test).
  for (const after_seconds of [0, 0, 1.2, 1.5, 2]) {
    await api('POST', '/v1/jobs', { url: `${b.url}/fail/${after_seconds}`, retry: 'none', after_seconds })
  }
  await until('the failed job', async () => (await api('GET', `/v1/jobs/${failed.id}`)).state === 'failed')

  const { context, page } = await loggedIn()
  const cookies = await context.cookies()
  const cookie = cookies.find((c) => c.name === 'timehook_key')
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie))
  await page.screenshot({ path: join(OUTPUT, 'jobs.png'), fullPage: true })
  // Escaped: shown as text, never run.
  assert.ok((await page.textContent('table')).includes('<script>alert("x")</script>'))

  // The failed job, through the state filter.
  await page.selectOption('select[name=state]', 'failed')
  await page.click('form.filters button')
  await page.locator('tr', { hasText: 'nightly-report' }).locator('a').click()
  await page.waitForURL(new RegExp(`/ui/jobs/${failed.id}$`))
  assert.equal((await page.textContent('.state')).trim(), 'failed')
  const timeline = await page.textContent('ol.timeline')
  assert.match(timeline, /HTTP 500/)
  assert.match(timeline, /upstream is down/)
  await page.screenshot({ path: join(OUTPUT, 'job-failed.png'), fullPage: true })

  // Retry: the state changes (the receiver answers 204 the second time).
  await page.click('button:has-text("Retry")')
  await page.waitForURL(new RegExp(`/ui/jobs/${failed.id}$`))
  await until('the retried job to succeed', async () => {
    await page.reload()
    return (await page.textContent('.state')).trim() === 'succeeded'
  })
  assert.match(await page.textContent('ol.timeline'), /HTTP 204/)
  await page.screenshot({ path: join(OUTPUT, 'job-retried.png'), fullPage: true })

  // Dead letters, overview, subscriptions.
  await page.goto(`${base}/ui/dead`)
  await page.screenshot({ path: join(OUTPUT, 'dead-letters.png'), fullPage: true })
  await page.goto(`${base}/ui`)
  assert.equal(await page.locator('svg rect').count() > 0, true, 'the charts have bars')
  await page.screenshot({ path: join(OUTPUT, 'overview.png'), fullPage: true })
  await page.goto(`${base}/ui/subscriptions`)
  assert.match(await page.textContent('table'), /job\.failed/)
  await page.screenshot({ path: join(OUTPUT, 'subscriptions.png'), fullPage: true })

  // Enable the endpoint once it is disabled.
  const row = page.locator('tr', { hasText: b.url })
  await until('the endpoint to be disabled', async () => {
    await page.goto(`${base}/ui/endpoints`)
    return (await row.count()) > 0 && (await row.textContent()).includes('disabled')
  })
  await page.screenshot({ path: join(OUTPUT, 'endpoints-disabled.png'), fullPage: true })
  await row.locator('button:has-text("Enable")').click()
  await page.waitForURL(/\/ui\/endpoints$/)
  // Enabled: the endpoint starts afresh (listed again once it has failed again, as healthy until then).
  assert.ok((await row.count()) === 0 || !(await row.textContent()).includes('disabled'), await page.textContent('table'))
  await page.screenshot({ path: join(OUTPUT, 'endpoints.png'), fullPage: true })

  // A form post without the CSRF token is refused, even with the cookie.
  const status = await page.evaluate(async (id) => (await fetch(`/ui/jobs/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' })).status, failed.id)
  assert.equal(status, 403)
  await context.close()
})

test('a read key may look but not change; a phone-sized screen has no sideways scroll', async () => {
  const { context, page } = await loggedIn(readKey, { width: 390, height: 844 })
  await page.screenshot({ path: join(OUTPUT, 'jobs-phone.png'), fullPage: true })
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`)
  const id = (await api('GET', '/v1/jobs?name=welcome-email')).jobs[0].id
  await page.goto(`${base}/ui/jobs/${id}`)
  const res = await page.evaluate(async (id) => {
    const html = await (await fetch(`/ui/jobs/${id}`)).text()
    const token = /name="csrf" value="([0-9a-f]+)"/.exec(html)?.[1] ?? ''
    return (await fetch(`/ui/jobs/${id}/trigger`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${token}` })).status
  }, id)
  assert.equal(res, 403)
  await context.close()
})
