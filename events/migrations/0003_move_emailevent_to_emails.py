# State only: EmailEvent now lives in the emails app (emails 0003 adopted and renamed its table), and the foreign
# key of WebhookDelivery.event already points at that table in the database.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('emails', '0003_emailevent'),
        ('events', '0002_notifications_reputation_webhooks'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='webhookdelivery',
                    name='event',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='emails.emailevent'),
                ),
                migrations.DeleteModel(
                    name='EmailEvent',
                ),
            ],
        ),
    ]
