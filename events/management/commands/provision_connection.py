"""manage.py provision_connection IDENTIFIER [--account ACCOUNT_ID]: create or repair a connection's event plumbing."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import AwsConnection
from events import services


class Command(BaseCommand):
    help = (
        "Create or repair, idempotently, an AWS connection's SES configuration set, its event destination to an SNS "
        "topic, the topic's HTTPS subscription to Sesame's webhook and the CloudWatch reputation alarms."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identifier", help="The connection's identifier (config_identifier in the API).")
        parser.add_argument("--account", help="The account id, when several accounts use this identifier.")

    def handle(self, *args: Any, **options: Any) -> None:
        connections = AwsConnection.objects.select_related("account").filter(identifier=options["identifier"])
        if options["account"]:
            connections = connections.filter(account_id=options["account"])
        found = list(connections[:20])
        if not found:
            raise CommandError(
                f"No AWS connection named {options['identifier']!r}"
                + (f" in account {options['account']}." if options["account"] else ".")
            )
        if len(found) > 1:
            accounts = ", ".join(f"{c.account_id} ({c.account})" for c in found)
            raise CommandError(
                f"Several accounts have a connection named {options['identifier']!r}: {accounts}. "
                "Pass --account ACCOUNT_ID."
            )
        connection = found[0]
        self.stdout.write(f"Provisioning {connection} of {connection.account} ({connection.account_id})")
        report = services.connection_provision(connection=connection)
        for line, step in zip(report.lines(), report.steps, strict=True):
            style = (
                self.style.ERROR
                if step.status == "failed"
                else (self.style.WARNING if step.status == "warning" else self.style.SUCCESS)
            )
            self.stdout.write(style(line))
        if not report.ok:
            raise CommandError("Some steps failed (see above); fix the cause and run this command again.")
        self.stdout.write(f"Done. Webhook: {services.provisioning.webhook_url(connection)}")
