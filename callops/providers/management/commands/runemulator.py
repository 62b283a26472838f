"""`manage.py runemulator <provider> [options]`: serve one provider emulator with scripted faults.

Examples::

    manage.py runemulator polyai --port 8101 --api-key k --speed 20 --expiry-seconds 600 --status-style upper
    manage.py runemulator bolna --port 8102 --callback-url http://127.0.0.1:8000/callbacks/bolna/<token>/ \
        --p429 0.05 --retry-after 2 --p500 0.02 --p-duplicate 0.2 --p-reorder 0.2
    manage.py runemulator trillet --port 8103 --workspace-id ws_demo --secret whsec_x --script +14155550123=failed
    manage.py runemulator dograh --port 8104 --trigger 11111111-2222-3333-4444-555555555555=42 --first-run-id 42

`--list-outcomes` prints the scripted outcomes a destination number can be given with `--script`.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from callops.providers.emulators import KINDS, emulator_class
from callops.providers.emulators.core import Faults

# Options that only make sense for one provider, and the emulator argument each sets.
ONLY_FOR = {"expiry_seconds": "polyai", "status_style": "polyai", "workspace_id": "trillet",
            "trigger": "dograh", "workflow": "dograh", "webhook_auth": "dograh", "first_run_id": "dograh",
            "quota_exceeded": "dograh", "variant": "polyai", "environment": "polyai",
            "callback_style": "trillet", "push_id": "bolna",
            "api": "callingbox", "echo_webhook_url": "callingbox"}


def _probability(value: str) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:
        raise ValueError("a probability between 0 and 1")
    return p


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise CommandError(f"{what} must look like KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


class Command(BaseCommand):
    help = ("Run a local emulator of a voice-AI provider's API (demos, manual tests, benchmarks), with "
            "scriptable faults: latency, 429 with Retry-After, 5xx, timeouts, duplicated and reordered callbacks.")

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=KINDS)
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--callback-url", default="",
                            help="where callbacks go when a call carries none (Bolna agent webhook, Dograh node)")
        parser.add_argument("--api-key", default="test-key")
        parser.add_argument("--secret", default="", help="callback signing secret (CallingBox, Trillet)")
        parser.add_argument("--speed", type=float, default=1.0,
                            help="time compression of call timelines (50 plays a 50 s call in 1 s)")
        parser.add_argument("--spread", action="store_true", help="pick outcomes from the number's last digits")
        parser.add_argument("--script", action="append", metavar="NUMBER=OUTCOME",
                            help="calls to NUMBER follow OUTCOME (repeatable; see --list-outcomes)")
        parser.add_argument("--list-outcomes", action="store_true", help="print the outcomes and exit")
        faults = parser.add_argument_group("faults (random ones are seeded: a run is reproducible)")
        faults.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
        faults.add_argument("--p500", type=_probability, default=0.0, help="share of creates/reads answered 500")
        faults.add_argument("--p429", type=_probability, default=0.0, help="share of creates/reads answered 429")
        faults.add_argument("--retry-after", type=float, default=1.0,
                            help="seconds in a 429's Retry-After (Trillet: its body's reset_at)")
        faults.add_argument("--retry-after-on-5xx", action="store_true", help="send Retry-After with 500s too")
        faults.add_argument("--rate-limit", type=int, default=0,
                            help="answer 429 past this many creates/reads per minute (0 = no limit)")
        faults.add_argument("--ptimeout", type=_probability, default=0.0,
                            help="share of reads that stall past the client's timeout")
        faults.add_argument("--timeout-sleep", type=float, default=1.5, help="how long a timed-out request stalls")
        faults.add_argument("--timeout-on-create", action="store_true",
                            help="let timeouts hit creates too (the call may then exist: the caller cannot know)")
        faults.add_argument("--p-duplicate", type=_probability, default=0.0,
                            help="share of callbacks delivered twice")
        faults.add_argument("--p-reorder", type=_probability, default=0.0,
                            help="share of callbacks held back so later ones overtake them")
        faults.add_argument("--reorder-delay", type=float, default=0.3, help="how long a held-back callback waits")
        faults.add_argument("--seed", type=int, default=7)
        faults.add_argument("--batch-concurrency", type=int, default=0,
                            help="provider batches dial this many calls at a time (0 = all at once)")
        faults.add_argument("--batch-wave-seconds", type=float, default=60.0,
                            help="provider seconds between batch waves")
        kind = parser.add_argument_group("provider-specific")
        kind.add_argument("--expiry-seconds", type=float, help="PolyAI: status 404s this long after the end "
                          "(provider time; default 7200)")
        kind.add_argument("--status-style", choices=["v1", "upper", "legacy"],
                          help="PolyAI: queued/calling/success/failure, QUEUED/CALLING/…, or legacy words")
        kind.add_argument("--variant", choices=["outbound", "agents", "connector"],
                          help="PolyAI: the API the account was issued (default outbound)")
        kind.add_argument("--environment", choices=["sandbox", "pre-release", "live"],
                          help="PolyAI Agents API: the environment its agent is deployed to (default live)")
        kind.add_argument("--workspace-id", help="Trillet: the x-workspace-id to require (default ws_test)")
        kind.add_argument("--callback-style", choices=["event", "job"],
                          help="Trillet: signed {event, data} callbacks, or the unsigned flat job object")
        kind.add_argument("--push-id", choices=["id", "execution_id"],
                          help="Bolna: pushes name the execution `id` (execution object) or `execution_id`")
        kind.add_argument("--trigger", action="append", metavar="UUID=WORKFLOW_ID",
                          help="Dograh: an API-trigger uuid and the workflow id it runs (repeatable)")
        kind.add_argument("--workflow", action="append", metavar="UUID=WORKFLOW_ID",
                          help="Dograh: an agent (workflow) uuid and its workflow id (repeatable)")
        kind.add_argument("--webhook-auth", metavar="HEADER=VALUE",
                          help="Dograh: the auth header the webhook node sends, e.g. 'Authorization=Bearer s3cr3t'")
        kind.add_argument("--first-run-id", type=int, help="Dograh: first workflow run id (default 1001)")
        kind.add_argument("--quota-exceeded", action="store_true", help="Dograh: triggers answer 402 QUOTA_EXCEEDED")
        kind.add_argument("--api", choices=["both", "prompt", "agent"],
                          help="CallingBox: the create the account takes (default both; prompt = the SDK's fields only)")
        kind.add_argument("--echo-webhook-url", choices=["full", "path", "none"],
                          help="CallingBox: how call objects echo webhook_url (default full)")

    def handle(self, *args, **opts):
        provider = opts["provider"]
        cls = emulator_class(provider)
        if opts["list_outcomes"]:
            for name, outcome in sorted(cls.outcomes.items()):
                steps = " → ".join(f"{raw}@{at:g}s" for at, raw in outcome.steps)
                self.stdout.write(f"{name:16} ends {outcome.final or 'never'}: {steps}")
            return
        specific = {}
        for name, kind in ONLY_FOR.items():
            value = opts.get(name)
            if value in (None, False, []):
                continue
            if kind != provider:
                raise CommandError(f"--{name.replace('_', '-')} applies to {kind} only")
            specific[name] = value
        if "trigger" in specific or "workflow" in specific:
            for key in ("trigger", "workflow"):
                if key in specific:
                    try:
                        specific[key + "s"] = {k: int(v) for k, v in _pairs(specific.pop(key), f"--{key}").items()}
                    except ValueError:
                        raise CommandError(f"--{key} needs an integer workflow id") from None
        if "webhook_auth" in specific:
            specific["webhook_auth"] = _pairs([specific["webhook_auth"]], "--webhook-auth")
        scripts = _pairs(opts["script"], "--script")
        unknown = sorted(set(scripts.values()) - set(cls.outcomes))
        if unknown:
            raise CommandError(f"unknown outcome(s) {', '.join(unknown)}; choose from {', '.join(sorted(cls.outcomes))}")
        faults = Faults(p500=opts["p500"], p429=opts["p429"], ptimeout=opts["ptimeout"], latency=opts["latency"],
                        retry_after=opts["retry_after"], retry_after_on_5xx=opts["retry_after_on_5xx"],
                        timeout_sleep=opts["timeout_sleep"], timeout_on_create=opts["timeout_on_create"],
                        p_duplicate_callback=opts["p_duplicate"], p_reorder_callback=opts["p_reorder"],
                        reorder_delay=opts["reorder_delay"], seed=opts["seed"])
        try:
            emu = cls(port=opts["port"], speed=opts["speed"], faults=faults, callback_url=opts["callback_url"],
                      api_key=opts["api_key"], secret=opts["secret"], spread_outcomes=opts["spread"],
                      rate_limit_per_minute=opts["rate_limit"], batch_concurrency=opts["batch_concurrency"],
                      batch_wave_seconds=opts["batch_wave_seconds"], **specific)
        except OSError as exc:
            raise CommandError(f"cannot listen on port {opts['port']}: {exc}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for number, outcome in scripts.items():
            emu.script(number, outcome)
        emu.start()
        self.stdout.write(f"{provider} emulator on {emu.url} (api key {opts['api_key']!r}); Ctrl-C stops")
        self.stdout.flush()  # a pipe is block-buffered without PYTHONUNBUFFERED; callers wait for this line
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            emu.stop()
