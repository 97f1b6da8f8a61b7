"""The surecart function: `GET /refunds/surecart/{refund_id}`, asking surecart now."""

from refund_core.handler import build_lambda_handler

lambda_handler = build_lambda_handler("surecart")
