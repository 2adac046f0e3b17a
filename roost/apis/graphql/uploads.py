"""File uploads: the GraphQL multipart request spec, mapped onto REST's upload path.

A ``multipart/form-data`` POST carries ``operations`` (the usual ``{query, variables,
operationName}`` JSON with ``null`` where files go), ``map`` (``{"0": ["variables.file"], ...}``)
and one part per file. Each file is put where ``map`` says, as a core :class:`Upload`; the
resolvers then move every upload out of the REST body into the files core's create and update
take (:func:`split_uploads`), so size, type and count are checked by the file field's options
as for REST's multipart form.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError, GraphQLScalarType, ValueNode
from starlette.datastructures import FormData, UploadFile

from roost.core.records.files import Upload


def _upload(value: Any) -> Upload:
    if not isinstance(value, Upload):
        raise GraphQLError("Upload values come from the parts of a multipart request.")
    return value


def _no_literal(_node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
    raise GraphQLError("An Upload cannot be written inline; pass it as a variable.")


UPLOAD = GraphQLScalarType(
    "Upload",
    description="A file part of a multipart request (the GraphQL multipart request spec).",
    serialize=_upload,
    parse_value=_upload,
    parse_literal=_no_literal,
)


def operations_of(form: FormData) -> Any:
    """``operations`` with each file of ``map`` in place; ValueError for a malformed request."""
    try:
        operations = orjson.loads(str(form.get("operations") or ""))
        mapping = orjson.loads(str(form.get("map") or "{}"))
    except orjson.JSONDecodeError as exc:
        raise ValueError("The operations and map parts must be JSON.") from exc
    if not isinstance(operations, dict) or not isinstance(mapping, dict):
        raise ValueError("The operations part must be a JSON object and map a JSON object.")
    for key, paths in mapping.items():
        part = form.get(key)
        if not isinstance(part, UploadFile):
            raise ValueError(f"The map names a file part {key!r} the request does not hold.")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("Each map entry must be a list of paths.")
        for path in paths:
            _put(operations, path, Upload.from_file(part.filename or "", part.file))
    return operations


def _put(operations: dict[str, Any], path: str, upload: Upload) -> None:
    *parents, last = path.split(".")
    if not parents or parents[0] != "variables":
        raise ValueError(f"The map path {path!r} must point into the variables.")
    node: Any = operations
    for step in [*parents, last][:-1]:
        node = _step(node, step)
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = upload
    elif isinstance(node, dict) and node.get(last, None) is None:
        node[last] = upload
    else:
        raise ValueError(f"The map path {path!r} does not point at a null in the variables.")


def _step(node: Any, step: str) -> Any:
    if isinstance(node, dict) and isinstance(node.get(step), dict | list):
        return node[step]
    if isinstance(node, list) and step.isdigit() and int(step) < len(node):
        return node[int(step)]
    raise ValueError(f"The map path step {step!r} does not exist in the variables.")


def split_uploads(body: Any) -> tuple[Any, dict[str, list[Upload]]]:
    """REST's body without its uploads, and the uploads by body key (``docs``, ``docs+`` ...)."""
    if not isinstance(body, dict):
        return body, {}
    rest: dict[str, Any] = {}
    files: dict[str, list[Upload]] = {}
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        uploads = [v for v in values if isinstance(v, Upload)]
        if uploads:
            files[key] = uploads
            names = [v for v in values if not isinstance(v, Upload)]
            if names:  # kept names next to new files, as a multipart form sends both
                rest[key] = names
        else:
            rest[key] = value
    return rest, files
