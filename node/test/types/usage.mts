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
  enableMetrics,
  metricsText,
  AttemptExport,
  type Attempt,
  type Endpoint,
  type EventFor,
  type Outcome,
  type Subscription,
  type TimehookEvent,
  type HeadersLike,
  type Job,
  type JobOptions,
  type JobState,
  type OpenOptions,
} from 'timehook'

async function main(): Promise<void> {
  enableMetrics()
  const prometheus: string = metricsText()
  void prometheus
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

  // Outcomes: callbacks, subscriptions, listeners, dead letters, endpoints, exports.
  const outcomes = await Scheduler.open('jobs.db', {
    environment: 'staging',
    disableEndpointsAfter: 5 * 86_400_000,
    disableEndpointsMinFailures: 10,
    disableEndpointOnGone: true,
    perHostRate: 50,
    endpointLimits: { 'https://api.example.com': { maxInFlight: 4, perSecond: 10 } },
  })
  await outcomes.schedule({ url: 'https://x', onSuccessUrl: 'https://cb/ok', onFailureUrl: 'https://cb/fail' })
  await outcomes.cron('https://x', '@hourly', { onFailureUrl: 'https://cb/fail' })
  const callbackUrl: string | undefined = job.onSuccessUrl ?? job.onFailureUrl
  const sub: Subscription = await outcomes.subscribe('https://x/events', ['job.completed', 'job.failed'])
  await outcomes.subscribe('https://x/events', 'endpoint.disabled')
  const subs: Subscription[] = await outcomes.subscriptions()
  await outcomes.unsubscribe(sub.id)
  const endpoints: Endpoint[] = await outcomes.endpoints()
  const disabledAt: Date | undefined = endpoints[0]?.disabledAt
  await outcomes.enableEndpoint('https://api.example.com')
  if (endpoints[0]) await outcomes.enableEndpoint(endpoints[0])
  const retried: number = await outcomes.retryFailed({ since: new Date(0), until: Date.now(), name: 'trial', label: 'a', job: id })
  const purged: number = await outcomes.purge({ until: '2030-01-01T00:00:00Z' })
  const probe: Attempt = await outcomes.sendTest('https://x/probe', 'job.failed')
  await outcomes.sendTest('https://x/probe')
  const rows: number = await outcomes.exportAttempts('attempts.csv', { format: 'jsonl', since: new Date(), job: id, state: 'failed' })
  const stream: AttemptExport = outcomes.exportAttemptsStream({ format: 'csv' })
  for await (const chunk of stream) {
    const bytes: Buffer = chunk
    void bytes
  }
  const chunk: Buffer | null = await stream.read()
  stream.cancel()
  const onFailed = (e: EventFor<'job.failed'>): void => {
    const outcome: Outcome = e.outcome
    const status: 'success' | 'failure' | 'error' | 'timeout' = outcome.status
    const at: Date = outcome.executedAt
    const code: number | undefined = outcome.responseCode
    void [status, at, code]
  }
  outcomes.on('job.failed', onFailed)
  outcomes.off('job.failed', onFailed)
  outcomes.on('attempt', (e) => {
    const a: Attempt = e.attempt
    const s: JobState = e.jobState
    void [a, s]
  })
  outcomes.once('endpoint.disabled', (e) => e.endpoint.origin)
  outcomes.on('*', async (e: TimehookEvent) => {
    if (e.type === 'attempt') return e.attempt?.status
    return e.outcome?.jobId ?? e.endpoint?.origin
  })
  outcomes.on('error', (error: unknown, event: TimehookEvent) => console.error(error, event.type))
  const listening: number = outcomes.listenerCount('*')
  // @ts-expect-error: not an event type
  outcomes.on('job.finished', () => {})
  // @ts-expect-error: an endpoint.disabled event has no outcome
  outcomes.on('endpoint.disabled', (e) => e.outcome.jobId)
  // @ts-expect-error: maxInFlight is required
  await Scheduler.open('x.db', { endpointLimits: { 'https://a': { perSecond: 1 } } })
  // @ts-expect-error: the formats are csv and jsonl
  await outcomes.exportAttempts('x', { format: 'xml' })
  void [callbackUrl, subs, disabledAt, retried, purged, probe, rows, chunk, listening]

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
