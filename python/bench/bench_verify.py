"""Verifier.verify on a 1 KB body, against standardwebhooks.Webhook.verify, in the same run.

Both check the same Standard Webhooks request (id, timestamp, one v1 signature) against the
current time. standardwebhooks is timed with json_parse=False (the same work: no JSON parsing)
and with its default json_parse=True.
"""

from __future__ import annotations

import time
import timeit

import standardwebhooks

import timehook
from timehook.signing import Signer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REPEATS = 7


def best_ns(stmt, number: int) -> float:
    """Best of REPEATS runs, in nanoseconds per call."""
    return min(timeit.repeat(stmt, number=number, repeat=REPEATS)) / number * 1e9


def main() -> None:
    head = '{"event":"trial.ended","account":42,"pad":"'
    body = (head + "x" * (1024 - len(head) - 2) + '"}').encode()
    assert len(body) == 1024
    headers = dict(Signer(SECRET).headers("msg_2Qe6yW8gPlpJx1a", int(time.time()), body))
    ours = timehook.Verifier(SECRET)
    theirs = standardwebhooks.Webhook(SECRET)
    ours.verify(body, headers)
    theirs.verify(body, headers)

    t_ours = best_ns(lambda: ours.verify(body, headers), 50_000)
    t_raw = best_ns(lambda: theirs.verify(body, headers, json_parse=False), 20_000)
    t_json = best_ns(lambda: theirs.verify(body, headers), 20_000)
    print("verify, 1 KB body, Standard Webhooks headers, best of", REPEATS)
    print(f"  timehook.Verifier.verify                              {t_ours / 1000:8.2f} us")
    print(
        f"  standardwebhooks.Webhook.verify(json_parse=False)     {t_raw / 1000:8.2f} us"
        f"   timehook is {t_raw / t_ours:.1f}x faster"
    )
    print(
        f"  standardwebhooks.Webhook.verify (default, parses JSON){t_json / 1000:8.2f} us"
        f"   timehook is {t_json / t_ours:.1f}x faster"
    )


if __name__ == "__main__":
    main()
