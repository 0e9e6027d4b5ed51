"""The one check of every name and count a user (or a model file from the internet) hands the tools.

Model names become folder names (build/<model>/, models/<model>/), make variables, C macros and
Tcl words, so they are refused, never rewritten, unless they are a plain word:

    check_model_name("ern_tiny")          # 'ern_tiny'
    check_model_name("../x")              # BadName: model name '../x': ...

Graph names (ONNX node and tensor names) are free text: they are escaped at every sink instead
(`c_string`, `c_comment`, `tcl_quoted`). Counts on the command line go through `positive`,
`non_negative` (argparse types too). numpy-free and standard library only: runs on the board.
"""
from __future__ import annotations

import argparse
import math
import re

from host.errors import ErnError

MAX_MODEL_NAME = 64
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
ALLOWED = "letters, digits, '_', '.', '-'"


class BadName(ErnError, ValueError):
    """A name or a number the tools refuse; the message is one line naming it."""


def check_model_name(name, what: str = "model name") -> str:
    """`name` when it is a plain word: [A-Za-z0-9_.-], not starting with '.' or '-', at most
    MAX_MODEL_NAME characters; otherwise BadName."""
    if not isinstance(name, str):
        raise BadName(f"{what} must be a string, got {type(name).__name__}")
    shown = ascii(name) if len(name) <= 80 else ascii(name[:77]) + "..."
    if not name:
        raise BadName(f"{what} is empty")
    if len(name) > MAX_MODEL_NAME:
        raise BadName(f"{what} {shown} is longer than {MAX_MODEL_NAME} characters")
    if not _MODEL_NAME.fullmatch(name):
        if name[0] in ".-":
            raise BadName(f"{what} {shown} must not start with '.' or '-'")
        raise BadName(f"{what} {shown} may only hold {ALLOWED}")
    return name


def model_name_arg(text: str) -> str:
    """argparse type for --model: the checked name (argparse prints one line and exits 2)."""
    try:
        return check_model_name(text)
    except BadName as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# ---- numbers --------------------------------------------------------------------------------

def _number(value, what: str, integer: bool) -> float:
    if isinstance(value, bool):
        raise BadName(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise BadName(f"{what} must be {'an integer' if integer else 'a number'}, got {value!r}") from None
    if integer and not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        raise BadName(f"{what} must be an integer, got {value!r}")
    try:
        value = int(value) if integer else float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadName(f"{what} must be a number, got {value!r}") from None
    if not integer and not math.isfinite(value):
        raise BadName(f"{what} must be finite, got {value}")
    return value


def positive(value, what: str, integer: bool = False):
    """`value` when it is a finite number > 0 (an integer when `integer`), else BadName."""
    v = _number(value, what, integer)
    if v <= 0:
        raise BadName(f"{what} must be > 0, got {value}")
    return v


def non_negative(value, what: str, integer: bool = True):
    """`value` when it is a finite number >= 0, else BadName."""
    v = _number(value, what, integer)
    if v < 0:
        raise BadName(f"{what} must be >= 0, got {value}")
    return v


def _arg(check, integer: bool):
    def parse(text: str):
        try:
            return check(text, "the value", integer)
        except BadName as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = f"{check.__name__}_{'int' if integer else 'float'}"
    return parse


positive_int = _arg(positive, True)         # argparse types
positive_float = _arg(positive, False)
non_negative_int = _arg(non_negative, True)


# ---- escapes of free-text (graph) names at their sinks ------------------------------------------

def c_string(text: str) -> str:
    """`text` as a C/C++ string literal, quotes included: printable ASCII stays (but `"`, `\\` and
    `?` are escaped: no trigraphs), everything else becomes a 3-digit octal escape of its UTF-8
    bytes, so no character can end the literal or the line."""
    out = []
    for b in str(text).encode("utf-8", "backslashreplace"):
        ch = chr(b)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """`text` safe inside a // or /* */ comment on one line: printable ASCII only (others as
    `%NN`), no `*/`, no `/*`, no backslash (a trailing one would continue the line)."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("%5c")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("".join(f"%{b:02x}" for b in ch.encode("utf-8", "backslashreplace")))
    s = "".join(out)
    while "*/" in s or "/*" in s:
        s = s.replace("*/", "* /").replace("/*", "/ *")
    return s


def tcl_quoted(text: str) -> str:
    """`text` as one Tcl word in double quotes with no substitution: `[`, `$`, `\\`, `"`, braces
    are backslash-escaped; other characters outside printable ASCII are dropped to '?'."""
    out = []
    for ch in str(text):
        if ch in '[]$\\"{};':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'
