"""Memberships get a public UUID like every other org-owned row (dashboard URLs name members by it)."""

import uuid

from django.db import migrations, models


def fill_public_ids(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    for membership in Membership.objects.filter(public_id__isnull=True).only("pk"):
        Membership.objects.filter(pk=membership.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        # Three steps, because a unique column cannot get one default value for every existing row.
        migrations.AddField(model_name="membership", name="public_id",
                            field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(model_name="membership", name="public_id",
                              field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False)),
    ]
