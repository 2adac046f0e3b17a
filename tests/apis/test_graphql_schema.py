"""The generated schema: names, field types, determinism, and ``roost graphql schema``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import GraphQLSchema, assert_valid_schema, build_schema, print_schema

from roost.apis.graphql.names import collection_names, graphql_name
from roost.apis.graphql.schema import build_schema as build_roost_schema
from roost.apis.graphql.schema import schema_sdl
from roost.core.schema.collection import Collection
from roost.testing import make_test_app

ROOST = str(Path(sys.executable).parent / "roost")


def test_invalid_names_are_rewritten_deterministically() -> None:
    assert graphql_name("posts") == "posts" and graphql_name("_superusers") == "_superusers"
    assert graphql_name("9lives") == "C_9lives" and graphql_name("__secret") == "C___secret"
    assert graphql_name("café") == "caf_" and graphql_name("") == "_"


def test_clashing_collection_names_get_their_id() -> None:
    colls = [Collection(id=i, name=n) for i, n in (("id1", "posts"), ("id2", "postsList"), ("id3", "string"), ("id4", "todoList"), ("id5", "postsAggregate"))]
    names = collection_names(colls)
    assert names == {"id1": "posts", "id2": "postsList_id2", "id3": "string_id3", "id4": "todoList", "id5": "postsAggregate_id5"}
    assert collection_names(reversed(colls)) == names


async def _collections(tmp_path: Path) -> list[Collection]:
    async with make_test_app(tmp_path) as api:
        users = (await api.su("GET", "/api/collections/users")).json()
        await api.create_collection({"name": "kinds", "fields": [
            {"name": "t", "type": "text"}, {"name": "n", "type": "number"}, {"name": "b", "type": "bool"},
            {"name": "e", "type": "email"}, {"name": "u", "type": "url"}, {"name": "ed", "type": "editor"},
            {"name": "d", "type": "date"}, {"name": "j", "type": "json"}, {"name": "g", "type": "geoPoint"},
            {"name": "s1", "type": "select", "values": ["a"], "maxSelect": 1},
            {"name": "s2", "type": "select", "values": ["a", "b"], "maxSelect": 2},
            {"name": "f1", "type": "file", "maxSelect": 1}, {"name": "f2", "type": "file", "maxSelect": 2},
            {"name": "r1", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
            {"name": "r2", "type": "relation", "collectionId": users["id"], "maxSelect": 4},
            {"name": "at", "type": "autodate", "onCreate": True},
        ]})  # fmt: skip
        await api.create_collection({"name": "kind_view", "type": "view", "viewQuery": "SELECT id, t FROM kinds"})
        return api.app.collections.all()


async def test_every_field_type_has_its_graphql_type(tmp_path: Path) -> None:
    built = build_roost_schema(await _collections(tmp_path / "d"))
    assert_valid_schema(built.schema)
    kinds = built.schema.type_map["KindsRecord"].fields  # type: ignore[attr-defined]
    types = {name: str(field.type) for name, field in kinds.items()}
    assert types == {
        "id": "String", "t": "String", "n": "Float", "b": "Boolean", "e": "String", "u": "String", "ed": "String",
        "d": "String", "j": "JSON", "g": "GeoPoint", "s1": "String", "s2": "[String!]", "f1": "String",
        "f2": "[String!]", "r1": "UsersRecord", "r2": "[UsersRecord!]!", "r1Id": "String", "r2Id": "[String!]",
        "at": "String", "collectionId": "String", "collectionName": "String",
    }  # fmt: skip
    assert list(kinds["f1"].args) == ["thumb"]
    users = built.schema.type_map["UsersRecord"].fields  # type: ignore[attr-defined]
    assert "password" not in users and str(users["kinds_via_r1"].type) == "[KindsRecord!]!"
    mutation = built.schema.mutation_type
    assert mutation is not None and "createKinds" in mutation.fields and "createKind_view" not in mutation.fields
    assert "kind_viewList" in built.schema.query_type.fields  # type: ignore[union-attr]


async def test_the_cli_prints_the_same_sdl_every_time(tmp_path: Path) -> None:
    collections = await _collections(tmp_path / "d")
    first = subprocess.run([ROOST, "graphql", "schema", "--dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([ROOST, "graphql", "schema", "--dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert first.stdout == again.stdout and first.stdout.strip() == schema_sdl(collections).strip()
    parsed: GraphQLSchema = build_schema(first.stdout)
    assert "type KindsRecord" in first.stdout and print_schema(parsed).strip() == first.stdout.strip()
