"""The exceptions timehook raises.

Every exception is a :class:`TimehookError` with a stable, machine-readable ``code`` (the same
codes as the Node package). The message says what was wrong and with which value; it never
contains a secret.

=========================  ==========================================  ===========================
class                      codes                                       also a
=========================  ==========================================  ===========================
``InvalidJobError``        invalid_job, payload_too_large, blocked,    ``ValueError``
                           invalid_cron, invalid_timezone
``ConfigError``            invalid_config, invalid_secret, no_keys,    ``ValueError``
                           incompatible_key, invalid_scheme,
                           invalid_msg_id
``ArgumentTypeError``      invalid_config, invalid_scheme (a           ``TypeError``, ``ValueError``
                           ``ConfigError`` for a value of the wrong
                           type)
``NotFoundError``          not_found                                   ``LookupError``
``InvalidStateError``      invalid_state
``StoreError``             store_error
``ClosedError``            closed
``VerificationError``      missing_header, invalid_header,
                           timestamp_too_old, timestamp_too_new,
                           no_matching_signature
``TimehookError``          random_unavailable, internal
=========================  ==========================================  ===========================
"""

from __future__ import annotations

from typing import Optional

from ._native import ERROR_CODES

__all__ = [
    "CODES",
    "VERIFICATION_CODES",
    "ArgumentTypeError",
    "ClosedError",
    "ConfigError",
    "InvalidJobError",
    "InvalidStateError",
    "NotFoundError",
    "StoreError",
    "TimehookError",
    "VerificationError",
]

#: Every error code, as in the Rust bindings crate (shared with Node).
CODES: frozenset[str] = frozenset(ERROR_CODES)

#: The codes of :class:`VerificationError`.
VERIFICATION_CODES: frozenset[str] = frozenset(
    {
        "missing_header",
        "invalid_header",
        "timestamp_too_old",
        "timestamp_too_new",
        "no_matching_signature",
    }
)


class TimehookError(Exception):
    """Base class of every timehook error.

    Attributes:
        code: the stable error code, e.g. ``"invalid_job"``.
        detail: the input at fault (a job field such as ``"url"``, an option, or a header
            name for verification errors), when known.
    """

    code: str
    detail: Optional[str]

    def __init__(self, message: str, code: str = "internal", detail: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail

    def __reduce__(self):  # keep code and detail when pickled (e.g. across processes)
        return (type(self), (self.message, self.code, self.detail))


class VerificationError(TimehookError):
    """A delivery failed verification. ``code`` is one of :data:`VERIFICATION_CODES`."""

    @property
    def header(self) -> Optional[str]:
        """The header the error is about (for missing_header and invalid_header)."""
        return self.detail


class InvalidJobError(TimehookError, ValueError):
    """A job was rejected; nothing was stored."""

    @property
    def field(self) -> Optional[str]:
        """The job field at fault, e.g. ``"url"``, ``"at"``, ``"retry"``."""
        return self.detail


class ConfigError(TimehookError, ValueError):
    """Bad scheduler options, secrets, keys or signature schemes, or a bad argument that is not
    a job field (a verifier's ``tolerance`` or ``now``, a ``ManualClock`` time, ``close``'s
    ``grace``, ...)."""

    @property
    def field(self) -> Optional[str]:
        """The option or argument at fault, e.g. ``"max_concurrency"``, ``"tolerance"``, when
        known."""
        return self.detail


class ArgumentTypeError(ConfigError, TypeError):
    """An argument that is not a job field has the wrong type: a verifier's body or headers, a
    secret list, a scheme, a listener that is not callable, an export destination. Also a
    ``TypeError`` (and, as a :class:`ConfigError`, a ``ValueError``)."""


class NotFoundError(TimehookError, LookupError):
    """No job has this id."""


class InvalidStateError(TimehookError):
    """The job exists, but the action does not apply in its current state."""


class StoreError(TimehookError):
    """The store (the SQLite file or the PostgreSQL database) failed; the operation was not
    applied."""

    @property
    def kind(self) -> Optional[str]:
        """What kind of failure: ``"busy"``, ``"full"``, ``"corrupt"``, ``"connection_lost"``,
        ``"schema_too_new"``, ``"io"`` or ``"other"``."""
        return self.detail


class ClosedError(TimehookError):
    """The scheduler has been closed."""
