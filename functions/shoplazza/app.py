"""The shoplazza function: `GET /refunds/shoplazza/{refund_id}`, asking shoplazza now."""

from refund_core.handler import build_lambda_handler

lambda_handler = build_lambda_handler("shoplazza")
