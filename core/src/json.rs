//! JSON text exactly as JavaScript's `JSON.stringify` writes it: compact, keys in the order they
//! were given, strings escaped as it escapes them, and numbers in its notation (`1e+21`, `5` for
//! `5.0`, `100000000000000000000` for `1e20`). A receiver that parses a body and serialises it
//! again with `JSON.stringify` before checking its signature (as the Runlater.eu and A1Cron docs
//! do) then gets the bytes that were signed.
//!
//! Two differences cannot be helped: JavaScript lists integer-like object keys (`"1"`, `"42"`)
//! first, in ascending order, whatever order the text had; and integers beyond 2^53 lose digits
//! in a JavaScript number. Keep both out of payloads that are checked this way. A whole float is
//! written without a fraction (`5`), as JavaScript writes it: a Python receiver reads it back as
//! an `int`.

use std::io;

use serde::Serialize;

/// The JSON text of `value`, as `JSON.stringify` would write it.
///
/// # Errors
/// What `serde_json` refuses (a map with keys that are not strings, a failing `Serialize`).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JsFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// `v` as JavaScript's `Number.prototype.toString` writes it (and so `JSON.stringify`, which
/// writes `null` for NaN and the infinities).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "null".to_owned();
    }
    if v == 0.0 {
        // -0 too.
        return "0".to_owned();
    }
    js_notation(&format!("{:e}", v.abs()), v < 0.0)
}

/// A float of 32 bits, with its own shortest digits (what a parser reads back as the same `f32`).
fn number_f32(v: f32) -> String {
    if !v.is_finite() {
        return "null".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    js_notation(&format!("{:e}", v.abs()), v < 0.0)
}

/// Rewrites Rust's shortest exponential form (`1.2345e20`) in ECMAScript's notation
/// (Number::toString, ECMA-262 §6.1.6.1.20).
fn js_notation(exponential: &str, negative: bool) -> String {
    let (mantissa, exponent) = exponential
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().expect("{:e} writes a decimal exponent");
    let k = i32::try_from(digits.len()).expect("at most 17 digits");
    // The decimal point comes after the first `n` digits.
    let n = exponent + 1;
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

/// serde_json's compact output with JavaScript's number notation. Its strings are escaped as
/// `JSON.stringify` escapes them already (`\"`, `\\`, `\b\f\n\r\t`, `\u00XX` in lower-case hex
/// for the other control characters; `/` and non-ASCII text as they are).
struct JsFormatter;

impl serde_json::ser::Formatter for JsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(number(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(number_f32(value).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `String(x)` gives in Node for each, checked by hand against Node 20.
    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        for (v, js) in [
            (0.1, "0.1"),
            (5.0, "5"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1e-7"),
            (0.000_001, "0.000001"),
            (0.000_001_5, "0.0000015"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (123.456, "123.456"),
            (1e100, "1e+100"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(number(v), js, "{v:e}");
        }
        assert_eq!(number_f32(0.1), "0.1");
    }

    #[test]
    fn values_are_compact_in_the_given_order_with_strings_escaped_as_javascript_does() {
        let value = serde_json::json!({
            "z": 1e21,
            "a": [0.1, 5.0, -0.0, "é/😀\u{1f}\u{7f}\"\\\n", null, true],
            "m": {"y": 2, "b": 1},
        });
        assert_eq!(
            String::from_utf8(to_vec(&value).unwrap()).unwrap(),
            r#"{"z":1e+21,"a":[0.1,5,0,"é/😀\u001f\u007f\"\\\n",null,true],"m":{"y":2,"b":1}}"#
                .replace("\\u007f", "\u{7f}")
        );
    }
}
