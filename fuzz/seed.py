#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ (gitignored).

The signing targets (verify, keys, signing_json, and the signing part of job_spec) are seeded from
tests/vectors/signatures.json, so a case added there reaches the fuzzer too. The vectors hold no
cron expressions, Retry-After values or URLs; those targets get the small hand-picked lists below
(daylight-saving edges, every croner extension, both HTTP date forms, SSRF-guarded addresses).

Usage: python3 fuzz/seed.py   (from anywhere; re-running rewrites the same files)
"""

import base64
import hashlib
import json
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "tests" / "vectors" / "signatures.json"
CORPUS = FUZZ / "corpus"
# Larger vector bodies (the 256 KiB and 1 MiB cases) are left out: libFuzzer's default input
# size limit follows the largest seed, and big inputs only slow every run down.
MAX_SEED_BYTES = 4096


def write(target, data):
    """Stores one seed, named by its hash so that re-running is idempotent."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED_BYTES:
        return
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def body_of(case):
    if "body" in case:
        return case["body"].encode()
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    recipe = case["body_recipe"]
    return (recipe["repeat"] * recipe["count"]).encode()


def scheme_words(case):
    """The `scheme` directive of the fuzz inputs (fuzz/src/lib.rs `scheme`)."""
    if case["scheme"] == "hex_body":
        return f"hex_body {case['header']}" + (" prefix" if case.get("prefix") else "")
    if case["scheme"] == "timestamped_hex":
        ts = case.get("timestamp_header")
        return f"timestamped_hex {case['header']}" + (f" {ts}" if ts else "")
    return "standard"


def stored_json(case, secrets):
    """The signing settings as JobSigning::to_db writes them (serde_json sorts the keys)."""
    scheme = case["scheme"]
    return json.dumps(
        {
            "scheme": scheme,
            "header": case.get("header") if scheme != "standard" else None,
            "prefix": bool(case.get("prefix")) if scheme == "hex_body" else False,
            "timestamp_header": case.get("timestamp_header") if scheme == "timestamped_hex" else None,
            "secrets": secrets,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def vector_seeds(vectors):
    key_texts = set()
    for case in vectors["cases"]:
        try:
            body = body_of(case)
        except KeyError:
            continue
        scheme = scheme_words(case)
        head = [f"scheme {scheme}"]
        if case.get("now") is not None:
            head.append(f"now {case['now']}")
        if case.get("tolerance") is not None:
            head.append(f"tolerance {case['tolerance']}")
        headers = "".join(f"{name}: {value}\n" for name, value in case.get("headers", []))
        sign_keys = case.get("sign", {}).get("keys", [])
        for keys in (case["secrets"], sign_keys):
            if keys:
                directives = "\n".join(head + [f"key {k}" for k in keys])
                write("verify", directives.encode() + b"\n\n" + headers.encode() + b"\n" + body)
        key_texts.update(case["secrets"])
        key_texts.update(sign_keys)

        write("signing_json", stored_json(case, case["secrets"]))
        write("signing_json", "\n".join([f"scheme {scheme}"] + [f"secret {s}" for s in case["secrets"]]))

        if len(body) <= 512 and b"\n" not in body:
            spec = ["url https://example.com/hook", f"body {body.decode('utf-8', 'replace')}"]
            spec += [f"header {name}: {value}" for name, value in case.get("headers", [])[:2]]
            if case["scheme"] != "standard":
                spec.append(f"signing {scheme}")
                spec += [f"secret {s}" for s in case["secrets"]]
            write("job_spec", "\n".join(spec))
    for case in vectors["key_cases"]:
        key_texts.add(case["input"])
    for text in key_texts:
        write("keys", text)


# Zones with the odd cases: DST in the US and EU, a half-hour DST shift (Lord Howe), a 45-minute
# offset (Chatham), negative DST (Dublin), DST that pauses for Ramadan (Casablanca), a skipped
# day (Apia, 2011-12-30), no DST (Kolkata).
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "Pacific/Apia",
    "Asia/Kolkata",
    "America/St_Johns",
]
EXPRESSIONS = [
    "30 2 * * *",
    "30 1,13 * * *",
    "0 * * * *",
    "*/15 * * * * *",
    "*/7 */3 * * *",
    "0 0 29 2 *",
    "0 0 L * *",
    "0 0 * * 5L",
    "0 0 1W * *",
    "0 0 * * 1#2",
    "0 12 13 * +5",
    "0 9-17 * * MON-FRI",
    "@hourly",
    "@midnight",
    "@yearly",
]
# Instants near clock changes: New York springs forward and falls back in 2025, Apia skips a day.
STARTS = [1741435200, 1741500000, 1762059600, 1762063200, 1325152800, 0, 32503680000]
POLICIES = ["once", "skip", "catchup 5"]


def cron_seeds():
    for i, expr in enumerate(EXPRESSIONS):
        for j, zone in enumerate(ZONES):
            if (i + j) % 3:
                continue
            start = STARTS[(i + j) % len(STARTS)]
            behind = [0, 59, 3600, 90000, 172800][(i * j) % 5]
            policy = POLICIES[(i + 2 * j) % len(POLICIES)]
            write("cron", f"{zone}\n{expr}\n{start}\n{behind}\n{policy}\n{[0, 60, 3600][j % 3]}")


RETRY_AFTER = [
    "120",
    "0",
    " 3600 ",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "1.5",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "Sun, 06 Dec 2026 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
]

JOB_SPECS = [
    "url https://example.com/hook\nbody {}\ncontent_type application/json\nname n\nlabel a\nlabel b",
    "url https://example.com/hook\ncron 30 2 * * *\ntz America/New_York\nmissed catchup 3",
    "url https://example.com/hook\ncron @hourly\nretry svix\nattempts 4",
    "url https://example.com/hook\nat 1796515260\ntimeout 5000\nidempotency_key k1",
    "url https://example.com/hook\nafter 3600000\non_success https://example.com/ok\non_failure https://example.com/fail",
    "url http://127.0.0.1:8080/hook",
    "url http://[::1]/hook",
    "url http://169.254.169.254/latest/meta-data",
    "url https://user:pass@example.com:8443/a/../b?q=1#frag",
    "url ftp://example.com/file",
    "url https://example.com/hook\nheader X-Custom: value\nheader content-type: text/plain\ncontent_type text/plain",
    "url https://example.com/hook\nheader webhook-id: mine",
    "url https://example.com/hook\nheader Bad Name: v",
    "url https://example.com/hook\nsigning hex_body X-Hub-Signature-256 prefix\nsecret It's a Secret to Everybody",
    "url https://example.com/hook\nsigning standard\nsecret whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    "url https://example.com/hook\nmethod GET\ntz UTC",
]


def main():
    vector_seeds(json.loads(VECTORS.read_text()))
    cron_seeds()
    for value in RETRY_AFTER:
        write("retry_after", value)
    for spec in JOB_SPECS:
        write("job_spec", spec)
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
