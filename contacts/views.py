"""The pages a recipient reaches from an email: `/u/<token>` (RFC 8058 one-click POST, and a confirmation page for
people and link scanners on GET) and `/u/<token>/preferences` (the preference centre).

The token is the only credential: no cookies, no session, no CSRF token (mail clients post one-click requests
with none of them), and forms work without JavaScript. A GET never changes anything.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.models import Account
from contacts.models import Contact, PreferenceSettings, Topic
from contacts.selectors import contact_opted_out_topic_ids, topic_list
from contacts.subscriptions import Source, contact_resubscribe, contact_topics_set, contact_unsubscribe
from contacts.unsubscribe import HEADER_POST_VALUE, InvalidUnsubscribeToken, unsubscribe_token_read


@dataclass
class _Subject:
    token: str
    account: Account
    contact: Contact
    topic: Topic | None
    look: PreferenceSettings

    def context(self, **more: Any) -> dict[str, Any]:
        return {
            "token": self.token,
            "brand": self.look.display_name or self.account.name,
            "look": self.look,
            "contact": self.contact,
            "topic": self.topic,
            **more,
        }


def _subject(token: str) -> _Subject | None:
    try:
        account_id, contact_id, topic_id = unsubscribe_token_read(token)
    except InvalidUnsubscribeToken:
        return None
    contact = Contact.objects.select_related("account").get(pk=contact_id, account_id=account_id)
    # A topic deleted since the email went out: the link then unsubscribes from everything, never from nothing.
    topic = Topic.objects.filter(pk=topic_id, account_id=account_id).first() if topic_id else None
    look = PreferenceSettings.objects.filter(account_id=account_id).first() or PreferenceSettings()
    return _Subject(token, contact.account, contact, topic, look)


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "unsubscribe/invalid.html", status=404)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subject = _subject(token)
    if subject is None:
        return _not_found(request)
    if request.method != "POST":
        return render(request, "unsubscribe/confirm.html", subject.context())
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return render(
            request,
            "unsubscribe/confirm.html",
            subject.context(problem=f"The request did not say {HEADER_POST_VALUE}; use the button below."),
            status=400,
        )
    source = Source.CONFIRMATION if request.POST.get("confirmed") else Source.ONE_CLICK
    contact_unsubscribe(contact=subject.contact, topic=subject.topic, source=source)
    return render(request, "unsubscribe/done.html", subject.context())


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    subject = _subject(token)
    if subject is None:
        return _not_found(request)
    contact, saved = subject.contact, None
    if request.method == "POST":
        if request.POST.get("action") == "unsubscribe_all":
            contact_unsubscribe(contact=contact, topic=None, source=Source.PREFERENCES)
            saved = "You will get no more emails from us."
        else:
            wanted = {int(value) for value in request.POST.getlist("topic") if value.isdigit()}
            contact_topics_set(contact=contact, subscribed_topic_ids=wanted, source=Source.PREFERENCES)
            if request.POST.get("everything") == "on":
                contact_resubscribe(contact=contact, source=Source.PREFERENCES)
            saved = "Your preferences are saved."
        contact.refresh_from_db(fields=["status"])
    opted_out = contact_opted_out_topic_ids(contact=contact)
    topics = [(topic, topic.pk not in opted_out) for topic in topic_list(account=subject.account)]
    return render(
        request,
        "unsubscribe/preferences.html",
        subject.context(
            topics=topics,
            unsubscribed=contact.status == Contact.Status.UNSUBSCRIBED,
            saved=saved,
        ),
    )
