"""Turn a legacy `quel_production_jobs` row into the typed `JobPlan`.

Pydantic models read `job_input_data` with its legacy keys and quirks (DOMAIN.md section 4);
the planners below then apply the port's rules (DECISIONS D5), which win where the two
differ. Every refusal is an `InvalidJobInput` whose message names the key and the value.
Storage paths are checked where attachments are resolved, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from domain import legacy_values as lv
from domain.errors import InvalidJobInput
from domain.plan import (
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_PROMPT,
    Category,
    InputRef,
    JobKind,
    JobPlan,
    ModifyPlan,
    SlotPlan,
    StagePlan,
)

MAX_QUANTITY = 50
"""Images per single_batch combination or pipeline stage."""
MAX_IMAGES_PER_JOB = 200
MAX_MODIFY_QUANTITY = 10
"""The legacy modify submit endpoint accepts 1..10; the worker holds the row to the same."""
# Prompts are carried in workflow history and activity payloads; refusing very long text
# keeps those small. The same cap covers every free-text key that ends up in a prompt.
MAX_TEXT_CHARS = 10_000
DEFAULT_ANGLE = "front"
DEFAULT_SHOT = "full"
_SHOWN_PROBLEMS = 3


@dataclass(frozen=True)
class JobRow:
    """The columns of `quel_production_jobs` the worker reads."""

    job_id: str
    production_id: str | None
    job_type: str
    job_status: str
    total_images: int
    job_input_data: Any
    """Decoded JSON: an object normally, but anything may be stored and must be refused clearly."""
    quel_member_id: str | None
    org_id: str | None
    quel_production_path: str | None
    stage_index: int | None = None
    batch_index: int | None = None


def build_plan(row: JobRow) -> JobPlan:
    """The plan for `row`, or `InvalidJobInput` saying what is wrong with it."""
    data = row.job_input_data
    if not isinstance(data, dict):
        raise InvalidJobInput(f"job_input_data must be a JSON object, got {lv.describe(data)}")
    kind = _route(row.job_type, data)
    planned = _PLANNERS[kind](data, row.total_images)
    read = _keys_read_by(type(planned.job))
    return JobPlan(
        kind=kind,
        category=Category.from_production_path(row.quel_production_path),
        stages=planned.stages,
        user_id=planned.job.user_id,
        modify=planned.modify,
        ignored_keys=tuple(sorted(str(key) for key in data if key not in read)),
    )


def is_modify(job_type: str, *, has_mask: bool) -> bool:
    """Modify jobs are stored as simple_general (DB check constraint), so the mask decides."""
    return job_type == JobKind.MODIFY or has_mask


def _route(job_type: str, data: dict[str, Any]) -> JobKind:
    if is_modify(job_type, has_mask="maskDataUrl" in data):
        return JobKind.MODIFY
    try:
        return JobKind(job_type)
    except ValueError:
        # D5: an unknown type is refused instead of silently running single_batch.
        expected = ", ".join(kind for kind in JobKind if kind is not JobKind.MODIFY)
        raise InvalidJobInput(f"unknown job_type {lv.describe(job_type)}: expected one of {expected}") from None


# --- Legacy scalars as pydantic types ------------------------------------------------

_T = TypeVar("_T")


def _lenient(reader: Callable[[Any], _T]) -> BeforeValidator:
    def validate(value: Any) -> _T:
        try:
            return reader(value)
        except ValueError as exc:
            raise PydanticCustomError("legacy_value", "{reason}", {"reason": str(exc)}) from None

    return BeforeValidator(validate)


_Text = Annotated[str | None, _lenient(partial(lv.capped_text, max_chars=MAX_TEXT_CHARS))]
_DataUrl = Annotated[str | None, _lenient(lv.text)]
_TypeTag = Annotated[str, _lenient(partial(lv.type_tag, max_chars=MAX_TEXT_CHARS))]
_AttachId = Annotated[int, _lenient(lv.attach_id)]
_OptionalAttachId = Annotated[int | None, _lenient(lv.optional_attach_id)]
_Quantity = Annotated[int | None, _lenient(partial(lv.count, low=0, high=MAX_QUANTITY))]
_ModifyQuantity = Annotated[int | None, _lenient(partial(lv.count, low=1, high=MAX_MODIFY_QUANTITY))]
_Index = Annotated[int | None, _lenient(lv.whole_number)]


# --- The legacy shapes (DOMAIN.md 4.2-4.6) -------------------------------------------


class _Legacy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _AttachRef(_Legacy):
    attach_id: _AttachId = Field(validation_alias="attachId")
    type_tag: _TypeTag = Field("", validation_alias="type")

    def to_input(self) -> InputRef:
        return InputRef(attach_id=self.attach_id, type=self.type_tag)


class _WithAspectRatio(_Legacy):
    hyphen_aspect_ratio: _Text = Field(None, validation_alias="aspect-ratio")
    camel_aspect_ratio: _Text = Field(None, validation_alias="aspectRatio")

    @property
    def aspect_ratio(self) -> str:
        # The legacy worker read only the hyphenated key; the camelCase one the front end
        # also sends is honoured when the hyphenated one is absent or blank.
        return self.hyphen_aspect_ratio or self.camel_aspect_ratio or DEFAULT_ASPECT_RATIO

    @model_validator(mode="after")
    def _supported_aspect_ratio(self) -> Self:
        if self.aspect_ratio not in ASPECT_RATIOS:
            reason = f"aspect ratio {lv.describe(self.aspect_ratio)} is not one of {', '.join(ASPECT_RATIOS)}"
            raise PydanticCustomError("aspect_ratio", "{reason}", {"reason": reason})
        return self


class _JobInput(_Legacy):
    user_id: _Text = Field(None, validation_alias="userId")


class _Combination(_Legacy):
    angle: _Text = None
    shot: _Text = None
    quantity: _Quantity = None


class _SingleBatch(_JobInput, _WithAspectRatio):
    refs: list[_AttachRef] | None = Field(None, validation_alias="individualImageAttachIds")
    base_prompt: _Text = Field(None, validation_alias="basePrompt")
    combinations: list[_Combination] | None = None


class _Stage(_WithAspectRatio):
    stage_index: _Index = None
    prompt: _Text = None
    quantity: _Quantity = None
    refs: list[_AttachRef] | None = Field(None, validation_alias="individualImageAttachIds")
    merged_attach_id: _OptionalAttachId = Field(None, validation_alias="mergedImageAttachId")
    camera_angle: _Text = Field(None, validation_alias="cameraAngle")
    shot_type: _Text = Field(None, validation_alias="shotType")


class _Pipeline(_JobInput):
    stages: list[_Stage] | None = None
    base_prompt: _Text = Field(None, validation_alias="basePrompt")


class _SimpleGeneral(_JobInput, _WithAspectRatio):
    uploads: list[_AttachRef] | None = Field(None, validation_alias="uploadedAttachIds")
    prompt: _Text = None


class _MergedImage(_Legacy):
    merged_attach_id: _OptionalAttachId = Field(None, validation_alias="mergedAttachId")
    wrapping_prompt: _Text = Field(None, validation_alias="wrappingPrompt")


class _SimplePortrait(_JobInput, _WithAspectRatio):
    merged_images: list[_MergedImage] | None = Field(None, validation_alias="mergedImages")
    base_prompt: _Text = Field(None, validation_alias="basePrompt")


class _Modify(_JobInput, _WithAspectRatio):
    original_image_url: _Text = Field(None, validation_alias="originalImageUrl")
    original_attach_id: _OptionalAttachId = Field(None, validation_alias="originalAttachId")
    # Data URLs are large and stay in the row; they are read here only to check presence.
    mask_data_url: _DataUrl = Field(None, validation_alias="maskDataUrl")
    reference_image_data_url: _DataUrl = Field(None, validation_alias="referenceImageDataUrl")
    prompt: _Text = None
    quantity: _ModifyQuantity = None


_M = TypeVar("_M", bound=_JobInput)


def _parse(model: type[_M], data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # No chained cause: the pydantic error repeats the whole input (data URLs included).
        raise InvalidJobInput(_explain(exc)) from None


def _keys_read_by(model: type[_JobInput]) -> frozenset[str]:
    return frozenset(
        field.validation_alias if isinstance(field.validation_alias, str) else name
        for name, field in model.model_fields.items()
    )


def _explain(error: ValidationError) -> str:
    problems = [_problem(detail) for detail in error.errors(include_url=False)]
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    hidden = len(problems) - _SHOWN_PROBLEMS
    return shown + (f" (and {hidden} more)" if hidden > 0 else "")


def _problem(detail: ErrorDetails) -> str:
    where = "job_input_data" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in detail["loc"])
    got = lv.describe(detail.get("input"))
    if detail["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where} must be an object, got {got}"
    if detail["type"] == "list_type":
        return f"{where} must be a list, got {got}"
    if detail["type"] == "missing":
        return f"{where} is missing"
    return f"{where}: {detail['msg']}"


# --- Planners: validated input -> stages ---------------------------------------------


@dataclass(frozen=True)
class _Planned:
    job: _JobInput
    stages: tuple[StagePlan, ...]
    modify: ModifyPlan | None = None


def _plan_single_batch(data: dict[str, Any], total_images: int) -> _Planned:
    job = _parse(_SingleBatch, data)
    if job.combinations:
        # D5: a combination without quantity means one image, not total_images.
        wanted = [
            (
                c.angle or DEFAULT_ANGLE,
                c.shot or DEFAULT_SHOT,
                1 if c.quantity is None else c.quantity,
            )
            for c in job.combinations
        ]
    else:
        quantity = _default_quantity(total_images, "the only combination (none were given)")
        wanted = [(DEFAULT_ANGLE, DEFAULT_SHOT, quantity)]
    _check_image_count(sum(quantity for _, _, quantity in wanted))
    slots = tuple(
        SlotPlan(combo=combo, index=n, angle=angle, shot=shot)
        for combo, (angle, shot, quantity) in enumerate(wanted)
        for n in range(quantity)
    )
    stage = StagePlan(
        index=0,
        prompt=job.base_prompt or DEFAULT_PROMPT,
        aspect_ratio=job.aspect_ratio,
        inputs=_inputs(job.refs),
        slots=slots,
    )
    return _Planned(job, (stage,))


def _plan_pipeline(data: dict[str, Any], total_images: int) -> _Planned:
    job = _parse(_Pipeline, data)
    fallback_prompt = job.base_prompt or DEFAULT_PROMPT
    if not job.stages:
        quantity = _default_quantity(total_images, "the only stage (none were given)")
        _check_image_count(quantity)
        synthetic = StagePlan(
            index=0,
            prompt=fallback_prompt,
            aspect_ratio=DEFAULT_ASPECT_RATIO,
            slots=_slots(quantity),
        )
        return _Planned(job, (synthetic,))
    indexes = _stage_indexes(job.stages)
    quantities = [
        _default_quantity(total_images, f"job_input_data.stages[{position}]")
        if stage.quantity is None
        else stage.quantity
        for position, stage in enumerate(job.stages)
    ]
    _check_image_count(sum(quantities))
    plans: list[StagePlan] = []
    for stage, index, quantity in zip(job.stages, indexes, quantities, strict=True):
        inputs = _inputs(stage.refs)
        plans.append(
            StagePlan(
                index=index,
                prompt=stage.prompt or fallback_prompt,
                aspect_ratio=stage.aspect_ratio,
                inputs=inputs,
                slots=_slots(quantity),
                camera_angle=stage.camera_angle,
                shot_type=stage.shot_type,
                legacy_merged_attach_id=None if inputs else stage.merged_attach_id,
            )
        )
    return _Planned(job, tuple(sorted(plans, key=lambda plan: plan.index)))


def _stage_indexes(stages: list[_Stage]) -> list[int]:
    # Each stage's result lands in the slot its index names, so indexes must be a
    # permutation of 0..n-1; the legacy worker crashed or overwrote results otherwise.
    first_position: dict[int, int] = {}
    for position, stage in enumerate(stages):
        index = position if stage.stage_index is None else stage.stage_index
        where = f"job_input_data.stages[{position}].stage_index"
        if not 0 <= index < len(stages):
            raise InvalidJobInput(f"{where} {lv.describe(index)} is outside 0..{len(stages) - 1}")
        if index in first_position:
            raise InvalidJobInput(f"{where} {index} repeats the stage_index of stages[{first_position[index]}]")
        first_position[index] = position
    return list(first_position)


def _plan_simple_general(data: dict[str, Any], total_images: int) -> _Planned:
    job = _parse(_SimpleGeneral, data)
    quantity = total_images if total_images > 0 else 1
    _check_image_count(quantity)
    stage = StagePlan(
        index=0,
        prompt=job.prompt or DEFAULT_PROMPT,
        aspect_ratio=job.aspect_ratio,
        # D5: every uploaded image is sent, not only the first one downloaded.
        inputs=_inputs(job.uploads),
        slots=_slots(quantity),
    )
    return _Planned(job, (stage,))


def _plan_simple_portrait(data: dict[str, Any], total_images: int) -> _Planned:
    # total_images is not used: the legacy worker made one image per merged entry.
    job = _parse(_SimplePortrait, data)
    base_prompt = job.base_prompt or DEFAULT_PROMPT
    entries = job.merged_images or [_MergedImage.model_validate({})]
    _check_image_count(len(entries))
    slots = tuple(
        SlotPlan(
            combo=0,
            index=n,
            prompt_override=entry.wrapping_prompt or base_prompt,
            input_attach_id=entry.merged_attach_id,
        )
        for n, entry in enumerate(entries)
    )
    stage = StagePlan(index=0, prompt=base_prompt, aspect_ratio=job.aspect_ratio, slots=slots)
    return _Planned(job, (stage,))


def _plan_modify(data: dict[str, Any], total_images: int) -> _Planned:
    # total_images is not used: the legacy worker read `quantity` from the input.
    job = _parse(_Modify, data)
    if job.mask_data_url is None:
        raise InvalidJobInput("job_input_data.maskDataUrl must be a non-empty data URL")
    if job.original_image_url is None:
        raise InvalidJobInput("job_input_data.originalImageUrl is missing: nothing to edit")
    if job.quantity is None:
        raise InvalidJobInput(
            f"job_input_data.quantity is missing: a modify job makes 1 to {MAX_MODIFY_QUANTITY} images"
        )
    # A blank prompt stays blank: the in-paint template has its own "fill the area" wording.
    prompt = job.prompt or ""
    modify = ModifyPlan(
        original_image_url=job.original_image_url,
        original_attach_id=job.original_attach_id,
        prompt=prompt,
        quantity=job.quantity,
        aspect_ratio=job.aspect_ratio,
        has_reference_image=job.reference_image_data_url is not None,
    )
    stage = StagePlan(
        index=0,
        prompt=prompt,
        aspect_ratio=job.aspect_ratio,
        slots=_slots(job.quantity),
    )
    return _Planned(job, (stage,), modify)


_PLANNERS: dict[JobKind, Callable[[dict[str, Any], int], _Planned]] = {
    JobKind.SINGLE_BATCH: _plan_single_batch,
    JobKind.PIPELINE_STAGE: _plan_pipeline,
    JobKind.SIMPLE_GENERAL: _plan_simple_general,
    JobKind.SIMPLE_PORTRAIT: _plan_simple_portrait,
    JobKind.MODIFY: _plan_modify,
}


def _inputs(refs: Iterable[_AttachRef] | None) -> tuple[InputRef, ...]:
    return tuple(ref.to_input() for ref in refs or ())


def _slots(quantity: int) -> tuple[SlotPlan, ...]:
    return tuple(SlotPlan(combo=0, index=n) for n in range(quantity))


def _default_quantity(total_images: int, what: str) -> int:
    """The legacy default quantity: `total_images` when positive, else 1."""
    quantity = total_images if total_images > 0 else 1
    if quantity > MAX_QUANTITY:
        raise InvalidJobInput(
            f"{what} has no quantity, so it would take total_images {quantity}, which is"
            f" above the maximum of {MAX_QUANTITY} per combination or stage"
        )
    return quantity


def _check_image_count(count: int) -> None:
    # Checked before any slot is built, so a huge request never materialises.
    if count <= 0:
        raise InvalidJobInput("nothing to generate: every quantity is 0")
    if count > MAX_IMAGES_PER_JOB:
        raise InvalidJobInput(f"the job asks for {count} images; at most {MAX_IMAGES_PER_JOB} are allowed per job")
