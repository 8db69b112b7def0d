"""Hypothesis strategies for `job_input_data`: a fixture job's real input, the same input with
one to three subtle mistakes, or pure garbage.

Every value is storable in a `jsonb` column (no NUL characters, no NaN), and valid inputs
stay small (a handful of images) so a run of many examples stays fast.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from tests.faults.invariants import FIXTURE_IMAGES
from tests.support.seed import fixture

Path = tuple[str | int, ...]

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
"""Any JSON value."""

QUANTITIES: st.SearchStrategy[Any] = st.sampled_from([-1, 0, 1, 2.0, "2", 2.5, 51, 10**6, "many", True, None, [], {}])
ASPECT_RATIOS: st.SearchStrategy[Any] = st.sampled_from(
    ["7:3", "1:1 ", " 3:4", "16/9", "", "9:16:1", 169, None, "4:5", "21:9"]
)
ATTACH_IDS: st.SearchStrategy[Any] = st.sampled_from(
    [-3, 0, 1.5, 51001.0, "51002", 10**20, True, "abc", None, 51018, 999_999]
)
STAGE_INDEXES: st.SearchStrategy[Any] = st.sampled_from([0, 1, 2, -1, 5, 0.5, "1", None, 1.0])

_WRONG_FOR_KEY = {
    "quantity": QUANTITIES,
    "aspect-ratio": ASPECT_RATIOS,
    "aspectRatio": ASPECT_RATIOS,
    "attachId": ATTACH_IDS,
    "mergedAttachId": ATTACH_IDS,
    "mergedImageAttachId": ATTACH_IDS,
    "originalAttachId": ATTACH_IDS,
    "stage_index": STAGE_INDEXES,
}


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every key and list position inside `value`."""
    found: list[Path] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _parent(data: Any, path: Path) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def _mutated(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with one to three mistakes: a wrong value where a key expects a number, an id
    or a ratio, a value of the wrong type anywhere, a missing key or a repeated list entry."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        action = draw(st.sampled_from(["wrong value", "any value", "remove", "repeat"]))
        if action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "repeat" and isinstance(parent, list) and isinstance(key, int):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "wrong value" and str(key) in _WRONG_FOR_KEY:
            parent[key] = draw(_WRONG_FOR_KEY[str(key)])
        else:
            parent[key] = draw(JSON)
    return data


def _inputs_for(name: str) -> st.SearchStrategy[tuple[str, Any]]:
    valid = fixture(f"jobs/{name}.json")["job_input_data"]
    values = st.one_of(st.just(valid), _mutated(valid), JSON)
    return st.tuples(st.just(name), values)


FIXTURE_JOB_INPUTS = st.sampled_from(sorted(FIXTURE_IMAGES)).flatmap(_inputs_for)
"""(fixture job name, `job_input_data` to store in its row)."""
