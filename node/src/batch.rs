//! The fast way in for a large batch of plain job objects (`scheduleMany`, `submitMany`).
//!
//! Reading a job object through napi costs a call per property and a call back into JavaScript
//! for each payload's `JSON.stringify`: about 5 µs a job, half of what storing it costs. For a
//! batch whose jobs hold only plain values, a JavaScript function checks every field's type and
//! serialises the jobs in one `JSON.stringify`, which Rust parses. The check admits only
//! what the two ways read the same: anything else (a `Date`, a `Buffer` payload, `retry`, an
//! unknown field, a value of the wrong type, a string JSON cannot carry) makes it decline, and
//! the batch is read object by object (`JobReader::jobs`), which also gives the precise error.
//! Either way the jobs are the same [`JobInput`]s.
//!
//! A batch of [`PIPELINED`] jobs or more is checked and serialised in slices of [`SLICE`], and
//! each slice's text is parsed on timehook's runtime while the JavaScript thread serialises the
//! next: the call returns to JavaScript once the last slice is serialised, not parsed. A slice the
//! check declines stops the parsing (nothing was stored yet), and the batch is read the slow way.

use napi::bindgen_prelude::{
    Array, FnArgs, FromNapiValue, Function, FunctionRef, JsValue, Unknown,
};
use napi::{Env, ValueType};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use timehook_bindings::{BindingError, JobInput, Payload};

/// Jobs checked and serialised by one call of the check in a batch of [`PIPELINED`] or more.
const SLICE: u32 = 8_192;
/// The smallest batch serialised in slices and parsed beside the JavaScript thread.
const PIPELINED: u32 = 2 * SLICE;

/// The JavaScript check and serialisation (evaluated once per environment), called with the
/// batch and a range of positions (first with 0). It returns the jobs in the range as JSON text,
/// or `undefined` to decline. It also declines a text holding a lone surrogate (JSON escapes it
/// as `\udxxx`, which Rust strings cannot hold; or an escaped backslash before `ud`, read the slow
/// way to be safe).
const PLAIN_BATCH: &str = r#"(() => {
  "use strict";
  const OBJECT = Object.prototype;
  const TEXT = new Set(["url", "cron", "tz", "missed", "method", "contentType", "idempotencyKey",
    "name", "onSuccessUrl", "onFailureUrl", "profile"]);
  const plain = (v) => {
    const p = Object.getPrototypeOf(v);
    return (p === OBJECT || p === null) && !("toJSON" in v);
  };
  const texts = (v) => typeof v === "string"
    || (Array.isArray(v) && !("toJSON" in v) && v.every((s) => typeof s === "string"));
  const field = (k, v) => {
    if (v === undefined || v === null) return true;
    if (TEXT.has(k)) return typeof v === "string";
    switch (k) {
      case "after": case "timeout": return Number.isSafeInteger(v) && v >= 0;
      case "at": return Number.isSafeInteger(v);
      case "payload":
        switch (typeof v) {
          case "string": case "boolean": return true;
          case "number": return Number.isFinite(v);
          case "object": return Array.isArray(v) ? !("toJSON" in v) : plain(v);
          default: return false;
        }
      case "headers": {
        if (typeof v !== "object" || !plain(v) || typeof v.get === "function") return false;
        for (const n of Object.keys(v)) {
          const h = v[n];
          if (h !== undefined && typeof h !== "string") return false;
        }
        return true;
      }
      case "labels": case "secret": return texts(v);
      default: return false;
    }
  };
  return (jobs, start, end) => {
    if (!Array.isArray(jobs) || Object.getPrototypeOf(jobs) !== Array.prototype || "toJSON" in jobs) {
      return undefined;
    }
    for (let i = start; i < end; i++) {
      const job = jobs[i];
      if (typeof job !== "object" || job === null || !plain(job) || typeof job.url !== "string") {
        return undefined;
      }
      for (const k of Object.keys(job)) if (!field(k, job[k])) return undefined;
    }
    let text;
    try {
      text = JSON.stringify(start === 0 && end === jobs.length ? jobs : jobs.slice(start, end));
    } catch {
      return undefined;
    }
    return text.includes("\\ud") ? undefined : text;
  };
})()"#;

/// The check, kept per environment.
pub type PlainBatch = FunctionRef<Unknown<'static>, Unknown<'static>>;

/// Evaluates the check once, for this environment.
pub fn compile(env: &Env) -> napi::Result<PlainBatch> {
    let f: Function<'_, Unknown<'static>, Unknown<'static>> = env.run_script(PLAIN_BATCH)?;
    f.create_ref()
}

/// A batch read the fast way: its jobs, or the task parsing their slices.
pub enum Batch {
    /// Every job, read.
    Jobs(Vec<JobInput>),
    /// Parsing the slices on the runtime (`None`: a text did not parse).
    Parsing(tokio::task::JoinHandle<Option<Vec<JobInput>>>),
}

impl Batch {
    /// Every job, once parsed.
    pub async fn jobs(self) -> timehook_bindings::Result<Vec<JobInput>> {
        match self {
            Batch::Jobs(jobs) => Ok(jobs),
            // The check admits only values whose JSON parses: not expected.
            Batch::Parsing(parsing) => parsing.await.ok().flatten().ok_or_else(|| {
                BindingError::internal("a batch of plain job objects did not read back")
            }),
        }
    }
}

/// The jobs of `value` read the fast way, or `None` when the check declines (or, for a batch
/// read in one text, the text does not parse): then read them object by object. A batch of
/// [`PIPELINED`] jobs or more comes back as the task parsing its slices.
pub fn read<'e>(
    env: &'e Env,
    check: &PlainBatch,
    value: Unknown<'e>,
) -> napi::Result<Option<Batch>> {
    if !value.is_array()? {
        return Ok(None);
    }
    let count = Array::from_unknown(value)?.len();
    let check: Function<'e, FnArgs<(Unknown<'e>, u32, u32)>, Unknown<'e>> =
        Function::from_unknown(check.borrow_back(env)?.to_unknown())?;
    let text = |start: u32, end: u32| -> napi::Result<Option<String>> {
        let text = check.call(FnArgs::from((value, start, end)))?;
        if text.get_type()? != ValueType::String {
            return Ok(None);
        }
        String::from_unknown(text).map(Some)
    };
    let runtime = match timehook_bindings::runtime() {
        Ok(runtime) if count >= PIPELINED => runtime,
        // Too small to gain from slices (or no runtime: the call fails its own way).
        _ => {
            return Ok(text(0, count)?
                .and_then(|text| parse(&text, count as usize))
                .map(Batch::Jobs));
        }
    };
    let (slices, mut texts) = tokio::sync::mpsc::unbounded_channel::<(String, usize)>();
    let parsing = runtime.spawn(async move {
        let mut jobs = Vec::with_capacity(count as usize);
        while let Some((text, n)) = texts.recv().await {
            jobs.extend(parse(&text, n)?);
        }
        Some(jobs)
    });
    let mut start = 0;
    while start < count {
        let end = start.saturating_add(SLICE).min(count);
        match text(start, end) {
            Ok(Some(text)) => {
                // The task ends only once `slices` is dropped, below.
                let _ = slices.send((text, (end - start) as usize));
            }
            declined => {
                parsing.abort();
                return declined.map(|_| None);
            }
        }
        start = end;
    }
    Ok(Some(Batch::Parsing(parsing)))
}

/// The jobs in the text the check produced; `None` if it does not parse as expected (a lone
/// surrogate, which JSON escapes and Rust strings cannot hold).
pub fn parse(text: &str, count: usize) -> Option<Vec<JobInput>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let jobs = Jobs(count).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(jobs)
}

/// The array of jobs, each converted as it is read, into a vector made for `count` of them.
struct Jobs(usize);

impl<'de> DeserializeSeed<'de> for Jobs {
    type Value = Vec<JobInput>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Jobs {
    type Value = Vec<JobInput>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of jobs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut jobs = Vec::with_capacity(self.0);
        while let Some(job) = seq.next_element::<PlainJob<'de>>()? {
            jobs.push(
                job.into_input()
                    .ok_or_else(|| A::Error::custom("a payload string JSON cannot carry"))?,
            );
        }
        Ok(jobs)
    }
}

/// One job as the check lets it through: every field optional but `url`, each of one type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlainJob<'a> {
    url: String,
    cron: Option<String>,
    tz: Option<String>,
    missed: Option<String>,
    method: Option<String>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    name: Option<String>,
    on_success_url: Option<String>,
    on_failure_url: Option<String>,
    profile: Option<String>,
    after: Option<u64>,
    timeout: Option<u64>,
    at: Option<i64>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    headers: Option<Pairs>,
    labels: Option<Texts>,
    secret: Option<Texts>,
}

impl PlainJob<'_> {
    fn into_input(self) -> Option<JobInput> {
        // A string is sent as text, anything else as its JSON (as `JobReader::payload`).
        let payload = match self.payload {
            None => None,
            Some(raw) if raw.get().starts_with('"') => {
                Some(Payload::Text(serde_json::from_str(raw.get()).ok()?))
            }
            Some(raw) => Some(Payload::Json(raw.get().as_bytes().to_vec())),
        };
        Some(JobInput {
            url: self.url,
            cron: self.cron,
            tz: self.tz,
            missed: self.missed,
            method: self.method,
            content_type: self.content_type,
            idempotency_key: self.idempotency_key,
            name: self.name,
            on_success_url: self.on_success_url,
            on_failure_url: self.on_failure_url,
            profile: self.profile,
            after_ms: self.after,
            timeout_ms: self.timeout,
            at_ms: self.at,
            payload,
            headers: self.headers.map(|p| p.0).unwrap_or_default(),
            labels: self.labels.map(Texts::into_vec).unwrap_or_default(),
            secrets: self.secret.map(Texts::into_vec).unwrap_or_default(),
            ..JobInput::default()
        })
    }
}

/// `labels` and `secret`: one string or an array of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Texts {
    One(String),
    Many(Vec<String>),
}

impl Texts {
    fn into_vec(self) -> Vec<String> {
        match self {
            Texts::One(s) => vec![s],
            Texts::Many(v) => v,
        }
    }
}

/// Headers: an object of names to values, in its key order.
struct Pairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of header names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(InOrder)
    }
}
