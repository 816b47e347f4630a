"""archsim: bit-true integer-only training plus an accelerator model that prices it."""

__version__ = "0.2.0"
"""Part of every training key: bump it when a change alters what training computes."""
