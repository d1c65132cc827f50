"""A Flask endpoint that accepts timehook's webhooks only when the signature checks out.

TIMEHOOK_SECRET=whsec_... flask --app flask_receiver run
"""

import os

from flask import Flask, abort, request

import timehook

app = Flask(__name__)
verifier = timehook.Verifier(os.environ["TIMEHOOK_SECRET"])
seen: dict = {}  # webhook-id -> payload; use your database in a real app


@app.post("/webhooks/timehook")
def timehook_webhook():
    body = request.get_data()  # the raw bytes, before any JSON parsing
    try:
        verifier.verify(body, request.headers)
    except timehook.VerificationError as e:
        abort(400, e.code)
    # Retries carry the same webhook-id: handle each one once.
    seen.setdefault(request.headers["webhook-id"], request.get_json())
    return "", 204
