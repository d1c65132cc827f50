"""The shared signing corpus ``tests/vectors/signatures.json``, every case, through the Python
API (the same file is run by the Rust, Node and WASM tests)."""

from __future__ import annotations

import base64
import json

import pytest
from support import REPO

import timehook
from timehook.signing import Scheme, Signer, normalize_public_key, normalize_secret, public_key

CORPUS = json.loads((REPO / "tests" / "vectors" / "signatures.json").read_text())
CASES = CORPUS["cases"]
KEY_CASES = CORPUS["key_cases"]


def scheme(case: dict) -> Scheme:
    kind = case["scheme"]
    if kind == "standard":
        return Scheme.standard()
    if kind == "hex_body":
        return Scheme.hex_body(case["header"], prefix=case["prefix"])
    if kind == "timestamped_hex":
        return Scheme.timestamped_hex(case["header"], timestamp_header=case.get("timestamp_header"))
    raise AssertionError(f"{case['id']}: unknown scheme {kind}")


def body(case: dict) -> bytes:
    if "body" in case:
        return case["body"].encode()
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    recipe = case["body_recipe"]
    return (recipe["repeat"] * recipe["count"]).encode()


def test_the_corpus_is_the_expected_one():
    assert CORPUS["version"] == 1
    assert len(CASES) >= 50 and len(KEY_CASES) >= 20
    assert {c["expect"] for c in CASES} - {"ok"} <= timehook.errors.VERIFICATION_CODES


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_verify_case(case):
    kwargs = {"scheme": scheme(case)}
    if "tolerance" in case:
        kwargs["tolerance"] = case["tolerance"]
    verifier = timehook.Verifier(case["secrets"], **kwargs)
    # Headers exactly as sent, as a list of pairs (names in their original case).
    headers = [tuple(pair) for pair in case["headers"]]
    data = body(case)

    def run() -> None:
        if case["now"] is None:
            verifier.verify_ignoring_timestamp(data, headers)
        else:
            verifier.verify(data, headers, now=case["now"])

    if case["expect"] == "ok":
        run()
        return
    with pytest.raises(timehook.VerificationError) as e:
        run()
    assert e.value.code == case["expect"], str(e.value)
    if "error_header" in case:
        assert e.value.header == case["error_header"]


SIGN_CASES = [c for c in CASES if "sign" in c]


@pytest.mark.parametrize("case", SIGN_CASES, ids=[c["id"] for c in SIGN_CASES])
def test_sign_case(case):
    sign = case["sign"]
    signer = Signer(sign["keys"], scheme=scheme(case))
    data = body(case)
    got = signer.sign(sign["msg_id"], sign["timestamp"], data)
    assert got == sign["expect_signature"]
    if "expect_headers" in sign:
        expected = [tuple(p) for p in sign["expect_headers"]]
        assert signer.headers(sign["msg_id"], sign["timestamp"], data) == expected


@pytest.mark.parametrize("case", KEY_CASES, ids=[c["id"] for c in KEY_CASES])
def test_key_case(case):
    kind, text, expect = case["kind"], case["input"], case["expect"]

    def parse() -> tuple:
        """(canonical form, public key) of the input, by kind."""
        if kind == "secret":
            return normalize_secret(text), None
        if kind == "signing_key":
            return None, public_key(text)
        if kind == "verifying_key":
            return None, normalize_public_key(text)
        if kind == "raw":
            # Raw secrets are the keys of the compatibility schemes.
            timehook.Verifier(text, scheme=Scheme.github())
            return None, None
        raise AssertionError(f"{case['id']}: unknown kind {kind}")

    if expect != "ok":
        with pytest.raises(timehook.ConfigError) as e:
            parse()
        assert e.value.code == expect
        # A key is never echoed back in the message.
        if len(text) >= 8:
            assert text not in str(e.value)
        return
    canonical, public = parse()
    if "expect_canonical" in case:
        assert canonical == case["expect_canonical"]
    if "expect_public" in case:
        assert public == case["expect_public"]
