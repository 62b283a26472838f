"""rate_limit_per_minute becomes optional: blank means the provider's documented limit.

Accounts still at the old flat default (300) had never been given a figure of their own, so they
move to their provider's documented limit (Trillet 60/min, Bolna 500/1000, ...).
"""

from django.db import migrations, models


def forward(apps, schema_editor):
    ProviderAccount = apps.get_model("providers", "ProviderAccount")
    ProviderAccount.objects.filter(rate_limit_per_minute=300).update(rate_limit_per_minute=None)


def backward(apps, schema_editor):
    ProviderAccount = apps.get_model("providers", "ProviderAccount")
    ProviderAccount.objects.filter(rate_limit_per_minute__isnull=True).update(rate_limit_per_minute=300)


class Migration(migrations.Migration):

    dependencies = [
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="provideraccount",
            name="rate_limit_per_minute",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(forward, backward),
    ]
