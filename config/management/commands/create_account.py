import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services import PlanNotFound
from config import onboarding


class Command(BaseCommand):
    help = (
        'Create an account and a full-scope API token; prints {"account_id": ..., "token": ..., "aws_connection": ...}.'
        " In simulator mode the account gets a default connection to the local simulator (aws_connection);"
        " in aws mode it has none (null) until one is added through the API or the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--plan", default="free", help="Plan slug: free, starter, paid, scale or enterprise (default free)."
        )
        parser.add_argument("--owner", default="", help="The account owner's email address.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            opened = onboarding.account_open(
                name=options["name"], plan_slug=options["plan"], owner_email=options["owner"]
            )
        except PlanNotFound as exc:
            raise CommandError(str(exc)) from exc
        printed = {
            "account_id": str(opened.account.pk),
            "token": opened.token,
            "aws_connection": opened.connection.identifier if opened.connection else None,
        }
        self.stdout.write(json.dumps(printed))
