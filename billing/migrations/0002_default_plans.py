from django.db import migrations

# The plans as this migration first created them (billing.defaults holds today's, applied by 0004).
DEFAULT_PLANS = [
    {"slug": "free", "name": "Free", "api_requests_per_minute": 60, "email_storage_limit": 5_000},
    {"slug": "paid", "name": "Paid", "api_requests_per_minute": 1_800, "email_storage_limit": 100_000},
    {"slug": "enterprise", "name": "Enterprise", "api_requests_per_minute": 60_000, "email_storage_limit": 5_000_000},
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in DEFAULT_PLANS:
        Plan.objects.update_or_create(slug=plan["slug"], defaults=plan)


def remove_plans(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(slug__in=[p["slug"] for p in DEFAULT_PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(create_plans, remove_plans)]
