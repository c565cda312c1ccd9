"""The send step: a template, rendered for the contact, accepted by the channel's own service at the automation's
priority, in the run's transaction.

Consent is judged at the moment of sending, not at enrolment: the contact's status, its opt-out of the step's
topic, and then the channel's own rules at accept (email suppression list and blocked domains, SMS opt-outs). The
message's client id is `automation-<run>-<step>`, so a step retried after a failure can never queue it twice.
"""

from typing import Any

from accounts.models import Account
from billing.quota import QuotaExceeded
from config.api.errors import UnprocessableEntity
from contacts.models import Contact, Topic
from contacts.selectors import contact_opted_out_topic_ids
from contacts.unsubscribe import unsubscribe_headers, unsubscribe_token, unsubscribe_url
from emails.models import Email
from emails.services.accept import DuplicateClientEmailId, email_accept
from emails.templating.engine import TemplateRenderError
from emails.templating.models import Template
from emails.templating.services import TemplateNotFound, template_render, template_resolve
from events.automations.definition import StepFailed
from events.automations.models import AutomationRun, AutomationRunStep
from push.models import PushDevice
from push.services.content import PLAIN, push_fields
from push.services.sending import DuplicateClientPushId, PushDraft, push_accept
from sms.models import SmsMessage
from sms.services.accept import DuplicateClientSmsId, sms_accept

Outcome = AutomationRunStep.Outcome


def _skipped(reason: str) -> tuple[str, dict[str, Any]]:
    return Outcome.SKIPPED, {"reason": reason}


class SendLookups:
    """Accounts, topics and templates as one batch of runs sees them: loaded once per batch, not once per send."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], load: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = load()
        return self._memo[key]

    def account(self, account_id: Any) -> Account:
        found: Account = self._get(("account", account_id), lambda: Account.objects.get(pk=account_id))
        return found

    def topic(self, account_id: Any, key: str) -> Topic | None:
        found: Topic | None = self._get(
            ("topic", account_id, key), lambda: Topic.objects.filter(account_id=account_id, key=key).first()
        )
        return found

    def template(self, account: Account, ref: str, channel: str) -> Template | TemplateNotFound:
        def load() -> Template | TemplateNotFound:
            try:
                return template_resolve(account=account, ref=ref, channel=channel)
            except TemplateNotFound as exc:
                return exc

        found: Template | TemplateNotFound = self._get(("template", account.pk, ref, channel), load)
        return found


def automation_send(
    *, run: AutomationRun, step: dict[str, Any], contact: Contact, lookups: SendLookups
) -> tuple[str, dict[str, Any]]:
    """Queue the step's message for the contact; returns the step's outcome and what to record about it."""
    account = lookups.account(run.account_id)
    topic = None
    if step.get("topic"):
        topic = lookups.topic(run.account_id, step["topic"])
        if topic is None:
            raise StepFailed(f"no topic {step['topic']!r} in the account")
    if contact.status != Contact.Status.SUBSCRIBED:
        return _skipped(f"the contact is {contact.status}")
    if topic is not None and topic.pk in contact_opted_out_topic_ids(contact=contact):
        return _skipped(f"the contact opted out of the topic {topic.key!r}")
    channel = step["channel"]
    address = {"email": contact.email, "sms": contact.mobile}.get(channel) or ""
    if channel == "push" and not PushDevice.objects.filter(contact=contact, enabled=True).exists():
        return _skipped("the contact has no enabled push device")
    if channel != "push" and not address:
        return _skipped(f"the contact has no {'email address' if channel == 'email' else 'mobile number'}")
    template = lookups.template(account, step["template"], channel)
    if isinstance(template, TemplateNotFound):
        raise StepFailed(str(template))
    token = unsubscribe_token(account_id=run.account_id, contact_id=contact.pk, topic_id=topic.pk if topic else None)
    assert template.current_version is not None  # template_resolve returns only templates with a version
    try:
        rendered = template_render(
            version=template.current_version,
            variables={},
            contact=contact,
            extra={"unsubscribe_url": unsubscribe_url(token)},
        )
    except TemplateRenderError as exc:
        raise StepFailed(f"the template {template.name!r} cannot be rendered: {exc}") from None
    if rendered.missing:
        return _skipped(f"missing template variables: {', '.join(rendered.missing)}")
    key = f"automation-{run.pk}-{step['id']}"
    detail: dict[str, Any] = {
        "channel": channel,
        "template": template.name,
        "template_version": rendered.version.number,
    }
    try:
        if channel == "email":
            data: dict[str, Any] = {
                "from": step["from"],
                "to": address,
                "subject": rendered.subject,
                "text_body": rendered.text,
                "priority": run.automation.priority,
                "client_email_id": key,
                "tags": ["automation"],
                "custom_fields": {"automation": str(run.automation_id), "run": run.pk},
                "headers": unsubscribe_headers(
                    account_id=run.account_id, contact_id=contact.pk, topic_id=topic.pk if topic else None
                ),
            }
            if rendered.html:
                data["html_body"] = rendered.html
            if step.get("config_identifier"):
                data["config_identifier"] = step["config_identifier"]
            email = email_accept(account=account, data=data)
            Email.objects.filter(pk=email.pk).update(template_version=rendered.version)
            suppressed = email.status == Email.Status.SUPPRESSED
            detail["email"] = str(email.pk)
        elif channel == "push":
            fields, problem = push_fields(rendered, base=PLAIN)
            if fields is None:
                return _skipped(str(problem))
            push = push_accept(
                account=account,
                draft=PushDraft(
                    **fields,
                    contact=contact,
                    priority=run.automation.priority,
                    client_push_id=key,
                    tags=["automation"],
                    template_version=rendered.version,
                ),
            )
            suppressed = False  # a device the platform refuses is disabled and shown on the push's own timeline
            detail["push"] = str(push.pk)
        else:
            data = {"to": address, "body": rendered.body, "priority": run.automation.priority, "client_sms_id": key}
            if step.get("config_identifier"):
                data["config_identifier"] = step["config_identifier"]
            sms = sms_accept(account=account, data=data)
            suppressed = sms.status == SmsMessage.Status.SUPPRESSED
            detail["sms"] = str(sms.pk)
    except (DuplicateClientEmailId, DuplicateClientSmsId, DuplicateClientPushId) as exc:  # an earlier try's
        detail[channel] = str(exc.existing_id)
        return Outcome.SENT, detail
    except UnprocessableEntity as exc:
        raise StepFailed("; ".join(str(entry["msg"]) for entry in exc.entries)) from None
    except QuotaExceeded as exc:  # the account's email quota is spent: this run's send cannot happen
        raise StepFailed(str(exc.detail)) from None
    if suppressed:
        detail["reason"] = "suppressed by the channel (suppression list or opt-out)"
        return Outcome.SKIPPED, detail
    return Outcome.SENT, detail
