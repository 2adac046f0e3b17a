"""PocketBase's ``rateLimits`` rules: label grammar, validation and first-match lookup.

A label is one of
  * a path prefix ending in ``/`` (``/api/``) or an exact path (``/api/batch``),
  * ``METHOD /path`` (``GET /api/health``; again a trailing ``/`` makes it a prefix),
  * ``collection:tag`` or ``*:tag`` (``users:auth``, ``*:create``), and a bare word.

Lookup goes through the request's labels in order (most specific first). For each label an
exact match wins, in rule order; then the prefix rules are tried. Only rules whose audience
fits the caller take part. This is PocketBase's precedence, checked against the 0.40 server.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

AUDIENCES = ("", "@guest", "@auth")
#: a field problem in the JSON shape of PocketBase's validation errors
Problem = dict[str, Any]
LABEL_PATTERN = re.compile(r"^(\w+ /[\w/-]*|/[\w/-]*|\w+:\w+|\*:\w+|\w+)$")


@dataclass(frozen=True)
class RateLimitRule:
    label: str
    audience: str
    duration: int
    max_requests: int

    @property
    def is_prefix(self) -> bool:
        return self.label.endswith("/")


def parse_rules(raw: Iterable[Any]) -> tuple[RateLimitRule, ...]:
    """Rules from the settings document (entries that do not parse are skipped)."""
    rules = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        try:
            rules.append(
                RateLimitRule(
                    str(item.get("label", "")),
                    str(item.get("audience", "")),
                    int(item.get("duration", 0)),
                    int(item.get("maxRequests", 0)),
                )
            )
        except (TypeError, ValueError):
            continue
    return tuple(r for r in rules if r.label and r.duration > 0 and r.max_requests > 0)


def find_rule(
    rules: Sequence[RateLimitRule], labels: Sequence[str], audiences: Sequence[str]
) -> RateLimitRule | None:
    """The first rule for ``labels`` (most specific first) among rules of an allowed audience."""
    usable = [r for r in rules if r.audience in audiences]
    prefixes = [r for r in usable if r.is_prefix]
    for label in labels:
        for rule in usable:
            if rule.label == label:
                return rule
        # "/api/x" also matches the prefix "/api/x/" (PocketBase appends the slash before comparing)
        for rule in prefixes:
            if (label + "/").startswith(rule.label):
                return rule
    return None


def excluded(address: str, entries: Iterable[str]) -> bool:
    """True if ``address`` equals one of the IPs or falls into one of the CIDR subnets."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in entries
    for entry in entries:
        try:
            if "/" in entry:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            elif ip == ipaddress.ip_address(entry):
                return True
        except ValueError:
            continue
    return False


def _problem(code: str, message: str, params: dict[str, Any] | None = None) -> Problem:
    out: Problem = {"code": code, "message": message}
    if params is not None:
        out["params"] = params
    return out


def is_ip_or_subnet(entry: str) -> bool:
    """True for one IP address or a CIDR subnet (host bits may be set, as Go's ParsePrefix allows)."""
    try:
        if "/" in entry:
            ipaddress.ip_network(entry, strict=False)
        else:
            ipaddress.ip_address(entry)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _rule_problems(rule: Any, seen: dict[str, set[str]]) -> dict[str, Problem]:
    if not isinstance(rule, dict):
        return {"label": _problem("validation_required", "Cannot be blank.")}
    out: dict[str, Problem] = {}
    label, audience = rule.get("label"), rule.get("audience", "")
    if not isinstance(label, str) or not label:
        out["label"] = _problem("validation_required", "Cannot be blank.")
    elif not LABEL_PATTERN.match(label):
        out["label"] = _problem("validation_match_invalid", "Must be in a valid format.")
    if audience not in AUDIENCES:
        out["audience"] = _problem("validation_in_invalid", "Must be a valid value.")
    for key in ("duration", "maxRequests"):
        value = rule.get(key)
        if not _is_int(value) or value <= 0:
            out[key] = _problem("validation_required", "Cannot be blank.")
    if "label" not in out and "audience" not in out:
        # an audience-wide rule conflicts with any other rule of the same label
        taken = seen.setdefault(str(label), set())
        if audience in taken or "" in taken or (audience == "" and taken):
            out["label"] = _problem(
                "validation_conflicting_rate_limit_rule",
                f"Rate limit rule configuration with label {label} already exists or conflicts with another rule.",
                {"label": label},
            )
        taken.add(audience)
    return out


def validate_rate_limits(data: Any) -> dict[str, Any]:
    """Field problems of a ``rateLimits`` settings section, nested as PocketBase reports them."""
    if not isinstance(data, dict):
        return {}
    errors: dict[str, Any] = {}
    rules = data.get("rules")
    if data.get("enabled") and not rules:
        errors["rules"] = _problem("validation_required", "Cannot be blank.")
    elif isinstance(rules, list):
        seen: dict[str, set[str]] = {}
        rule_errors = {str(i): p for i, r in enumerate(rules) if (p := _rule_problems(r, seen))}
        if rule_errors:
            errors["rules"] = rule_errors
    ips = data.get("excludedIPs") or []
    ip_errors = {}
    for i, entry in enumerate(ips if isinstance(ips, list) else [ips]):
        if not is_ip_or_subnet(str(entry)):
            # (sic) the misspelt code is PocketBase's own
            ip_errors[str(i)] = _problem(
                "validation_invlaid_ip_or_subnet", "Invalid IP or CIDR subnet."
            )
    if ip_errors:
        errors["excludedIPs"] = ip_errors
    return errors
