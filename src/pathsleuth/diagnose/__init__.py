"""(placeholder docstring; the owning issue replaces it)."""
