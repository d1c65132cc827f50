// The package itself: one version (Cargo's), matching ESM and CommonJS entry points that export
// what index.d.ts declares, and the error codes of the bindings.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import * as esm from '../index.mjs'

const require = createRequire(import.meta.url)
const cjs = require('../index.js')
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'))
const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')

/** Names index.d.ts declares as runtime values (classes, functions, constants). */
const declaredValues = [...dts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1])

test('the version is Cargo\'s, everywhere', () => {
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  )
  const crate = metadata.packages.find((p) => p.name === 'timehook-node')
  assert.ok(crate, 'cargo metadata lists timehook-node')
  assert.equal(pkg.version, crate.version, 'package.json (run npm run sync-version)')
  assert.equal(lock.version, crate.version, 'package-lock.json')
  assert.equal(lock.packages[''].version, crate.version, 'package-lock.json packages[""]')
  assert.equal(cjs.VERSION, crate.version, 'the compiled addon')
})

test('package.json: name, engines, entry points', () => {
  assert.equal(pkg.name, 'timehook')
  assert.equal(pkg.engines.node, '>=18')
  assert.equal(pkg.main, 'index.js')
  assert.equal(pkg.types, 'index.d.ts')
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', import: './index.mjs', require: './index.js' })
  for (const f of ['index.js', 'index.mjs', 'index.d.ts', '*.node']) assert.ok(pkg.files.includes(f), f)
})

test('ESM and CommonJS export the same values, which index.d.ts declares', () => {
  const esmNames = Object.keys(esm).filter((n) => n !== 'default').sort()
  assert.deepEqual(esmNames, [...declaredValues].sort())
  for (const name of declaredValues) {
    assert.ok(name in cjs, `index.js lacks ${name}`)
    assert.equal(esm[name], cjs[name], name)
  }
  assert.equal(esm.default, cjs)
  assert.equal(typeof esm.Scheduler.open, 'function')
})

test('the ErrorCode type in index.d.ts lists exactly the runtime codes', () => {
  const union = dts.match(/^export type ErrorCode = (.*)$/m)
  assert.ok(union, 'index.d.ts declares the ErrorCode union')
  const typed = [...union[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1])
  assert.deepEqual(typed, [...cjs.ERROR_CODES])
})

test('the package is loadable by its own name (exports map) from ESM and CommonJS', async () => {
  const byName = await import('timehook')
  assert.equal(byName.Scheduler, cjs.Scheduler)
  assert.equal(require('timehook').Verifier, cjs.Verifier)
})

test('it loads in worker threads too, each with its own TimehookError', async () => {
  const { Worker } = await import('node:worker_threads')
  const source = `
    const { parentPort } = require('node:worker_threads')
    const t = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
    ;(async () => {
      const s = await t.Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false })
      const id = await s.schedule({ url: 'https://example.com/w', after: 1000 })
      let code
      try { await s.get('job_01ARZ3NDEKTSV4RRFFQ69G5FAV') } catch (e) { code = e instanceof t.TimehookError && e.code }
      await s.close()
      parentPort.postMessage({ id, code })
    })()
  `
  const worker = new Worker(source, { eval: true })
  const result = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  assert.match(result.id, /^job_/)
  assert.equal(result.code, 'not_found')
})
