"""Type tables, one-image slots and normalisation of every category (DOMAIN 5.2, 5.3).

Image bytes here are plain labels: bucket rules never decode images."""

from __future__ import annotations

import pytest

from domain.generation.buckets import MERGED_REFERENCE_TYPE, Bucket, Buckets, one_slot
from domain.generation.categories import STRATEGIES, CategoryStrategy, strategy_for
from domain.generation.categories.beauty import NO_PRODUCT_NOTE
from domain.generation.categories.cartoon import NO_CHARACTER_NOTE
from domain.generation.categories.cinema import NO_CAST_NOTE
from domain.generation.categories.eats import NO_DISH_NOTE
from domain.generation.categories.fashion import NO_MODEL_NOTE
from domain.generation.compose import ReferenceImage
from domain.plan import Category, JobKind

BATCH = JobKind.SINGLE_BATCH
PIPELINE = JobKind.PIPELINE_STAGE


def refs(*tags: str) -> list[ReferenceImage]:
    """One reference per tag; its bytes name its position and tag (b"0:model")."""
    return [ReferenceImage(data=f"{k}:{tag}".encode(), type=tag) for k, tag in enumerate(tags)]


def sort(category: Category, kind: JobKind, *tags: str) -> Buckets:
    return strategy_for(category).categorise(refs(*tags), kind)


def chosen(category: Category, kind: JobKind, *tags: str, image_number: int = 0) -> Buckets:
    strategy = strategy_for(category)
    return strategy.select(strategy.categorise(refs(*tags), kind), kind, image_number)


def bucket_of(category: Category, kind: JobKind, tag: str) -> Bucket | None:
    buckets = sort(category, kind, tag)
    found = [bucket for bucket in Bucket if buckets.of(bucket)]
    return found[0] if found else None


# --- type tables -------------------------------------------------------------------------

FASHION_TABLE = {
    "model": Bucket.MODEL,
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    "top": Bucket.CLOTHING,
    "pants": Bucket.CLOTHING,
    "outer": Bucket.CLOTHING,
    "shoes": Bucket.ACCESSORIES,
    "bag": Bucket.ACCESSORIES,
    "accessory": Bucket.ACCESSORIES,
    "acce": Bucket.ACCESSORIES,
    "none": Bucket.ACCESSORIES,
    "product": Bucket.ACCESSORIES,
    "hat": None,
}


@pytest.mark.parametrize("kind", [BATCH, PIPELINE])
@pytest.mark.parametrize(("tag", "bucket"), FASHION_TABLE.items())
def test_fashion_table_is_the_same_for_batches_and_pipelines(kind: JobKind, tag: str, bucket: Bucket | None) -> None:
    assert bucket_of(Category.FASHION, kind, tag) == bucket


@pytest.mark.parametrize(
    ("kind", "tag", "bucket"),
    [
        (BATCH, "model", Bucket.MODEL),
        (BATCH, "background", Bucket.BACKGROUND),
        (BATCH, "lipstick", Bucket.CLOTHING),
        (BATCH, "skincare", Bucket.CLOTHING),
        (BATCH, "none", Bucket.CLOTHING),
        (BATCH, "whatever", Bucket.CLOTHING),
        (BATCH, "brush", Bucket.ACCESSORIES),
        (BATCH, "acce", Bucket.ACCESSORIES),
        (PIPELINE, "acce", Bucket.CLOTHING),
        (PIPELINE, "tool", Bucket.ACCESSORIES),
        (PIPELINE, "background", Bucket.BACKGROUND),
        (PIPELINE, "none", Bucket.CLOTHING),
    ],
)
def test_beauty_table(kind: JobKind, tag: str, bucket: Bucket) -> None:
    assert bucket_of(Category.BEAUTY, kind, tag) == bucket


@pytest.mark.parametrize(
    ("kind", "tag", "bucket"),
    [
        (BATCH, "food", Bucket.MODEL),
        (BATCH, "dish", Bucket.MODEL),
        (BATCH, "product", Bucket.MODEL),
        (BATCH, "ingredient", Bucket.CLOTHING),
        (BATCH, "top", Bucket.CLOTHING),
        (BATCH, "garnish", Bucket.ACCESSORIES),
        (BATCH, "shoes", Bucket.ACCESSORIES),
        (BATCH, "background", Bucket.BACKGROUND),
        (BATCH, "none", None),
        (PIPELINE, "main", Bucket.MODEL),
        (PIPELINE, "side", Bucket.CLOTHING),
        (PIPELINE, "prop", Bucket.ACCESSORIES),
        (PIPELINE, "bg", Bucket.BACKGROUND),
        (PIPELINE, "product", Bucket.CLOTHING),
        (PIPELINE, "none", Bucket.CLOTHING),
    ],
)
def test_eats_table(kind: JobKind, tag: str, bucket: Bucket | None) -> None:
    assert bucket_of(Category.EATS, kind, tag) == bucket


@pytest.mark.parametrize("kind", [BATCH, PIPELINE])
@pytest.mark.parametrize(
    ("category", "tag", "bucket"),
    [
        (Category.CINEMA, "actor", Bucket.MODEL),
        (Category.CINEMA, "face", Bucket.MODEL),
        (Category.CINEMA, "character", Bucket.MODEL),
        (Category.CINEMA, "prop", Bucket.ACCESSORIES),
        (Category.CINEMA, "outer", Bucket.CLOTHING),
        (Category.CINEMA, "background", Bucket.BACKGROUND),
        (Category.CINEMA, "none", None),
        (Category.CARTOON, "character", Bucket.MODEL),
        (Category.CARTOON, "face", Bucket.MODEL),
        (Category.CARTOON, "actor", None),
        (Category.CARTOON, "prop", Bucket.ACCESSORIES),
        (Category.CARTOON, "background", Bucket.BACKGROUND),
        (Category.CARTOON, "bg", Bucket.BACKGROUND),
    ],
)
def test_cast_tables(kind: JobKind, category: Category, tag: str, bucket: Bucket | None) -> None:
    assert bucket_of(category, kind, tag) == bucket


@pytest.mark.parametrize("category", list(Category))
def test_legacy_merged_stage_image_is_always_clothing(category: Category) -> None:
    assert bucket_of(category, PIPELINE, MERGED_REFERENCE_TYPE) is Bucket.CLOTHING


def test_categorising_keeps_input_order_within_a_bucket() -> None:
    assert sort(Category.FASHION, BATCH, "top", "shoes", "pants").clothing == (
        b"0:top",
        b"2:pants",
    )


# --- one-image slots, casts and rotation --------------------------------------------------


def test_a_later_one_slot_image_replaces_the_earlier_one() -> None:
    buckets = chosen(Category.FASHION, BATCH, "model", "bg", "model", "background")
    assert buckets.models == (b"2:model",)
    assert buckets.backgrounds == (b"3:background",)


@pytest.mark.parametrize("category", [Category.CINEMA, Category.CARTOON])
def test_cast_is_capped_at_three_keeping_the_first(category: Category) -> None:
    buckets = chosen(category, BATCH, "face", "character", "model", "face", "model")
    assert buckets.models == (b"0:face", b"1:character", b"2:model")


@pytest.mark.parametrize(("image_number", "expected"), [(0, b"1:bg"), (1, b"2:bg"), (2, b"1:bg")])
def test_beauty_pipeline_rotates_backgrounds_by_image_number(image_number: int, expected: bytes) -> None:
    buckets = chosen(Category.BEAUTY, PIPELINE, "product", "bg", "bg", image_number=image_number)
    assert buckets.backgrounds == (expected,)


def test_beauty_batch_does_not_rotate_backgrounds() -> None:
    buckets = chosen(Category.BEAUTY, BATCH, "product", "bg", "bg", image_number=0)
    assert buckets.backgrounds == (b"2:bg",)


@pytest.mark.parametrize("image_number", [0, 1, 2, 3])
def test_eats_pipeline_rotates_dishes_and_backgrounds_by_image_number(
    image_number: int,
) -> None:
    buckets = chosen(
        Category.EATS,
        PIPELINE,
        "food",
        "food",
        "food",
        "bg",
        "bg",
        image_number=image_number,
    )
    assert buckets.models == ((b"0:food", b"1:food", b"2:food")[image_number % 3],)
    assert buckets.backgrounds == ((b"3:bg", b"4:bg")[image_number % 2],)


def test_fashion_pipeline_does_not_rotate() -> None:
    buckets = chosen(Category.FASHION, PIPELINE, "model", "model", image_number=0)
    assert buckets.models == (b"1:model",)


def test_one_slot_of_nothing_is_empty() -> None:
    assert one_slot((), rotate_by=3) == ()


# --- normalisation -----------------------------------------------------------------------


def normalised(category: Category, *tags: str, kind: JobKind = BATCH) -> Buckets:
    return strategy_for(category).normalise(chosen(category, kind, *tags))


@pytest.mark.parametrize(
    ("tags", "stand_in"),
    [
        (("shoes", "top", "bg"), b"1:top"),
        (("bg", "shoes"), b"1:shoes"),
        (("bg",), b"0:bg"),
    ],
)
def test_fashion_without_model_copies_the_first_product_into_the_model_slot(
    tags: tuple[str, ...], stand_in: bytes
) -> None:
    buckets = normalised(Category.FASHION, *tags)
    assert buckets.models == (stand_in,)
    assert buckets.stand_ins == {Bucket.MODEL}
    assert buckets.notes == (NO_MODEL_NOTE,)


def test_fashion_with_model_is_left_alone() -> None:
    before = chosen(Category.FASHION, BATCH, "model", "top")
    assert STRATEGIES[Category.FASHION].normalise(before) == before


@pytest.mark.parametrize("category", list(Category))
def test_nothing_to_normalise_without_images(category: Category) -> None:
    assert strategy_for(category).normalise(Buckets()) == Buckets()


@pytest.mark.parametrize(
    ("category", "note"),
    [(Category.CINEMA, NO_CAST_NOTE), (Category.CARTOON, NO_CHARACTER_NOTE)],
)
def test_cast_categories_copy_the_first_product_into_the_cast_when_empty(category: Category, note: str) -> None:
    buckets = normalised(category, "prop", "top")
    assert buckets.models == (b"1:top",)
    assert buckets.notes == (note,)


@pytest.mark.parametrize("category", [Category.CINEMA, Category.CARTOON])
def test_cast_without_wardrobe_or_props_is_copied_into_clothing(
    category: Category,
) -> None:
    buckets = normalised(category, "face", "model", "bg")
    assert buckets.clothing == (b"0:face",)
    assert buckets.stand_ins == {Bucket.CLOTHING}
    assert buckets.notes == ()


@pytest.mark.parametrize("category", [Category.CINEMA, Category.CARTOON])
def test_cast_with_props_is_not_copied(category: Category) -> None:
    buckets = normalised(category, "face", "prop")
    assert buckets.clothing == ()


def test_a_lone_background_is_not_also_copied_into_the_wardrobe() -> None:
    buckets = normalised(Category.CINEMA, "bg")
    assert buckets.models == (b"0:bg",)
    assert buckets.clothing == ()


def test_eats_without_dish_uses_the_first_ingredient_as_main_dish() -> None:
    buckets = normalised(Category.EATS, "garnish", "ingredient")
    assert buckets.models == (b"1:ingredient",)
    assert buckets.stand_ins == {Bucket.MODEL}
    assert buckets.notes == (NO_DISH_NOTE,)


def test_eats_dish_without_ingredients_doubles_as_ingredients() -> None:
    buckets = normalised(Category.EATS, "food", "garnish")
    assert buckets.clothing == (b"0:food",)
    assert buckets.notes == ()


def test_eats_pipeline_with_dishes_adds_no_missing_dish_note() -> None:
    buckets = normalised(Category.EATS, "food", "food", "side", kind=PIPELINE)
    assert buckets.notes == ()
    assert Bucket.MODEL not in buckets.stand_ins


@pytest.mark.parametrize(
    ("tags", "stand_in"),
    [
        (("model", "brush"), b"0:model"),
        (("brush", "bg"), b"0:brush"),
        (("bg",), b"0:bg"),
    ],
)
def test_beauty_without_products_copies_model_then_tool_then_background(tags: tuple[str, ...], stand_in: bytes) -> None:
    buckets = normalised(Category.BEAUTY, *tags)
    assert buckets.clothing == (stand_in,)
    assert buckets.notes == (NO_PRODUCT_NOTE,)


def test_beauty_without_model_keeps_the_model_slot_empty() -> None:
    buckets = normalised(Category.BEAUTY, "lipstick", "bg")
    assert buckets.models == ()
    assert buckets.notes == ()


def test_every_category_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(Category)
    assert all(isinstance(strategy, CategoryStrategy) for strategy in STRATEGIES.values())
    assert all(category is strategy.category for category, strategy in STRATEGIES.items())
