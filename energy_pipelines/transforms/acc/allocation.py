"""Enedis allocation keys of collective self-consumption, in integer Wh, vectorised over steps.

Quantities per step t (DOMAIN.md UC5; reference/domain-anchors.md §2.2-2.3):
    consumer i:  CONS = AUTOCONS + COMPLEMENT,  0 <= AUTOCONS <= CONS
    producer p:  PROD = AUTOPROD + SURPLUS
    operation:   sum_i AUTOCONS = sum_p AUTOPROD
The step (15 min, 30 min, or hourly for the real test houses) is whatever the arrays hold: nothing
here depends on it. Every quantity is an integer number of Wh, so the identities hold exactly.

Keys (what the PMO declares to Enedis):
- statique: a fixed coefficient per consumer; consumer i is offered coef_i x PROD_t;
- dynamique par défaut: production split pro rata of each step's measured consumption
  (Enedis's key when the PMO sends none); it self-consumes exactly min(PROD_t, sum_i CONS_t,i);
- dynamique simple: a coefficient per consumer and step (sent monthly, ex post);
- full dynamique: a coefficient per (producer, consumer) pair and step.
For the first three the production of all producers is pooled; AUTOPROD is then shared among the
producers pro rata of their production. Full dynamic keeps each producer's energy apart.

What a consumer is offered beyond its consumption is surplus, unless `redistribute`: the excess is
then offered again to the consumers who can still absorb some, pro rata of their coefficients,
round after round, until nothing is left or nobody can take more (at most one round per consumer).

Rounding: an entitlement `total x w_i / sum(w)` is split by the largest-remainder (Hamilton) method
in exact integer arithmetic (no float anywhere), so the parts always add up to the total to the Wh;
ties go to the lower index. Coefficients given as fractions are first turned into integer weights
out of 10^9 by the same method (a key's coefficients must sum to 1 within 1e-9).

Entering or leaving participants: `consumers_active` / `producers_active` masks. An inactive
consumer absorbs nothing (a static coefficient left in the key for it goes to surplus, or is
redistributed); an inactive producer produces nothing for the operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

WEIGHT_SCALE = 10**9  # coefficients become integer parts per billion
COEFFICIENT_TOLERANCE = 1e-9
_INT64_SAFE = 2**62


class KeyType(str, Enum):
    STATIC = "statique"
    DYNAMIC_DEFAULT = "dynamique_defaut"
    DYNAMIC_SIMPLE = "dynamique_simple"
    FULL_DYNAMIC = "full_dynamique"


class AllocationInputError(ValueError):
    """Curves or a key that cannot be allocated; the message says which and why."""


@dataclass(frozen=True)
class Key:
    """An allocation key as integer weights.

    static: weights [N]; dynamic simple: [T, N]; full dynamic: [T, M, N]; dynamic default: None.
    """

    type: KeyType
    weights: np.ndarray | None = None
    redistribute: bool = False

    @property
    def pooled(self) -> bool:
        return self.type is not KeyType.FULL_DYNAMIC


@dataclass(frozen=True)
class Allocation:
    """Result of one allocation: int64 Wh arrays, steps first."""

    consumption: np.ndarray  # [T, N] CONS (0 where the consumer is not in the operation)
    production: np.ndarray  # [T, M] PROD (0 where the producer is not in the operation)
    autocons: np.ndarray  # [T, N] AUTOCONS
    autoprod: np.ndarray  # [T, M] AUTOPROD
    flows: np.ndarray | None = None  # [T, M, N] energy of producer p self-consumed by i (full dynamic)

    @property
    def complement(self) -> np.ndarray:
        return self.consumption - self.autocons

    @property
    def surplus(self) -> np.ndarray:
        return self.production - self.autoprod

    @property
    def self_consumed_wh(self) -> int:
        return int(self.autocons.sum())


# -- integer apportionment ------------------------------------------------------------------------


def apportion(total: np.ndarray | int, weights: np.ndarray) -> np.ndarray:
    """Split each `total` into integer parts proportional to the integer `weights` (last axis).

    Largest remainder, exact: parts sum to the total wherever some weight is positive, and to 0
    where all weights are 0 (nothing to share with). Ties go to the lower index.
    """
    w = np.asarray(weights)
    if w.dtype.kind not in "iu":
        raise TypeError(f"apportion needs integer weights, got {w.dtype}")
    w = w.astype(np.int64, copy=False)
    t = np.asarray(total, dtype=np.int64)
    t = np.broadcast_to(t, w.shape[:-1])
    if (w < 0).any() or (t < 0).any():
        raise ValueError("apportion: negative total or weight")
    if w.size and t.size and int(t.max(initial=0)) * int(w.max(initial=0)) >= _INT64_SAFE:
        raise OverflowError("apportion: total x weight would overflow int64")
    wsum = w.sum(axis=-1)
    if (wsum >= _INT64_SAFE).any():
        raise OverflowError("apportion: sum of weights would overflow int64")
    some = wsum > 0
    denom = np.where(some, wsum, 1)[..., None]
    quota, rest = np.divmod(t[..., None] * w, denom)
    short = np.where(some, t - quota.sum(axis=-1), 0)
    k = w.shape[-1]
    if k and short.any():
        order = np.argsort(-rest, axis=-1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), order.shape), axis=-1)
        quota += rank < short[..., None]
    return np.where(some[..., None], quota, 0)


def integer_weights(coefficients: np.ndarray, what: str = "key") -> np.ndarray:
    """Fractions summing to 1 on the last axis -> int64 weights summing to WEIGHT_SCALE exactly.

    Rows that are all zero stay zero (a producer that shares nothing at that step, in full dynamic
    keys only); any other sum than 1 (within 1e-9) is an error naming the first bad row.
    """
    c = np.asarray(coefficients, dtype=float)
    if not np.isfinite(c).all():
        raise AllocationInputError(f"{what}: coefficients must be finite numbers")
    if (c < 0).any():
        idx = tuple(int(i) for i in np.argwhere(c < 0)[0])
        raise AllocationInputError(f"{what}: negative coefficient {c[idx]} at {idx}")
    sums = c.sum(axis=-1)
    bad = ~(np.isclose(sums, 1.0, rtol=0, atol=COEFFICIENT_TOLERANCE) | (sums == 0))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        value = sums[idx] if idx else float(sums)
        where = f" at step/row {idx}" if idx else ""
        raise AllocationInputError(
            f"{what}: coefficients sum to {value * 100:.6f} %{where}, not 100 % (tolerance {COEFFICIENT_TOLERANCE:g})")
    scaled = c * WEIGHT_SCALE
    floor = np.floor(scaled).astype(np.int64)
    frac = scaled - floor
    target = np.where(sums > 0, WEIGHT_SCALE, 0)
    short = target - floor.sum(axis=-1)
    k = c.shape[-1]
    # float noise leaves `short` in [-1, k]: add to the largest fractional parts, or take from the smallest
    order = np.argsort(-frac, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), order.shape), axis=-1)
    floor += rank < np.clip(short, 0, k)[..., None]
    deficit = np.clip(-short, 0, k)
    if deficit.any():
        order = np.argsort(np.where(floor > 0, frac, np.inf), axis=-1, kind="stable")
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), order.shape), axis=-1)
        floor -= rank < deficit[..., None]
    if (floor.sum(axis=-1) != target).any():  # pragma: no cover - impossible within the tolerance
        raise AllocationInputError(f"{what}: coefficients cannot be turned into exact weights")
    return floor


# -- keys -----------------------------------------------------------------------------------------


def static_key(coefficients: Sequence[float] | np.ndarray, redistribute: bool = False) -> Key:
    c = np.asarray(coefficients, dtype=float)
    if c.ndim != 1:
        raise AllocationInputError("static key: one coefficient per consumer expected")
    if c.size and np.isclose(c.sum(), 0.0):
        raise AllocationInputError("static key: coefficients sum to 0 %, not 100 %")
    return Key(KeyType.STATIC, integer_weights(c, "static key"), redistribute)


def dynamic_default_key() -> Key:
    return Key(KeyType.DYNAMIC_DEFAULT, None, False)


def dynamic_simple_key(coefficients: np.ndarray, redistribute: bool = False) -> Key:
    c = np.asarray(coefficients, dtype=float)
    if c.ndim != 2:
        raise AllocationInputError("dynamic simple key: coefficients [step, consumer] expected")
    zero = np.isclose(c.sum(axis=1), 0.0)
    if zero.any():
        raise AllocationInputError(f"dynamic simple key: coefficients sum to 0 % at step {int(np.argmax(zero))}")
    return Key(KeyType.DYNAMIC_SIMPLE, integer_weights(c, "dynamic simple key"), redistribute)


def full_dynamic_key(coefficients: np.ndarray, redistribute: bool = False) -> Key:
    """coefficients [step, producer, consumer]: each producer's row sums to 1 (or 0: shares nothing)."""
    c = np.asarray(coefficients, dtype=float)
    if c.ndim != 3:
        raise AllocationInputError("full dynamic key: coefficients [step, producer, consumer] expected")
    return Key(KeyType.FULL_DYNAMIC, integer_weights(c, "full dynamic key"), redistribute)


# -- allocation -----------------------------------------------------------------------------------


def _energy(values, name: str, ndim: int = 2) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != ndim:
        raise AllocationInputError(f"{name}: expected a [step, participant] array, got shape {a.shape}")
    if a.dtype.kind == "f":
        if np.isnan(a).any():
            t, i = (int(x) for x in np.argwhere(np.isnan(a))[0])
            raise AllocationInputError(f"{name}: missing reading (gap) for participant {i} at step {t}")
        if not np.array_equal(a, np.round(a)):
            raise AllocationInputError(f"{name}: readings must be whole Wh (integer arithmetic)")
    elif a.dtype.kind not in "iu":
        raise AllocationInputError(f"{name}: numeric Wh expected, got {a.dtype}")
    a = a.astype(np.int64)
    if (a < 0).any():
        t, i = (int(x) for x in np.argwhere(a < 0)[0])
        raise AllocationInputError(f"{name}: negative reading {int(a[t, i])} Wh for participant {i} at step {t}")
    return a


def _mask(mask, shape, name) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        raise AllocationInputError(f"{name}: shape {m.shape}, expected {shape}")
    return m


def allocate(consumption, production, key: Key, consumers_active=None, producers_active=None) -> Allocation:
    """Allocate each step's production among the consumers with `key` (see the module docstring)."""
    cons = _energy(consumption, "consumption")
    prod = _energy(production, "production")
    if cons.shape[0] != prod.shape[0]:
        raise AllocationInputError(f"consumption has {cons.shape[0]} steps, production {prod.shape[0]}")
    steps, n = cons.shape
    m = prod.shape[1]
    cons = np.where(_mask(consumers_active, cons.shape, "consumers_active"), cons, 0)
    prod = np.where(_mask(producers_active, prod.shape, "producers_active"), prod, 0)
    if key.type is KeyType.FULL_DYNAMIC:
        weights = _weights(key, (steps, m, n))
        return _allocate_pairs(cons, prod, weights, key.redistribute)
    if key.type is KeyType.DYNAMIC_DEFAULT:
        weights = cons  # pro rata of each step's consumption
    else:
        weights = np.broadcast_to(_weights(key, (steps, n)), (steps, n))
    pool = prod.sum(axis=1)
    offered = apportion(pool, weights)
    auto = np.minimum(offered, cons)
    if key.redistribute:
        auto = _redistribute(auto, cons, pool - auto.sum(axis=1), weights)
    autoprod = apportion(auto.sum(axis=1), prod)
    return Allocation(cons, prod, auto, autoprod)


def _weights(key: Key, shape: tuple[int, ...]) -> np.ndarray:
    w = key.weights
    if w is None:
        raise AllocationInputError(f"{key.type.value} key without coefficients")
    expected = shape[-1:] if key.type is KeyType.STATIC else shape
    if w.shape != expected:
        raise AllocationInputError(
            f"{key.type.value} key has coefficients of shape {w.shape}, the curves need {expected}")
    return w


def _redistribute(auto: np.ndarray, cap: np.ndarray, left: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Offer what is left again to consumers with headroom, pro rata of their weights, until stable."""
    auto = auto.copy()
    left = left.copy()
    for _ in range(cap.shape[1] + 1):
        head = cap - auto
        eligible = np.where(head > 0, weights, 0)
        todo = (left > 0) & (eligible.sum(axis=1) > 0)
        if not todo.any():
            break
        extra = apportion(np.where(todo, left, 0), eligible)
        take = np.minimum(extra, head)
        auto += take
        left -= take.sum(axis=1)
    return auto


def _allocate_pairs(cons: np.ndarray, prod: np.ndarray, weights: np.ndarray, redistribute: bool) -> Allocation:
    """Full dynamic: producer p offers apportion(PROD_p, w_p,.) to each consumer; a consumer that
    cannot take all it is offered takes from each producer pro rata of the offers."""
    offers = apportion(prod, weights)  # [T, M, N]
    flows = _accept(offers, cons)
    if redistribute:
        left = prod - flows.sum(axis=2)
        for _ in range(cons.shape[1] + 1):
            head = cons - flows.sum(axis=1)  # [T, N]
            eligible = np.where((head > 0)[:, None, :], weights, 0)
            todo = (left > 0) & (eligible.sum(axis=2) > 0)
            if not todo.any():
                break
            more = apportion(np.where(todo, left, 0), eligible)
            taken = _accept(more, head)
            flows += taken
            left -= taken.sum(axis=2)
    return Allocation(cons, prod, flows.sum(axis=1), flows.sum(axis=2), flows)


def _accept(offers: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Each consumer takes min(offered, cap), split back among producers pro rata of their offers."""
    taken = np.minimum(offers.sum(axis=1), cap)  # [T, N]
    split = apportion(taken, np.moveaxis(offers, 1, 2))  # [T, N, M]
    return np.moveaxis(split, 2, 1)


# -- rates ----------------------------------------------------------------------------------------


def self_consumption_rate(a: Allocation) -> float | None:
    """Taux d'autoconsommation: sum AUTOPROD / sum PROD (None without production)."""
    total = int(a.production.sum())
    return None if total == 0 else int(a.autoprod.sum()) / total


def self_production_rate(a: Allocation) -> float | None:
    """Taux d'autoproduction: sum AUTOCONS / sum CONS (None without consumption)."""
    total = int(a.consumption.sum())
    return None if total == 0 else int(a.autocons.sum()) / total


def upper_bound_wh(consumption, production, consumers_active=None, producers_active=None) -> int:
    """sum_t min(PROD_t, sum_i CONS_t,i): what no key can exceed (and dynamic default reaches)."""
    cons = np.where(_mask(consumers_active, np.shape(consumption), "consumers_active"), consumption, 0)
    prod = np.where(_mask(producers_active, np.shape(production), "producers_active"), production, 0)
    return int(np.minimum(np.asarray(prod, np.int64).sum(axis=1), np.asarray(cons, np.int64).sum(axis=1)).sum())
