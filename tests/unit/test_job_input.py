"""`build_plan`: legacy `job_input_data` in, typed plan or a clear `InvalidJobInput` out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidJobInput
from domain.job_input import JobRow, build_plan
from domain.plan import (
    DEFAULT_PROMPT,
    Category,
    InputRef,
    JobKind,
    JobPlan,
    SlotPlan,
)

JOBS = Path(__file__).resolve().parents[1] / "fixtures" / "jobs"
ROW_COLUMNS = {field.name for field in dataclasses.fields(JobRow)}
ALL_RATIOS = "1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9"


def fixture_row(name: str) -> JobRow:
    record = json.loads((JOBS / f"{name}.json").read_text())
    return JobRow(**{key: value for key, value in record.items() if key in ROW_COLUMNS})


def row(
    job_type: str,
    data: Any,
    *,
    total_images: int = 1,
    path: str | None = "fashion",
) -> JobRow:
    return JobRow(
        job_id="00000000-0000-4000-8000-000000000001",
        production_id="00000000-0000-4000-8000-000000000002",
        job_type=job_type,
        job_status="pending",
        total_images=total_images,
        job_input_data=data,
        quel_member_id=None,
        org_id=None,
        quel_production_path=path,
    )


def rejection(job_type: str, data: Any, *, total_images: int = 1) -> str:
    with pytest.raises(InvalidJobInput) as caught:
        build_plan(row(job_type, data, total_images=total_images))
    return str(caught.value)


def single_slots(plan: JobPlan) -> tuple[SlotPlan, ...]:
    (stage,) = plan.stages
    return stage.slots


# --- The six fixture jobs ------------------------------------------------------------


def test_fashion_single_batch_fixture_plans_one_slot_per_combination_quantity() -> None:
    plan = build_plan(fixture_row("single_batch.fashion"))

    assert plan.kind is JobKind.SINGLE_BATCH
    assert plan.category is Category.FASHION
    assert plan.total_images == 4
    (stage,) = plan.stages
    assert stage.index == 0
    assert stage.aspect_ratio == "16:9"
    assert stage.prompt.startswith("front, full. Fashion photography style.")
    assert stage.prompt.endswith("filling the frame edge to edge.")
    assert stage.inputs == (
        InputRef(51001, "model"),
        InputRef(51002, "top"),
        InputRef(51003, "pants"),
        InputRef(51004, "shoes"),
        InputRef(51005, "background"),
    )
    assert [(s.combo, s.index, s.angle, s.shot) for s in stage.slots] == [
        (0, 0, "front", "full"),
        (0, 1, "front", "full"),
        (1, 0, "side", "middle"),
        (2, 0, "back", "tight"),
    ]
    assert plan.user_id == "233ef9e6-17b4-484f-a2b9-67ec83708d7e"
    assert plan.modify is None
    assert plan.ignored_keys == ("category", "globalContext", "mergedImageAttachId")


def test_eats_single_batch_fixture_keeps_eats_angles_and_square_ratio() -> None:
    plan = build_plan(fixture_row("single_batch.eats"))

    assert plan.category is Category.EATS
    (stage,) = plan.stages
    assert stage.aspect_ratio == "1:1"
    assert [t.type for t in stage.inputs] == ["food", "ingredient", "background"]
    assert [(s.combo, s.index, s.angle, s.shot) for s in stage.slots] == [
        (0, 0, "overhead", "hero-shot"),
        (1, 0, "45-degree", "detail"),
    ]


def test_cinema_pipeline_fixture_plans_two_stages_with_their_own_settings() -> None:
    plan = build_plan(fixture_row("pipeline_stage.cinema"))

    assert plan.kind is JobKind.PIPELINE_STAGE
    assert plan.category is Category.CINEMA
    assert plan.total_images == 3
    first, second = plan.stages
    assert (first.index, second.index) == (0, 1)
    assert (first.aspect_ratio, second.aspect_ratio) == ("16:9", "9:16")
    assert first.prompt.startswith("Eye Level, MS. Two detectives")
    assert second.prompt.startswith("Low Angle, CU. The younger detective")
    assert (first.camera_angle, first.shot_type) == ("Eye Level", "MS")
    assert (second.camera_angle, second.shot_type) == ("Low Angle", "CU")
    assert first.inputs == (
        InputRef(51006, "actor"),
        InputRef(51007, "face"),
        InputRef(51008, "prop"),
        InputRef(51009, "background"),
    )
    assert second.inputs == (InputRef(51006, "actor"), InputRef(51009, "bg"))
    assert first.slots == (SlotPlan(0, 0), SlotPlan(0, 1))
    assert second.slots == (SlotPlan(0, 0),)
    assert first.legacy_merged_attach_id is None
    assert plan.ignored_keys == ("category", "totalImages")


def test_beauty_simple_general_fixture_sends_every_upload() -> None:
    plan = build_plan(fixture_row("simple_general.beauty"))

    assert plan.kind is JobKind.SIMPLE_GENERAL
    assert plan.category is Category.BEAUTY
    (stage,) = plan.stages
    assert stage.prompt.startswith("Serum bottle on wet marble")
    assert stage.aspect_ratio == "1:1"
    assert stage.inputs == (InputRef(51010, "product"), InputRef(51011, "product"))
    assert stage.slots == (SlotPlan(0, 0), SlotPlan(0, 1))
    assert plan.ignored_keys == ("category",)


def test_portrait_fixture_makes_one_slot_per_merged_image() -> None:
    plan = build_plan(fixture_row("simple_portrait.fashion"))

    assert plan.kind is JobKind.SIMPLE_PORTRAIT
    (stage,) = plan.stages
    assert stage.prompt == "studio portrait, soft key light"
    assert stage.aspect_ratio == "3:4"
    assert [s.input_attach_id for s in stage.slots] == [51012, 51013, 51014]
    assert [s.index for s in stage.slots] == [0, 1, 2]
    overrides = [s.prompt_override or "" for s in stage.slots]
    assert overrides[0].startswith("Studio portrait, three-quarter view")
    assert overrides[2].startswith("Studio portrait, seated on a stool")
    assert plan.ignored_keys == ()


def test_modify_fixture_is_routed_by_mask_key_and_keeps_data_urls_out() -> None:
    plan = build_plan(fixture_row("modify"))

    assert plan.kind is JobKind.MODIFY
    assert plan.category is Category.FASHION
    assert plan.modify is not None
    assert plan.modify.original_image_url.endswith("generated_1733362001450_55102.webp")
    assert plan.modify.original_attach_id == 50990
    assert plan.modify.prompt.startswith("replace the leather jacket")
    assert plan.modify.quantity == 2
    assert plan.modify.aspect_ratio == "16:9"
    assert plan.modify.has_reference_image is False
    assert single_slots(plan) == (SlotPlan(0, 0), SlotPlan(0, 1))
    assert "base64" not in repr(plan)
    assert plan.ignored_keys == ("originalProductionId", "quelMemberId")


# --- Routing and the row ---------------------------------------------------------------


@pytest.mark.parametrize("data", [[1, 2], "text", None, 3, True])
def test_job_input_data_that_is_not_an_object_is_refused(data: Any) -> None:
    message = rejection("single_batch", data)

    assert message.startswith("job_input_data must be a JSON object")


def test_unknown_job_type_is_refused_instead_of_running_single_batch() -> None:
    message = rejection("batch_of_dreams", {})

    assert "unknown job_type 'batch_of_dreams'" in message
    assert "single_batch, pipeline_stage, simple_general, simple_portrait" in message


def test_mask_key_routes_to_modify_whatever_the_stored_type() -> None:
    data = {
        "maskDataUrl": "data:image/png;base64,AA",
        "originalImageUrl": "https://x/y.png",
    }

    plan = build_plan(row("single_batch", {**data, "quantity": 1}))

    assert plan.kind is JobKind.MODIFY


@pytest.mark.parametrize(
    ("path", "category"),
    [
        (None, "fashion"),
        ("", "fashion"),
        ("landing", "fashion"),
        ("cartoon", "cartoon"),
    ],
)
def test_category_comes_from_production_path(path: str | None, category: str) -> None:
    plan = build_plan(row("simple_general", {}, path=path))

    assert plan.category == category


def test_user_id_is_trimmed_and_blank_means_none() -> None:
    assert build_plan(row("simple_general", {"userId": "  u-1 "})).user_id == "u-1"
    assert build_plan(row("simple_general", {"userId": "   "})).user_id is None
    assert build_plan(row("simple_general", {"userId": 7})).user_id is None


def test_ignored_keys_are_sorted_top_level_keys_the_plan_does_not_read() -> None:
    data = {
        "totalImages": 2,
        "prompt": "p",
        "category": "x",
        "basePrompt": "unused here",
    }

    plan = build_plan(row("simple_general", data))

    assert plan.ignored_keys == ("basePrompt", "category", "totalImages")


# --- Legacy quirks that are accepted ---------------------------------------------------


def test_defaults_fill_missing_and_blank_keys() -> None:
    plan = build_plan(row("single_batch", {"basePrompt": "  ", "combinations": [{}]}))

    (stage,) = plan.stages
    assert stage.prompt == DEFAULT_PROMPT
    assert stage.aspect_ratio == "16:9"
    assert stage.inputs == ()
    assert stage.slots == (SlotPlan(0, 0, angle="front", shot="full"),)


def test_non_string_prompt_takes_the_default_as_in_legacy() -> None:
    plan = build_plan(row("single_batch", {"basePrompt": 42}))

    assert plan.stages[0].prompt == DEFAULT_PROMPT


def test_strings_are_trimmed() -> None:
    data = {
        "basePrompt": "  a coat  ",
        "aspect-ratio": " 4:5 ",
        "combinations": [{"angle": " side ", "shot": " tight ", "quantity": 1}],
    }

    (stage,) = build_plan(row("single_batch", data)).stages

    assert (stage.prompt, stage.aspect_ratio) == ("a coat", "4:5")
    assert (stage.slots[0].angle, stage.slots[0].shot) == ("side", "tight")


def test_float_attach_ids_with_no_fraction_are_accepted() -> None:
    data = {"individualImageAttachIds": [{"attachId": 39070.0, "type": "model"}]}

    (stage,) = build_plan(row("single_batch", data)).stages

    assert stage.inputs == (InputRef(39070, "model"),)


def test_numeric_strings_are_accepted_for_ids_quantities_and_indexes() -> None:
    data = {
        "stages": [
            {
                "stage_index": "1",
                "quantity": "2",
                "individualImageAttachIds": [{"attachId": " 51001 ", "type": "model"}],
            },
            {"stage_index": 0.0, "quantity": 1.0},
        ]
    }

    plan = build_plan(row("pipeline_stage", data))

    assert [s.index for s in plan.stages] == [0, 1]
    assert len(plan.stages[1].slots) == 2
    assert plan.stages[1].inputs == (InputRef(51001, "model"),)


def test_camel_case_aspect_ratio_is_used_when_the_hyphenated_key_is_absent() -> None:
    assert build_plan(row("simple_general", {"aspectRatio": "9:16"})).stages[0].aspect_ratio == "9:16"


def test_hyphenated_aspect_ratio_wins_over_camel_case() -> None:
    data = {"aspect-ratio": "3:2", "aspectRatio": "not even a ratio"}

    assert build_plan(row("simple_general", data)).stages[0].aspect_ratio == "3:2"


def test_blank_hyphenated_aspect_ratio_falls_back_to_camel_case() -> None:
    data = {"aspect-ratio": " ", "aspectRatio": "21:9"}

    assert build_plan(row("simple_general", data)).stages[0].aspect_ratio == "21:9"


def test_background_type_is_kept_trimmed_and_lower_cased() -> None:
    data = {
        "individualImageAttachIds": [
            {"attachId": 5, "type": "  Background "},
            {"attachId": 6},
        ]
    }

    (stage,) = build_plan(row("single_batch", data)).stages

    assert stage.inputs == (InputRef(5, "background"), InputRef(6, ""))


def test_combination_without_quantity_means_one_image_not_total_images() -> None:
    data = {"combinations": [{"angle": "side"}, {"quantity": 2}]}

    plan = build_plan(row("single_batch", data, total_images=7))

    assert [(s.combo, s.index) for s in single_slots(plan)] == [(0, 0), (1, 0), (1, 1)]


@pytest.mark.parametrize(("total_images", "expected"), [(3, 3), (0, 1), (-2, 1)])
def test_single_batch_without_combinations_makes_total_images_front_full(total_images: int, expected: int) -> None:
    plan = build_plan(row("single_batch", {"combinations": []}, total_images=total_images))

    slots = single_slots(plan)
    assert len(slots) == expected
    assert {(s.combo, s.angle, s.shot) for s in slots} == {(0, "front", "full")}


def test_combination_with_quantity_zero_keeps_its_position_for_identity() -> None:
    data = {"combinations": [{"quantity": 0}, {"angle": "back", "quantity": 1}]}

    assert single_slots(build_plan(row("single_batch", data))) == (SlotPlan(1, 0, angle="back", shot="full"),)


# --- pipeline_stage specifics -----------------------------------------------------------


def test_pipeline_stages_are_ordered_by_stage_index() -> None:
    data = {
        "stages": [
            {"stage_index": 1, "prompt": "second"},
            {"stage_index": 0, "prompt": "first"},
        ]
    }

    plan = build_plan(row("pipeline_stage", data))

    assert [(s.index, s.prompt) for s in plan.stages] == [(0, "first"), (1, "second")]


def test_pipeline_stage_defaults_come_from_top_level_prompt_and_total_images() -> None:
    data = {"basePrompt": "shared", "stages": [{}, {"prompt": "own"}]}

    plan = build_plan(row("pipeline_stage", data, total_images=2))

    assert [(s.index, s.prompt, s.aspect_ratio, len(s.slots)) for s in plan.stages] == [
        (0, "shared", "16:9", 2),
        (1, "own", "16:9", 2),
    ]


def test_pipeline_stage_with_quantity_zero_has_no_slots() -> None:
    data = {"stages": [{"quantity": 0}, {"quantity": 1}]}

    plan = build_plan(row("pipeline_stage", data))

    assert [len(s.slots) for s in plan.stages] == [0, 1]


@pytest.mark.parametrize("stages", [None, []])
def test_pipeline_without_stages_gets_one_synthetic_stage(stages: Any) -> None:
    plan = build_plan(row("pipeline_stage", {"stages": stages, "basePrompt": "b"}, total_images=3))

    (stage,) = plan.stages
    assert (stage.index, stage.prompt, stage.aspect_ratio) == (0, "b", "16:9")
    assert stage.slots == (SlotPlan(0, 0), SlotPlan(0, 1), SlotPlan(0, 2))


def test_pipeline_blank_camera_settings_become_none() -> None:
    data = {"stages": [{"cameraAngle": "  ", "shotType": 3}]}

    (stage,) = build_plan(row("pipeline_stage", data)).stages

    assert (stage.camera_angle, stage.shot_type) == (None, None)


def test_legacy_merged_attach_id_is_kept_only_for_stages_without_images() -> None:
    data = {
        "stages": [
            {"mergedImageAttachId": 777.0},
            {"mergedImageAttachId": 778, "individualImageAttachIds": [{"attachId": 1}]},
            {"mergedImageAttachId": 0},
        ]
    }

    plan = build_plan(row("pipeline_stage", data))

    assert [s.legacy_merged_attach_id for s in plan.stages] == [777, None, None]


# --- simple_general, simple_portrait, modify specifics ---------------------------------


@pytest.mark.parametrize(("total_images", "expected"), [(4, 4), (0, 1), (-1, 1)])
def test_simple_general_makes_total_images_with_a_floor_of_one(total_images: int, expected: int) -> None:
    plan = build_plan(row("simple_general", {}, total_images=total_images))

    assert len(single_slots(plan)) == expected


def test_simple_general_reads_prompt_not_base_prompt() -> None:
    plan = build_plan(row("simple_general", {"basePrompt": "no", "prompt": "yes"}))

    assert plan.stages[0].prompt == "yes"


@pytest.mark.parametrize("merged", [None, []])
def test_portrait_without_merged_images_makes_one_slot_with_no_input(
    merged: Any,
) -> None:
    plan = build_plan(
        row(
            "simple_portrait",
            {"mergedImages": merged, "basePrompt": "b"},
            total_images=5,
        )
    )

    assert single_slots(plan) == (SlotPlan(0, 0, prompt_override="b"),)


def test_portrait_entry_defaults_to_base_prompt_and_zero_id_means_no_input() -> None:
    data = {"mergedImages": [{"mergedAttachId": 0}, {"mergedAttachId": "12"}]}

    slots = single_slots(build_plan(row("simple_portrait", data)))

    assert [(s.prompt_override, s.input_attach_id) for s in slots] == [
        (DEFAULT_PROMPT, None),
        (DEFAULT_PROMPT, 12),
    ]


def modify_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "maskDataUrl": "data:image/png;base64,AAAA",
        "originalImageUrl": "https://example.test/original.webp",
        "quantity": 3,
    }
    return {**data, **overrides}


def test_modify_takes_quantity_from_input_not_total_images() -> None:
    plan = build_plan(row("modify", modify_data(), total_images=9))

    assert plan.modify is not None
    assert plan.modify.quantity == 3
    assert plan.total_images == 3
    assert plan.modify.original_attach_id is None
    assert plan.modify.prompt == ""


def test_modify_notes_a_reference_image_without_copying_it() -> None:
    data = modify_data(referenceImageDataUrl="data:image/jpeg;base64,SECRETBYTES")

    plan = build_plan(row("simple_general", data))

    assert plan.modify is not None
    assert plan.modify.has_reference_image is True
    assert "SECRETBYTES" not in repr(plan)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (None, "quantity is missing"),
        (0, "quantity 0 is below the minimum of 1"),
        (11, "quantity 11 is above the maximum of 10"),
    ],
)
def test_modify_quantity_must_be_one_to_ten(quantity: Any, expected: str) -> None:
    data = modify_data(quantity=quantity)
    if quantity is None:
        del data["quantity"]

    assert expected in rejection("simple_general", data)


def test_modify_requires_a_mask_and_an_original_image() -> None:
    assert "maskDataUrl" in rejection("modify", modify_data(maskDataUrl="  "))
    assert "originalImageUrl" in rejection("modify", modify_data(originalImageUrl=None))


# --- Rejections --------------------------------------------------------------------------


def test_unsupported_aspect_ratio_is_refused_with_the_allowed_list() -> None:
    message = rejection("single_batch", {"aspect-ratio": "7:3"})

    assert f"aspect ratio '7:3' is not one of {ALL_RATIOS}" in message


def test_unsupported_aspect_ratio_names_the_pipeline_stage() -> None:
    data = {"stages": [{"aspect-ratio": "1:1"}, {"aspectRatio": "16:10"}]}

    message = rejection("pipeline_stage", data)

    assert message.startswith("job_input_data.stages[1]: aspect ratio '16:10' is not one of")


@pytest.mark.parametrize(
    ("job_type", "data", "where"),
    [
        ("single_batch", {"combinations": [{}, "front"]}, "combinations[1]"),
        (
            "single_batch",
            {"individualImageAttachIds": [7]},
            "individualImageAttachIds[0]",
        ),
        ("pipeline_stage", {"stages": [{}, ["x"]]}, "stages[1]"),
        (
            "pipeline_stage",
            {"stages": [{"individualImageAttachIds": [None]}]},
            "stages[0].individualImageAttachIds[0]",
        ),
        (
            "simple_general",
            {"uploadedAttachIds": [{"attachId": 1}, "2"]},
            "uploadedAttachIds[1]",
        ),
        ("simple_portrait", {"mergedImages": [3.5]}, "mergedImages[0]"),
    ],
)
def test_non_object_list_entries_are_refused_naming_the_entry(job_type: str, data: dict[str, Any], where: str) -> None:
    message = rejection(job_type, data)

    assert message.startswith(f"job_input_data.{where} must be an object, got ")


def test_non_object_entry_message_shows_the_value() -> None:
    message = rejection("single_batch", {"combinations": ["front"]})

    assert message == "job_input_data.combinations[0] must be an object, got 'front'"


def test_list_keys_holding_something_else_are_refused() -> None:
    message = rejection("pipeline_stage", {"stages": {"stage_index": 0}})

    assert message == "job_input_data.stages must be a list, got an object"


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (
            [{"stage_index": 0}, {"stage_index": 0}],
            "job_input_data.stages[1].stage_index 0 repeats the stage_index of stages[0]",
        ),
        (
            [{"stage_index": 1}, {}],
            "job_input_data.stages[1].stage_index 1 repeats the stage_index of stages[0]",
        ),
        (
            [{"stage_index": 0}, {"stage_index": 2}],
            "job_input_data.stages[1].stage_index 2 is outside 0..1",
        ),
        (
            [{"stage_index": -1}],
            "job_input_data.stages[0].stage_index -1 is outside 0..0",
        ),
        (
            [{"stage_index": "first"}],
            "job_input_data.stages[0].stage_index: 'first' is not a whole number",
        ),
    ],
)
def test_bad_stage_indexes_are_refused(stages: list[Any], expected: str) -> None:
    assert rejection("pipeline_stage", {"stages": stages}) == expected


@pytest.mark.parametrize(
    ("job_type", "data", "expected"),
    [
        (
            "single_batch",
            {"combinations": [{"quantity": -1}]},
            "job_input_data.combinations[0].quantity: quantity -1 is below the minimum of 0",
        ),
        (
            "single_batch",
            {"combinations": [{"quantity": 51}]},
            "job_input_data.combinations[0].quantity: quantity 51 is above the maximum of 50",
        ),
        (
            "pipeline_stage",
            {"stages": [{"quantity": "60"}]},
            "job_input_data.stages[0].quantity: quantity 60 is above the maximum of 50",
        ),
        (
            "pipeline_stage",
            {"stages": [{"quantity": 2.5}]},
            "job_input_data.stages[0].quantity: quantity 2.5 is not a whole number",
        ),
        (
            "single_batch",
            {"combinations": [{"quantity": True}]},
            "job_input_data.combinations[0].quantity: quantity true is not a whole number",
        ),
    ],
)
def test_quantities_outside_zero_to_fifty_are_refused(job_type: str, data: dict[str, Any], expected: str) -> None:
    assert rejection(job_type, data) == expected


def test_defaulted_quantity_above_fifty_is_refused() -> None:
    message = rejection("pipeline_stage", {"stages": [{}]}, total_images=60)

    assert "stages[0] has no quantity" in message
    assert "total_images 60" in message
    assert "maximum of 50" in message


def test_more_than_two_hundred_images_is_refused() -> None:
    data = {"combinations": [{"quantity": 50}] * 4 + [{"quantity": 1}]}

    message = rejection("single_batch", data)

    assert message == "the job asks for 201 images; at most 200 are allowed per job"


def test_exactly_two_hundred_images_is_accepted() -> None:
    data = {"combinations": [{"quantity": 50}] * 4}

    assert build_plan(row("single_batch", data)).total_images == 200


def test_simple_general_with_huge_total_images_is_refused_before_planning() -> None:
    assert "asks for 1000000000 images" in rejection("simple_general", {}, total_images=10**9)


@pytest.mark.parametrize(
    ("job_type", "data"),
    [
        ("single_batch", {"combinations": [{"quantity": 0}, {"quantity": "0"}]}),
        ("pipeline_stage", {"stages": [{"quantity": 0}]}),
    ],
)
def test_zero_total_images_is_nothing_to_generate(job_type: str, data: dict[str, Any]) -> None:
    assert rejection(job_type, data).startswith("nothing to generate")


@pytest.mark.parametrize(
    ("attach_id", "shown"),
    [
        (0, "0"),
        (-3, "-3"),
        (39070.5, "39070.5"),
        ("abc", "'abc'"),
        (None, "null"),
        (True, "true"),
        ([1], "a list of 1 item(s)"),
        (2**64, "18446744073709551616"),
    ],
)
def test_attach_ids_that_are_not_positive_integers_are_refused(attach_id: Any, shown: str) -> None:
    data = {"individualImageAttachIds": [{"attachId": 1}, {"attachId": attach_id}]}

    message = rejection("single_batch", data)

    assert message.startswith("job_input_data.individualImageAttachIds[1].attachId: ")
    assert f"attach id {shown} is " in message


def test_entry_without_attach_id_is_refused() -> None:
    message = rejection("simple_general", {"uploadedAttachIds": [{"type": "model"}]})

    assert message == "job_input_data.uploadedAttachIds[0].attachId is missing"


@pytest.mark.parametrize(
    ("job_type", "data", "key"),
    [
        (
            "simple_portrait",
            {"mergedImages": [{"mergedAttachId": -4}]},
            "mergedImages[0].mergedAttachId",
        ),
        (
            "pipeline_stage",
            {"stages": [{"mergedImageAttachId": "x"}]},
            "stages[0].mergedImageAttachId",
        ),
        ("modify", modify_data(originalAttachId=1.5), "originalAttachId"),
    ],
)
def test_optional_attach_ids_must_be_positive_when_given(job_type: str, data: dict[str, Any], key: str) -> None:
    assert rejection(job_type, data).startswith(f"job_input_data.{key}: attach id ")


def test_prompt_of_ten_thousand_characters_is_accepted_and_longer_is_refused() -> None:
    assert build_plan(row("single_batch", {"basePrompt": "x" * 10_000})).total_images == 1

    message = rejection("single_batch", {"basePrompt": "x" * 10_001})

    assert message == ("job_input_data.basePrompt: text of 10001 characters is longer than the 10000 allowed")


def test_several_problems_are_reported_together() -> None:
    data = {"combinations": ["a", "b", "c", "d"], "aspect-ratio": "7:3"}

    message = rejection("single_batch", data)

    assert message.count("must be an object") == 3
    assert message.endswith("(and 1 more)")


# --- Property: nothing but a plan or InvalidJobInput -----------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
KNOWN_KEYS = [
    "individualImageAttachIds",
    "uploadedAttachIds",
    "mergedImages",
    "combinations",
    "stages",
    "basePrompt",
    "prompt",
    "wrappingPrompt",
    "aspect-ratio",
    "aspectRatio",
    "userId",
    "quantity",
    "maskDataUrl",
    "originalImageUrl",
    "originalAttachId",
    "referenceImageDataUrl",
    "stage_index",
    "attachId",
    "type",
    "angle",
    "shot",
    "mergedAttachId",
    "mergedImageAttachId",
    "cameraAngle",
    "shotType",
]
NUMBERISH = st.integers(-3, 60) | st.floats(-3, 60) | st.sampled_from(["2", " 3 ", "1.0", "x"])
VALUE = JSON | NUMBERISH | st.sampled_from(["16:9", "1:1", "7:3", "", "model", "bg"])
ENTRY = st.dictionaries(st.sampled_from(KNOWN_KEYS), VALUE, max_size=6)
LEGACYISH = st.dictionaries(
    st.sampled_from(KNOWN_KEYS),
    VALUE | st.lists(ENTRY | VALUE, max_size=4),
    max_size=8,
)
JOB_TYPES = st.sampled_from(
    [
        "single_batch",
        "pipeline_stage",
        "simple_general",
        "simple_portrait",
        "modify",
        "other",
    ]
)


def plan_or_refusal(job_type: str, data: Any, total_images: int) -> None:
    try:
        plan = build_plan(row(job_type, data, total_images=total_images))
    except InvalidJobInput as refused:
        assert str(refused)
        return
    assert 1 <= plan.total_images <= 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_type=JOB_TYPES, data=JSON, total_images=st.integers(-5, 300))
def test_any_json_value_gives_a_plan_or_invalid_job_input(job_type: str, data: Any, total_images: int) -> None:
    plan_or_refusal(job_type, data, total_images)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_type=JOB_TYPES, data=LEGACYISH, total_images=st.integers(-5, 300))
def test_legacy_shaped_json_gives_a_plan_or_invalid_job_input(
    job_type: str, data: dict[str, Any], total_images: int
) -> None:
    plan_or_refusal(job_type, data, total_images)
