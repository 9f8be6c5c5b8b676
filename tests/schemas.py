"""Validators for the installed JSON Schemas, with their cross-references resolved.

The analyze document embeds the logs document (``analyze --log``) by ``$ref`` to the logs
schema's ``$id``; a validator built here knows every schema the package ships.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

NAMES = ("analyze", "logs", "probe", "fixcheck")


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("pathsleuth").joinpath(f"schema/{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def registry() -> Registry:
    resources_ = [Resource.from_contents(load_schema(n)) for n in NAMES]
    return Registry().with_resources((r.id(), r) for r in resources_ if r.id())  # type: ignore[misc]


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry())
