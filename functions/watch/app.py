"""The watch function: POST and GET `/refunds/{provider}/{refund_id}/watch`."""

from refund_core.watch import build_watch_handler

lambda_handler = build_watch_handler()
