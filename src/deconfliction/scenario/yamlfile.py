"""YAML scenario files: parsed safely, a key given twice refused, errors naming their line."""

from __future__ import annotations

from typing import Any

import yaml

from .columns import no_gc
from .errors import ScenarioError

# libyaml's parser when PyYAML has it: several times faster on large files
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_BaseLoader):  # type: ignore[misc]
    """A safe loader that refuses a key given twice in one mapping.

    YAML would keep the last silently: a second `reports:` or `lon:` in a hand-written
    scenario is a mistake worth naming.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first given on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def parse_yaml(source: str, data: bytes) -> Any:
    """The document of a YAML file; malformed input is an error naming its line."""
    try:
        with no_gc():
            document = yaml.load(data, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = error.problem or error.context or "malformed"
        raise ScenarioError(source, [f"{where}malformed YAML: {what}"]) from None
    except yaml.YAMLError as error:
        raise ScenarioError(source, [f"malformed YAML: {error}"]) from None
    if document is None:
        raise ScenarioError(source, ["the file is empty"])
    return document
