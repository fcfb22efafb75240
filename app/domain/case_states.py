"""The chargeback case state machine and what each transition does to the seller's funds.

When a chargeback arrives the disputed amount is frozen and the case is
``needs_response``. The seller can appeal (``under_review``) or accept
(``accepted``); if the respond-by deadline passes without an appeal the case is
``expired``. The bank's ruling ends the case as ``won`` or ``lost``. This
follows the dispute lifecycle and response time limits of the Visa Dispute
Management Guidelines (Visa Claims Resolution) and the Mastercard Chargeback
Guide, and Stripe's dispute statuses (``needs_response``, ``under_review``,
``won``, ``lost``) and ``evidence_details.due_by``; like Stripe and the card
networks, we hold the disputed amount until the case is decided.

Decisions:

* Expiry is the seller's loss: the frozen funds are debited when the case
  expires, as networks treat an unanswered chargeback as accepted.
* The bank may rule on a ``needs_response`` case (e.g. the issuer withdraws the
  dispute before the seller answers: ``won``) and on an ``expired`` case (e.g.
  a late issuer reversal: ``won`` credits the debited funds back). ``won``,
  ``lost`` and ``accepted`` are final: any action on them is ``CaseClosed``.
* A seller may accept liability while the appeal is under review (withdrawing
  the appeal); accepting an expired case is ``CaseClosed``.
* Appealing twice is ``AppealExists``; appealing after expiry is
  ``DeadlinePassed``; expiring a case that is under review is
  ``InvalidTransition`` (its appeal was filed in time).
* ``next_status`` works on stored statuses only; callers must pass the result
  of :func:`effective_status` so that a late appeal is refused even if the
  expiry job has not run yet.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from app.domain.errors import AppealExists, CaseClosed, DeadlinePassed, InvalidTransition


class CaseStatus(StrEnum):
    """Where a chargeback case stands."""

    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


class CaseAction(StrEnum):
    """Something that can happen to a case: a seller action, the deadline, or the bank's ruling."""

    APPEAL = "appeal"
    ACCEPT = "accept"
    RULE_WON = "rule_won"
    RULE_LOST = "rule_lost"
    EXPIRE = "expire"


class FundEffect(StrEnum):
    """What a transition does to the disputed amount.

    ``RELEASE``: frozen -> available. ``DEBIT``: frozen -> debited.
    ``REFUND_DEBIT``: debited -> available (only when an expired case is later won).
    ``NONE``: no movement.
    """

    RELEASE = "release"
    DEBIT = "debit"
    REFUND_DEBIT = "refund_debit"
    NONE = "none"


_S = CaseStatus
_A = CaseAction

OPEN_STATUSES: frozenset[CaseStatus] = frozenset({_S.NEEDS_RESPONSE, _S.UNDER_REVIEW})
"""The seller can still act (appeal or accept); the disputed amount is frozen."""

FINAL_STATUSES: frozenset[CaseStatus] = frozenset({_S.WON, _S.LOST, _S.ACCEPTED})
"""Nothing can change the case any more; ``expired`` is closed but not final (the bank may still rule)."""

_TRANSITIONS: dict[tuple[CaseStatus, CaseAction], CaseStatus] = {
    (_S.NEEDS_RESPONSE, _A.APPEAL): _S.UNDER_REVIEW,
    (_S.NEEDS_RESPONSE, _A.ACCEPT): _S.ACCEPTED,
    (_S.NEEDS_RESPONSE, _A.EXPIRE): _S.EXPIRED,
    (_S.NEEDS_RESPONSE, _A.RULE_WON): _S.WON,
    (_S.NEEDS_RESPONSE, _A.RULE_LOST): _S.LOST,
    (_S.UNDER_REVIEW, _A.ACCEPT): _S.ACCEPTED,
    (_S.UNDER_REVIEW, _A.RULE_WON): _S.WON,
    (_S.UNDER_REVIEW, _A.RULE_LOST): _S.LOST,
    (_S.EXPIRED, _A.RULE_WON): _S.WON,
    (_S.EXPIRED, _A.RULE_LOST): _S.LOST,
}

_EFFECTS: dict[tuple[CaseStatus, CaseStatus], FundEffect] = {
    (_S.NEEDS_RESPONSE, _S.UNDER_REVIEW): FundEffect.NONE,
    (_S.NEEDS_RESPONSE, _S.ACCEPTED): FundEffect.DEBIT,
    (_S.NEEDS_RESPONSE, _S.EXPIRED): FundEffect.DEBIT,
    (_S.NEEDS_RESPONSE, _S.WON): FundEffect.RELEASE,
    (_S.NEEDS_RESPONSE, _S.LOST): FundEffect.DEBIT,
    (_S.UNDER_REVIEW, _S.ACCEPTED): FundEffect.DEBIT,
    (_S.UNDER_REVIEW, _S.WON): FundEffect.RELEASE,
    (_S.UNDER_REVIEW, _S.LOST): FundEffect.DEBIT,
    (_S.EXPIRED, _S.WON): FundEffect.REFUND_DEBIT,
    (_S.EXPIRED, _S.LOST): FundEffect.NONE,
}


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None


def effective_status(stored: CaseStatus, respond_by: datetime, now: datetime) -> CaseStatus:
    """Return the status a case really has at ``now``, applying the respond-by deadline.

    Business rule: a chargeback must be answered by its respond-by date. A
    ``needs_response`` case is expired as soon as ``now`` is later than
    ``respond_by`` (exactly at the deadline it is still open), whether or not
    the expiry job has run; every other status is returned unchanged. Both
    datetimes must be timezone-aware, or both naive (``ValueError`` otherwise).
    """
    if _is_aware(respond_by) != _is_aware(now):
        raise ValueError("respond_by and now must both be timezone-aware or both be naive")
    if stored == CaseStatus.NEEDS_RESPONSE and now > respond_by:
        return CaseStatus.EXPIRED
    return stored


_ACTION_WORDS = {
    CaseAction.APPEAL: "appeal",
    CaseAction.ACCEPT: "accept",
    CaseAction.RULE_WON: "record a won ruling on",
    CaseAction.RULE_LOST: "record a lost ruling on",
    CaseAction.EXPIRE: "expire",
}


def next_status(current: CaseStatus, action: CaseAction) -> CaseStatus:
    """Return the status a case moves to when ``action`` happens to it, or raise.

    Business rule (our case contract): a ``needs_response`` case can be
    appealed, accepted, expired or ruled on; an ``under_review`` case can be
    accepted (the seller withdraws the appeal) or ruled on; an ``expired`` case
    can only be ruled on (a late issuer decision).
    Raises ``CaseClosed`` for any action on ``won``/``lost``/``accepted`` and for
    accepting or expiring an ``expired`` case, ``AppealExists`` for appealing an
    ``under_review`` case, ``DeadlinePassed`` for appealing an ``expired`` case,
    and ``InvalidTransition`` for expiring an ``under_review`` case. Pass the
    :func:`effective_status`, not the stored one.
    """
    target = _TRANSITIONS.get((current, action))
    if target is not None:
        return target
    where = f"cannot {_ACTION_WORDS[action]} a case that is {current.value}"
    if current in FINAL_STATUSES:
        raise CaseClosed(f"The chargeback case is closed ({current}): {where}.")
    if action == CaseAction.APPEAL and current == CaseStatus.UNDER_REVIEW:
        raise AppealExists(f"An appeal has already been filed: {where}.")
    if action == CaseAction.APPEAL and current == CaseStatus.EXPIRED:
        raise DeadlinePassed(f"The response deadline has passed: {where}.")
    if current == CaseStatus.EXPIRED:
        raise CaseClosed(f"The chargeback case is closed (expired): {where}.")
    raise InvalidTransition(f"Invalid transition: {where}.")


def transition_effect(previous: CaseStatus, new: CaseStatus) -> FundEffect:
    """Return what moving a case from ``previous`` to ``new`` does to the disputed funds.

    Business rule: the disputed amount is frozen while a case is open. Won
    releases it; lost, accepted and expired debit it. Because expiry already
    debited the funds, a later ``won`` ruling on an expired case credits them
    back (``REFUND_DEBIT``) and a ``lost`` one moves nothing. An unchanged
    status moves nothing; a pair that is not a transition of :func:`next_status`
    raises ``ValueError`` (a programming error, not a business conflict).
    """
    if previous == new:
        return FundEffect.NONE
    effect = _EFFECTS.get((previous, new))
    if effect is None:
        raise ValueError(f"no transition from {previous} to {new}")
    return effect
