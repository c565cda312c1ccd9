# EmailEvent (the email timeline) moves here from the events app, which sits above the channels: emails must not
# import it. No row moves: the model joins emails' state on the existing events_emailevent table, and the table is
# then renamed. events 0003 takes the model out of events' state and points WebhookDelivery.event here.

import django.db.models.deletion
from django.db import migrations, models


def content_type_to_emails(apps, schema_editor):
    """Keep admin history and permissions on the moved model (a fresh database has no content types yet)."""
    _content_type_move(apps, schema_editor, source="events", target="emails")


def content_type_to_events(apps, schema_editor):
    _content_type_move(apps, schema_editor, source="emails", target="events")


def _content_type_move(apps, schema_editor, *, source, target):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label=target, model="emailevent").exists():
        content_types.filter(app_label=source, model="emailevent").update(app_label=target)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_awsconnection_configuration_set_name_and_more'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('emails', '0002_email_to_email'),
        ('events', '0002_notifications_reputation_webhooks'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='EmailEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('ses_message_id', models.CharField(blank=True, max_length=255)),
                        ('source', models.CharField(choices=[('sesame', 'Sesame'), ('ses', 'Amazon SES')], max_length=10)),
                        ('event_type', models.CharField(help_text='accepted, sent, failed, delivery, bounce, open, ...', max_length=40)),
                        ('subtype', models.CharField(blank=True, help_text='Bounce type, complaint feedback type or delay type, as SES reports it.', max_length=80)),
                        ('recipient', models.CharField(blank=True, max_length=320)),
                        ('detail', models.TextField(blank=True, help_text='A human-readable summary: bounce type, failure reason, link.')),
                        ('payload', models.JSONField(blank=True, default=dict)),
                        ('occurred_at', models.DateTimeField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('account', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.account')),
                        ('connection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.awsconnection')),
                        ('email', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='emails.email')),
                        ('notification', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='events.snsnotification')),
                    ],
                    options={
                        'db_table': 'events_emailevent',
                        'ordering': ('occurred_at', 'id'),
                        'indexes': [models.Index(fields=['email', 'occurred_at'], name='email_event_timeline'), models.Index(fields=['ses_message_id'], name='email_event_ses_id'), models.Index(fields=['connection', 'event_type', 'occurred_at'], name='email_event_conn_type_time'), models.Index(condition=models.Q(('email__isnull', True), models.Q(('ses_message_id', ''), _negated=True)), fields=['created_at'], name='email_event_orphans'), models.Index(condition=models.Q(('event_type', 'bounce')), fields=['account', 'recipient', 'occurred_at'], name='email_event_bounces_by_rcpt')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('notification__isnull', False)), fields=('notification', 'recipient'), name='email_event_unique_per_notification')],
                    },
                ),
            ],
        ),
        # events_emailevent -> emails_emailevent; foreign keys into it (WebhookDelivery.event) follow the table.
        migrations.AlterModelTable(name='emailevent', table=None),
        migrations.RunPython(content_type_to_emails, content_type_to_events, elidable=True),
    ]
