"""Personal data out of the charging sessions: keyed pseudonyms, QualiCharge rules, small-group suppression.

- Pseudonyms are HMAC-SHA256(key, "<domain>:<value>") truncated to 128 bits (32 hex digits). The key
  comes from the settings (`ENERGY_PIPELINES_PSEUDONYMISATION_KEY`, at least 32 characters).
  A step whose inputs are all simulated may fall back to the documented public demo key
  `SAMPLE_DEMO_KEY`; one live input makes the key required. The key is never logged, put in metadata or in an
  error message; `key_id` (an HMAC of a constant) tells two keys apart without revealing them.
  A keyed pseudonym is still personal data (CNIL): it only allows linking sessions of one badge.
- Sessions are rebuilt from the OCPP log (StartTransaction + StopTransaction of one transaction)
  and the historical export, then checked against the QualiCharge session rules (DOMAIN.md);
  a session breaking one is quarantined with the rule it breaks.
- `suppress_small_groups` masks every aggregate that covers fewer than k distinct users, and
  `protect_against_areas` masks more where the open signal's area occupancy would give a masked
  one back by difference (secondary suppression).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.transforms.common import REJECT_COLUMNS

KEY_ENV = "ENERGY_PIPELINES_PSEUDONYMISATION_KEY"
# Public, documented, and only acceptable for simulated data (sample mode).
SAMPLE_DEMO_KEY = "energy-pipelines-sample-mode-demo-key--not-a-secret"
MIN_KEY_LENGTH = 32

SESSION_COLUMNS = ["transaction_id", "id_pdc_itinerance", "connector_id", "id_tag", "start_utc", "end_utc",
                   "meter_start_wh", "meter_stop_wh", "energy_wh", "stop_reason", "origin", "source_file",
                   "source_line"]


class PseudonymisationKeyError(RuntimeError):
    """No usable key: the message says which variable to set, never a key value."""


class Pseudonymiser:
    """Keyed hashing of identifiers; holds the key without ever showing it."""

    __slots__ = ("_key", "source")

    def __init__(self, key: bytes, source: str):
        self._key = key
        self.source = source

    def __repr__(self) -> str:
        return f"Pseudonymiser(source={self.source!r}, key=<hidden>)"

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key (HMAC of a constant): rotation is visible, the key is not."""
        return hmac.new(self._key, b"energy_pipelines key id", hashlib.sha256).hexdigest()[:12]

    def one(self, value: object, domain: str) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return None
        text = str(value).strip().upper() if domain == "badge" else str(value).strip()
        return hmac.new(self._key, f"{domain}:{text}".encode(), hashlib.sha256).hexdigest()[:32]

    def many(self, values: Iterable[object], domain: str) -> list[str | None]:
        return [self.one(v, domain) for v in values]


def pseudonymiser_for(input_modes: Mapping[str, str], key: str | None) -> Pseudonymiser:
    """The pseudonymiser of one anonymising step, given the mode of each of its inputs (source id ->
    sample/live) and the configured key. The public demo key is allowed only when every input is
    simulated: one live input (a per-source override cannot hide it) requires the secret key."""
    if key:
        if len(key) < MIN_KEY_LENGTH:
            raise PseudonymisationKeyError(
                f"{KEY_ENV} is too short ({len(key)} characters, at least {MIN_KEY_LENGTH} required)")
        return Pseudonymiser(key.encode(), source="environment")
    live = sorted(source for source, mode in input_modes.items() if mode != "sample")
    if not live:
        return Pseudonymiser(SAMPLE_DEMO_KEY.encode(), source="sample demo key (public; simulated data only)")
    raise PseudonymisationKeyError(
        f"{KEY_ENV} is not set: live input ({', '.join(live)}) refuses to be pseudonymised without a secret "
        f"key (set it in the environment of the code location, at least {MIN_KEY_LENGTH} characters)")


# -- sessions -------------------------------------------------------------------------------


def _reason_rows(frame: pd.DataFrame, reason: str | pd.Series) -> pd.DataFrame:
    out = frame.copy()
    out["reason"] = reason
    return out


def sessions_from_log(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sessions, refused) from OCPP Start/Stop messages; refused rows keep their log columns + reason."""
    if tx.empty:
        return pd.DataFrame(columns=SESSION_COLUMNS), pd.DataFrame()
    tx = tx.sort_values(["timestamp_utc", "source_file", "source_line"], kind="stable")
    refused = []
    starts = tx[tx["message"] == "StartTransaction"]
    stops = tx[tx["message"] == "StopTransaction"]
    dup_start = starts.duplicated("transaction_id", keep="first")
    dup_stop = stops.duplicated("transaction_id", keep="first")
    if dup_start.any():
        refused.append(_reason_rows(starts[dup_start], "duplicate: StartTransaction sent again for this transaction"))
    if dup_stop.any():
        refused.append(_reason_rows(stops[dup_stop], "duplicate: StopTransaction sent again for this transaction"))
    starts, stops = starts[~dup_start], stops[~dup_stop]
    joined = stops.merge(starts[["transaction_id", "id_pdc_itinerance", "timestamp_utc", "meter_wh", "id_tag"]],
                         on="transaction_id", how="left", suffixes=("", "_start"), indicator=True)
    orphan = joined["_merge"] == "left_only"
    if orphan.any():
        refused.append(_reason_rows(joined.loc[orphan, stops.columns],
                                    "no StartTransaction for this transaction in the 7 days before its stop"))
    joined = joined[~orphan]
    moved = joined["id_pdc_itinerance"] != joined["id_pdc_itinerance_start"]
    if moved.any():
        refused.append(_reason_rows(joined.loc[moved, stops.columns],
                                    "StopTransaction on another charge point than its StartTransaction"))
    joined = joined[~moved]
    sessions = pd.DataFrame({
        "transaction_id": joined["transaction_id"].astype("int64"),
        "id_pdc_itinerance": joined["id_pdc_itinerance"], "connector_id": joined["connector_id"],
        "id_tag": joined["id_tag_start"].where(joined["id_tag_start"].notna(), joined["id_tag"]),
        "start_utc": joined["timestamp_utc_start"], "end_utc": joined["timestamp_utc"],
        "meter_start_wh": joined["meter_wh_start"].astype("int64"), "meter_stop_wh": joined["meter_wh"].astype("int64"),
        "stop_reason": joined["stop_reason"], "origin": "ocpp_log",
        "source_file": joined["source_file"], "source_line": joined["source_line"],
    })
    sessions["energy_wh"] = sessions["meter_stop_wh"] - sessions["meter_start_wh"]
    rejected = pd.concat(refused, ignore_index=True) if refused else pd.DataFrame()
    return sessions[SESSION_COLUMNS].reset_index(drop=True), rejected


def sessions_from_history(history: pd.DataFrame) -> pd.DataFrame:
    if history.empty:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    out = history.copy()
    out["origin"] = "history_export"
    # the energy is what the meter says; the export's own column is informative only
    out["energy_wh"] = out["meter_stop_wh"] - out["meter_start_wh"]
    return out[SESSION_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class QualiChargeRules:
    max_days: float = 7.0
    max_energy_kwh: float = 1000.0
    power_tolerance: float = 0.10
    zero_duration_max_kwh: float = 1.0
    max_sessions_per_day: int = 60


def _overlaps(sessions: pd.DataFrame) -> pd.Series:
    """True for a session that starts before the end of the last kept session of its charge point."""
    flag = np.zeros(len(sessions), dtype=bool)
    order = sessions.sort_values(["id_pdc_itinerance", "start_utc", "transaction_id"], kind="stable")
    pdc = order["id_pdc_itinerance"].to_numpy()
    start = order["start_utc"].to_numpy()
    end = order["end_utc"].to_numpy()
    pos = order.index.to_numpy()
    last_pdc, last_end = None, None
    for i in range(len(order)):
        if pdc[i] != last_pdc:
            last_pdc, last_end = pdc[i], end[i]
            continue
        if start[i] < last_end:
            flag[sessions.index.get_loc(pos[i])] = True
        else:
            last_end = end[i]
    return pd.Series(flag, index=sessions.index)


def qualicharge_check(sessions: pd.DataFrame, power_kw: Mapping[str, float],
                      rules: QualiChargeRules = QualiChargeRules()) -> pd.Series:
    """The first QualiCharge rule each session breaks ('' when it passes them all)."""
    s = sessions
    reason = pd.Series("", index=s.index, dtype=object)

    def fail(mask, text):
        nonlocal reason
        mask = pd.Series(np.asarray(mask, dtype=bool), index=s.index) & (reason == "")
        reason = reason.where(~mask, text if isinstance(text, str) else text[mask])

    hours = (s["end_utc"] - s["start_utc"]).dt.total_seconds() / 3600
    kwh = s["energy_wh"] / 1000
    power = s["id_pdc_itinerance"].map(power_kw)
    fail(power.isna(), "charge point not in the IRVE register")
    fail(hours < 0, "end before start")
    fail(hours > rules.max_days * 24, f"session longer than {rules.max_days:g} days")
    fail(kwh < 0, "negative energy: the meter went backwards")
    fail(kwh >= rules.max_energy_kwh, f"energy >= {rules.max_energy_kwh:g} kWh")
    fail((hours == 0) & (kwh > rules.zero_duration_max_kwh),
         f"zero duration with more than {rules.zero_duration_max_kwh:g} kWh")
    fail(kwh > power * hours * (1 + rules.power_tolerance),
         f"energy above nominal power x duration + {rules.power_tolerance:.0%}")
    ok = reason == ""
    if ok.any():
        overlap = _overlaps(s[ok])
        fail(overlap.reindex(s.index, fill_value=False), "overlaps an earlier session on the same charge point")
    ok = reason == ""
    if ok.any():
        day = s.loc[ok, "start_utc"].dt.tz_convert(PARIS).dt.date
        rank = s[ok].assign(_day=day).groupby(["id_pdc_itinerance", "_day"])["start_utc"].rank(method="first")
        fail((rank > rules.max_sessions_per_day).reindex(s.index, fill_value=False),
             f"more than {rules.max_sessions_per_day} sessions on the charge point that day")
    return reason


def deduplicate(sessions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One session per transaction id: the OCPP log wins over the history export, then the first seen."""
    rank = (sessions["origin"] != "ocpp_log").astype(int)
    ordered = sessions.assign(_rank=rank).sort_values(["transaction_id", "_rank", "source_file", "source_line"],
                                                      kind="stable")
    dup = ordered.duplicated("transaction_id", keep="first")
    kept = ordered[~dup].drop(columns="_rank")
    refused = _reason_rows(ordered[dup].drop(columns="_rank"), "duplicate: transaction already delivered")
    return kept, refused


def pseudonymise_sessions(sessions: pd.DataFrame, p: Pseudonymiser, stations: pd.DataFrame) -> pd.DataFrame:
    """The anonymised session rows: no badge, no transaction id, only keyed pseudonyms."""
    info = stations.set_index("id_pdc_itinerance")
    hours = (pd.to_datetime(sessions["end_utc"], utc=True)
             - pd.to_datetime(sessions["start_utc"], utc=True)).dt.total_seconds() / 3600
    end = pd.to_datetime(sessions["end_utc"], utc=True)
    return pd.DataFrame({
        "datetime_utc": end.dt.floor("30min").to_numpy(),
        "end_utc": end.to_numpy(), "start_utc": sessions["start_utc"].to_numpy(),
        "session_id": p.many(sessions["transaction_id"], "transaction"),
        "user_pseudonym": p.many(sessions["id_tag"], "badge"),
        "id_pdc_itinerance": sessions["id_pdc_itinerance"].to_numpy(),
        "id_station_itinerance": sessions["id_pdc_itinerance"].map(info["id_station_itinerance"]).to_numpy(),
        "code_insee_commune": sessions["id_pdc_itinerance"].map(info["code_insee_commune"]).to_numpy(),
        "duration_h": hours.round(4).to_numpy(),
        "energy_kwh": (sessions["energy_wh"].astype("float64") / 1000).round(3).to_numpy(),
        "puissance_nominale_kw": sessions["id_pdc_itinerance"].map(info["puissance_nominale_kw"]).to_numpy(),
        "stop_reason": sessions["stop_reason"].to_numpy(), "origin": sessions["origin"].to_numpy(),
        "source_file": sessions["source_file"].to_numpy(), "source_line": sessions["source_line"].to_numpy(),
    })


def pseudonymised_rejects(rows: pd.DataFrame, p: Pseudonymiser, time_column: str) -> pd.DataFrame:
    """Quarantine records whose `record` holds no raw identifier: ids are replaced by their pseudonyms."""
    if rows.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    safe = rows.drop(columns=[c for c in ("id_tag", "transaction_id", "source_file", "source_line", "reason")
                              if c in rows])
    if "id_tag" in rows:
        safe["user_pseudonym"] = p.many(rows["id_tag"], "badge")
    if "transaction_id" in rows:
        safe["session_id"] = p.many(rows["transaction_id"], "transaction")
    records = [json.dumps(r, ensure_ascii=False, default=str) for r in safe.to_dict("records")]
    return pd.DataFrame({
        "partition_start_utc": pd.to_datetime(rows[time_column], utc=True).dt.floor("30min").to_numpy(),
        "source_file": rows["source_file"].to_numpy() if "source_file" in rows else None,
        "source_line": rows["source_line"].to_numpy() if "source_line" in rows else None,
        "reason": rows["reason"].to_numpy(),
        "record": records,
    })


# -- small groups ---------------------------------------------------------------------------


def suppress_small_groups(frame: pd.DataFrame, users_column: str, value_columns: list[str], k: int,
                          ) -> pd.DataFrame:
    """Mask the values of every row covering fewer than k distinct users, and say why."""
    out = frame.copy()
    small = out[users_column].fillna(0) < k
    for col in value_columns:
        out[col] = out[col].astype("float64").where(~small) if out[col].dtype.kind in "iuf" else \
            out[col].where(~small, None)
    out["suppressed"] = small.to_numpy()
    out["suppression_reason"] = np.where(small, f"fewer than {k} distinct users in the group", None)
    return out


def protect_against_areas(frame: pd.DataFrame, areas: pd.DataFrame, sessions: pd.DataFrame,
                          value_columns: list[str], k: int, key: str = "id_station_itinerance") -> pd.DataFrame:
    """Secondary suppression of a per-station product against the open signal's area occupancy.

    The open signal publishes occupancy per occupancy area (a group of stations). Summed over the
    period, an area's occupancy minus the occupancy published for its unmasked stations gives the
    occupancy of its masked ones together. That residual must itself cover at least k distinct
    users, or a masked station is recovered by difference: while it does not, the unmasked station
    of the area with the fewest users is masked too (reason says so). `frame` is the output of
    `suppress_small_groups`; `areas` maps `key` to `occupancy_area`; `sessions` holds `key` and
    `user_pseudonym` of the period.
    """
    out = frame.copy()
    area_of = areas.dropna(subset=["occupancy_area"]).drop_duplicates(key).set_index(key)["occupancy_area"]
    users = sessions.groupby(key)["user_pseudonym"].agg(lambda u: set(u.dropna())) if len(sessions) else pd.Series(
        dtype=object)
    secondary = np.zeros(len(out), dtype=bool)
    for _area, rows in out.groupby(out[key].map(area_of), sort=True):
        masked = rows.index[out.loc[rows.index, "suppressed"].to_numpy()]
        if not len(masked):
            continue
        shown = [i for i in rows.index if i not in set(masked)]
        residual = set().union(*(users.get(out.at[i, key], set()) for i in masked))
        # fewest users first (the least informative to lose), then the id: deterministic
        shown.sort(key=lambda i: (len(users.get(out.at[i, key], set())), str(out.at[i, key])))
        while len(residual) < k and shown:
            i = shown.pop(0)
            residual |= users.get(out.at[i, key], set())
            secondary[out.index.get_loc(i)] = True
    if secondary.any():
        idx = out.index[secondary]
        for col in value_columns:
            out[col] = out[col].astype("float64") if out[col].dtype.kind in "iuf" else out[col]
            out.loc[idx, col] = np.nan if out[col].dtype.kind == "f" else None
        out.loc[idx, "suppressed"] = True
        out.loc[idx, "suppression_reason"] = (
            f"secondary suppression: with the open signal's occupancy of its area it would reveal a station "
            f"masked for fewer than {k} users")
    return out
