from django.db import models


class Plan(models.Model):
    """A subscription tier: what an account may do per minute and how much history it keeps."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    api_requests_per_minute = models.PositiveIntegerField(
        help_text="API calls allowed in any rolling 60 seconds; bursts may spend the whole budget at once."
    )
    email_storage_limit = models.PositiveIntegerField(
        help_text="How many of the newest emails keep their bodies; older ones keep metadata and timeline only."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("api_requests_per_minute",)

    def __str__(self) -> str:
        return self.name
