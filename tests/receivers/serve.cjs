// Runs one service's receiver code, as copied from its docs (see README.md), on 127.0.0.1.
//
//   node tests/receivers/serve.cjs <runlater-eu|runlater|cronflow|svix|a1cron>
//
// The docs' files run unchanged: this harness gives them what their pages assume (an Express
// `app`, `require`, the secret in the environment variable they read) and only adds:
// - the port: `app.listen` binds 127.0.0.1 on a free port instead of 3000;
// - the raw-body middleware RunLater's page asks for, and the handler its verifier needs (the page
//   shows only the function);
// - A1Cron's verifier from its "Webhook Security" section, put in front of its handlers (the
//   page's own example of it never answers);
// - `TIMEHOOK_FAIL_FIRST=n`: the first n requests answer 503 before reaching the docs' code, so
//   that tests can follow a retry schedule; `/ok/...` answers 200 and `/fail/...` answers 500,
//   as a job's own target.
// Everything it sees goes to stdout as JSON lines: {"listening": port} first, then {"log": line}
// for each console line the docs' code writes, and {"request": {...}} for each request answered.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')
const { createRequire } = require('node:module')

const service = process.argv[2]
const nodeRequire = createRequire(path.join(__dirname, '..', '..', 'node', 'package.json'))
const realExpress = nodeRequire('express')

const emit = (record) => process.stdout.write(`${JSON.stringify(record)}\n`)
console.log = (...args) => emit({ log: util.format(...args) })
console.error = (...args) => emit({ log: util.format(...args) })

let failFirst = Number(process.env.TIMEHOOK_FAIL_FIRST || 0)

/** The docs' `express()`: an app that records what it answers and listens on loopback. */
function express() {
  const app = realExpress()
  app.use((req, res, next) => {
    res.on('finish', () => {
      let body = req.rawBody
      if (body === undefined) body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : JSON.stringify(req.body)
      emit({ request: { method: req.method, path: req.path, status: res.statusCode, headers: req.headers, body } })
    })
    if (req.path.startsWith('/ok/')) return res.status(200).json({ message: 'Report generated successfully' })
    if (req.path.startsWith('/fail/')) return res.status(500).json({ error: 'Database connection failed' })
    if (failFirst > 0) {
      failFirst -= 1
      return res.status(503).json({ error: 'down for a moment' })
    }
    next()
  })
  if (service === 'a1cron') {
    const { verifyWebhookSignature } = run('a1cron-verify.cjs', {}, ['verifyWebhookSignature'])
    app.use(realExpress.json())
    app.use((req, res, next) => {
      const signature = req.headers['x-a1cron-signature']
      const webhookSecret = process.env.WEBHOOK_SECRET
      if (!verifyWebhookSignature(req.body, signature, webhookSecret)) {
        return res.status(401).json({ error: 'Invalid signature' })
      }
      next()
    })
  }
  const listen = app.listen.bind(app)
  app.listen = (_port, callback) =>
    listen(0, '127.0.0.1', function () {
      emit({ listening: this.address().port })
      if (callback) callback()
    })
  return app
}
Object.assign(express, realExpress)

function docsRequire(name) {
  return name === 'express' ? express : nodeRequire(name)
}

/** Runs a docs file with `scope` in reach; returns the top-level functions named in `names`. */
function run(file, scope, names) {
  const source = fs.readFileSync(path.join(__dirname, file), 'utf8')
  const keys = Object.keys(scope)
  const body = `${source}\n;return { ${names.join(', ')} }`
  return new Function('require', 'process', 'console', ...keys, body)(
    docsRequire,
    process,
    console,
    ...keys.map((k) => scope[k]),
  )
}

switch (service) {
  case 'runlater-eu': {
    const app = express()
    app.use(realExpress.json())
    run('runlater-eu.cjs', { app }, [])
    app.listen()
    break
  }
  case 'runlater': {
    const { verifyRunLater } = run('runlater.cjs', {}, ['verifyRunLater'])
    const app = express()
    app.use(realExpress.json({ verify: (req, _res, buf) => (req.rawBody = buf.toString('utf8')) }))
    app.post('/api/downgrade', (req, res) => {
      if (!verifyRunLater(req, process.env.RUNLATER_WEBHOOK_SECRET)) {
        return res.status(401).json({ error: 'invalid signature' })
      }
      res.status(200).json({ downgraded: req.body.user_id })
    })
    app.listen()
    break
  }
  case 'cronflow':
  case 'svix': {
    const app = express()
    run(`${service}.cjs`, { app, express: realExpress }, [])
    app.listen()
    break
  }
  case 'a1cron':
    run('a1cron.cjs', {}, [])
    break
  default:
    process.stderr.write(`usage: serve.cjs <runlater-eu|runlater|cronflow|svix|a1cron>, not ${service}\n`)
    process.exit(2)
}
