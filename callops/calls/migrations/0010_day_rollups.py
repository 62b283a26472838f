"""The daily rollups, filled from the hourly ones (each day's hours added up per tuple).

Processes still running the previous release keep moving calls in the hours only, so their
changes between this migration and their restart miss the days: once every process runs this
release, `manage.py rollups --check` finds any such drift and `--rebuild` repairs it.
"""

from datetime import UTC

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Sum
from django.db.models.functions import TruncDay

# As the two models are at this migration (not imported from the app, whose fields may grow later).
TUPLE = ("provider_account_pk", "provider", "agent_pk", "batch_pk", "routing_profile_pk", "status", "error_code",
         "hangup_cause", "reason_key", "result_status", "extraction_cause", "webhook_status", "currency")
SUMS = ("n", "answered", "timed", "talk_seconds", "billed", "cost_milli_cents", "estimated", "failovers",
        "answer_waited", "answer_wait_seconds", "answered_talk_seconds", *(f"talk_b{i:02d}" for i in range(12)))
CHUNK = 2000


def fill_days(apps, schema_editor):
    hour_model = apps.get_model("calls", "CallRollup")
    day_model = apps.get_model("calls", "CallDayRollup")
    days = (hour_model.objects.annotate(d=TruncDay("hour", tzinfo=UTC)).values("organization_id", "d", *TUPLE)
            .annotate(**{f"s_{name}": Sum(name) for name in SUMS}).order_by())
    chunk = []
    for row in days.iterator(chunk_size=CHUNK):
        chunk.append(day_model(organization_id=row["organization_id"], day=row["d"], **{k: row[k] for k in TUPLE},
                               **{name: row[f"s_{name}"] for name in SUMS}))
        if len(chunk) >= CHUNK:
            day_model.objects.bulk_create(chunk)
            chunk = []
    day_model.objects.bulk_create(chunk)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('calls', '0009_rollup_window_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='CallDayRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider_account_pk', models.BigIntegerField()),
                ('provider', models.CharField(max_length=20)),
                ('agent_pk', models.BigIntegerField()),
                ('batch_pk', models.BigIntegerField(default=0)),
                ('routing_profile_pk', models.BigIntegerField(default=0)),
                ('status', models.CharField(max_length=12)),
                ('error_code', models.CharField(blank=True, max_length=64)),
                ('hangup_cause', models.CharField(blank=True, max_length=200)),
                ('reason_key', models.CharField(blank=True, max_length=120)),
                ('result_status', models.CharField(blank=True, max_length=10)),
                ('extraction_cause', models.CharField(blank=True, max_length=20)),
                ('webhook_status', models.CharField(blank=True, max_length=10)),
                ('currency', models.CharField(blank=True, max_length=3)),
                ('n', models.BigIntegerField(default=0)),
                ('answered', models.BigIntegerField(default=0)),
                ('timed', models.BigIntegerField(default=0)),
                ('talk_seconds', models.BigIntegerField(default=0)),
                ('billed', models.BigIntegerField(default=0)),
                ('cost_milli_cents', models.BigIntegerField(default=0)),
                ('estimated', models.BigIntegerField(default=0)),
                ('failovers', models.BigIntegerField(default=0)),
                ('answer_waited', models.BigIntegerField(default=0)),
                ('answer_wait_seconds', models.BigIntegerField(default=0)),
                ('answered_talk_seconds', models.BigIntegerField(default=0)),
                ('talk_b00', models.BigIntegerField(default=0)),
                ('talk_b01', models.BigIntegerField(default=0)),
                ('talk_b02', models.BigIntegerField(default=0)),
                ('talk_b03', models.BigIntegerField(default=0)),
                ('talk_b04', models.BigIntegerField(default=0)),
                ('talk_b05', models.BigIntegerField(default=0)),
                ('talk_b06', models.BigIntegerField(default=0)),
                ('talk_b07', models.BigIntegerField(default=0)),
                ('talk_b08', models.BigIntegerField(default=0)),
                ('talk_b09', models.BigIntegerField(default=0)),
                ('talk_b10', models.BigIntegerField(default=0)),
                ('talk_b11', models.BigIntegerField(default=0)),
                ('day', models.DateTimeField()),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization')),
            ],
            options={
                'indexes': [models.Index(fields=['organization', 'batch_pk'], name='calldayrollup_batch'), models.Index(fields=['organization', 'day'], name='calldayrollup_window')],
                'constraints': [models.UniqueConstraint(fields=('organization', 'day', 'provider_account_pk', 'provider', 'agent_pk', 'batch_pk', 'routing_profile_pk', 'status', 'error_code', 'hangup_cause', 'reason_key', 'result_status', 'extraction_cause', 'webhook_status', 'currency'), name='calldayrollup_tuple')],
            },
        ),
        migrations.RunPython(fill_days, migrations.RunPython.noop),
    ]
