"""A FastAPI endpoint that accepts timehook's webhooks only when the signature checks out.

TIMEHOOK_SECRET=whsec_... uvicorn fastapi_receiver:app
"""

import json
import os

from fastapi import FastAPI, HTTPException, Request, Response

import timehook

app = FastAPI()
verifier = timehook.Verifier(os.environ["TIMEHOOK_SECRET"])
seen: dict = {}  # webhook-id -> payload; use your database in a real app


@app.post("/webhooks/timehook", status_code=204)
async def timehook_webhook(request: Request) -> Response:
    body = await request.body()  # the raw bytes, before any JSON parsing
    try:
        verifier.verify(body, request.headers)
    except timehook.VerificationError as e:
        raise HTTPException(status_code=400, detail=e.code) from e
    # Retries carry the same webhook-id: handle each one once.
    seen.setdefault(request.headers["webhook-id"], json.loads(body))
    return Response(status_code=204)
