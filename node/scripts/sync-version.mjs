// Sets the version in package.json (and package-lock.json) to the Cargo workspace's version, so
// the npm package never carries a hand-typed version. `--check` only reports a difference.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(dirname(fileURLToPath(import.meta.url)))

/** The version Cargo gives the `timehook-node` crate (the workspace version). */
export function cargoVersion() {
  const out = execFileSync(
    'cargo',
    ['metadata', '--no-deps', '--format-version', '1', '--manifest-path', join(here, 'Cargo.toml')],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
  const pkg = JSON.parse(out).packages.find((p) => p.name === 'timehook-node')
  if (!pkg) throw new Error('cargo metadata lists no timehook-node package')
  return pkg.version
}

function rewrite(file, update) {
  const path = join(here, file)
  const text = readFileSync(path, 'utf8')
  const json = JSON.parse(text)
  if (!update(json)) return false
  writeFileSync(path, JSON.stringify(json, null, 2) + '\n')
  return true
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const version = cargoVersion()
  const check = process.argv.includes('--check')
  const changed = []
  const set = (file, update) => {
    if (check) {
      const json = JSON.parse(readFileSync(join(here, file), 'utf8'))
      if (update(structuredClone(json))) changed.push(file)
    } else if (rewrite(file, update)) {
      changed.push(file)
    }
  }
  set('package.json', (p) => {
    if (p.version === version) return false
    p.version = version
    return true
  })
  set('package-lock.json', (l) => {
    let touched = false
    if (l.version !== version) (l.version = version), (touched = true)
    if (l.packages?.[''] && l.packages[''].version !== version) {
      l.packages[''].version = version
      touched = true
    }
    return touched
  })
  if (check && changed.length) {
    console.error(`version drift: ${changed.join(', ')} differ from Cargo's ${version}; run npm run sync-version`)
    process.exit(1)
  }
  console.log(changed.length ? `version ${version} written to ${changed.join(', ')}` : `version ${version} (in sync)`)
}
