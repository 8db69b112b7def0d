"""`quel dev --demo`: a member, an organisation, three input pictures (drawn here) and one
fashion single_batch job, for `quel dev` to push on Redis exactly as the legacy producer does."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from PIL import Image, ImageDraw

from clients.postgres import Connection
from clients.storage import ObjectStorage

DEMO_IMAGES = {
    "model": ((180, 140, 120), "ellipse"),
    "top": ((40, 90, 160), "rectangle"),
    "background": ((30, 30, 50), "grid"),
}


@dataclass(frozen=True)
class DemoJob:
    job_id: str
    production_id: str
    member_id: str
    total_images: int


def _picture(colour: tuple[int, int, int], shape: str) -> bytes:
    image = Image.new("RGB", (384, 512), (235, 235, 230))
    draw = ImageDraw.Draw(image)
    if shape == "ellipse":
        draw.ellipse((132, 40, 252, 170), fill=colour)
        draw.rectangle((110, 180, 274, 470), fill=colour)
    elif shape == "rectangle":
        outline = [(80, 120), (304, 120), (340, 220), (290, 230), (290, 440), (94, 440), (94, 230), (44, 220)]
        draw.polygon(outline, fill=colour)
    else:
        image.paste(colour, (0, 0, 384, 512))
        for x in range(0, 384, 32):
            draw.line((x, 0, x, 512), fill=(200, 180, 90), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=85)
    return buffer.getvalue()


async def seed_demo_job(connection: Connection, storage: ObjectStorage) -> DemoJob:
    member_id, org_id, production_id, job_id = (str(uuid.uuid4()) for _ in range(4))
    await connection.execute(
        """INSERT INTO quel_member (quel_member_id, quel_email, quel_name, quel_member_credit)
           VALUES ($1, 'demo@example.com', 'Demo Member', 1000)""",
        uuid.UUID(member_id),
    )
    await connection.execute(
        """INSERT INTO quel_organization (org_id, org_name, org_credit, owner_id, org_status)
           VALUES ($1, 'Demo Studio', 5000, $2, 'active')""",
        uuid.UUID(org_id),
        uuid.UUID(member_id),
    )
    inputs = []
    for kind, (colour, shape) in DEMO_IMAGES.items():
        path = f"uploads/demo-{job_id[:8]}-{kind}.webp"
        data = _picture(colour, shape)
        await storage.upload(path, data, content_type="image/webp")
        attach_id = await connection.fetchval(
            """INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path,
                 attach_directory, attach_file_size, attach_file_type, attach_storage_type, quel_member_id)
               VALUES ($1, $1, $2, $2, $3, 'image/webp', 'supabase', $4) RETURNING attach_id""",
            f"{kind}.webp",
            path,
            len(data),
            uuid.UUID(member_id),
        )
        inputs.append({"attachId": attach_id, "type": kind})
    quantities = {("front", "full"): 2, ("side", "middle"): 1}
    combinations = [{"angle": angle, "shot": shot, "quantity": n} for (angle, shot), n in quantities.items()]
    total = sum(quantities.values())
    job_input = {
        "basePrompt": "Editorial street look, evening light, the model wears the referenced top.",
        "individualImageAttachIds": inputs,
        "combinations": combinations,
        "aspect-ratio": "3:4",
        "userId": member_id,
        "category": "fashion",
    }
    await connection.execute(
        """INSERT INTO quel_production_photo (production_id, quel_member_id, org_id, production_name,
             production_status, total_quantity, attach_ids, quel_production_path)
           VALUES ($1, $2, $3, 'Demo lookbook', 'pending', $4, '[]'::jsonb, 'fashion')""",
        uuid.UUID(production_id),
        uuid.UUID(member_id),
        uuid.UUID(org_id),
        total,
    )
    await connection.execute(
        """INSERT INTO quel_production_jobs (job_id, production_id, job_type, batch_index, job_status,
             total_images, job_input_data, quel_member_id, org_id, estimated_credits, quel_production_path)
           VALUES ($1, $2, 'single_batch', 0, 'pending', $3, $4, $5, $6, $7, 'fashion')""",
        uuid.UUID(job_id),
        uuid.UUID(production_id),
        total,
        job_input,
        uuid.UUID(member_id),
        uuid.UUID(org_id),
        total * 20,
    )
    return DemoJob(job_id=job_id, production_id=production_id, member_id=member_id, total_images=total)
