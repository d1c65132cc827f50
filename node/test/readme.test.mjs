// The README's Node examples run as written, each in a child process in a temporary directory
// (they create jobs.db; their URLs are never due during the test, so nothing leaves the machine).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const readme = readFileSync(join(here, '..', '..', 'README.md'), 'utf8')
const jsBlocks = (heading) =>
  [...readme.split(`\n## ${heading}\n`)[1].split('\n## ')[0].matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
// The Node section's examples, and the PostgreSQL section's (given the test server as DATABASE_URL).
const blocks = [...jsBlocks('Node'), ...jsBlocks('Many machines: PostgreSQL')]
const entry = pathToFileURL(join(here, '..', 'index.mjs')).href

test('the README has Node examples', () => {
  assert.ok(blocks.length >= 2, `found ${blocks.length}`)
})

for (const [i, code] of blocks.entries()) {
  test(`README Node example ${i + 1} runs`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'timehook-readme-'))
    try {
      const file = join(dir, 'example.mjs')
      writeFileSync(file, code.replaceAll("from 'timehook'", `from '${entry}'`))
      const env = { ...process.env, WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }
      const usesPostgres = code.includes('DATABASE_URL')
      if (usesPostgres) {
        if (!process.env.TIMEHOOK_TEST_POSTGRES_URL) throw new Error('TIMEHOOK_TEST_POSTGRES_URL is not set: run `make test`')
        env.DATABASE_URL = process.env.TIMEHOOK_TEST_POSTGRES_URL
      }
      await promisify(execFile)(process.execPath, [file], { cwd: dir, env, timeout: 60_000 })
      assert.equal(existsSync(join(dir, 'jobs.db')), !usesPostgres)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
