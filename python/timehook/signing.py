"""Signing and key helpers (``timehook.Verifier`` and ``timehook.Scheme`` are at the top level).

- :class:`Signer` signs messages the way the scheduler signs deliveries, to test a receiver.
- :func:`generate_secret` makes a ``whsec_`` HMAC secret; :func:`generate_signing_key` a
  ``whsk_`` ed25519 key, whose ``whpk_`` public key :func:`public_key` gives.
- :func:`normalize_secret` and :func:`normalize_public_key` check a key and return its
  canonical form (they raise :class:`timehook.ConfigError` with code ``invalid_secret``).
"""

from __future__ import annotations

from ._native import (
    Scheme,
    Signer,
    Verifier,
    generate_secret,
    generate_signing_key,
    normalize_public_key,
    normalize_secret,
    public_key,
)

__all__ = [
    "Scheme",
    "Signer",
    "Verifier",
    "generate_secret",
    "generate_signing_key",
    "normalize_public_key",
    "normalize_secret",
    "public_key",
]
