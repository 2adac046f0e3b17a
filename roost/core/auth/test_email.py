"""``POST /api/settings/test/email``: send one of the auth templates to any address, now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.auth import emails
from roost.core.auth.forms import check, email_error, required, strings
from roost.core.errors import BadRequest, FieldError
from roost.core.records.save import blank_record
from roost.tools.mailer import MailError, Message

if TYPE_CHECKING:
    from roost.core.base import App

FAILED = "Failed to send the test email."


async def send_test_email(app: App, body: dict[str, Any]) -> None:
    """Render ``body["template"]`` of ``body["collection"]`` (default ``_superusers``) for a
    stand-in record with ``body["email"]`` and deliver it synchronously."""
    email, template, collection = strings(body, "email", "template", "collection")
    coll = app.collections.get(collection or "_superusers")
    template_err = required(template)
    if template_err is None and template not in emails.TEMPLATES:
        template_err = FieldError("validation_in_invalid", "Must be a valid value.")
    coll_err = None
    if coll is None or not coll.is_auth:
        coll_err = FieldError("validation_invalid_auth_collection", "Must be a valid auth collection id or name.")
    check({"email": email_error(email), "template": template_err, "collection": coll_err}, FAILED)
    assert coll is not None
    record = {**blank_record(coll), "id": "__test__", "email": email}
    message = _message(app, coll, template, record, email)
    try:
        await emails.send(app, coll, template, record, message, now=True)
    except MailError as exc:
        raise BadRequest(FAILED, {"email": FieldError("validation_mail_not_sent", str(exc))}) from exc


def _message(app: App, coll: Any, template: str, record: dict[str, Any], email: str) -> Message:
    if template == "verification":
        return emails.verification(app, coll, record)
    if template == "password-reset":
        return emails.password_reset(app, coll, record)
    if template == "email-change":
        return emails.email_change(app, coll, record, email)
    if template == "otp":
        return emails.otp(app, coll, record, "OTP_ID", "123456", email)
    return emails.login_alert(app, coll, record, "a test alert from the settings")
