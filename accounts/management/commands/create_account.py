import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import ApiToken


class Command(BaseCommand):
    help = 'Create an account and a full-scope API token; prints {"account_id": ..., "token": ...}.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--plan", default="free", help="Plan slug: free, paid or enterprise (default free).")
        parser.add_argument("--owner", default="", help="The account owner's email address.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = services.account_create(
                name=options["name"], plan_slug=options["plan"], owner_email=options["owner"]
            )
        except services.PlanNotFound as exc:
            raise CommandError(str(exc)) from exc
        _, plaintext = services.api_token_create(account=account, name="Default", scopes=[ApiToken.Scope.FULL])
        self.stdout.write(json.dumps({"account_id": str(account.pk), "token": plaintext}))
