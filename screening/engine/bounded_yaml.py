"""Reading YAML content files with bounds, so a small file cannot make the loader build a huge one.

YAML aliases (`*name`) repeat an anchored value (`&name`): nine lines that each repeat the
line before nine times (the "billion laughs") are 426 bytes that expand to 387 million
values, and took the content loader 10.7 s and 349 MB. Aliases stay allowed (the default
question set shares one list of answer choices between ten questions), but the document they
expand to is measured before any Python object is built, and refused past a bound on values
and nesting. PyYAML's safe loader, so no tags build arbitrary objects.
"""

import io

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

# Far above the default files (97 KB, about 4,000 values, 8 levels deep).
MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 100_000
MAX_NESTING = 20


class YAMLRefused(Exception):
    """The file is valid YAML but past a bound; the message says which, and where."""

    def __init__(self, problem: str, node_or_mark: Node | yaml.Mark | None) -> None:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        super().__init__(problem + where)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, refusing deep nesting while composing and oversized
    alias expansion before constructing."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        # The composer recurses once per level: refuse before Python's stack runs out.
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise YAMLRefused(
                    f"nested more than {MAX_NESTING} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: Node) -> object:
        _measure(node, memo={}, inside=set(), depth=1)
        return super().construct_document(node)


def _measure(node: Node, *, memo: dict, inside: set, depth: int) -> tuple[int, int]:
    """How many values `node` expands to, aliases repeated, and how deep; refuses past a bound.

    Each distinct node is walked once (`memo`), so measuring costs what the file holds, not
    what it expands to; the recursion never goes deeper than MAX_NESTING.
    """
    key = id(node)
    if key in memo:
        size, height = memo[key]
        if depth + height > MAX_NESTING:
            raise YAMLRefused(
                f"aliases (*name) nest values more than {MAX_NESTING} levels deep", node
            )
        return size, height
    if key in inside:
        raise YAMLRefused("an alias (*name) repeats a value inside itself", node)
    if depth > MAX_NESTING:
        raise YAMLRefused(f"aliases (*name) nest values more than {MAX_NESTING} levels deep", node)
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    inside.add(key)
    size, height = 1, 0
    for child in children:
        child_size, child_height = _measure(child, memo=memo, inside=inside, depth=depth + 1)
        size += child_size
        height = max(height, child_height + 1)
        if size > MAX_VALUES:
            raise YAMLRefused(
                f"aliases (*name) expand it to more than {MAX_VALUES:,} values", child
            )
    inside.discard(key)
    memo[key] = (size, height)
    return size, height


def load(raw: bytes, name: str = "<content>") -> object:
    """Parse one YAML document. Raises YAMLRefused past a bound, yaml.YAMLError when it is not
    YAML, and ValueError for a value Python cannot hold (a date that does not exist, an integer
    of more than 4,300 digits)."""
    if len(raw) > MAX_FILE_BYTES:
        raise YAMLRefused(f"larger than {MAX_FILE_BYTES // 1024:,} KB", None)
    stream = io.BytesIO(raw)
    stream.name = name  # PyYAML names the file in its own error messages
    loader = BoundedLoader(stream)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
