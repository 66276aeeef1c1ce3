"""Strict YAML for the secrecy settings: duplicate keys refused, errors that name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class SecrecyConfigError(ValueError):
    """A secrecy settings file is malformed; the message names the file and the field."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: overridden keys are the point
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path | str) -> Any:
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise SecrecyConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise SecrecyConfigError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise SecrecyConfigError(f"{path}: not UTF-8 text") from None


def explain(path: Path | str, exc: ValidationError) -> SecrecyConfigError:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(file)"
        lines.append(f"field '{where}': {err['msg']}")
    return SecrecyConfigError(f"{path}: " + "; ".join(lines))


def load_model(path: Path | str, model: type[M]) -> M:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise SecrecyConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise explain(path, exc) from None
