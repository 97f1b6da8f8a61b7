"""The gr4vy function: `GET /refunds/gr4vy/{refund_id}`, asking gr4vy now."""

from refund_core.handler import build_lambda_handler

lambda_handler = build_lambda_handler("gr4vy")
