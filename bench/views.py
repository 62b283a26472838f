"""The views the benchmarks measure the API beside: bare Django JSON views (no auth, no database)
and the floor of any call-creating POST.

They are not part of the product: only the benchmarks' own web server routes them (bench/urls.py,
through bench/settings.py).
"""

import json
import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from callops.accounts.services import authenticate_api_key
from callops.calls.models import Call
from callops.calls.validation import validate_call_input


@csrf_exempt
def baseline(request):
    return JsonResponse({"ok": True, "echo": json.loads(request.body or b"{}")}, status=201)


@csrf_exempt
def bare(request, call_id: str | None = None):
    """The load scenario's stand-in for POST /v1/calls, GET /v1/calls/{id} and GET /v1/calls: the
    same methods, bodies and query strings through the same middleware, answered from memory. A
    POST reads its JSON body and answers 201 with a fresh id, which the mix then reads."""
    if request.method == "POST":
        json.loads(request.body or b"{}")
        return JsonResponse({"id": str(uuid.uuid4()), "status": "queued"}, status=201)
    if call_id is not None:
        return JsonResponse({"id": call_id, "status": "queued"})
    return JsonResponse({"data": [], "has_more": False, "limit": int(request.GET.get("limit", 20))})


@csrf_exempt
def create_floor(request):
    """The least a call-creating POST can do, for the API benchmark to measure beside the real one:
    authenticate the key (the API's own check), validate the body (the API's validator),
    write the call row with one autocommitted INSERT and answer its id. No timeline line, no
    webhook event, no provider placement, no idempotency record: not a way to create calls, only
    the ceiling any implementation of POST /v1/calls stays under on the same server."""
    key = authenticate_api_key(request.headers.get("Authorization", "").partition(" ")[2])
    if key is None:
        return JsonResponse({"error": "invalid API key"}, status=401)
    clean = validate_call_input(key.organization, json.loads(request.body))
    account = clean.agent.provider_account
    call = Call.objects.create(organization_id=key.organization_id, agent=clean.agent, to_number=clean.to_number,
                               metadata=clean.metadata, provider=account.kind, provider_account=account)
    return JsonResponse({"id": str(call.public_id), "status": call.status}, status=201)
