"""Cost model: energy per action, area and leakage per component (see :mod:`.model`)."""
