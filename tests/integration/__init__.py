"""The four real Lambda handlers against the provider sandboxes over real loopback HTTP."""
