"""The auth e-mails: templates per auth collection, rendered with PocketBase's placeholders.

Placeholders are replaced in one pass, so a value can never inject another placeholder.
In the HTML body every value is HTML-escaped (a record's ``name`` of ``<b>`` shows as text);
the subject is plain text and is left as is.
"""

from __future__ import annotations

import html
import re
from functools import partial
from typing import TYPE_CHECKING, Any

from roost.core.auth import tokens
from roost.core.events import MailerEvent, MailerRecordEvent
from roost.core.mail import sender_of
from roost.core.records.codec import Record
from roost.core.schema.collection import Collection
from roost.tools.mailer import Address, Message

if TYPE_CHECKING:
    from roost.core.base import App

#: template name (as the settings test e-mail calls it) -> path of the template in the options
TEMPLATES: dict[str, tuple[str, ...]] = {
    "verification": ("verificationTemplate",),
    "password-reset": ("resetPasswordTemplate",),
    "email-change": ("confirmEmailChangeTemplate",),
    "otp": ("otp", "emailTemplate"),
    "login-alert": ("authAlert", "emailTemplate"),
}
#: template name -> the hook fired before a mail of it is sent
HOOKS = {
    "verification": "on_mailer_record_verification_send",
    "password-reset": "on_mailer_record_password_reset_send",
    "email-change": "on_mailer_record_email_change_send",
    "otp": "on_mailer_record_otp_send",
    "login-alert": "on_mailer_record_auth_alert_send",
}
_PLACEHOLDER = re.compile(r"\{(APP_NAME|APP_URL|TOKEN|OTP|OTP_ID|ALERT_INFO|RECORD:[A-Za-z0-9_]+)\}")
#: record fields never written into a message, whatever the template asks for
_SECRET_FIELDS = frozenset({"password", "tokenKey"})


def template_of(coll: Collection, name: str) -> dict[str, str]:
    node: Any = coll.options
    for key in TEMPLATES[name]:
        node = node.get(key) if isinstance(node, dict) else None
    node = node if isinstance(node, dict) else {}
    return {"subject": str(node.get("subject") or ""), "body": str(node.get("body") or "")}


def _record_value(record: Record, name: str) -> str:
    if name in _SECRET_FIELDS:
        return ""
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def render(text: str, values: dict[str, str], record: Record, *, escape: bool) -> str:
    """Replace every known ``{PLACEHOLDER}`` in ``text``; unknown ones stay untouched."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("RECORD:"):
            value = _record_value(record, key[7:])
        elif key in values:
            value = values[key]
        else:
            return match.group(0)
        return html.escape(value) if escape else value

    return _PLACEHOLDER.sub(replace, text)


def build(app: App, coll: Collection, name: str, record: Record, to: str, **values: str) -> Message:
    """The message of template ``name`` for ``record``, addressed to ``to``."""
    meta = app.settings.data.get("meta") or {}
    values = {"APP_NAME": str(meta.get("appName") or ""), "APP_URL": str(meta.get("appURL") or "").rstrip("/"), **values}
    template = template_of(coll, name)
    return Message(
        sender=sender_of(app.settings.data),
        to=[Address(to)],
        subject=render(template["subject"], values, record, escape=False),
        html=render(template["body"], values, record, escape=True),
    )


def verification(app: App, coll: Collection, record: Record) -> Message:
    email = str(record.get("email", ""))
    token = tokens.issue(coll, record, tokens.VERIFICATION, email=email)
    return build(app, coll, "verification", record, email, TOKEN=token)


def password_reset(app: App, coll: Collection, record: Record) -> Message:
    email = str(record.get("email", ""))
    token = tokens.issue(coll, record, tokens.PASSWORD_RESET, email=email)
    return build(app, coll, "password-reset", record, email, TOKEN=token)


def email_change(app: App, coll: Collection, record: Record, new_email: str) -> Message:
    token = tokens.issue(coll, record, tokens.EMAIL_CHANGE, email=str(record.get("email", "")), newEmail=new_email)
    return build(app, coll, "email-change", record, new_email, TOKEN=token)


def otp(app: App, coll: Collection, record: Record, otp_id: str, code: str, to: str) -> Message:
    return build(app, coll, "otp", record, to, OTP=code, OTP_ID=otp_id)


def login_alert(app: App, coll: Collection, record: Record, alert_info: str) -> Message:
    return build(app, coll, "login-alert", record, str(record.get("email", "")), ALERT_INFO=alert_info)


async def send(
    app: App, coll: Collection, template: str, record: Record, message: Message, *, meta: dict[str, Any] | None = None, now: bool = False
) -> None:
    """Fire the ``on_mailer_record_*_send`` hook of ``template``, then :func:`send_mail`."""
    event = MailerRecordEvent(app=app, collection=coll, record=record, message=message, meta=meta or {})
    await getattr(app.hooks, HOOKS[template]).trigger(event, partial(_send, now))


async def _send(now: bool, event: MailerRecordEvent) -> None:
    await send_mail(event.app, event.message, now=now)


async def send_mail(app: App, message: Message, *, now: bool = False) -> None:
    """Fire ``on_mailer_send``; its final link queues ``message`` (``now``: delivers it at once and
    raises :class:`MailError` on failure, as the settings test e-mail wants)."""
    await app.hooks.on_mailer_send.trigger(MailerEvent(app=app, message=message), partial(_hand_over, now))


async def _hand_over(now: bool, event: MailerEvent) -> None:
    if now:
        await event.app.mail.send_now(event.message)
    else:
        event.app.mail.enqueue(event.message)
