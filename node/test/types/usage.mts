// Typed usage of the package, checked with `tsc --noEmit` (never run): the declarations in
// index.d.ts must accept what the README shows and reject what they should.
import { IncomingMessage } from 'node:http'

import {
  ERROR_CODES,
  ErrorCode,
  ManualClock,
  Scheduler,
  Signer,
  TimehookError,
  VERSION,
  Verifier,
  generateSecret,
  type Attempt,
  type HeadersLike,
  type Job,
  type JobOptions,
  type JobState,
  type OpenOptions,
} from 'timehook'

async function main(): Promise<void> {
  const options: OpenOptions = { secret: generateSecret(), autostart: false, durability: 'normal' }
  const scheduler: Scheduler = await Scheduler.open('jobs.db', options)

  const id: string = await scheduler.schedule({
    url: 'https://example.com/hooks/trial-ended',
    after: 3_600_000,
    payload: { account: 42 },
    headers: { 'x-tenant': 'acme' },
    retry: 'svix',
    idempotencyKey: 'trial-ended-42',
    name: 'trial',
  })
  await scheduler.schedule({ url: 'https://example.com/a', at: new Date(), payload: Buffer.from('raw') })
  await scheduler.schedule({ url: 'https://example.com/b', at: '2030-01-01T00:00:00Z', payload: 'text' })
  await scheduler.schedule({ url: 'https://example.com/c', at: Date.now(), retry: { delays: [1000, 5000] } })
  const jobs: JobOptions[] = [{ url: 'https://example.com/d', payload: new Uint8Array([1]) }]
  const ids: string[] = await scheduler.scheduleMany(jobs)
  const cronId: string = await scheduler.cron('https://example.com/report', '0 9 * * MON-FRI', { tz: 'Europe/Berlin' })

  const job: Job = await scheduler.get(id)
  const state: JobState = job.state
  const next: Date | undefined = job.nextRunAt
  const created: Date = job.createdAt
  const body: Buffer = job.body
  const listed: Job[] = await scheduler.list({ state: ['failed', 'retrying'], limit: 10, createdAfter: new Date(0) })
  const attempts: Attempt[] = await scheduler.attempts(id)
  const started: Date | undefined = attempts[0]?.startedAt
  await scheduler.cancel(id)
  await scheduler.reschedule(ids[0], new Date())
  await scheduler.pause(cronId)
  await scheduler.resume(cronId)
  const exec: string = await scheduler.trigger(cronId)
  await scheduler.retry(id)
  const pruned: number = await scheduler.prune()
  const delivered: number = await scheduler.runDue()
  scheduler.start()
  const closed: boolean = scheduler.closed
  await scheduler.close(5_000)

  const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'))
  clock.advance(60_000)
  const t: Date = clock.now()
  await Scheduler.open(':memory:', { clock, autostart: false })

  // @ts-expect-error: url is required
  await scheduler.schedule({ after: 5 })
  // @ts-expect-error: at is not a boolean
  await scheduler.schedule({ url: 'https://x', at: true })
  // @ts-expect-error: durability is 'full' or 'normal'
  await Scheduler.open('x.db', { durability: 'paranoid' })

  void [state, next, created, body, listed, started, exec, pruned, delivered, closed, t]
}

function receive(req: IncomingMessage, raw: Buffer, headers: Headers): void {
  const verifier = new Verifier(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_old'], { toleranceSeconds: 60 })
  verifier.verify(raw, req.headers)
  verifier.verify(raw.toString('utf8'), headers, { now: new Date() })
  verifier.verify(new Uint8Array(raw), [['webhook-id', 'msg_1']], { now: 1_700_000_000 })
  verifier.verifyIgnoringTimestamp(raw, new Map([['webhook-id', 'msg_1']]))
  const h: HeadersLike = { 'webhook-id': 'msg_1', 'set-cookie': ['a', 'b'] }
  verifier.verify(raw, h)
  const github = new Verifier('secret', { scheme: 'github' })
  github.verifyIgnoringTimestamp(raw, req.headers)
  new Verifier('s', { scheme: { kind: 'timestamped_hex', header: 'X-Signature', timestampHeader: 'X-Timestamp' } })
  // @ts-expect-error: the body is bytes or a string, not parsed JSON
  verifier.verify({ parsed: true }, req.headers)
  const pairs: Array<[string, string]> = new Signer('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').headers('msg_1', 1, raw)
  void pairs
}

function handle(err: unknown): string | undefined {
  if (err instanceof TimehookError) {
    const code: ErrorCode = err.code
    if (code === ErrorCode.NOT_FOUND || err.code === 'timestamp_too_old') return err.detail
    // @ts-expect-error: not a code
    if (err.code === 'nope') return undefined
    return code
  }
  return undefined
}

const codes: readonly ErrorCode[] = ERROR_CODES
const version: string = VERSION
void [main, receive, handle, codes, version]
