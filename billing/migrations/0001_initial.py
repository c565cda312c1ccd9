from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Plan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=40, unique=True)),
                ("name", models.CharField(max_length=100)),
                ("api_requests_per_minute", models.PositiveIntegerField(help_text="API calls allowed in any rolling 60 seconds; bursts may spend the whole budget at once.")),
                ("email_storage_limit", models.PositiveIntegerField(help_text="How many of the newest emails keep their bodies; older ones keep metadata and timeline only.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ("api_requests_per_minute",)},
        ),
    ]
