"""Window counters for rate limits and login throttling, and PocketBase's rate-limit rule matching.

``CounterStore`` keeps fixed-window counters in process memory or in Redis (through the
``limits`` package), so that every Roost instance sharing a Redis sees the same counts.
``rules`` holds PocketBase's ``rateLimits`` label grammar and its first-match lookup.
"""

from roost.tools.ratelimit.rules import RateLimitRule, find_rule, parse_rules, validate_rate_limits
from roost.tools.ratelimit.store import CounterStore, Verdict, counter_store

__all__ = [
    "CounterStore",
    "RateLimitRule",
    "Verdict",
    "counter_store",
    "find_rule",
    "parse_rules",
    "validate_rate_limits",
]
