const crypto = require('crypto');

function verifySignature(body, signature, secret) {
  const expected = crypto
    .createHmac('sha256', secret)
    .update(body)
    .digest('hex');
  return `sha256=${expected}` === signature;
}

app.post('/webhook', (req, res) => {
  const signature = req.headers['x-runlater-signature'];
  const body = JSON.stringify(req.body); // or raw body buffer

  if (!verifySignature(body, signature, process.env.RUNLATER_WEBHOOK_SECRET)) {
    return res.status(401).json({ error: 'Invalid signature' });
  }

  // Safe to process - request is from Runlater
  const jobId = req.headers['x-runlater-job-id'];
  const executionId = req.headers['x-runlater-execution-id'];

  // Process the job...
  res.json({ ok: true });
});
