"""Graph names -> stable, unique C identifiers.

Layer and stream names come from the graph (ONNX node names such as ``stage1.conv1`` or
``/layer1/0/Add_output_0``). The generated C++ needs identifiers that

- are valid C and C++ identifiers (letters, digits, underscores; no leading digit),
- are not keywords (``int``, ``new``, ...) nor reserved (``_X...``, anything with ``__``),
- do not change when an unrelated layer is added (a name depends only on its own text and on
  the names issued before it, in layer order),
- are unique: two graph names that sanitize alike (``a.b`` and ``a_b``) get ``a_b`` and
  ``a_b_2``, in the order they are issued.

    namer = Namer()
    namer.get("s_", "stage1.conv1")   # 's_stage1_conv1'
"""
import hashlib
import re
from typing import Dict

# C++14 keywords and alternative tokens, plus a few names the generated code or the C library use.
KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t char32_t class
compl const constexpr const_cast continue decltype default delete do double dynamic_cast else enum
explicit export extern false float for friend goto if inline int long mutable namespace new noexcept
not not_eq nullptr operator or or_eq private protected public register reinterpret_cast return short
signed sizeof static static_assert static_cast struct switch template this thread_local throw true try
typedef typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq
main frames std hls ern assert errno NULL EOF
""".split())

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")
_UNDERSCORES = re.compile(r"_{2,}")


MAX_IDENT = 48   # a longer sanitized name keeps its first MAX_IDENT - 9 characters and a hash


def bounded(ident: str, name: str) -> str:
    """`ident` cut to MAX_IDENT characters, ending in 8 hex digits of sha256(`name`) when cut, so
    identifiers and the file names made of them stay short and distinct."""
    if len(ident) <= MAX_IDENT:
        return ident
    digest = hashlib.sha256(str(name).encode("utf-8", "backslashreplace")).hexdigest()[:8]
    return ident[:MAX_IDENT - 9].rstrip("_") + "_" + digest


def sanitize(name: str) -> str:
    """One graph name as a C identifier (not yet made unique).

    Every run of characters outside [A-Za-z0-9_] becomes one underscore, runs of underscores
    collapse to one, leading and trailing underscores go; an empty result becomes ``x``, a
    leading digit gets an ``n`` in front, a keyword gets a trailing underscore.
    """
    ident = _UNDERSCORES.sub("_", _NOT_IDENT.sub("_", str(name))).strip("_")
    if not ident:
        ident = "x"
    if ident[0].isdigit():
        ident = "n" + ident
    if ident in KEYWORDS:
        ident += "_"
    return ident


class Namer:
    """Issues unique identifiers in a deterministic order (the order of the calls)."""

    def __init__(self):
        self._taken: Dict[str, str] = {}   # identifier -> what it names (for messages)
        self._issued: Dict[tuple, str] = {}

    def get(self, prefix: str, name: str, suffix: str = "") -> str:
        """The identifier for (prefix, name, suffix); the same arguments give the same identifier."""
        key = (prefix, name, suffix)
        if key in self._issued:
            return self._issued[key]
        base = sanitize(prefix + bounded(sanitize(name), name) + suffix)
        ident, n = base, 1
        while ident in self._taken or ident in KEYWORDS:
            n += 1
            ident = f"{base}_{n}"
        self._taken[ident] = name
        self._issued[key] = ident
        return ident

    def reserve(self, ident: str) -> None:
        """Keep a fixed identifier (the top function, its ports) out of the generated ones."""
        self._taken[ident] = ident
