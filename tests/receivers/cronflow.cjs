// CronFlow's page has no code: this is the handler its two paragraphs describe, written the way
// its users write it. "Compute the HMAC-SHA256 hash of the raw request body using your webhook
// secret, then compare it against the header value" (X-CronFlow-Signature), and "Store this key
// [X-CronFlow-Idempotency-Key] ... to safely ignore duplicate payloads".
const crypto = require('crypto');

const seen = new Set(); // your database in production

app.post('/webhooks/cronflow', express.raw({ type: 'application/json' }), (req, res) => {
  const expected = crypto
    .createHmac('sha256', process.env.CRONFLOW_WEBHOOK_SECRET)
    .update(req.body)
    .digest('hex');
  const signature = req.headers['x-cronflow-signature'] || '';
  if (
    signature.length !== expected.length ||
    !crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  ) {
    return res.status(401).json({ error: 'invalid signature' });
  }
  const key = req.headers['x-cronflow-idempotency-key'];
  if (seen.has(key)) {
    return res.status(200).json({ duplicate: true });
  }
  seen.add(key);

  const { event, timestamp, job_id, environment, data } = JSON.parse(req.body);
  console.log(`${event} for ${job_id} (${environment}) at ${timestamp}`);
  if (event === 'job.failed') {
    console.log(`error ${data.error_code}: ${data.message} after ${data.retries} retries`);
  } else if (event === 'job.completed') {
    console.log(`took ${data.duration_ms} ms, next run ${data.next_run_at}`);
  }
  res.status(200).json({ received: true });
});
