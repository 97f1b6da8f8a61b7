"""Dev-only tooling: the local stack and the provider sandboxes (never deployed)."""
