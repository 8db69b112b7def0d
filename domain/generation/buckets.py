"""Reference images sorted into the four buckets every category uses (DOMAIN 5.2, 5.3).

Categories name the buckets differently (eats: main dish, ingredients, toppings; beauty:
products), but the positions are shared, so one `Buckets` type serves all five."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol


class Bucket(StrEnum):
    """A bucket, in the order its image part is sent to the generator."""

    MODEL = "model"
    CLOTHING = "clothing"
    """Clothing, beauty products, eats ingredients."""
    ACCESSORIES = "accessories"
    """Accessories, beauty tools, eats toppings."""
    BACKGROUND = "background"


MERGED_REFERENCE_TYPE = "merged"
"""Type tag for a pipeline stage's legacy `mergedImageAttachId`: always the clothing bucket."""

TypeTable = Mapping[str, Bucket]


class TaggedImage(Protocol):
    @property
    def data(self) -> bytes: ...

    @property
    def type(self) -> str: ...


@dataclass(frozen=True)
class Buckets:
    models: tuple[bytes, ...] = ()
    clothing: tuple[bytes, ...] = ()
    accessories: tuple[bytes, ...] = ()
    backgrounds: tuple[bytes, ...] = ()
    notes: tuple[str, ...] = ()
    """Sentences appended to the prompt by normalisation."""
    stand_ins: frozenset[Bucket] = field(default=frozenset())
    """Buckets normalisation filled with a copy of another bucket's image."""

    def of(self, bucket: Bucket) -> tuple[bytes, ...]:
        return {
            Bucket.MODEL: self.models,
            Bucket.CLOTHING: self.clothing,
            Bucket.ACCESSORIES: self.accessories,
            Bucket.BACKGROUND: self.backgrounds,
        }[bucket]

    @property
    def is_empty(self) -> bool:
        return not any(self.of(bucket) for bucket in Bucket)

    def first_of(self, *buckets: Bucket) -> bytes | None:
        """The first image of the first non-empty bucket named, in the order given."""
        for bucket in buckets:
            if images := self.of(bucket):
                return images[0]
        return None

    def with_images(self, bucket: Bucket, images: tuple[bytes, ...]) -> Buckets:
        match bucket:
            case Bucket.MODEL:
                return replace(self, models=images)
            case Bucket.CLOTHING:
                return replace(self, clothing=images)
            case Bucket.ACCESSORIES:
                return replace(self, accessories=images)
            case Bucket.BACKGROUND:
                return replace(self, backgrounds=images)

    def with_stand_in(self, bucket: Bucket, image: bytes, note: str | None = None) -> Buckets:
        """`bucket` holds only `image`, copied from elsewhere; `note` is appended if given."""
        notes = self.notes if note is None else (*self.notes, note)
        copied = self.with_images(bucket, (image,))
        return replace(copied, notes=notes, stand_ins=self.stand_ins | {bucket})

    def with_note(self, note: str) -> Buckets:
        return replace(self, notes=(*self.notes, note))


def categorise(images: Sequence[TaggedImage], table: TypeTable, unknown: Bucket | None = None) -> Buckets:
    """Every image into the bucket its type names, in input order; unknown types go to
    `unknown`, or are dropped when it is None."""
    sorted_images: dict[Bucket, list[bytes]] = {bucket: [] for bucket in Bucket}
    for image in images:
        if image.type == MERGED_REFERENCE_TYPE:
            bucket: Bucket | None = Bucket.CLOTHING
        else:
            bucket = table.get(image.type, unknown)
        if bucket is not None:
            sorted_images[bucket].append(image.data)
    return Buckets(
        models=tuple(sorted_images[Bucket.MODEL]),
        clothing=tuple(sorted_images[Bucket.CLOTHING]),
        accessories=tuple(sorted_images[Bucket.ACCESSORIES]),
        backgrounds=tuple(sorted_images[Bucket.BACKGROUND]),
    )


def one_slot(images: tuple[bytes, ...], *, rotate_by: int | None) -> tuple[bytes, ...]:
    """A one-image slot: the last image wins (a later reference replaces an earlier one),
    or, when rotating, image `rotate_by` mod n."""
    if not images:
        return ()
    if rotate_by is None:
        return (images[-1],)
    return (images[rotate_by % len(images)],)
