"""imgproxy: image transformations, served through the Storage API's /render/image (no root of
its own; a remote target declares it in `capabilities`)."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("image-transformation", "imgproxy", compose=("storage", "imgproxy", "gateway"))
