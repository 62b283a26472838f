"""TriageReview now belongs to the triage app (triage/migrations/0001_initial.py); its table stays.

The model leaves the calls app's migration state only, with no SQL on the table. The content type
row follows the model, so admin log entries and permissions that point at it keep pointing at it.
"""

from django.db import migrations


def _move_content_type(apps, schema_editor, old: str, new: str):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    # On a fresh database no content type exists yet (post_migrate creates them): nothing to move.
    if not types.filter(app_label=new, model="triagereview").exists():
        types.filter(app_label=old, model="triagereview").update(app_label=new)


def forward(apps, schema_editor):
    _move_content_type(apps, schema_editor, "calls", "triage")


def backward(apps, schema_editor):
    _move_content_type(apps, schema_editor, "triage", "calls")


class Migration(migrations.Migration):

    dependencies = [
        ('calls', '0007_call_result_evidence'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('triage', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='TriageReview',
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forward, backward),
    ]
