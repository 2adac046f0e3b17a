"""Realtime subscriptions: parsing subscription keys, their options, and the POST limits."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson

from roost.core.errors import BadRequest, FieldError, ValidationFailed
from roost.core.realtime.clients import Client, Subscription

MAX_TOPICS = 1000
MAX_TOPIC_LENGTH = 2500
TRUE_TEXT = {"1", "t", "T", "true", "TRUE", "True"}


def go_string(value: Any) -> str:
    """Option values are compared as text: numbers, booleans and null stringified like Go does."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_subscription(key: str, client: Client) -> Subscription:
    """Split ``key`` into topic and options. Malformed options are ignored, never an error."""
    topic, _, raw_query = key.partition("?")
    options: Any = {}
    if raw_query:
        raw = urllib.parse.parse_qs(raw_query, keep_blank_values=True).get("options", [""])[0]
        try:
            options = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            options = {}
    if not isinstance(options, dict):
        options = {}
    query_in = options.get("query") if isinstance(options.get("query"), dict) else {}
    headers_in = options.get("headers") if isinstance(options.get("headers"), dict) else {}
    query = {str(k): go_string(v) for k, v in query_in.items()}
    headers = {str(k).lower().replace("-", "_"): go_string(v) for k, v in headers_in.items()}
    collection, _, record_id = topic.partition("/")
    leave = query.get("leave", "") in TRUE_TEXT
    options_key = orjson.dumps([sorted(query.items()), sorted(headers.items())]).decode() if (query or headers) else ""
    return Subscription(
        key, topic, collection, record_id, client, query, headers, options_key, leave, {} if leave else None
    )


def validate_subscribe_body(body: dict[str, Any]) -> tuple[str, list[str]]:
    """``(clientId, subscriptions)`` from a POST /api/realtime body, with the API's limits."""
    client_id = body.get("clientId")
    subs = body.get("subscriptions")
    if (client_id is not None and not isinstance(client_id, str)) or (subs is not None and not isinstance(subs, list)):
        raise BadRequest()
    if subs is not None and not all(isinstance(s, str) for s in subs):
        raise BadRequest()
    errors: dict[str, Any] = {}
    if not client_id:
        errors["clientId"] = FieldError("validation_required", "Cannot be blank.")
    topics: list[str] = list(subs or [])
    if len(topics) > MAX_TOPICS:
        errors["subscriptions"] = FieldError(
            "validation_length_too_long", f"The length must be no more than {MAX_TOPICS}.", {"max": MAX_TOPICS, "min": 0}
        )
    else:
        too_long = {
            str(n): FieldError(
                "validation_length_too_long",
                f"The length must be no more than {MAX_TOPIC_LENGTH}.",
                {"max": MAX_TOPIC_LENGTH, "min": 0},
            )
            for n, topic in enumerate(topics)
            if len(topic) > MAX_TOPIC_LENGTH
        }
        if too_long:
            errors["subscriptions"] = too_long
    if errors:
        raise ValidationFailed(None, errors)
    return str(client_id), topics
