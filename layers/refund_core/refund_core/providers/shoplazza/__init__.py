"""Shoplazza Payments refund orders: `GET https://{store}/openapi/{version}/shoplazza-payment/
refunds/{id}`, `Access-Token` header, answers wrapped in a `{code, message, data}` envelope."""
