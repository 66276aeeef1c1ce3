"""UC5 allocation keys in integer Wh: hand-checked cases, bad input, and property tests of the invariants."""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from energy_pipelines.transforms.acc import allocation as al
from energy_pipelines.transforms.acc.invariants import invariant_violations


# -- apportionment --------------------------------------------------------------------------------


def test_apportion_is_exact_and_gives_the_extra_wh_to_the_largest_remainders():
    parts = al.apportion(np.array([10, 7, 0, 5]), np.array([[1, 1, 1], [2, 1, 0], [3, 1, 1], [0, 0, 0]]))
    # 10/3 each -> 4,3,3 (tie to the lower index); 7 x (2/3, 1/3) -> 4.67, 2.33 -> 5, 2; nothing to share with
    assert parts.tolist() == [[4, 3, 3], [5, 2, 0], [0, 0, 0], [0, 0, 0]]


@given(total=st.integers(0, 10**7), weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=12))
def test_apportion_parts_sum_to_the_total_and_stay_within_one_wh_of_the_exact_quota(total, weights):
    w = np.array(weights, dtype=np.int64)
    parts = al.apportion(total, w)
    if w.sum() == 0:
        assert parts.sum() == 0
        return
    assert parts.sum() == total
    for part, wi in zip(parts, weights, strict=True):
        exact = Fraction(total * wi, int(w.sum()))
        assert abs(Fraction(int(part)) - exact) < 1
        if wi == 0:
            assert part == 0


def test_integer_weights_sum_to_the_scale_exactly():
    w = al.integer_weights(np.array([1 / 3, 1 / 3, 1 / 3]))
    assert w.sum() == al.WEIGHT_SCALE
    assert w.tolist() == [333333334, 333333333, 333333333]


@pytest.mark.parametrize("coefficients, message", [
    ([0.5, 0.4], "sum to 90.000000 %"),
    ([0.6, 0.6], "sum to 120.000000 %"),
    ([1.2, -0.2], "negative coefficient"),
    ([0.0, 0.0], "sum to 0 %"),
    ([np.nan, 1.0], "finite"),
])
def test_a_static_key_not_summing_to_one_is_a_clear_error(coefficients, message):
    with pytest.raises(al.AllocationInputError, match=message):
        al.static_key(coefficients)


def test_a_dynamic_key_step_not_summing_to_one_names_the_step():
    coef = np.array([[0.5, 0.5], [0.5, 0.49], [1.0, 0.0]])
    with pytest.raises(al.AllocationInputError, match=r"99\.000000 % at step/row \(1,\)"):
        al.dynamic_simple_key(coef)


# -- bad readings ---------------------------------------------------------------------------------


def test_a_negative_reading_is_refused_with_the_participant_and_step():
    with pytest.raises(al.AllocationInputError, match=r"negative reading -5 Wh for participant 1 at step 2"):
        al.allocate([[1, 1], [1, 1], [1, -5]], [[3], [3], [3]], al.dynamic_default_key())


def test_a_gap_in_a_curve_is_refused_not_filled():
    with pytest.raises(al.AllocationInputError, match=r"missing reading \(gap\) for participant 0 at step 1"):
        al.allocate(np.array([[1.0], [np.nan]]), [[3], [3]], al.dynamic_default_key())


def test_fractional_wh_are_refused():
    with pytest.raises(al.AllocationInputError, match="whole Wh"):
        al.allocate(np.array([[1.5]]), [[3]], al.dynamic_default_key())


def test_a_key_for_another_number_of_consumers_is_refused():
    with pytest.raises(al.AllocationInputError, match="shape"):
        al.allocate([[1, 1, 1]], [[3]], al.static_key([0.5, 0.5]))


# -- the keys, by hand ----------------------------------------------------------------------------


def test_static_key_without_redistribution_leaves_what_a_consumer_cannot_absorb_as_surplus():
    # 1000 Wh shared 50/30/20; consumer 0 only needs 200
    a = al.allocate([[200, 600, 600]], [[1000]], al.static_key([0.5, 0.3, 0.2]))
    assert a.autocons.tolist() == [[200, 300, 200]]
    assert a.surplus.tolist() == [[300]]
    assert a.complement.tolist() == [[0, 300, 400]]


def test_static_key_with_redistribution_offers_the_excess_again_pro_rata_of_the_coefficients():
    # consumer 0's unused 300 Wh go to 1 and 2 as 3:2 -> 180 and 120
    a = al.allocate([[200, 600, 600]], [[1000]], al.static_key([0.5, 0.3, 0.2], redistribute=True))
    assert a.autocons.tolist() == [[200, 480, 320]]
    assert a.surplus.tolist() == [[0]]


def test_redistribution_goes_round_after_round_until_nobody_can_take_more():
    # round 1: 600/300/100 offered, consumer 0 takes 100, consumer 1 takes 300 (saturated), consumer 2 takes 100;
    # round 2: 500 left for consumers 1 (full) and 2: consumer 2 takes its 500 more -> 600; nothing left
    a = al.allocate([[100, 300, 1000]], [[1000]], al.static_key([0.6, 0.3, 0.1], redistribute=True))
    assert a.autocons.tolist() == [[100, 300, 600]]
    assert int(a.surplus.sum()) == 0


def test_dynamic_default_key_is_pro_rata_of_each_steps_consumption():
    a = al.allocate([[100, 300], [100, 300], [0, 0]], [[200], [1000], [50]], al.dynamic_default_key())
    assert a.autocons.tolist() == [[50, 150], [100, 300], [0, 0]]
    assert a.surplus.ravel().tolist() == [0, 600, 50]


def test_dynamic_simple_key_uses_the_coefficients_of_each_step():
    key = al.dynamic_simple_key(np.array([[1.0, 0.0], [0.25, 0.75]]))
    a = al.allocate([[500, 500], [500, 500]], [[400], [400]], key)
    assert a.autocons.tolist() == [[400, 0], [100, 300]]


def test_full_dynamic_key_keeps_each_producers_energy_apart():
    # producer 0 gives everything to consumer 0, producer 1 splits 50/50; consumer 0 can only take 300
    coef = np.array([[[1.0, 0.0], [0.5, 0.5]]])
    a = al.allocate([[300, 1000]], [[400, 200]], al.full_dynamic_key(coef))
    # consumer 0 is offered 400 + 100 = 500, takes 300 pro rata 4:1 -> 240 from p0, 60 from p1
    assert a.flows.tolist() == [[[240, 0], [60, 100]]]
    assert a.autoprod.tolist() == [[240, 160]]
    assert a.autocons.tolist() == [[300, 100]]
    with_redistribution = al.allocate([[300, 1000]], [[400, 200]], al.full_dynamic_key(coef, redistribute=True))
    # producers' leftovers (160 and 40) go to the only consumer with room left, within each producer's key
    assert with_redistribution.autocons.tolist() == [[300, 140]]
    assert with_redistribution.autoprod.tolist() == [[240, 200]]


def test_several_producers_share_the_self_consumed_energy_pro_rata_of_their_production():
    a = al.allocate([[600]], [[900, 300]], al.dynamic_default_key())
    assert a.autoprod.tolist() == [[450, 150]]
    assert a.surplus.tolist() == [[450, 150]]


def test_a_consumer_outside_the_operation_absorbs_nothing_and_its_static_share_is_surplus():
    active = np.array([[True, False], [True, True]])
    a = al.allocate([[500, 500], [500, 500]], [[600], [600]], al.static_key([0.5, 0.5]), consumers_active=active)
    assert a.autocons.tolist() == [[300, 0], [300, 300]]
    assert a.surplus.ravel().tolist() == [300, 0]
    redistributed = al.allocate([[500, 500], [500, 500]], [[600], [600]], al.static_key([0.5, 0.5], True),
                                consumers_active=active)
    assert redistributed.autocons.tolist() == [[500, 0], [300, 300]]


def test_a_producer_outside_the_operation_produces_nothing_for_it():
    a = al.allocate([[1000]], [[400, 700]], al.dynamic_default_key(), producers_active=[[True, False]])
    assert a.production.tolist() == [[400, 0]]
    assert a.autocons.tolist() == [[400]]


# -- properties -----------------------------------------------------------------------------------


@st.composite
def operations(draw):
    t = draw(st.integers(1, 24))
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 3))
    cons = draw(hnp.arrays(np.int64, (t, n), elements=st.integers(0, 5_000)))
    prod = draw(hnp.arrays(np.int64, (t, m), elements=st.integers(0, 20_000)))
    cons_active = draw(hnp.arrays(np.bool_, (t, n)))
    prod_active = draw(hnp.arrays(np.bool_, (t, m)))
    kind = draw(st.sampled_from(list(al.KeyType)))
    redistribute = draw(st.booleans())
    positive = st.floats(0.01, 1.0, allow_nan=False, allow_infinity=False)
    if kind is al.KeyType.STATIC:
        w = draw(hnp.arrays(np.float64, (n,), elements=positive))
        key = al.static_key(w / w.sum(), redistribute)
    elif kind is al.KeyType.DYNAMIC_SIMPLE:
        w = draw(hnp.arrays(np.float64, (t, n), elements=positive))
        key = al.dynamic_simple_key(w / w.sum(axis=1, keepdims=True), redistribute)
    elif kind is al.KeyType.FULL_DYNAMIC:
        w = draw(hnp.arrays(np.float64, (t, m, n), elements=positive))
        key = al.full_dynamic_key(w / w.sum(axis=2, keepdims=True), redistribute)
    else:
        key = al.dynamic_default_key()
    return cons, prod, cons_active, prod_active, key


def _frame(a: al.Allocation) -> pd.DataFrame:
    """The allocation as the per-participant frame the invariant check reads."""
    t, n = a.consumption.shape
    m = a.production.shape[1]
    times = pd.date_range("2025-10-25T22:00Z", periods=t, freq="30min")
    rows = [{"datetime_utc": times[s], "prm": f"C{i}", "role": "consommateur", "cons_wh": a.consumption[s, i],
             "autocons_wh": a.autocons[s, i], "complement_wh": a.complement[s, i]} for s in range(t) for i in range(n)]
    rows += [{"datetime_utc": times[s], "prm": f"P{p}", "role": "producteur", "prod_wh": a.production[s, p],
              "autoprod_wh": a.autoprod[s, p], "surplus_wh": a.surplus[s, p]} for s in range(t) for p in range(m)]
    return pd.DataFrame(rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_every_key_satisfies_the_identities_exactly(op):
    cons, prod, ca, pa, key = op
    a = al.allocate(cons, prod, key, ca, pa)
    assert a.autocons.dtype == np.int64 and a.autoprod.dtype == np.int64
    assert (a.autocons >= 0).all() and (a.autocons <= a.consumption).all()
    assert (a.autoprod >= 0).all() and (a.autoprod <= a.production).all()
    assert (a.autocons.sum(axis=1) == a.autoprod.sum(axis=1)).all()
    assert (a.consumption == np.where(ca, cons, 0)).all() and (a.production == np.where(pa, prod, 0)).all()
    assert (a.autocons[~ca] == 0).all()
    bound = np.minimum(a.production.sum(axis=1), a.consumption.sum(axis=1))
    assert (a.autocons.sum(axis=1) <= bound).all()
    if key.type is al.KeyType.DYNAMIC_DEFAULT:
        assert (a.autocons.sum(axis=1) == bound).all()
    if a.flows is not None:
        assert (a.flows.sum(axis=1) == a.autocons).all() and (a.flows.sum(axis=2) == a.autoprod).all()
    assert invariant_violations(_frame(a)).empty


@settings(max_examples=150, deadline=None)
@given(operations())
def test_redistribution_never_takes_energy_from_anyone(op):
    cons, prod, ca, pa, key = op
    without = al.allocate(cons, prod, al.Key(key.type, key.weights, False), ca, pa)
    with_ = al.allocate(cons, prod, al.Key(key.type, key.weights, True), ca, pa)
    assert (with_.autocons >= without.autocons).all()
    if key.type in (al.KeyType.STATIC, al.KeyType.DYNAMIC_SIMPLE):
        # every active consumer has a positive coefficient: redistribution reaches the bound
        bound = np.minimum(with_.production.sum(axis=1), with_.consumption.sum(axis=1))
        assert (with_.autocons.sum(axis=1) == bound).all()


def test_the_step_is_whatever_the_arrays_hold_15_min_halves_sum_to_the_30_min_allocation_under_default_key():
    rng = np.random.default_rng(5)
    quarter_c = rng.integers(0, 800, (8, 4))
    quarter_p = rng.integers(0, 1500, (8, 1))
    quarters = al.allocate(quarter_c, quarter_p, al.dynamic_default_key())
    halves = al.allocate(quarter_c.reshape(4, 2, 4).sum(axis=1), quarter_p.reshape(4, 2, 1).sum(axis=1),
                         al.dynamic_default_key())
    # finer steps can only lose simultaneity, never create it
    assert quarters.self_consumed_wh <= halves.self_consumed_wh
    assert quarters.self_consumed_wh == al.upper_bound_wh(quarter_c, quarter_p)
