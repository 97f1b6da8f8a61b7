"""One sub-package per provider: `transport` (URL, auth, error bodies), `schema` (the native
JSON as pydantic models), `mapping` (native to canonical, pure), glued in `provider`."""
