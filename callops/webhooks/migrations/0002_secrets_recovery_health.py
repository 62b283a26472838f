import django.db.models.deletion
from django.db import migrations, models


def previous_to_old_secrets(apps, schema_editor):
    """Carry a still-overlapping previous secret into the new list, so a rotation in progress
    keeps signing with both secrets across the upgrade."""
    from django.utils import timezone

    now = timezone.now()
    for name in ("WebhookEndpoint", "OrgWebhookSecret"):
        model = apps.get_model("webhooks", name)
        rows = model.objects.exclude(previous_secret_encrypted="").filter(previous_secret_expires_at__gt=now)
        for row in rows:
            row.old_secrets = [{"secret": row.previous_secret_encrypted,
                                "expires_at": row.previous_secret_expires_at.isoformat()}]
            row.save(update_fields=["old_secrets"])


def set_fillfactor(apps, schema_editor):
    """PostgreSQL only: leave room on each page of the delivery table, so taking a lease (which
    changes no indexed column) is a HOT update and writes no index entries."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE webhooks_webhookdelivery SET (fillfactor = 85)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE webhooks_webhookdelivery RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='orgwebhooksecret',
            name='old_secrets',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='old_secrets',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(previous_to_old_secrets, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='orgwebhooksecret',
            name='previous_secret_encrypted',
        ),
        migrations.RemoveField(
            model_name='orgwebhooksecret',
            name='previous_secret_expires_at',
        ),
        migrations.RemoveField(
            model_name='webhookendpoint',
            name='previous_secret_encrypted',
        ),
        migrations.RemoveField(
            model_name='webhookendpoint',
            name='previous_secret_expires_at',
        ),
        migrations.AddField(
            model_name='orgwebhooksecret',
            name='rotated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='recoveryjob',
            name='delivered',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='recoveryjob',
            name='delivery_status',
            field=models.CharField(blank=True, max_length=10),
        ),
        migrations.AddField(
            model_name='recoveryjob',
            name='inline_only',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='recoveryjob',
            name='marked',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='recoveryjob',
            name='marking_done',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='recovery_job',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='webhooks.recoveryjob'),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='last_failure_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('recovery_job__isnull', False)), fields=['recovery_job'], name='whdelivery_recovery'),
        ),
        migrations.RemoveIndex(
            model_name='webhookdelivery',
            name='whdelivery_leased',
        ),
        migrations.AlterField(
            model_name='webhookattempt',
            name='delivery',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='attempts', to='webhooks.webhookdelivery'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='endpoint',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='webhooks.webhookendpoint'),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='webhook_deliveries', to='accounts.organization'),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
