"""Test-wide settings: hypothesis profiles (many more examples under CI)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# deadline=None: the first examples pay for imports and file-system warm-up.
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
