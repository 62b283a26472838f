"""A reproducible data set of calls in PostgreSQL, generated in the database with generate_series.

1,000,000 calls by default over the last 90 days with realistic shares of status, provider,
agent, answered_by and error causes; `setseed` makes the random columns the same every run.
Rows are written by one INSERT … SELECT, so generating a million takes seconds, not hours.
"""

from __future__ import annotations

BENCH_ORG = "Bench"
KINDS = ["sandbox", "callingbox", "bolna", "polyai", "trillet", "dograh"]


def bench_agents(org) -> list:
    """An account per provider kind in `org`, two agents on each (made once, then reused)."""
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    agents = []
    for kind in KINDS:
        account, _ = ProviderAccount.objects.get_or_create(organization=org, name=f"{kind} main",
                                                           defaults={"kind": kind})
        for i in range(2):
            agent, _ = Agent.objects.get_or_create(organization=org, name=f"{kind} agent {i}",
                                                   defaults={"provider_account": account})
            agents.append(agent)
    return agents


def ensure(n_calls: int = 1_000_000, seed: float = 0.42) -> dict:
    """Create (once) the bench org, accounts, agents and `n_calls` calls. Returns ids for queries."""
    from django.db import connection, transaction

    from callops.accounts import services as accounts
    from callops.accounts.models import Organization
    from callops.calls.models import Call

    org = Organization.objects.filter(name=BENCH_ORG).first() or accounts.create_organization(BENCH_ORG)
    agents = bench_agents(org)
    have = Call.objects.filter(organization=org).count()
    if 0 < have < n_calls:
        Call.objects.filter(organization=org).delete()  # ids derive from the row number: start over
        have = 0
    if have < n_calls:
        if connection.vendor != "postgresql":
            raise SystemExit("the benchmark data set needs PostgreSQL (set DATABASE_URL)")
        agent_rows = [(a.pk, a.provider_account_id, a.provider_account.kind) for a in agents]
        values = ",".join(f"({i},{pk},{acc},'{kind}')" for i, (pk, acc, kind) in enumerate(agent_rows))
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT setseed(%s)", [seed])
            # Status shares: 55 completed, 15 no_answer, 6 busy, 9 failed, 3 canceled, 12 live/queued (per cent)
            # spread over the newest rows. Error causes follow the failed ones.
            cur.execute(f"""
                WITH agents(idx, agent_id, account_id, kind) AS (VALUES {values}),
                g AS (
                    SELECT s, random() AS r1, random() AS r2, random() AS r3, (random() * {len(agent_rows)})::int
                           %% {len(agent_rows)} AS a
                    FROM generate_series(1, %s) AS s
                )
                INSERT INTO calls_call (
                    public_id, organization_id, agent_id, provider_account_id, provider, attempt, direction,
                    to_number, from_number, status, instructions, context, metadata, returns, result_status,
                    result_error, transcript, recording_url, webhook_url, webhook_status, webhook_error, created_at,
                    updated_at, started_at, answered_at, ended_at, duration_seconds, error_code, error_message,
                    hangup_cause, answered_by, provider_call_id, provider_job_id, provider_status, provider_reason,
                    sync_failures, language, voicemail_action, tools, reservation_status)
                SELECT md5(s::text || '{seed}')::uuid, {org.pk}, agents.agent_id, agents.account_id, agents.kind, 1,
                    'outbound', '+1202555' || lpad((s %% 10000)::text, 4, '0'), '',
                    CASE WHEN r1 < 0.55 THEN 'completed' WHEN r1 < 0.70 THEN 'no_answer' WHEN r1 < 0.76 THEN 'busy'
                         WHEN r1 < 0.85 THEN 'failed' WHEN r1 < 0.88 THEN 'canceled'
                         WHEN r1 < 0.94 THEN 'queued' WHEN r1 < 0.97 THEN 'ringing' ELSE 'in_progress' END,
                    '', '{{}}', '{{}}', '{{}}',
                    CASE WHEN r1 < 0.55 THEN (CASE WHEN r3 < 0.9 THEN 'completed' ELSE 'failed' END) ELSE '' END,
                    '', '[]', '', '', '', '',
                    now() - (s::float / %s) * interval '90 days',
                    now() - (s::float / %s) * interval '90 days',
                    NULL, NULL, NULL, (r2 * 300)::int,
                    CASE WHEN r1 >= 0.76 AND r1 < 0.85 THEN
                        (ARRAY['invalid_number','balance_low','provider_error','status_expired','stale',
                               'rate_limited'])[1 + (r2 * 5)::int] ELSE '' END,
                    '', '', CASE WHEN r1 < 0.55 THEN (CASE WHEN r3 < 0.8 THEN 'human' ELSE 'unknown' END)
                                 WHEN r1 < 0.70 AND r3 < 0.3 THEN 'machine' ELSE '' END,
                    'bench-' || s, '', '', '', 0, '', '', '[]', ''
                FROM g JOIN agents ON agents.idx = g.a
            """, [n_calls - have, n_calls, n_calls])
        # Written without the ORM, so the rollups are counted from the rows afterwards.
        from callops.calls.rollup_reconcile import rebuild

        rebuild(org_id=org.pk)
        with connection.cursor() as cur:
            cur.execute("ANALYZE calls_call")
    return {"org": org, "agents": agents}
