"""Shared test set-up: no network, fast malloc, a hypothesis profile that keeps the suite quick."""
import os

from hypothesis import HealthCheck, settings

from archsim._runtime import tune_malloc

os.environ.setdefault("ARCHSIM_NO_DOWNLOAD", "1")
tune_malloc()
settings.register_profile("archsim", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "archsim"))
