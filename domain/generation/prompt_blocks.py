"""Pieces every category prompt is built from (DOMAIN 7): what the builders are given,
the reference role lines, block layout, the angle/shot vocabulary, and the fixed
sentences that do not belong to one category."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from domain.generation.buckets import Bucket, Buckets

NO_REFERENCES_NOTE = "No reference images were provided, so create the image from the written description alone."
VARIATION_REQUEST = "Create one new variation of this image that is clearly different from it."


class Scene(StrEnum):
    """Which preamble a category uses, chosen from the buckets the caller really supplied."""

    WITH_MODEL = "with_model"
    PRODUCTS_ONLY = "products_only"
    BACKGROUND_ONLY = "background_only"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Supplied:
    """How many images of each bucket the caller supplied, before normalisation copies."""

    models: int = 0
    clothing: int = 0
    accessories: int = 0
    backgrounds: int = 0

    @classmethod
    def of(cls, buckets: Buckets) -> Supplied:
        return cls(
            models=len(buckets.models),
            clothing=len(buckets.clothing),
            accessories=len(buckets.accessories),
            backgrounds=len(buckets.backgrounds),
        )

    @property
    def products(self) -> int:
        return self.clothing + self.accessories

    @property
    def scene(self) -> Scene:
        if self.models:
            return Scene.WITH_MODEL
        if self.products:
            return Scene.PRODUCTS_ONLY
        if self.backgrounds:
            return Scene.BACKGROUND_ONLY
        return Scene.NOTHING


@dataclass(frozen=True)
class PromptInput:
    """Everything a category prompt builder decides on."""

    roles: tuple[Bucket, ...]
    """The bucket of each image part, in part order."""
    supplied: Supplied
    caller_text: str
    aspect_ratio: str
    stand_ins: frozenset[Bucket] = field(default=frozenset())

    @property
    def scene(self) -> Scene:
        return self.supplied.scene

    def has(self, bucket: Bucket) -> bool:
        return bucket in self.roles

    def positions(self, bucket: Bucket) -> list[int]:
        """1-based reference numbers of the parts from `bucket`."""
        return [k for k, role in enumerate(self.roles, start=1) if role is bucket]


@dataclass(frozen=True)
class RoleWording:
    label: str
    text: str
    stand_in: str | None = None
    """Used instead of `text` when normalisation filled the bucket with a copy."""


def role_lines(prompt: PromptInput, wording: Mapping[Bucket, RoleWording]) -> str:
    """One "Reference Image k (LABEL): ..." line per image part, in part order; labels are
    numbered when a bucket sends several parts (cinema and cartoon casts)."""
    totals = Counter(prompt.roles)
    seen: Counter[Bucket] = Counter()
    lines = []
    for number, bucket in enumerate(prompt.roles, start=1):
        seen[bucket] += 1
        words = wording[bucket]
        label = words.label if totals[bucket] == 1 else f"{words.label} {seen[bucket]}"
        text = words.stand_in if bucket in prompt.stand_ins and words.stand_in else words.text
        lines.append(f"Reference Image {number} ({label}): {text}")
    return "\n".join(lines)


def bullets(title: str, lines: Iterable[str]) -> str:
    return "\n".join([title, *(f"- {line}" for line in lines)])


def join_blocks(*blocks: str | None) -> str:
    return "\n\n".join(block for block in blocks if block)


def styling_block(caller_text: str, heading: str = "ADDITIONAL STYLING NOTES:") -> str:
    text = caller_text.strip()
    return f"{heading}\n{text}" if text else ""


def as_sentence(text: str) -> str:
    """`text` ending in exactly one full stop, so wrappers never produce ".." or none."""
    return text.strip().rstrip(".").rstrip() + "."


def inpaint_prompt(prompt: str, has_reference: bool) -> str:
    """The in-paint instruction (DOMAIN 6.2 C): the second image is the mask, white = edit."""
    change = prompt.strip()
    what = (
        f"Within the white area of the mask (the second image), make this change: {as_sentence(change)}"
        if change
        else "Fill the white area of the mask (the second image) so that it blends seamlessly with what surrounds it."
    )
    lines = [
        "Edit the first image.",
        what,
        (
            "Leave everything outside that area exactly as it is: the same people, objects, "
            "composition, colours, lighting and background."
        ),
        ("Match the edit to its surroundings in light, perspective, texture and grain so no seam or halo shows."),
    ]
    if has_reference:
        lines.append(
            "The third image is a style guide: take the look, material and colour of the "
            "edited element from it, without pasting it in."
        )
    return "\n".join(lines)


# Angle and shot vocabulary of single_batch combinations (DOMAIN 4.7).
#
# The front end sometimes sends free-form keys ("full body", "close up"); the legacy
# worker silently replaced them with the fallback phrase. We map the common spellings to
# the nearest known key first, and keep the fallback only for keys we cannot place.
_ALIASES: dict[str, str] = {
    "front view": "front",
    "side view": "side",
    "side profile": "side",
    "back view": "back",
    "rear": "back",
    "rear view": "back",
    "top down": "overhead",
    "top-down": "overhead",
    "close up": "tight",
    "close-up": "tight",
    "closeup": "tight",
    "medium": "middle",
    "medium shot": "middle",
    "mid": "middle",
    "waist up": "middle",
    "full body": "full",
    "full-body": "full",
    "fullbody": "full",
    "full shot": "full",
}


def framing_key(raw: str) -> str:
    key = " ".join(raw.strip().lower().split())
    return _ALIASES.get(key, key)


def framing_phrase(raw: str, vocabulary: Mapping[str, str], fallback: str) -> str:
    return vocabulary.get(framing_key(raw), fallback)


CINEMATIC_ANGLES: dict[str, str] = {
    "front": "Cinematic front-on view, the subject looking straight into the lens",
    "side": "Clean 90-degree side profile",
    # "profile" has always meant a formal portrait facing the camera, not a side view.
    "profile": "Formal front-facing portrait with a confident stance and an uncluttered backdrop",
    "back": "View from directly behind the subject",
}
CINEMATIC_SHOTS: dict[str, str] = {
    "tight": "close-up framed from the shoulders up",
    "middle": "medium shot framed from the waist up",
    "full": "full-length shot from head to toe with the surroundings in view",
}
CINEMATIC_ANGLE_FALLBACK = "Front view"
CINEMATIC_SHOT_FALLBACK = "full body shot"

UNIFIED_SCENE_CLOSING = (
    "Bring every reference together in one unified, photorealistic and cinematic "
    "photograph of a single scene, with the look of real film photography; never a split "
    "screen, side-by-side or collage."
)


def unified_scene_combination(angles: Mapping[str, str], shots: Mapping[str, str]) -> Callable[[str, str, str], str]:
    """A combination wrapper in the category's framing words, closing on one unified scene."""

    def wrap(angle: str, shot: str, prompt: str) -> str:
        angle_phrase = framing_phrase(angle, angles, CINEMATIC_ANGLE_FALLBACK)
        shot_phrase = framing_phrase(shot, shots, CINEMATIC_SHOT_FALLBACK)
        return f"{angle_phrase}, {shot_phrase}. {as_sentence(prompt)} {UNIFIED_SCENE_CLOSING}"

    return wrap


ONE_FRAME = "One continuous photograph that fills the frame from edge to edge."
NO_LAYOUTS: tuple[str, ...] = (
    "Split screens, side-by-side panels, grids, collages, borders or letterboxing.",
    "Text, captions, logos or watermarks that are not in the references.",
)
