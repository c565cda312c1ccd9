from django.db import models


class EmailEvent(models.Model):
    """One line of an email's timeline: something Sesame did, or an SES event, for one recipient.

    Rows from SES carry the SES message id; an event that arrives before its email row is committed is kept
    with `email` empty and matched when the email appears.
    """

    class Source(models.TextChoices):
        SESAME = "sesame", "Sesame"
        SES = "ses", "Amazon SES"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", null=True)
    email = models.ForeignKey(
        "emails.Email", on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    connection = models.ForeignKey(
        "accounts.AwsConnection", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    ses_message_id = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    event_type = models.CharField(max_length=40, help_text="accepted, sent, failed, delivery, bounce, open, ...")
    recipient = models.CharField(max_length=320, blank=True)
    detail = models.TextField(blank=True, help_text="A human-readable summary: bounce type, failure reason, link.")
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = [
            models.Index(fields=["email", "occurred_at"], name="email_event_timeline"),
            models.Index(fields=["ses_message_id"], name="email_event_ses_id"),
            models.Index(fields=["connection", "event_type", "occurred_at"], name="email_event_conn_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}".strip()
