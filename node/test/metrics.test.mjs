// Metrics in the Prometheus text format, after real deliveries to a receiver on 127.0.0.1.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Scheduler, enableMetrics, metricsText } from '../index.mjs'
import { receiver } from './helpers.mjs'

function value(text, lineStart) {
  const line = text.split('\n').find((l) => l.startsWith(lineStart))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
}

test('deliveries show up in the Prometheus text', async () => {
  enableMetrics()
  enableMetrics() // idempotent
  const before = metricsText()
  const ok = 'timehook_attempts_total{outcome="success"}'
  const failed = 'timehook_attempts_total{outcome="failure"}'
  const r = await receiver((req) => (req.url === '/broken' ? 500 : 200))
  const s = await Scheduler.open(':memory:', { allowPrivateTargets: true, autostart: false })
  try {
    await s.schedule({ url: `${r.url}/ok` })
    await s.schedule({ url: `${r.url}/broken`, retry: 'none' })
    assert.equal(await s.runDue(), 2)
  } finally {
    await s.close()
    await r.close()
  }
  const text = metricsText()
  assert.equal(value(text, ok), value(before, ok) + 1)
  assert.equal(value(text, failed), value(before, failed) + 1)
  assert.match(text, /^# TYPE timehook_attempt_duration_seconds \w+/m)
})
