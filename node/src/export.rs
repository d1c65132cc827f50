//! `AttemptExport`: an export of the attempt log in progress, read chunk by chunk (an async
//! iterable of `Buffer`s). The export runs on timehook's threads and stays a few chunks ahead of
//! the reader, so the log is never held in memory.

use napi::Env;
use napi::bindgen_prelude::JsObjectValue as _;
use napi::bindgen_prelude::{Buffer, Function, Object, PromiseRaw, Unknown};
use napi_derive::napi;
use timehook_bindings::ExportStream;

use crate::bridge::promise;

/// Makes `AttemptExport` async iterable: `for await (const chunk of scheduler.exportAttemptsStream())`.
/// Leaving the loop early (or an error) cancels the export.
const ASYNC_ITERATOR: &str = r#"((cls) => {
  Object.defineProperty(cls.prototype, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: async function* chunks() {
      try {
        for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk
      } finally {
        this.cancel()
      }
    },
  })
})"#;

/// An export of the attempt log in progress (from `scheduler.exportAttemptsStream()`): an async
/// iterable of `Buffer` chunks, to pass to `stream.pipeline` or `Readable.from`, or read with
/// `read()`.
#[napi]
pub struct AttemptExport {
    stream: Option<ExportStream>,
}

impl AttemptExport {
    /// Wraps an export started by the bindings.
    pub fn new(stream: ExportStream) -> Self {
        AttemptExport {
            stream: Some(stream),
        }
    }
}

#[napi]
impl AttemptExport {
    /// The next chunk, or `null` once the export is complete (or cancelled). Rejects with the
    /// export's error. Read one chunk at a time: wait for each before asking for the next.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn read<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        match &self.stream {
            Some(stream) => promise(env, Ok(stream.next_chunk()), |chunk| {
                chunk.map(Buffer::from)
            }),
            None => promise(env, Ok(async { Ok(None) }), |chunk: Option<Vec<u8>>| {
                chunk.map(Buffer::from)
            }),
        }
    }

    /// Stops the export: later reads resolve to `null`. A no-op once complete.
    #[napi]
    pub fn cancel(&mut self) {
        self.stream = None;
    }
}

/// Adds `[Symbol.asyncIterator]` to the `AttemptExport` class in `exports`.
pub fn register(env: &Env, exports: &Object<'_>) -> napi::Result<()> {
    let install: Function<'_, Unknown<'_>, Unknown<'_>> = env.run_script(ASYNC_ITERATOR)?;
    install.call(exports.get_named_property::<Unknown<'_>>("AttemptExport")?)?;
    Ok(())
}
