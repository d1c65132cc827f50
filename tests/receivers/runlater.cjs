const crypto = require("crypto");

function verifyRunLater(req, secret) {
  const timestamp = req.headers["x-runlater-timestamp"];
  const signature = req.headers["x-runlater-signature"];
  const body = req.rawBody; // exact request body string

  // Reject old timestamps (5 min window)
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) {
    return false;
  }

  const expected = crypto
    .createHmac("sha256", secret)
    .update(timestamp + "." + body)
    .digest("hex");

  return crypto.timingSafeEqual(
    Buffer.from(expected, "hex"),
    Buffer.from(signature, "hex")
  );
}
