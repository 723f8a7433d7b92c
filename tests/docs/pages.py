"""Read the fenced code blocks of the documentation's Markdown pages.

>>> blocks = code_blocks("```python\\nx = 1\\n```\\n\\n  ```bash\\n  make\\n  ```\\n")
>>> [(block.info, block.body) for block in blocks]
[('python', 'x = 1'), ('bash', 'make')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>\S*)[^\n]*\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S
)
INCLUDE = re.compile(r"\{(?:literalinclude|include)\}\s+(?P<path>\S+)")
OPTION = re.compile(r'^:(?P<name>[\w-]+):\s*"?(?P<value>[^"\n]*)"?\s*$', re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block: its info string (``python``, ``{literalinclude} path``...) and body."""

    info: str
    body: str
    line: str = ""

    @property
    def include_path(self) -> str | None:
        """The path a ``{literalinclude}`` or ``{include}`` block names, else ``None``."""
        found = INCLUDE.match(f"{self.info} {self.line}".strip())
        return found["path"] if found else None

    def option(self, name: str) -> str | None:
        """The value of a directive option such as ``:start-after:``, unquoted."""
        for found in OPTION.finditer(self.body):
            if found["name"] == name:
                return found["value"]
        return None


def code_blocks(text: str) -> list[Block]:
    """Return the fenced blocks of a Markdown text, indented ones (in lists) included."""
    blocks = []
    for found in FENCE.finditer(text):
        first_line = found.group(0).split("\n", 1)[0].strip()
        rest = first_line.removeprefix("```" + found["info"]).strip()
        body = "\n".join(
            line.removeprefix(found["indent"]) for line in found["body"].rstrip("\n").split("\n")
        )
        blocks.append(Block(found["info"], body, rest))
    return blocks


def page_blocks(relative: str) -> list[Block]:
    """The blocks of ``docs/<relative>``."""
    return code_blocks((DOCS / relative).read_text())


def included_sources(relative: str) -> list[Path]:
    """The files the include blocks of ``docs/<relative>`` name, resolved, in page order.

    Asserts that each exists and holds its block's ``start-after`` and ``end-before`` markers.
    """
    sources = []
    for block in page_blocks(relative):
        if block.include_path is None:
            continue
        source = ((DOCS / relative).parent / block.include_path).resolve()
        assert source.is_file(), source
        text = source.read_text()
        for option in ("start-after", "end-before"):
            marker = block.option(option)
            assert marker is None or marker in text, f"{marker!r} is not in {source}"
        sources.append(source)
    return sources
