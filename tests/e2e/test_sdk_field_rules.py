"""Roles and field rules through the JS SDK: the SDK's own methods carry the new field options,
the answers follow them, and realtime events arrive without the unreadable field."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .sdk import SdkDriver, code, step, superuser_login
from .servers import LiveServer

ADMIN_ONLY = '@request.auth.roles:each ?= \\"admin\\"'


@pytest.mark.parametrize("kind", ["roost", "roost-pg", "roost-mysql"])
def test_roles_and_field_rules_through_the_sdk(
    kind: str, fresh_server: Callable[[str], LiveServer], sdk: SdkDriver
) -> None:
    server = fresh_server(kind)
    run = sdk.run(server.base_url, [
        superuser_login(server, "su"),
        code("schema", f"""
            const su = client('su');
            const users = await su.collections.getOne('users');
            users.fields.push({{name: 'roles', type: 'select', maxSelect: 2, values: ['admin', 'editor'],
                                writeRule: "{ADMIN_ONLY}"}});
            await su.collections.update('users', {{fields: users.fields}});
            await su.collections.create({{name: 'staff', listRule: '', viewRule: '', updateRule: '',
              fields: [{{name: 'name', type: 'text'}},
                       {{name: 'salary', type: 'number', readRule: "{ADMIN_ONLY}"}}]}});
            for (const [name, roles] of [['alice', ['admin']], ['carol', []]]) {{
              await su.collection('users').create({{email: name + '@example.com', password: 'password123',
                passwordConfirm: 'password123', roles}});
              await client(name).collection('users').authWithPassword(name + '@example.com', 'password123');
            }}
            return (await su.collection('staff').create({{name: 'dave', salary: 10}})).id;""", save="dave"),
        step("field options", "client('su').collections.getOne('staff')"),
        step("carol list", "client('carol').collection('staff').getFullList({sort: 'name'})"),
        step("alice list", "client('alice').collection('staff').getFullList({sort: 'name'})"),
        step("carol filter", "client('carol').collection('staff').getFullList({filter: 'salary = 10'})"),
        step("carol self-promotes", "client('carol').collection('users').update(client('carol').authStore.record.id, {roles: ['admin']})"),
        code("carol realtime", """
            const carol = client('carol');
            let unsubscribe;
            const seen = new Promise((resolve) => {
              carol.collection('staff').subscribe('*', (e) => resolve(e.record)).then((u) => { unsubscribe = u; });
            });
            await sleep(300);
            await client('su').collection('staff').update(vars.dave, {salary: 11});
            const record = await Promise.race([seen, sleep(5000).then(() => 'no event')]);
            if (unsubscribe) await unsubscribe();
            return record;"""),
        step("custom route", "client('carol').send('/api/collections/staff/records', {query: {fields: 'name,salary'}})"),
    ])  # fmt: skip
    salary = next(f for f in run["field options"].value["fields"] if f["name"] == "salary")
    assert salary["readRule"] == '@request.auth.roles:each ?= "admin"' and "writeRule" not in salary
    assert (
        run["carol list"].value[0]["name"] == "dave" and "salary" not in run["carol list"].value[0]
    )
    assert run["alice list"].value[0]["salary"] == 10
    assert run["carol filter"].value == []
    assert run["carol self-promotes"].status == 400
    assert run["carol self-promotes"].error_codes() == {"roles": "validation_field_write_forbidden"}
    event = run["carol realtime"].value
    assert event["name"] == "dave" and "salary" not in event
    assert run["custom route"].value["items"] == [{"name": "dave"}]
