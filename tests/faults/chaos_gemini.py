"""`ChaosGemini`: the Gemini fake, with seeded trouble on calls that would have succeeded.

Of those calls, 15 % answer 429 and 15 % answer 503 (each with a short Retry-After), and 10 %
hang well past the generator's timeout. The rules of the plain fake (`when_prompt_contains`)
still win, so a test can also block one prompt or revoke the key for another.

Retries of one image send the same request body, so the body identifies the image: after
`MAX_FAULTS_PER_IMAGE` faults an image's next call goes through. Every image thus succeeds
within the workflow's retry budget and the test cannot flake on an unlucky streak.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter

from tests.fakes.gemini_server import Behaviour, FakeGemini, RecordedCall, hang, status

RATE_LIMITED, UNAVAILABLE, HUNG = "429", "503", "hang"
MAX_FAULTS_PER_IMAGE = 3
"""Well inside the workflow's 8 attempts per image."""


class ChaosGemini(FakeGemini):
    def __init__(self, seed: int, *, retry_after: float, hang_seconds: float) -> None:
        super().__init__()
        self._rng = random.Random(seed)
        self._chaos_lock = threading.Lock()
        self._faults_per_image: Counter[str] = Counter()
        self._trouble = {
            RATE_LIMITED: status(429, retry_after=retry_after),
            UNAVAILABLE: status(503, retry_after=retry_after),
            HUNG: hang(hang_seconds),
        }
        self.injected: Counter[str] = Counter()
        """How many calls got each kind of trouble."""

    def _begin(self, call: RecordedCall) -> tuple[Behaviour, float]:
        behaviour, latency = super()._begin(call)
        if behaviour.kind != "ok":
            return behaviour, latency
        image = hashlib.sha256(json.dumps(call.body, sort_keys=True).encode()).hexdigest()
        with self._chaos_lock:
            # One roll per call whatever the outcome, so the seed fixes the sequence of rolls.
            roll = self._rng.random()
            kind = RATE_LIMITED if roll < 0.15 else UNAVAILABLE if roll < 0.30 else HUNG if roll < 0.40 else None
            if kind is None or self._faults_per_image[image] >= MAX_FAULTS_PER_IMAGE:
                return behaviour, latency
            self._faults_per_image[image] += 1
            self.injected[kind] += 1
        return self._trouble[kind], latency
