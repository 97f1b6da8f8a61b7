"""The convergegate function: `GET /refunds/convergegate/{refund_id}`, asking convergegate now."""

from refund_core.handler import build_lambda_handler

lambda_handler = build_lambda_handler("convergegate")
