"""Unit tests for app.domain.case_states: the chargeback case state machine."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.case_states import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    CaseAction,
    CaseStatus,
    FundEffect,
    effective_status,
    next_status,
    transition_effect,
)
from app.domain.errors import (
    AppealExists,
    CaseClosed,
    Conflict,
    DeadlinePassed,
    DomainError,
    InvalidTransition,
)

S = CaseStatus
A = CaseAction

# The full contract: every (status, action) pair -> new status or the error raised.
MATRIX: dict[tuple[CaseStatus, CaseAction], CaseStatus | type[DomainError]] = {
    (S.NEEDS_RESPONSE, A.APPEAL): S.UNDER_REVIEW,
    (S.NEEDS_RESPONSE, A.ACCEPT): S.ACCEPTED,
    (S.NEEDS_RESPONSE, A.RULE_WON): S.WON,
    (S.NEEDS_RESPONSE, A.RULE_LOST): S.LOST,
    (S.NEEDS_RESPONSE, A.EXPIRE): S.EXPIRED,
    (S.UNDER_REVIEW, A.APPEAL): AppealExists,
    (S.UNDER_REVIEW, A.ACCEPT): S.ACCEPTED,
    (S.UNDER_REVIEW, A.RULE_WON): S.WON,
    (S.UNDER_REVIEW, A.RULE_LOST): S.LOST,
    (S.UNDER_REVIEW, A.EXPIRE): InvalidTransition,
    (S.EXPIRED, A.APPEAL): DeadlinePassed,
    (S.EXPIRED, A.ACCEPT): CaseClosed,
    (S.EXPIRED, A.RULE_WON): S.WON,
    (S.EXPIRED, A.RULE_LOST): S.LOST,
    (S.EXPIRED, A.EXPIRE): CaseClosed,
    (S.WON, A.APPEAL): CaseClosed,
    (S.WON, A.ACCEPT): CaseClosed,
    (S.WON, A.RULE_WON): CaseClosed,
    (S.WON, A.RULE_LOST): CaseClosed,
    (S.WON, A.EXPIRE): CaseClosed,
    (S.LOST, A.APPEAL): CaseClosed,
    (S.LOST, A.ACCEPT): CaseClosed,
    (S.LOST, A.RULE_WON): CaseClosed,
    (S.LOST, A.RULE_LOST): CaseClosed,
    (S.LOST, A.EXPIRE): CaseClosed,
    (S.ACCEPTED, A.APPEAL): CaseClosed,
    (S.ACCEPTED, A.ACCEPT): CaseClosed,
    (S.ACCEPTED, A.RULE_WON): CaseClosed,
    (S.ACCEPTED, A.RULE_LOST): CaseClosed,
    (S.ACCEPTED, A.EXPIRE): CaseClosed,
}

ALLOWED = [
    pytest.param(status, action, outcome, id=f"{status}-{action}")
    for (status, action), outcome in MATRIX.items()
    if isinstance(outcome, CaseStatus)
]
FORBIDDEN = [
    pytest.param(status, action, outcome, id=f"{status}-{action}")
    for (status, action), outcome in MATRIX.items()
    if not isinstance(outcome, CaseStatus)
]

ERROR_CODES = [
    pytest.param(CaseClosed, "case_closed", id="case-closed"),
    pytest.param(AppealExists, "appeal_exists", id="appeal-exists"),
    pytest.param(DeadlinePassed, "deadline_passed", id="deadline-passed"),
    pytest.param(InvalidTransition, "invalid_transition", id="invalid-transition"),
]

# Fund movement for every legal transition (previous, new).
EFFECTS: dict[tuple[CaseStatus, CaseStatus], FundEffect] = {
    (S.NEEDS_RESPONSE, S.UNDER_REVIEW): FundEffect.NONE,
    (S.NEEDS_RESPONSE, S.ACCEPTED): FundEffect.DEBIT,
    (S.NEEDS_RESPONSE, S.WON): FundEffect.RELEASE,
    (S.NEEDS_RESPONSE, S.LOST): FundEffect.DEBIT,
    (S.NEEDS_RESPONSE, S.EXPIRED): FundEffect.DEBIT,
    (S.UNDER_REVIEW, S.ACCEPTED): FundEffect.DEBIT,
    (S.UNDER_REVIEW, S.WON): FundEffect.RELEASE,
    (S.UNDER_REVIEW, S.LOST): FundEffect.DEBIT,
    (S.EXPIRED, S.WON): FundEffect.REFUND_DEBIT,
    (S.EXPIRED, S.LOST): FundEffect.NONE,
}

DEADLINE = datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


# Transitions ----------------------------------------------------------------------


def test_matrix_covers_every_status_and_action_pair() -> None:
    assert set(MATRIX) == set(itertools.product(CaseStatus, CaseAction))


@pytest.mark.parametrize(("status", "action", "outcome"), ALLOWED)
def test_allowed_transition_moves_to_contract_status(
    status: CaseStatus, action: CaseAction, outcome: CaseStatus
) -> None:
    assert next_status(status, action) is outcome


@pytest.mark.parametrize(("status", "action", "error"), FORBIDDEN)
def test_forbidden_transition_raises_contract_error(
    status: CaseStatus, action: CaseAction, error: type[DomainError]
) -> None:
    with pytest.raises(DomainError) as exc_info:
        next_status(status, action)
    assert exc_info.type is error
    assert status.value in exc_info.value.detail
    # The action in words, not its internal name (the detail is read by people).
    words = {"appeal": "appeal", "accept": "accept", "rule_won": "won ruling", "rule_lost": "lost ruling"}
    assert words.get(action.value, action.value) in exc_info.value.detail
    assert "rule_" not in exc_info.value.detail


@pytest.mark.parametrize(("error", "code"), ERROR_CODES)
def test_transition_error_is_conflict_with_stable_code(error: type[DomainError], code: str) -> None:
    assert issubclass(error, Conflict)
    assert error.code == code


def test_open_final_and_expired_statuses_partition_all_statuses() -> None:
    assert set(OPEN_STATUSES) == {S.NEEDS_RESPONSE, S.UNDER_REVIEW}
    assert set(FINAL_STATUSES) == {S.WON, S.LOST, S.ACCEPTED}
    assert set(OPEN_STATUSES | FINAL_STATUSES | {S.EXPIRED}) == set(CaseStatus)
    assert not OPEN_STATUSES & FINAL_STATUSES


# Deadline -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(DEADLINE - timedelta(days=3), S.NEEDS_RESPONSE, id="days-before"),
        pytest.param(DEADLINE - MICROSECOND, S.NEEDS_RESPONSE, id="one-microsecond-before"),
        pytest.param(DEADLINE, S.NEEDS_RESPONSE, id="exactly-at-deadline"),
        pytest.param(DEADLINE + MICROSECOND, S.EXPIRED, id="one-microsecond-after"),
        pytest.param(DEADLINE + timedelta(days=30), S.EXPIRED, id="days-after"),
    ],
)
def test_needs_response_around_deadline_expires_only_after_it(now: datetime, expected: CaseStatus) -> None:
    assert effective_status(S.NEEDS_RESPONSE, DEADLINE, now) is expected


@pytest.mark.parametrize(
    "status",
    [pytest.param(s, id=s.value) for s in CaseStatus if s is not S.NEEDS_RESPONSE],
)
@pytest.mark.parametrize(
    "now",
    [
        pytest.param(DEADLINE - timedelta(days=1), id="before"),
        pytest.param(DEADLINE + MICROSECOND, id="after"),
    ],
)
def test_other_status_around_deadline_unchanged(status: CaseStatus, now: datetime) -> None:
    assert effective_status(status, DEADLINE, now) is status


def test_same_instant_in_other_timezone_is_not_past_deadline() -> None:
    same_instant = DEADLINE.astimezone(timezone(timedelta(hours=2)))
    assert effective_status(S.NEEDS_RESPONSE, DEADLINE, same_instant) is S.NEEDS_RESPONSE
    assert effective_status(S.NEEDS_RESPONSE, DEADLINE, same_instant + MICROSECOND) is S.EXPIRED


def test_both_naive_datetimes_compared_directly() -> None:
    naive = DEADLINE.replace(tzinfo=None)
    assert effective_status(S.NEEDS_RESPONSE, naive, naive) is S.NEEDS_RESPONSE
    assert effective_status(S.NEEDS_RESPONSE, naive, naive + MICROSECOND) is S.EXPIRED


@pytest.mark.parametrize(
    ("respond_by", "now"),
    [
        pytest.param(DEADLINE.replace(tzinfo=None), DEADLINE, id="naive-deadline"),
        pytest.param(DEADLINE, DEADLINE.replace(tzinfo=None), id="naive-now"),
    ],
)
def test_mixed_naive_and_aware_datetimes_rejected(respond_by: datetime, now: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        effective_status(S.NEEDS_RESPONSE, respond_by, now)


def test_appeal_after_deadline_before_expiry_job_raises_deadline_passed() -> None:
    current = effective_status(S.NEEDS_RESPONSE, DEADLINE, DEADLINE + MICROSECOND)
    with pytest.raises(DeadlinePassed):
        next_status(current, A.APPEAL)


# Fund effects ---------------------------------------------------------------------


def test_effects_table_covers_every_allowed_transition() -> None:
    legal = {(status, outcome) for (status, _), outcome in MATRIX.items() if isinstance(outcome, CaseStatus)}
    assert set(EFFECTS) == legal


@pytest.mark.parametrize(
    ("previous", "new", "effect"),
    [pytest.param(p, n, e, id=f"{p}-to-{n}") for (p, n), e in EFFECTS.items()],
)
def test_legal_transition_has_fund_effect(previous: CaseStatus, new: CaseStatus, effect: FundEffect) -> None:
    assert transition_effect(previous, new) is effect


@pytest.mark.parametrize(
    ("previous", "new"),
    [
        pytest.param(p, n, id=f"{p}-to-{n}")
        for p, n in itertools.product(CaseStatus, CaseStatus)
        if p is not n and (p, n) not in EFFECTS
    ],
)
def test_impossible_transition_effect_raises_value_error(previous: CaseStatus, new: CaseStatus) -> None:
    with pytest.raises(ValueError, match="no transition"):
        transition_effect(previous, new)


@pytest.mark.parametrize("status", [pytest.param(s, id=s.value) for s in CaseStatus])
def test_unchanged_status_moves_no_funds(status: CaseStatus) -> None:
    assert transition_effect(status, status) is FundEffect.NONE


def test_won_ruling_after_expiry_credits_debited_funds_back() -> None:
    expired = next_status(S.NEEDS_RESPONSE, A.EXPIRE)
    assert transition_effect(S.NEEDS_RESPONSE, expired) is FundEffect.DEBIT
    won = next_status(expired, A.RULE_WON)
    assert transition_effect(expired, won) is FundEffect.REFUND_DEBIT
