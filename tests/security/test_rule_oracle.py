"""The S2 oracle agrees with every answer PocketBase recorded that it can express.

``tests/core/filter_parity_expected.json`` holds PocketBase's answers for the scenario of
``tests/core/test_filter_parity.py``; the oracle evaluates the same filters and rules over the
same records (the ones it models: plain fields, ``:each``/``:length``, one relation hop,
``@request.auth.*``) and must give the same ids. This keeps the oracle honest before it judges
Roost in ``test_rule_engine_property.py``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.core import test_filter_parity as parity
from tests.security.rule_oracle import FieldDef, Unsupported, World, matching_ids

F = FieldDef
SCHEMA = {
    "pcats": {"name": F("text"), "rank": F("number")},
    "users": {"name": F("text"), "level": F("number"), "email": F("email"),
              "fav": F("relation", True, "pcats"), "verified": F("bool")},
    "_superusers": {},
    "pitems": {"title": F("text"), "num": F("number"), "flag": F("bool"), "note": F("text"),
               "tag": F("select"), "tags": F("select", True), "cat": F("relation", False, "pcats"),
               "cats": F("relation", True, "pcats"), "owner": F("relation", False, "users")},
}  # fmt: skip


def _world(auth: str | None = None) -> World:
    """The scenario seen by ``auth`` (u1, u2, None for a guest, su for the superuser)."""
    records: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMA}
    for name, record in parity.RECORDS:
        if name in records:
            records[name].append(record)
    if auth == "su":  # the filters were captured as a superuser
        return World(SCHEMA, records, {"id": "su0000000000001"}, auth_collection="_superusers")
    user = next((r for r in records["users"] if r["email"] == f"{auth}@example.com"), None)
    return World(SCHEMA, records, auth=user)


def _answer(world: World, source: str) -> list[str] | None:
    by_id = {parity.ITEM[n]: f"i{n}" for n in range(1, 9)}
    try:
        return sorted(by_id[i] for i in matching_ids(world, "pitems", source))
    except Unsupported:
        return None


def test_oracle_matches_recorded_pocketbase_answers() -> None:
    want = json.loads(parity.EXPECTED.read_text())
    checked, wrong = 0, []
    superuser = _world("su")
    for source, expected in want["filters"].items():
        if isinstance(expected, int):
            continue
        got = _answer(superuser, source)
        if got is not None:
            checked += 1
            if got != expected:
                wrong.append(f"{source}: oracle {got}, PocketBase {expected}")
    for source, by_who in want["rules"].items():
        for who, expected in by_who.items():
            got = _answer(_world(None if who == "guest" else who), source)
            if got is not None:
                checked += 1
                if got != expected:
                    wrong.append(f"[{who}] {source}: oracle {got}, PocketBase {expected}")
    assert checked > 2000, checked
    assert not wrong, f"{len(wrong)} of {checked}:\n" + "\n".join(wrong)
