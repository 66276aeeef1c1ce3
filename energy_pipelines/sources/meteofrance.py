"""Météo-France hourly climatological data ("données climatologiques de base horaires").

Files `H_<dept>_<period>.csv.gz` as published on meteo.data.gouv.fr (gzip, `;`, one row per station
and hour): `NUM_POSTE` (8 digits, the INSEE commune code + 3), `NOM_USUEL`, `LAT`, `LON`, `ALTI`,
`AAAAMMJJHH` (UTC), `T` (°C at the hour), `GLO` (global radiation, J/cm² over the hour ending at
`AAAAMMJJHH`; empty where not measured). Other columns are ignored.

Rows read: station, commune, département, position, `datetime_utc` (the hour), `temperature_c`,
`irradiance_wm2` = GLO x 10 000 / 3 600 (mean W/m² over the hour ending at `datetime_utc`).
Live mode downloads the département files named in the catalogue (`live.url_template`), with
timeouts and retries; an unreachable portal is a warning and the files already there are read.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import requests

from energy_pipelines.clock import UTC
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows, to_number
from energy_pipelines.sources.file_fetch import download, session
from energy_pipelines.sources.timeparse import wall_clock_to_utc

FIELDS = ["NUM_POSTE", "NOM_USUEL", "LAT", "LON", "ALTI", "AAAAMMJJHH", "T"]
COLUMNS = ["datetime_utc", "station_id", "station_name", "commune_code", "departement_code", "latitude",
           "longitude", "altitude_m", "temperature_c", "irradiance_wm2", "source_line"]
_DAY = re.compile(r"^H_\d[\dAB]_(\d{4}-\d{2}-\d{2})\.csv\.gz$")
_YEARS = re.compile(r"_(\d{4})-(\d{4})\.csv\.gz$")
DEFAULT_TEMPLATE = ("https://object.files.data.gouv.fr/meteofrance/data/synchro_ftp/BASE/HOR/"
                    "H_{dept}_latest-{previous_year}-{year}.csv.gz")


class MeteoFranceHourlyAdapter(SourceAdapter):
    suffixes = (".gz", ".csv")

    def span_from_name(self, path: Path):
        if m := _DAY.match(path.name):
            day = datetime.strptime(m.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
            return day, day + pd.Timedelta(days=1).to_pytimedelta()
        if m := _YEARS.search(path.name):
            y0, y1 = int(m.group(1)), int(m.group(2))
            return datetime(y0, 1, 1, tzinfo=UTC), datetime(y1 + 1, 1, 1, 1, tzinfo=UTC)
        return None

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=FIELDS)
        # UTC by definition of the format: no offset to read, no DST to resolve
        hour = pd.to_datetime(frame["AAAAMMJJHH"], format="%Y%m%d%H", errors="coerce")
        when = wall_clock_to_utc(hour, "UTC").utc
        temp = to_number(frame["T"])
        glo = to_number(frame["GLO"]) if "GLO" in frame else pd.Series(float("nan"), index=frame.index)
        lat, lon, alt = to_number(frame["LAT"]), to_number(frame["LON"]), to_number(frame["ALTI"])
        station = frame["NUM_POSTE"].str.zfill(8)
        reason = first_reason([
            (when.isna(), "unparseable AAAAMMJJHH: " + frame["AAAAMMJJHH"].astype(str)),
            (~station.str.fullmatch(r"\d[\dAB]\d{6}"), "NUM_POSTE is not an 8-character station number"),
            (frame["T"].ne("") & temp.isna(), "T is not a number: " + frame["T"].astype(str)),
            (temp.notna() & ((temp < -60) | (temp > 60)), "T outside -60..60 °C"),
            (glo.notna() & ((glo < 0) | (glo > 500)), "GLO outside 0..500 J/cm²"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=when)
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": when[ok], "station_id": station[ok], "station_name": frame.loc[ok, "NOM_USUEL"],
            "commune_code": station[ok].str[:5], "departement_code": station[ok].str[:2],
            "latitude": lat[ok], "longitude": lon[ok], "altitude_m": alt[ok],
            "temperature_c": temp[ok], "irradiance_wm2": (glo[ok] * 10_000 / 3_600).round(1),
            "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))

    def fetch(self, landing, start, end, ctx: FetchContext):
        template = ctx.live.get("url_template", DEFAULT_TEMPLATE)
        http = session(ctx.live)
        year = min(end, datetime.now(UTC)).year
        written = []
        for dept in ctx.live.get("departements", ["04", "05", "06", "13", "83", "84"]):
            url = template.format(dept=dept, year=year, previous_year=year - 1)
            try:
                written.append(download(http, url, landing, url.rsplit("/", 1)[-1], ctx))
            except requests.RequestException as exc:
                ctx.log.warning("Météo-France not reachable for département %s (%s); reading the files already "
                                "in landing/%s", dept, f"{type(exc).__name__}: {str(exc)[:200]}", landing.source_id)
        return written


ADAPTER = MeteoFranceHourlyAdapter()
