const express = require('express');
const app = express();

app.use(express.json());

// Success webhook handler
app.post('/webhooks/cron-success', (req, res) => {
  const {
    cron_job_id,
    cron_job_name,
    execution_id,
    response_body,
    executed_at
  } = req.body;

  console.log(`✅ Cron job "${cron_job_name}" executed successfully`);
  console.log(`Execution ID: ${execution_id}`);
  console.log(`Response: ${response_body}`);

  // Process the successful execution
  // e.g., update database, send notifications, etc.

  res.status(200).json({ received: true });
});

// Failure webhook handler
app.post('/webhooks/cron-failure', (req, res) => {
  const {
    cron_job_id,
    cron_job_name,
    execution_id,
    status,
    error_message,
    retry_attempt,
    next_retry_at
  } = req.body;

  console.error(`❌ Cron job "${cron_job_name}" failed`);
  console.error(`Status: ${status}`);
  console.error(`Error: ${error_message}`);
  console.error(`Retry attempt: ${retry_attempt}`);

  if (next_retry_at) {
    console.log(`Next retry at: ${next_retry_at}`);
  } else {
    console.error('No more retries scheduled');
    // Send alert to team
  }

  res.status(200).json({ received: true });
});

app.listen(3000, () => {
  console.log('Webhook server listening on port 3000');
});
