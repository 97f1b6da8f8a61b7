"""The one error family of the service, each class carrying its HTTP status and error code.

Step Functions sees these by class name (Lambda reports the exception type as the error name),
so the names are part of the contract: `RefundNotFound`, `ProviderAuthFailed`, ...
Messages are written for callers: they never hold a secret or a provider's raw body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RefundServiceError(Exception):
    """Base of every error the service answers with."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        account: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        # The merchant account the request was for (contract section 6); None when the
        # request named none the service could read (a bad account id, an unknown route).
        self.account = account
        self.retry_after = retry_after

    def to_body(self) -> dict[str, Any]:
        """The JSON error body of contract section 4."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "provider": self.provider,
                "account": self.account,
                "retryable": self.retryable,
            }
        }


class InvalidRefundId(RefundServiceError):
    code = "invalid_refund_id"
    http_status = 400


class InvalidAccountId(RefundServiceError):
    code = "invalid_account_id"
    http_status = 400


class AccountNotFound(RefundServiceError):
    """No secret for this account at this provider (contract section 6): not retryable, the
    account is added by writing its secret."""

    code = "account_not_found"
    http_status = 404


class RouteNotFound(RefundServiceError):
    code = "route_not_found"
    http_status = 404


class MethodNotAllowed(RefundServiceError):
    code = "method_not_allowed"
    http_status = 405


class InvalidRequest(RefundServiceError):
    """A request body, query string or event the service cannot act on."""

    code = "invalid_request"
    http_status = 400


class ConfigurationError(RefundServiceError):
    """The function's own set-up is wrong: a missing or malformed secret or env var."""

    code = "configuration_error"
    http_status = 500


class SecretNotFound(ConfigurationError):
    """The secret does not exist (or is scheduled for deletion). For the `default` account
    that is the deployment's mistake (500); for a named one it is `AccountNotFound` (404)."""


class ProviderError(RefundServiceError):
    """Something the provider said (or failed to say)."""


class RefundNotFound(ProviderError):
    code = "refund_not_found"
    http_status = 404


class ProviderAuthFailed(ProviderError):
    code = "provider_auth_failed"
    http_status = 502


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    http_status = 503
    retryable = True


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    http_status = 502
    retryable = True


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    http_status = 504
    retryable = True


class ProviderBadResponse(ProviderError):
    code = "provider_bad_response"
    http_status = 502


class WatchNotFound(RefundServiceError):
    code = "watch_not_found"
    http_status = 404


class RefundPollingTimedOut(RefundServiceError):
    """The poller spent its budget (time or provider calls) before the refund settled."""

    code = "refund_polling_timed_out"
    http_status = 504
