"""S1 authorization matrix as data: the rule sets under test and the expected outcome of every
actor x operation x rule scenario (PocketBase 0.40 semantics, checked against the reference binary).

Actors: ``G`` guest, ``A`` user A (owner of record ``a``), ``B`` user B (owner of ``b``), ``M`` a user of
another auth collection (``members``), ``K`` a ``staff`` user who passes the ``users`` manageRule, ``S``
superuser. Every rule-set collection holds ``a`` (owner A, author "alice", tag "a") and ``b`` (owner B,
author "bob", tag "b"), each with a protected file.

An outcome is a token: an HTTP status (``200``, ``204``, ``400``, ``403``, ``404``); for ``list`` the
seed records returned (``ab``, ``a``, ``b``, ``-`` for none); for ``expand``/``email`` ``E`` when the
related record (or the e-mail) is in the response and ``-`` when it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTORS = ("G", "A", "B", "M", "K", "S")
OPS = ("list", "view", "create", "update", "delete")

OWNER = "owner = @request.auth.id"
AUTHED = '@request.auth.id != ""'
JOIN = "@collection.grants.user ?= @request.auth.id && @collection.grants.doc ?= tag"
BODY_UPDATE = f'{OWNER} && @request.body.owner:isset = false && @request.body.title != "bad"'


def _same(rule: str | None) -> dict[str, str | None]:
    return dict.fromkeys(OPS, rule)


# rule set -> operation -> rule (None = superusers only, "" = everyone)
RULESETS: dict[str, dict[str, str | None]] = {
    "superuser": _same(None),
    "public": _same(""),
    "owner": _same(OWNER),
    "authed": _same(AUTHED),
    "members": _same('@request.auth.collectionName = "members"'),
    "body": {"list": "", "view": "", "create": '@request.body.title = "ok"', "update": BODY_UPDATE, "delete": ""},
    "relation": _same('author.name = "alice"'),
    "join": _same(JOIN),
    "mixed": {"list": "", "view": OWNER, "create": AUTHED, "update": None,
              "delete": '@request.auth.collectionName = "staff"'},
}  # fmt: skip

# The auth collection ``users`` (A and B): staff may list, view and update users, and manage them.
USERS_OWN_OR_STAFF = '@request.auth.id = id || @request.auth.collectionName = "staff"'
USERS_RULES: dict[str, str | None] = {
    "listRule": USERS_OWN_OR_STAFF, "viewRule": USERS_OWN_OR_STAFF, "updateRule": USERS_OWN_OR_STAFF,
    "createRule": "", "deleteRule": "@request.auth.id = id", "manageRule": '@request.auth.collectionName = "staff"',
}  # fmt: skip

# Operations on a rule-set collection. create:ok sends title "ok", tag "a", author alice and the
# caller as owner (when the caller is in ``users``); create:bad sends title "bad", tag "b", author bob
# and the other user as owner. update:* sends a note; update:bad sends title "bad" to record a.
# delete:* removes a fresh copy of a or b. expand:* expands a public link's relation to a or b.
MATRIX = """
# ruleset  op           G    A    B    M    K    S
superuser  list         403  403  403  403  403  ab
superuser  view:a       403  403  403  403  403  200
superuser  view:b       403  403  403  403  403  200
superuser  file:a       404  404  404  404  404  200
superuser  file:b       404  404  404  404  404  200
superuser  expand:a     -    -    -    -    -    E
superuser  expand:b     -    -    -    -    -    E
superuser  create:ok    403  403  403  403  403  200
superuser  create:bad   403  403  403  403  403  200
superuser  update:a     403  403  403  403  403  200
superuser  update:b     403  403  403  403  403  200
superuser  update:bad   403  403  403  403  403  200
superuser  delete:a     403  403  403  403  403  204
superuser  delete:b     403  403  403  403  403  204

public     list         ab   ab   ab   ab   ab   ab
public     view:a       200  200  200  200  200  200
public     view:b       200  200  200  200  200  200
public     file:a       200  200  200  200  200  200
public     file:b       200  200  200  200  200  200
public     expand:a     E    E    E    E    E    E
public     expand:b     E    E    E    E    E    E
public     create:ok    200  200  200  200  200  200
public     create:bad   200  200  200  200  200  200
public     update:a     200  200  200  200  200  200
public     update:b     200  200  200  200  200  200
public     update:bad   200  200  200  200  200  200
public     delete:a     204  204  204  204  204  204
public     delete:b     204  204  204  204  204  204

# a guest's empty owner equals a guest's empty auth id: PocketBase lets that create through
owner      list         -    a    b    -    -    ab
owner      view:a       404  200  404  404  404  200
owner      view:b       404  404  200  404  404  200
owner      file:a       404  200  404  404  404  200
owner      file:b       404  404  200  404  404  200
owner      expand:a     -    E    -    -    -    E
owner      expand:b     -    -    E    -    -    E
owner      create:ok    200  200  200  400  400  200
owner      create:bad   400  400  400  400  400  200
owner      update:a     404  200  404  404  404  200
owner      update:b     404  404  200  404  404  200
owner      update:bad   404  200  404  404  404  200
owner      delete:a     404  204  404  404  404  204
owner      delete:b     404  404  204  404  404  204

authed     list         -    ab   ab   ab   ab   ab
authed     view:a       404  200  200  200  200  200
authed     view:b       404  200  200  200  200  200
authed     file:a       404  200  200  200  200  200
authed     file:b       404  200  200  200  200  200
authed     expand:a     -    E    E    E    E    E
authed     expand:b     -    E    E    E    E    E
authed     create:ok    400  200  200  200  200  200
authed     create:bad   400  200  200  200  200  200
authed     update:a     404  200  200  200  200  200
authed     update:b     404  200  200  200  200  200
authed     update:bad   404  200  200  200  200  200
authed     delete:a     404  204  204  204  204  204
authed     delete:b     404  204  204  204  204  204

members    list         -    -    -    ab   -    ab
members    view:a       404  404  404  200  404  200
members    view:b       404  404  404  200  404  200
members    file:a       404  404  404  200  404  200
members    file:b       404  404  404  200  404  200
members    expand:a     -    -    -    E    -    E
members    expand:b     -    -    -    E    -    E
members    create:ok    400  400  400  200  400  200
members    create:bad   400  400  400  200  400  200
members    update:a     404  404  404  200  404  200
members    update:b     404  404  404  200  404  200
members    update:bad   404  404  404  200  404  200
members    delete:a     404  404  404  204  404  204
members    delete:b     404  404  404  204  404  204

body       list         ab   ab   ab   ab   ab   ab
body       view:a       200  200  200  200  200  200
body       view:b       200  200  200  200  200  200
body       file:a       200  200  200  200  200  200
body       file:b       200  200  200  200  200  200
body       expand:a     E    E    E    E    E    E
body       expand:b     E    E    E    E    E    E
body       create:ok    200  200  200  200  200  200
body       create:bad   400  400  400  400  400  200
body       update:a     404  200  404  404  404  200
body       update:b     404  404  200  404  404  200
body       update:bad   404  404  404  404  404  200
body       delete:a     204  204  204  204  204  204
body       delete:b     204  204  204  204  204  204

relation   list         a    a    a    a    a    ab
relation   view:a       200  200  200  200  200  200
relation   view:b       404  404  404  404  404  200
relation   file:a       200  200  200  200  200  200
relation   file:b       404  404  404  404  404  200
relation   expand:a     E    E    E    E    E    E
relation   expand:b     -    -    -    -    -    E
relation   create:ok    200  200  200  200  200  200
relation   create:bad   400  400  400  400  400  200
relation   update:a     200  200  200  200  200  200
relation   update:b     404  404  404  404  404  200
relation   update:bad   200  200  200  200  200  200
relation   delete:a     204  204  204  204  204  204
relation   delete:b     404  404  404  404  404  204

# grants: (A, "a") and (B, "zzz"); both conditions must hold on the same grant row
join       list         -    a    -    -    -    ab
join       view:a       404  200  404  404  404  200
join       view:b       404  404  404  404  404  200
join       file:a       404  200  404  404  404  200
join       file:b       404  404  404  404  404  200
join       expand:a     -    E    -    -    -    E
join       expand:b     -    -    -    -    -    E
join       create:ok    400  200  400  400  400  200
join       create:bad   400  400  400  400  400  200
join       update:a     404  200  404  404  404  200
join       update:b     404  404  404  404  404  200
join       update:bad   404  200  404  404  404  200
join       delete:a     404  204  404  404  404  204
join       delete:b     404  404  404  404  404  204

mixed      list         ab   ab   ab   ab   ab   ab
mixed      view:a       404  200  404  404  404  200
mixed      view:b       404  404  200  404  404  200
mixed      file:a       404  200  404  404  404  200
mixed      file:b       404  404  200  404  404  200
mixed      expand:a     -    E    -    -    -    E
mixed      expand:b     -    -    E    -    -    E
mixed      create:ok    400  200  200  200  200  200
mixed      create:bad   400  200  200  200  200  200
mixed      update:a     403  403  403  403  403  200
mixed      update:b     403  403  403  403  403  200
mixed      update:bad   403  403  403  403  403  200
mixed      delete:a     404  404  404  404  204  204
mixed      delete:b     404  404  404  404  204  204

# the auth collection users (USERS_RULES); a = user A, b = user B; set-*/delete act on a fresh user
# that plays A. email:a is A's e-mail (emailVisibility off) in a view; expand:a expands public.a.owner
users      list         -    a    b    -    ab   ab
users      view:a       404  200  404  404  200  200
users      view:b       404  404  200  404  200  200
users      email:a      404  E    404  404  E    E
users      expand:a     -    E    -    -    E    E
users      update:a     404  200  404  404  200  200
users      set-email    404  400  404  404  200  200
users      set-verified 404  400  404  404  200  200
users      set-password 404  400  404  404  200  200
users      create-verified 400 400 400 400  200  200
users      delete:a     404  204  404  404  404  204

# auth-with-password with the caller's token in the header: a user's token changes nothing; a
# superuser's skips the authRule, as in PocketBase. gates has authRule "verified = true"; closed null.
auth       login:users       200  200  200  200  200  200
auth       login:verified    200  200  200  200  200  200
auth       login:unverified  403  403  403  403  403  200
auth       login:closed      403  403  403  403  403  200
"""

# A batch item must end exactly as the same request sent on its own.
BATCHED = {"batch:create:ok": "create:ok", "batch:update:a": "update:a", "batch:delete:b": "delete:b",
           "batch:update:bad": "update:bad"}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    ruleset: str
    op: str
    actor: str
    expected: str


def _rows() -> list[tuple[str, str, tuple[str, ...]]]:
    rows = []
    for line in MATRIX.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ruleset, op, *cells = line.split()
        assert len(cells) == len(ACTORS), line
        rows.append((ruleset, op, tuple(cells)))
    return rows


def scenarios(rulesets: set[str] | None = None) -> list[Scenario]:
    """Every scenario of the table (batch rows derived from their plain twins), optionally a subset."""
    rows = _rows()
    derived = [(rs, batch_op, cells) for rs, op, cells in rows if rs in RULESETS
               for batch_op, plain in BATCHED.items() if op == plain]  # fmt: skip
    out = [
        Scenario(rs, op, actor, cell)
        for rs, op, cells in rows + derived
        if rulesets is None or rs in rulesets
        for actor, cell in zip(ACTORS, cells, strict=True)
    ]
    return out
