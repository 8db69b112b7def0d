"""Lenient readers for the scalars found in legacy `job_input_data`.

The front end sends ids as JSON numbers that may arrive as floats (`39070.0`) or as
numeric strings, and fills optional keys with null or blanks. These readers accept those
quirks (DECISIONS D5) and raise `ValueError` naming the bad value for anything else.
`None` means "absent: use the default".
"""

from __future__ import annotations

import re
from typing import Any

_SHOWN_CHARS = 40
# Integral only: "3", "+3", "3.0". Exponents, underscores and non-ASCII digits are not
# something the front end sends, so they are treated as garbage rather than guessed at.
_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,30}(?:\.0*)?", re.ASCII)
_HUGE = 10**30
_MAX_ATTACH_ID = 2**63 - 1  # quel_attach.attach_id is a bigint


def describe(value: Any) -> str:
    """A short rendering of a JSON value for error messages (containers are not dumped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 3] + "..."
        return f"'{shown}'"
    if isinstance(value, int):
        return str(value) if abs(value) < _HUGE else "a very large number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text(value: Any) -> str | None:
    """A trimmed string; non-strings and blanks are absent, as in the legacy reader."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def capped_text(value: Any, *, max_chars: int) -> str | None:
    """Like `text`, refusing strings longer than `max_chars` after trimming."""
    found = text(value)
    if found is not None and len(found) > max_chars:
        raise ValueError(f"text of {len(found)} characters is longer than the {max_chars} allowed")
    return found


def whole_number(value: Any) -> int | None:
    """An integer from an int, an integral float or a numeric string; null and blank are absent."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        if _WHOLE_NUMBER.fullmatch(stripped):
            return int(stripped.split(".", 1)[0])
    elif isinstance(value, bool):
        pass  # JSON true/false are not numbers, although Python treats bool as int
    elif isinstance(value, int):
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{describe(value)} is not a whole number")


def attach_id(value: Any) -> int:
    """A required `quel_attach` id: a positive integer."""
    try:
        number = whole_number(value)
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise ValueError(f"attach id {describe(value)} is not a positive integer")
    if number > _MAX_ATTACH_ID:
        raise ValueError(f"attach id {describe(value)} is too large for an attach id")
    return number


def optional_attach_id(value: Any) -> int | None:
    """An attach id where null, blank and 0 mean "none" (the legacy placeholder case)."""
    try:
        if whole_number(value) in (None, 0):
            return None
    except ValueError:
        pass  # reported by `attach_id`, in attach-id words
    return attach_id(value)


def count(value: Any, *, low: int, high: int) -> int | None:
    """A quantity in `low..high`; null and blank are absent."""
    try:
        number = whole_number(value)
    except ValueError:
        raise ValueError(f"quantity {describe(value)} is not a whole number") from None
    if number is not None and number < low:
        raise ValueError(f"quantity {describe(number)} is below the minimum of {low}")
    if number is not None and number > high:
        raise ValueError(f"quantity {describe(number)} is above the maximum of {high}")
    return number


def type_tag(value: Any, *, max_chars: int) -> str:
    """A reference image's `type`: trimmed and lower-cased; missing or blank is ``""``."""
    return (capped_text(value, max_chars=max_chars) or "").lower()
