"""From reference images and a slot of the plan to one generator request: buckets,
normalisation, grid merge, prompts, per category."""
