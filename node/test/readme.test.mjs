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
const section = readme.split('\n## Node\n')[1].split('\n## ')[0]
const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
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
      await promisify(execFile)(process.execPath, [file], { cwd: dir, env, timeout: 60_000 })
      assert.ok(existsSync(join(dir, 'jobs.db')))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
