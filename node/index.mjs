// ESM entry point of `timehook`: the same native binding as the CommonJS entry (index.js, which
// napi-rs generates and which loads the platform's .node file), re-exported by name.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const {
  Scheduler,
  Verifier,
  Signer,
  ManualClock,
  AttemptExport,
  TimehookError,
  ErrorCode,
  ERROR_CODES,
  VERSION,
  MEMORY_PATH,
  generateSecret,
  generateSigningKey,
  publicKey,
  normalizeSecret,
  normalizePublicKey,
  enableMetrics,
  metricsText,
  __napiBindingTarget,
} = binding

export default binding
