"""Refund status core: the canonical refund, its errors, and one client per payment provider.

Shared by every Lambda function of the service through the `refund_core` layer.
"""
