"""A Django view that accepts timehook's webhooks only when the signature checks out.

In a project, the view goes in views.py and the path in urls.py; here everything is in one file:

    TIMEHOOK_SECRET=whsec_... python django_receiver.py runserver
"""

import json
import os
import sys

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import timehook

if not settings.configured:
    settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="example-only")

verifier = timehook.Verifier(os.environ["TIMEHOOK_SECRET"])
seen: dict = {}  # webhook-id -> payload; use your database in a real app


@csrf_exempt  # the signature, not a CSRF token, authenticates the sender
@require_POST
def timehook_webhook(request):
    try:
        verifier.verify(request.body, request.headers)  # request.body: the raw bytes
    except timehook.VerificationError as e:
        return HttpResponseBadRequest(e.code)
    # Retries carry the same webhook-id: handle each one once.
    seen.setdefault(request.headers["webhook-id"], json.loads(request.body))
    return HttpResponse(status=204)


urlpatterns = [path("webhooks/timehook", timehook_webhook)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
