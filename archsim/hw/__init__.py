"""The accelerator model: systolic-array timing (closed forms checked by a cycle-level model)."""
