"""The Enedis green signal of the Hautes-Alpes grid nodes, consistent with the simulated regional mix.

Each grid node (poste source, simulated: see `hautes_alpes.NODES`) produces from run-of-river hydro
(snow-melt peak in May-June, the regional hydro noise of `paca_mix`), PV (the regional cloudiness of
`weather.clearness` at the node's own sun angle) and a little wind, and consumes with the regional
daily shape, heating at the node's altitude and the ski-season load of its resorts. The ratio
production / consumption is what Enedis sends per station every half-hour, in Wh.

Deliveries (file drops by Enedis):
- `enedis_signal_vert_05_<YYYYMMDDTHHMM>Z.csv`: one file per half-hour, one row per station,
  `horodate` in Paris time with its offset (ISO 8601, like Enedis' open-data exports);
- `enedis_signal_vert_historique_05_<YYYY>.csv`: the seasonal median ratio per station, season,
  day type and local half-hour of a reference year.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.simulate import weather
from energy_pipelines.simulate.charging import Network, _ended_slots, _missing_slots, network, slot_file_name
from energy_pipelines.simulate.hautes_alpes import NODES, GridNode

UTC = timezone.utc
SIGNAL_PREFIX = "enedis_signal_vert_05"
HISTORY_PREFIX = "enedis_signal_vert_historique_05"
SIGNAL_COLUMNS = ["horodate", "id_station_itinerance", "num_pdl", "code_poste_source", "production_enr_wh",
                  "consommation_wh", "ratio_vert"]
HISTORY_COLUMNS = ["id_station_itinerance", "code_poste_source", "saison", "type_jour", "heure_locale",
                   "ratio_vert_median", "nb_valeurs", "periode_debut", "periode_fin"]
SEASONS = {12: "hiver", 1: "hiver", 2: "hiver", 3: "printemps", 4: "printemps", 5: "printemps",
           6: "ete", 7: "ete", 8: "ete", 9: "automne", 10: "automne", 11: "automne"}


def _ski_season(times: pd.DatetimeIndex) -> np.ndarray:
    local = times.tz_convert(PARIS)
    md = np.asarray(local.month * 100 + local.day)
    winter = (md >= 1220) | (md <= 410)
    summer = (md >= 701) & (md <= 831)
    weekend = np.asarray(local.dayofweek) >= 5
    return np.where(winter, 1.0 + 0.25 * weekend, np.where(summer, 0.45, 0.0))


def node_series(times: pd.DatetimeIndex, nodes: tuple[GridNode, ...] = NODES) -> pd.DataFrame:
    """Production and consumption (Wh per half-hour) of each node at each UTC half-hour start."""
    local = times.tz_convert(PARIS)
    hour = np.asarray(local.hour + local.minute / 60 + 0.25, dtype=float)
    doy = weather.day_of_year(times)
    daily = (0.80 + 0.13 * np.exp(-((hour - 12.5) / 3.5) ** 2) + 0.20 * np.exp(-((hour - 19.5) / 2.2) ** 2)
             + 0.08 * np.exp(-((hour - 9.0) / 1.8) ** 2) - 0.10 * np.exp(-((hour - 4.0) / 2.5) ** 2))
    weekend = np.isin(np.asarray(local.dayofweek), [5, 6])
    clear = weather.clearness(times)
    regional_hydro_noise = weather.smooth_noise(times, "hydro")
    melt = 0.30 + 0.70 * np.exp(-((doy - 155) / 38) ** 2) + 0.15 * np.exp(-((doy - 300) / 25) ** 2)
    ski = _ski_season(times)
    wind = weather.wind_speed_ms(times)
    parts = []
    for n in nodes:
        sun = np.clip(weather.solar_elevation_sin(times, lat_deg=n.lat, lon_deg=n.lon), 0, None)
        local_cloud = np.clip(clear + 0.06 * weather.smooth_noise(times, f"cloud-{n.code}", 0.3), 0.1, 1.0)
        solar = n.solar_mw * 0.80 * sun**1.15 * local_cloud
        hydro = n.hydro_mw * melt * np.clip(1 + 0.10 * regional_hydro_noise
                                            + 0.08 * weather.smooth_noise(times, f"hydro-{n.code}"), 0.3, 1.6)
        eol = n.wind_mw * np.clip((wind - 3.0) / 9.0, 0, 1) ** 2
        # temperature at the node: the regional signal, colder with altitude and inland
        temp = weather.temperature_c(times, mean_c=10.5, seasonal_amp=9.5, daily_amp=5.5) - 2.0
        heating = 0.022 * np.clip(15.0 - temp, 0, None)
        load = n.consumption_mw * (daily * np.where(weekend, 0.92, 1.0) + heating
                                   + n.resort_share * 1.6 * ski * (0.7 + 0.3 * daily))
        load = load * (1 + 0.03 * weather.smooth_noise(times, f"load-{n.code}"))
        parts.append(pd.DataFrame({
            "datetime_utc": times, "code_poste_source": n.code,
            "production_enr_wh": np.round((solar + hydro + eol) * 0.5e6),
            "consommation_wh": np.round(load * 0.5e6),
        }))
    return pd.concat(parts, ignore_index=True)


def _num_pdl(station_id: str) -> str:
    return str(int.from_bytes(hashlib.blake2b(f"pdl:{station_id}".encode(), digest_size=8).digest(), "little")
               % 10**14).zfill(14)


def station_signal(times: pd.DatetimeIndex, net: Network | None = None) -> pd.DataFrame:
    """The node values repeated for every station the node feeds (what Enedis delivers)."""
    net = net or network()
    nodes = node_series(times)
    stations = net.stations[["id_station_itinerance", "node"]].rename(columns={"node": "code_poste_source"})
    stations = stations.assign(num_pdl=[_num_pdl(s) for s in stations["id_station_itinerance"]])
    out = nodes.merge(stations, on="code_poste_source")
    out["ratio_vert"] = (out["production_enr_wh"] / out["consommation_wh"]).round(4)
    return out.sort_values(["datetime_utc", "id_station_itinerance"]).reset_index(drop=True)


def _to_csv(frame: pd.DataFrame) -> str:
    local = pd.DatetimeIndex(frame["datetime_utc"]).tz_convert(PARIS)
    out = frame.assign(horodate=[t.isoformat() for t in local])
    out["production_enr_wh"] = out["production_enr_wh"].astype("int64")
    out["consommation_wh"] = out["consommation_wh"].astype("int64")
    return out[SIGNAL_COLUMNS].to_csv(sep=";", index=False, lineterminator="\n")


def write_signal(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                 net: Network | None = None) -> list[Path]:
    """One file per ended half-hour of [start, end); files already delivered are left as they are."""
    slots = _missing_slots(landing, SIGNAL_PREFIX, _ended_slots(start, end, now))
    if not len(slots):
        return []
    signal = station_signal(slots, net)
    written = []
    for slot, rows in signal.groupby("datetime_utc"):
        written.append(landing.write_atomic(slot_file_name(SIGNAL_PREFIX, slot), _to_csv(rows)))
    return written


def seasonal_medians(signal: pd.DataFrame) -> pd.DataFrame:
    """Median ratio per station, season, day type and local half-hour (the "cold" signal)."""
    local = pd.DatetimeIndex(signal["datetime_utc"]).tz_convert(PARIS)
    frame = signal.assign(saison=pd.Series(local.month).map(SEASONS).to_numpy(),
                          type_jour=np.where(np.asarray(local.dayofweek) >= 5, "week-end", "ouvre"),
                          heure_locale=local.strftime("%H:%M"))
    return (frame.groupby(["id_station_itinerance", "code_poste_source", "saison", "type_jour", "heure_locale"])
            ["ratio_vert"].agg(ratio_vert_median="median", nb_valeurs="count").reset_index())


def write_history(landing, start: datetime, end: datetime, *, now: datetime | None = None,
                  net: Network | None = None) -> list[Path]:
    """The reference-year medians Enedis delivered: the last full year before `now` (and `end`)."""
    now = pd.Timestamp(now or datetime.now(UTC)).tz_convert(UTC)
    year = min(now, pd.Timestamp(end).tz_convert(UTC)).year - 1
    name = f"{HISTORY_PREFIX}_{year}.csv"
    if year < 2020 or (landing.dir / name).exists():
        return []
    y0 = pd.Timestamp(f"{year}-01-01", tz=PARIS).tz_convert(UTC)
    y1 = pd.Timestamp(f"{year + 1}-01-01", tz=PARIS).tz_convert(UTC)
    times = pd.date_range(y0, y1, freq="30min", inclusive="left")
    net = net or network()
    nodes = node_series(times)
    nodes["ratio_vert"] = nodes["production_enr_wh"] / nodes["consommation_wh"]
    nodes["id_station_itinerance"] = nodes["code_poste_source"]
    medians = seasonal_medians(nodes).drop(columns=["id_station_itinerance"])
    stations = net.stations[["id_station_itinerance", "node"]].rename(columns={"node": "code_poste_source"})
    out = stations.merge(medians, on="code_poste_source")
    out["ratio_vert_median"] = out["ratio_vert_median"].round(4)
    out["periode_debut"] = f"{year}-01-01"
    out["periode_fin"] = f"{year}-12-31"
    out = out.sort_values(["id_station_itinerance", "saison", "type_jour", "heure_locale"])
    return [landing.write_atomic(name, out[HISTORY_COLUMNS].to_csv(sep=";", index=False, lineterminator="\n"))]
