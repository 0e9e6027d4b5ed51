"""Small builders for C++ text: a line writer, template calls, array initialisers.

Everything returns plain strings built from data (no template files, no marker comments);
formatting is fixed, so the same input always gives the same bytes.
"""
from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple

from host.names import c_comment

WRAP = 110   # target line length of the generated code


class Writer:
    """Lines with indentation."""

    def __init__(self):
        self.lines: List[str] = []
        self.level = 0

    def __call__(self, line: str = "") -> "Writer":
        self.lines.append(("    " * self.level + line) if line else "")
        return self

    def raw(self, line: str) -> "Writer":
        """A line at column 0 (preprocessor directives and pragmas)."""
        self.lines.append(line)
        return self

    def extend(self, lines: Iterable[str]) -> "Writer":
        for line in lines:
            self(line)
        return self

    def comment(self, text: str, width: int = WRAP) -> "Writer":
        """A // comment, wrapped."""
        for line in wrap_words(text, width - 4 * self.level - 3):
            line = c_comment(line)   # graph names: no backslash, no */ and no control characters
            self("// " + line if line else "//")
        return self

    def indent(self) -> "Writer":
        self.level += 1
        return self

    def dedent(self) -> "Writer":
        self.level -= 1
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def wrap_words(text: str, width: int) -> List[str]:
    out: List[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


def literal(value) -> str:
    """A template argument: bools as true/false, integers as decimals."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wrap_list(items: Sequence[str], first: str, cont: str, close: str, width: int = WRAP) -> List[str]:
    """`first` + items joined by ", " + `close`, broken into lines that start with `cont`."""
    lines, line = [], first
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else close)
        if len(line) + len(piece.rstrip()) > width and line.strip() not in ("", first.strip()):
            lines.append(line.rstrip())
            line = cont
        line += piece
    if not items:
        line += close
    lines.append(line.rstrip())
    return lines


def template_call(func: str, targs: Sequence[Tuple[str, object]], args: Sequence[str], indent: str) -> List[str]:
    """`func</*NAME*/ value, ...>(args)` with every template argument named in a comment."""
    named = [f"/*{name}*/ {literal(value)}" for name, value in targs]
    cont = indent + " " * (len(func) + 1)
    head = wrap_list(named, indent + func + "<", cont, ">(")
    last = head.pop()
    return head + wrap_list(list(args), last, cont, ")")


def array_initializer(values, ndim: int, fmt, per_line: int, indent: str = "") -> List[str]:
    """Nested brace initialiser `{ {...}, ... }` of an `ndim`-dimensional C array; the innermost
    lists are broken into lines of `per_line` values."""
    lines: List[str] = []

    def walk(v, depth: int, pad: str, end: str):
        if depth == ndim:
            items = [fmt(x) for x in v]
            if len(items) <= per_line:
                lines.append(f"{pad}{{{', '.join(items)}}}{end}")
                return
            lines.append(pad + "{")
            for i in range(0, len(items), per_line):
                more = "," if i + per_line < len(items) else ""
                lines.append(pad + "    " + ", ".join(items[i:i + per_line]) + more)
            lines.append(pad + "}" + end)
            return
        lines.append(pad + "{")
        for i, sub in enumerate(v):
            walk(sub, depth + 1, pad + "    ", "" if i == len(v) - 1 else ",")
        lines.append(pad + "}" + end)

    walk(values, 1, indent, "")
    return lines
