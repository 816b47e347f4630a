"""archsim: bit-true integer-only training plus an accelerator model that prices it."""

__version__ = "0.1.0"
