"""TriageReview moves here from the calls app without touching the database.

The table `calls_triagereview` was created by calls/0003_triagereview and keeps its name (the model's
`db_table`), its constraint and its foreign keys, so this only adds the model to the triage app's
migration state; calls/0008_triagereview_moved removes it from the calls app's state.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_membership_public_id'),
        ('calls', '0003_triagereview'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='TriageReview',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(max_length=20)),
                        ('cause', models.CharField(max_length=300)),
                        ('reviewed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('reviewed_by_label', models.CharField(blank=True, max_length=200)),
                        ('note', models.CharField(blank=True, max_length=500)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='triage_reviews', to='accounts.organization')),
                        ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'calls_triagereview',
                        'constraints': [models.UniqueConstraint(fields=('organization', 'kind', 'cause'), name='triage_review_per_group')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
