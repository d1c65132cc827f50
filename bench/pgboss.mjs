// pg-boss, the peer of timehook's PostgreSQL figures (bench/postgres.sh runs it under Node 22,
// which pg-boss 12 needs). Prints `result NAME VALUE UNIT` lines like core/benches/postgres.rs.
//
//   node pgboss.mjs enqueue URL N BATCH       insert N jobs in batches of BATCH
//   node pgboss.mjs deliver URL N RECEIVER    send N jobs, then workers (64 requests at a time)
//                                             post each to RECEIVER with fetch; timed until all
//                                             are completed
import { PgBoss } from 'pg-boss'
import pg from 'pg'

const [mode, url, nText, arg] = process.argv.slice(2)
const n = Number(nText)
const schema = `pgboss_${process.pid}_${Date.now()}`
const queue = 'bench'
const boss = new PgBoss({ connectionString: url, schema, max: 16 })
boss.on('error', (e) => console.error(e))
await boss.start()
await boss.createQueue(queue)

if (mode === 'enqueue') {
  const batch = Number(arg)
  const later = new Date(Date.now() + 86_400_000)
  const start = performance.now()
  for (let i = 0; i < n; i += batch) {
    const jobs = []
    for (let j = i; j < Math.min(n, i + batch); j++) jobs.push({ data: { n: j }, startAfter: later })
    await boss.insert(queue, jobs)
  }
  const rate = n / ((performance.now() - start) / 1000)
  console.log(`result enqueue ${rate.toFixed(0)} jobs/s`)
  console.log(`pg-boss insert, ${n} jobs in batches of ${batch}: ${rate.toFixed(0)} jobs/s`)
} else if (mode === 'deliver') {
  const receiver = arg
  for (let i = 0; i < n; i += 5000) {
    const jobs = []
    for (let j = i; j < Math.min(n, i + 5000); j++) jobs.push({ data: { n: j } })
    await boss.insert(queue, jobs)
  }
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  const start = performance.now()
  // pg-boss at its fastest here: 64 requests in flight as 2 workers taking batches of 32,
  // fetching again at once while batches come back full (PGBOSS_SHAPE=WORKERSxBATCH; measured
  // on this machine: 2x32 3.1k/s, 4x16 2.6k/s, 8x8 1.9k/s, 64x1 128/s, as each worker waits
  // a polling interval between fetches of one).
  const [workers, batchSize] = (process.env.PGBOSS_SHAPE || '2x32').split('x').map(Number)
  const post = async (job) => {
    const res = await fetch(`${receiver}/d`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(job.data),
    })
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
  }
  await boss.work(
    queue,
    { localConcurrency: workers, batchSize, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
    (jobs) => Promise.all(jobs.map(post)),
  )
  for (;;) {
    const { rows } = await db.query(`SELECT count(*)::int AS c FROM "${schema}".job WHERE name = $1 AND state = 'completed'`, [queue])
    if (rows[0].c >= n) break
    await new Promise((r) => setTimeout(r, 10))
  }
  const rate = n / ((performance.now() - start) / 1000)
  console.log(`result deliver1 ${rate.toFixed(0)} deliveries/s`)
  console.log(`pg-boss send + work (${workers} workers x batches of ${batchSize}) posting with fetch, ${n} jobs: ${rate.toFixed(0)}/s`)
  await db.end()
}
await boss.stop({ graceful: false, wait: true })
process.exit(0)
