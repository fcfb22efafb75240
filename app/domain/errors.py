"""Business errors with stable codes.

Each error belongs to a family (not found, conflict, invalid input, ...). Only
``app.core.errors`` turns a family into an HTTP status and a problem+json body;
nothing here knows about HTTP. Codes are part of the public contract: never
rename one, add a new class instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field, reported in a validation error."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every business error; ``code`` is the stable machine-readable name."""

    code: str = "error"
    title: str = "Request failed"

    def __init__(self, detail: str | None = None, *, errors: list[FieldProblem] | None = None) -> None:
        self.detail = detail or self.title
        self.errors = errors or []
        super().__init__(self.detail)


# Families -------------------------------------------------------------------


class NotFound(DomainError):
    code = "not_found"
    title = "Resource not found"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict with the current state"


class InvalidInput(DomainError):
    code = "validation_error"
    title = "The request is not valid"


class CursorMismatch(InvalidInput):
    """A well-formed cursor that another list, order or set of filters returned."""

    code = "cursor_mismatch"
    title = "The cursor belongs to another query"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed"


class TooLarge(DomainError):
    code = "payload_too_large"
    title = "Content too large"


class Gone(DomainError):
    code = "gone"
    title = "No longer available"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    title = "Precondition failed"


def check_version(what: str, version: int, if_match: int | None) -> None:
    """Optimistic concurrency: 412 unless ``if_match`` (an ``If-Match`` header's version) is absent or
    the resource's own ``version``; ``what`` names the resource in the detail."""
    if if_match is not None and if_match != version:
        raise PreconditionFailed(f"The {what} is at version {version}, not {if_match}; reload it and retry.")


class RateLimited(DomainError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    title = "Unsupported media type"


class BadRequest(DomainError):
    code = "bad_request"
    title = "Bad request"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


# Specific errors named by the API contract ----------------------------------


class MalformedJson(BadRequest):
    code = "malformed_json"
    title = "Malformed JSON"


class AmountExceedsOrder(InvalidInput):
    code = "amount_exceeds_order"
    title = "Amount exceeds the order's unfrozen amount"


class CaseClosed(Conflict):
    code = "case_closed"
    title = "The chargeback case is closed"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "A request with this idempotency key is still being processed"


class InvalidCredential(Unauthenticated):
    code = "invalid_credential"
    title = "Missing or invalid credential"


class DuplicateChargeback(Conflict):
    code = "duplicate_chargeback"
    title = "A chargeback with this bank reference already exists for the order"


class AppealExists(Conflict):
    code = "appeal_exists"
    title = "An appeal has already been filed for this chargeback case"


class DeadlinePassed(Conflict):
    code = "deadline_passed"
    title = "The chargeback case's response deadline has passed"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "The action is not allowed in the chargeback case's current status"


class FileTooLarge(TooLarge):
    code = "file_too_large"
    title = "The file is larger than the per-file limit"


class CaseStorageFull(TooLarge):
    code = "case_storage_full"
    title = "The case's evidence would exceed its storage limit"


class UnsupportedFileType(UnsupportedMediaType):
    code = "unsupported_file_type"
    title = "The file's type is not accepted"


class AppealSubmitted(Conflict):
    code = "appeal_submitted"
    title = "The appeal has been submitted: the case's evidence is frozen"


class MissingRequiredEvidence(InvalidInput):
    code = "missing_required_evidence"
    title = "Evidence the case needs is missing"


class EvidenceChanged(Conflict):
    code = "evidence_changed"
    title = "The case's evidence changed while the appeal was being built"


# Buyer accounts ----------------------------------------------------------------------------------


class WeakPassword(InvalidInput):
    code = "weak_password"
    title = "The password is too weak"


class EmailNotAllowed(InvalidInput):
    code = "email_not_allowed"
    title = "This email address cannot be used"


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    title = "The email address is not valid"


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    title = "The phone number is not valid"


class InvalidCode(InvalidInput):
    code = "invalid_code"
    title = "The code is not valid"


class RegistrationExpired(Gone):
    code = "registration_expired"
    title = "The registration has expired"


class TermsNotAccepted(InvalidInput):
    code = "terms_not_accepted"
    title = "The terms must be accepted"


class NotVerified(Conflict):
    code = "not_verified"
    title = "The registration's email and phone are not verified yet"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "The identifier or password is not correct"


class AccountNotActive(Forbidden):
    code = "account_not_active"
    title = "The account is not active"


class IdentifierAmbiguous(Conflict):
    code = "identifier_ambiguous"
    title = "Several accounts share this identifier and password"


class PaymentAccountTaken(Conflict):
    code = "payment_account_taken"
    title = "The payment account is bound to another buyer account"


class ReauthenticationRequired(Forbidden):
    code = "reauthentication_required"
    title = "Confirm it is you"


class WrongPassword(InvalidInput):
    code = "invalid_password"
    title = "The current password is not correct"


class InvalidAccountRef(InvalidInput):
    code = "invalid_account_ref"
    title = "The payment account reference is not valid"


class FavouriteExists(Conflict):
    code = "favourite_exists"
    title = "The product is already among the account's favourites"


class CouponCodeTaken(Conflict):
    code = "coupon_code_taken"
    title = "The account already has a coupon with this code"


class CouponNotRedeemable(Conflict):
    code = "coupon_not_redeemable"
    title = "The coupon has been used or has expired"


# Webhooks ------------------------------------------------------------------


class WebhookUrlNotAllowed(InvalidInput):
    code = "webhook_url_not_allowed"
    title = "The webhook URL is not allowed"


class WebhookUrlUnresolvable(InvalidInput):
    code = "webhook_url_unresolvable"
    title = "The webhook URL's host does not resolve"


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"
    title = "Unknown event type"


class WebhookEndpointLimit(Conflict):
    code = "webhook_endpoint_limit"
    title = "The seller has as many webhook endpoints as allowed"


class WebhookEndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled"
