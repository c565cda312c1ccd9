"""The MIME message SES sends, built with the standard library's email package."""

import base64
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from emails.addresses import parse_address
from emails.models import Email

SESAME_ID_HEADER = "X-Sesame-Email-Id"


def build_mime(email: Email) -> bytes:
    """Render the stored email. Headers keep the addresses as given (a suppressed recipient still appears in
    To/Cc); who actually receives it is decided by the SES destinations. Bcc never appears in headers."""
    message = EmailMessage(policy=SMTP)
    sender = parse_address(email.from_address)
    message["From"] = sender.formatted()
    message["To"] = email.to_address
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.domain)
    message[SESAME_ID_HEADER] = str(email.id)
    for name, value in (email.headers or {}).items():
        message[name] = value
    if email.text_body:
        message.set_content(email.text_body, subtype="plain", charset="utf-8")
        if email.html_body:
            message.add_alternative(email.html_body, subtype="html", charset="utf-8")
    else:
        message.set_content(email.html_body or "", subtype="html", charset="utf-8")
    for attachment in email.attachments or []:
        maintype, _, subtype = attachment["content_type"].partition("/")
        content = base64.b64decode(attachment["content_base64"])
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=attachment["filename"])
    return message.as_bytes()
