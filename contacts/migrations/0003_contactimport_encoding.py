from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_contact_tag_ids_gin")]

    operations = [
        migrations.AddField(
            model_name="contactimport",
            name="encoding",
            field=models.CharField(
                blank=True,
                help_text="The file's encoding: as chosen on upload, else as detected when it ran.",
                max_length=40,
            ),
        ),
    ]
