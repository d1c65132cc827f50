// Runa's page says "Here is an example using Javascript" and points at Svix's verification docs;
// this is the Express handler from those docs (docs.svix.com, "Verifying payloads"), with the
// raw-body middleware they prescribe. One change: `return` before the 400, which the docs'
// snippet lacks (without it the handler answers twice and Express logs an error).
const { Webhook } = require('svix');

const secret = process.env.SVIX_WEBHOOK_SECRET;

app.post('/webhook', express.raw({ type: 'application/json' }), (req, res) => {
  const payload = req.body;
  const headers = req.headers;

  const wh = new Webhook(secret);
  let msg;
  try {
    msg = wh.verify(payload, headers);
  } catch (err) {
    return res.status(400).json({});
  }

  // Do something with the message...
  console.log(`svix message ${headers['svix-id']}: ${JSON.stringify(msg)}`);

  res.json({});
});
