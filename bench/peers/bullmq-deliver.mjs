// BullMQ delivering webhooks, the fair peer of timehook's delivery figure: a Worker with
// concurrency 64 posting each job's body with a node:http keep-alive Agent (64 sockets) to the
// benchmarks' receiver. Jobs are added first (addBulk), then the Worker starts; the figure is
// jobs completed per second from its start to the last completion. Redis runs with AOF everysec.
//
//   node bullmq-deliver.mjs <receiver-url> <redis-port> <jobs>
import http from 'node:http'
import { Queue, Worker } from 'bullmq'

const [url, port, n] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null }
const name = `deliver-${process.pid}-${Date.now()}`
const queue = new Queue(name, { connection })
for (let i = 0; i < n; i += 1000) {
  const batch = []
  for (let j = i; j < Math.min(n, i + 1000); j++) batch.push({ name: 'hook', data: { url: `${url}/d`, body: `{"n":${j}}` } })
  await queue.addBulk(batch)
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
function post(target, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}
let done = 0
let finish
const finished = new Promise((resolve) => (finish = resolve))
const start = performance.now()
const worker = new Worker(name, (job) => post(job.data.url, job.data.body), { connection, concurrency: 64 })
worker.on('completed', () => {
  if (++done === n) finish()
})
await finished
const secs = (performance.now() - start) / 1000
await worker.close()
await queue.obliterate({ force: true })
await queue.close()
agent.destroy()
console.log(`bullmq ${Math.round(n / secs)}/s`)
