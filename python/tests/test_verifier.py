"""``timehook.Verifier`` with every kind of header object and body, and interop with the PyPI
``standardwebhooks`` and ``svix`` packages in both directions."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import pytest
import standardwebhooks
import svix.webhooks
from support import OTHER_SECRET, SECRET

import timehook
from timehook.signing import Signer

BODY = b'{"event": "trial.ended", "account": 42}'
TS = 1_700_000_000
MSG = "msg_2Qe6yW8gPlpJx1a"


def signed_headers(secret: str = SECRET, ts: int = TS) -> dict:
    return dict(Signer(secret).headers(MSG, ts, BODY))


def test_every_header_object_is_accepted():
    from django.http.request import HttpHeaders
    from starlette.datastructures import Headers as StarletteHeaders
    from werkzeug.datastructures import EnvironHeaders
    from werkzeug.datastructures import Headers as WerkzeugHeaders

    h = signed_headers()
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in h.items()}
    environ["wsgi.input"] = object()  # non-header entries are ignored
    variants = {
        "dict": h,
        "upper-case dict": {k.upper(): v for k, v in h.items()},
        "list of pairs": list(h.items()),
        "bytes pairs (ASGI raw)": [(k.encode(), v.encode()) for k, v in h.items()],
        "dict of lists": {k: [v] for k, v in h.items()},
        "werkzeug Headers": WerkzeugHeaders(h),
        "werkzeug EnvironHeaders (Flask request.headers)": EnvironHeaders(environ),
        "starlette Headers (FastAPI request.headers)": StarletteHeaders(headers=h),
        "django HttpHeaders (request.headers)": HttpHeaders(environ),
        "WSGI environ / django request.META": environ,
    }
    v = timehook.Verifier(SECRET)
    for label, headers in variants.items():
        v.verify(BODY, headers, now=TS)  # raises on failure
        with pytest.raises(timehook.VerificationError) as e:
            v.verify(BODY + b"x", headers, now=TS)
        assert e.value.code == "no_matching_signature", label


def test_bodies_may_be_bytes_str_bytearray_or_memoryview():
    v = timehook.Verifier(SECRET)
    h = signed_headers()
    for data in (BODY, BODY.decode(), bytearray(BODY), memoryview(BODY)):
        v.verify(data, h, now=TS)
    with pytest.raises(TypeError, match="body"):
        v.verify({"event": "trial.ended"}, h, now=TS)  # a parsed body cannot be verified
    with pytest.raises(TypeError, match="headers"):
        v.verify(BODY, 42, now=TS)


def test_timestamps_and_tolerance():
    v = timehook.Verifier(SECRET)
    h = signed_headers()
    v.verify(BODY, h, now=TS + 300)
    v.verify(BODY, h, now=datetime.fromtimestamp(TS - 300, tz=timezone.utc))
    for now, code in ((TS + 301, "timestamp_too_old"), (TS - 301, "timestamp_too_new")):
        with pytest.raises(timehook.VerificationError) as e:
            v.verify(BODY, h, now=now)
        assert e.value.code == code
    v.verify_ignoring_timestamp(BODY, h)
    strict = timehook.Verifier(SECRET, tolerance=timedelta(seconds=5))
    assert strict.tolerance == 5
    with pytest.raises(timehook.VerificationError):
        strict.verify(BODY, h, now=TS + 6)
    with pytest.raises(ValueError, match="naive"):
        v.verify(BODY, h, now=datetime(2030, 1, 1))
    # Without now, the current time is used: a fresh signature passes, an old one does not.
    v.verify(BODY, dict(Signer(SECRET).headers(MSG, int(datetime.now().timestamp()), BODY)))
    with pytest.raises(timehook.VerificationError, match="too old"):
        v.verify(BODY, h)


def test_rotation_accepts_any_of_several_secrets():
    v = timehook.Verifier([OTHER_SECRET, SECRET])
    v.verify(BODY, signed_headers(SECRET), now=TS)
    v.verify(BODY, signed_headers(OTHER_SECRET), now=TS)
    with pytest.raises(timehook.VerificationError):
        timehook.Verifier(OTHER_SECRET).verify(BODY, signed_headers(SECRET), now=TS)


def test_errors_carry_codes_and_headers_and_pickle():
    v = timehook.Verifier(SECRET)
    with pytest.raises(timehook.VerificationError) as e:
        v.verify(BODY, {"webhook-id": MSG, "webhook-timestamp": str(TS)}, now=TS)
    err = e.value
    assert (err.code, err.header) == ("missing_header", "webhook-signature")
    assert isinstance(err, timehook.TimehookError)
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), again.code, again.header, str(again)) == (
        type(err),
        err.code,
        err.header,
        str(err),
    )


def test_bad_secrets_are_config_errors_without_the_secret():
    with pytest.raises(timehook.ConfigError) as e:
        timehook.Verifier("whsec_definitely-not-base64!")
    assert e.value.code == "invalid_secret"
    assert "definitely" not in str(e.value)
    with pytest.raises(timehook.ConfigError) as e:
        timehook.Verifier([])
    assert e.value.code == "no_keys"
    with pytest.raises(timehook.ConfigError) as e:
        timehook.Verifier(SECRET, scheme="gitlab")
    assert e.value.code == "invalid_scheme" and "gitlab" in str(e.value)
    assert SECRET not in repr(timehook.Verifier(SECRET))


def test_messages_signed_by_standardwebhooks_and_svix_verify():
    now = datetime.now(timezone.utc)
    ts = int(now.timestamp())
    data = BODY.decode()
    for lib in (standardwebhooks.Webhook(SECRET), svix.webhooks.Webhook(SECRET)):
        signature = lib.sign(MSG, now, data)
        headers = {"webhook-id": MSG, "webhook-timestamp": str(ts), "webhook-signature": signature}
        timehook.Verifier(SECRET).verify(BODY, headers, now=ts)
        svix_names = {
            "svix-id": MSG,
            "svix-timestamp": str(ts),
            "svix-signature": signature,
        }
        timehook.Verifier(SECRET).verify(BODY, svix_names, now=ts)


def test_messages_signed_by_timehook_verify_with_standardwebhooks_and_svix():
    now = int(datetime.now(timezone.utc).timestamp())
    headers = dict(Signer([SECRET, OTHER_SECRET]).headers(MSG, now, BODY))
    assert headers["webhook-signature"].count("v1,") == 2  # one signature per secret
    for secret in (SECRET, OTHER_SECRET):
        assert standardwebhooks.Webhook(secret).verify(BODY, headers) == {
            "event": "trial.ended",
            "account": 42,
        }
        svix.webhooks.Webhook(secret).verify(BODY, headers)


def test_ed25519_keys_sign_v1a():
    sk = timehook.signing.generate_signing_key()
    pk = timehook.signing.public_key(sk)
    headers = Signer(sk).headers(MSG, TS, BODY)
    assert dict(headers)["webhook-signature"].startswith("v1a,")
    timehook.Verifier(pk).verify(BODY, headers, now=TS)
    with pytest.raises(timehook.ConfigError):
        timehook.Verifier(sk)  # a private key is refused by a verifier


def test_compatibility_schemes():
    github = Signer("It's a Secret", scheme=timehook.Scheme.github())
    headers = github.headers("", TS, BODY)
    timehook.Verifier("It's a Secret", scheme="github").verify(BODY, headers)
    stripe = timehook.Scheme.stripe()
    assert stripe == timehook.Scheme.stripe() and stripe.name == "timestamped_hex"
    headers = Signer("whsec_test", scheme=stripe).headers("", TS, BODY)
    timehook.Verifier("whsec_test", scheme=stripe).verify(BODY, headers, now=TS)
