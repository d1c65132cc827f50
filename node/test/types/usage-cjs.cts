// The CommonJS entry point has the same types.
import timehook = require('timehook')

async function run(): Promise<string> {
  const s: timehook.Scheduler = await timehook.Scheduler.open(':memory:')
  const id = await s.schedule({ url: 'https://example.com/x' })
  await s.close()
  return id
}

void run
