"""Provider faults at high rates through all five emulators: 5xx, 429 with Retry-After, read
timeouts, duplicated and reordered callbacks. Every call must end in the emulator's true final
state and no number may be dialed twice. Real gunicorn receives the callbacks; real RQ workers
and the sweeper place and poll."""

from __future__ import annotations

import time
import uuid

from tests.providers.conftest import AGENT_IDS, TRIGGER_UUID, WORKFLOW_UUID

from . import cluster as cl
from .call_runs import SECRET
from .common import Result, submit_calls, wait_terminal

KINDS = ("callingbox", "bolna", "polyai", "trillet", "dograh")


def run(ctx, args) -> Result:
    from callops.accounts import services as accounts
    from callops.calls.models import Agent, Call
    from callops.providers.emulators import emulator_class
    from callops.providers.emulators.core import Faults
    from callops.providers.models import ProviderAccount

    t0 = time.time()
    rates = dict(p500=args.fault_rate, p429=args.fault_rate, ptimeout=args.fault_rate / 4)
    env = cl.base_env(ctx.redis.url, ["127.0.0.1/32"])
    cluster = cl.Cluster(env, workers=args.workers, log_dir=ctx.log_dir)
    emus = {}
    try:
        org = accounts.create_organization(f"Faults-{uuid.uuid4().hex[:6]}")
        agents = {}
        for i, kind in enumerate(KINDS):
            faults = Faults(**rates, retry_after=0.2, retry_after_on_5xx=True, timeout_sleep=1.5,
                            p_duplicate_callback=args.fault_rate * 2, p_reorder_callback=args.fault_rate * 2,
                            reorder_delay=0.3, seed=200 + i)
            kw = {"triggers": {TRIGGER_UUID: 42}, "workflows": {WORKFLOW_UUID: 42}} if kind == "dograh" else {}
            emu = emulator_class(kind)(speed=cl.SPEED, faults=faults, spread_outcomes=True, secret=SECRET, **kw).start()
            emus[kind] = emu
            account = ProviderAccount(organization=org, kind=kind, name=f"{kind} emulator", base_url=emu.url,
                                      rate_limit_per_minute=1_000_000)
            creds = {"api_key": emu.api_key}
            if kind == "trillet":
                creds["workspace_id"] = emu.workspace_id
            account.set_credentials(creds)
            account.set_callback_secret(SECRET if kind in ("callingbox", "trillet") else "")
            account.save()
            agents[kind] = Agent.objects.create(organization=org, provider_account=account, name=kind,
                                                provider_agent_id=AGENT_IDS[kind])
            if kind in ("bolna", "dograh"):  # configured on the provider side, per agent / workflow node
                emu.callback_url = account.callback_url
        numbers = {kind: [f"+1416{6000000 + i * 10 + k:07d}" for i in range(args.fault_calls)]
                   for k, kind in enumerate(KINDS)}
        pks = []
        for kind in KINDS:
            pks += submit_calls(agents[kind], numbers[kind])
        live = wait_terminal(pks, t0 + args.fault_timeout)
        finals = dict(Call.objects.filter(pk__in=pks).values_list("to_number", "status"))
        wrong, twice, examples = 0, 0, []
        for kind in KINDS:
            for n in numbers[kind]:
                if finals.get(n) != emus[kind].expected_final(n):
                    wrong += 1
                    if len(examples) < 5:
                        examples.append(f"{kind} {n}: {finals.get(n)} != {emus[kind].expected_final(n)}")
                twice += emus[kind].creates[n] > 1
        injected = {429: 0, 500: 0, 504: 0}
        for emu in emus.values():
            for (_method, status), c in emu.requests.items():
                if status in injected:
                    injected[status] += c
        counts = {"calls": len(pks), "providers": len(KINDS), "fault rate 5xx/429": args.fault_rate,
                  "injected 500": injected[500], "injected 429": injected[429],
                  "injected timeouts": injected[504], "callbacks sent": sum(len(e.callbacks_sent) for e in
                                                                                      emus.values()),
                  "lost (not terminal)": live, "wrong final state": wrong, "dialed twice+": twice}
        notes = examples + cluster.errors_logged()
        return Result("provider faults", counts, live == 0 and wrong == 0 and twice == 0, notes, time.time() - t0)
    finally:
        cluster.stop()
        for emu in emus.values():
            emu.stop()
