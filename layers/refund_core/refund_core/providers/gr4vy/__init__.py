"""Gr4vy: `GET https://api[.sandbox].{instance}.gr4vy.app/refunds/{id}`, ES512 JWT bearer."""
