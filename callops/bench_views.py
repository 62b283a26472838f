"""The baseline the API benchmark compares against: a bare Django JSON view, no auth, no DB.

Mounted only when BENCH_BASELINE_VIEW=1 (the benchmark's own gunicorn), never in production.
"""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def baseline(request):
    return JsonResponse({"ok": True, "echo": json.loads(request.body or b"{}")}, status=201)
