"""IRVE static files (etalab/schema-irve, statique 2.3.0): the public charging points.

Reads the operator's own IRVE file and the national consolidated file of data.gouv.fr (same 40
fields plus `consolidated_*`, `datagouv_*` ...; extra columns are ignored). Separator `,`
(Etalab's) or `;`, UTF-8. One row per charge point (PDC). Rows breaking the schema's required
fields, patterns or enums are refused with the reason; booleans accept Frictionless' true/false
spellings; `coordonneesXY` is the string "[lon, lat]".

`datetime_utc` is `date_maj` (Paris midnight, in UTC): the landing zone locates rows in time and
the newest update of a charge point wins downstream.

Live mode streams the national consolidated file (`live.url`), keeps the header and the rows of
the département (`live.departement`, by `code_insee_commune`, else `consolidated_code_postal`),
and writes them into the landing zone; an unreachable portal is a warning, not a failure.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from energy_pipelines.clock import UTC
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import IRVE_ID, decode, first_reason, paris_midnight_utc, read_delimited, reject_rows, to_number
from energy_pipelines.sources.file_fetch import download, session

REQUIRED = ["contact_operateur", "nom_enseigne", "id_station_itinerance", "nom_station", "implantation_station",
            "adresse_station", "coordonneesXY", "nbre_pdc", "id_pdc_itinerance", "puissance_nominale",
            "prise_type_ef", "prise_type_2", "prise_type_combo_ccs", "prise_type_chademo", "prise_type_autre",
            "paiement_acte", "condition_acces", "reservation", "horaires", "accessibilite_pmr",
            "restriction_gabarit", "station_deux_roues", "date_maj"]
OPTIONAL_TEXT = ["nom_amenageur", "siren_amenageur", "nom_operateur", "id_station_local", "id_pdc_local",
                 "code_insee_commune", "tarification", "raccordement", "num_pdl", "date_mise_en_service"]
BOOLEANS = ["prise_type_ef", "prise_type_2", "prise_type_combo_ccs", "prise_type_chademo", "prise_type_autre",
            "gratuit", "paiement_acte", "paiement_cb", "paiement_autre", "reservation", "station_deux_roues",
            "cable_t2_attache"]
IMPLANTATION = ("Voirie", "Parking public", "Parking privé à usage public", "Parking privé réservé à la clientèle",
                "Station dédiée à la recharge rapide")
ACCES = ("Accès libre", "Accès réservé")
PMR = ("Réservé PMR", "Accessible mais non réservé PMR", "Non accessible", "Accessibilité inconnue")
TRUE = {"true", "True", "TRUE", "1"}
FALSE = {"false", "False", "FALSE", "0"}
COLUMNS = ["datetime_utc", "id_pdc_itinerance", "id_station_itinerance", "nom_station", "nom_amenageur",
           "nom_operateur", "nom_enseigne", "implantation_station", "adresse_station", "code_insee_commune",
           "longitude", "latitude", "nbre_pdc", "puissance_nominale_kw", "prise_type_2", "prise_type_combo_ccs",
           "prise_type_chademo", "prise_type_ef", "gratuit", "paiement_acte", "condition_acces", "horaires",
           "accessibilite_pmr", "num_pdl", "date_mise_en_service", "date_maj", "source_line"]
DEFAULT_URL = "https://www.data.gouv.fr/fr/datasets/r/eb76d20a-8501-400e-b336-d85724de5435"


def _bool(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    t = text.fillna("")
    value = t.isin(TRUE)
    bad = ~(t.isin(TRUE) | t.isin(FALSE) | (t == ""))
    return value.where(t != "", None), bad


def _coordinates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    lon, lat = [], []
    for v in text.fillna(""):
        try:
            pair = json.loads(v)
            x, y = float(pair[0]), float(pair[1])
        except (ValueError, TypeError, IndexError, json.JSONDecodeError):
            x = y = np.nan
        lon.append(x)
        lat.append(y)
    return pd.Series(lon, index=text.index), pd.Series(lat, index=text.index)


class IrveStaticAdapter(SourceAdapter):
    def read_file(self, path: Path) -> FileRead:
        text = decode(path)
        head = text[: text.find("\n")] if "\n" in text else text
        sep = ";" if head.count(";") > head.count(",") else ","
        frame, rejects = read_delimited(path, required=REQUIRED, sep=sep, text=text)
        for col in [*OPTIONAL_TEXT, *BOOLEANS]:
            if col not in frame:
                frame[col] = ""
        lon, lat = _coordinates(frame["coordonneesXY"])
        power = to_number(frame["puissance_nominale"])
        n_pdc = to_number(frame["nbre_pdc"])
        date_maj = paris_midnight_utc(frame["date_maj"])
        bools = {c: _bool(frame[c]) for c in BOOLEANS}
        bad_bool = pd.Series(False, index=frame.index)
        bool_reason = pd.Series("", index=frame.index, dtype=object)
        for c, (_, bad) in bools.items():
            bool_reason = bool_reason.where(~(bad & (bool_reason == "")), f"{c} is not a boolean")
            bad_bool |= bad
        missing = pd.Series("", index=frame.index, dtype=object)
        for c in REQUIRED:
            empty = frame[c].fillna("") == ""
            missing = missing.where(~(empty & (missing == "")), f"required field {c} is empty")
        insee = frame["code_insee_commune"].fillna("")
        reason = first_reason([
            (missing != "", missing),
            (~frame["id_pdc_itinerance"].str.match(IRVE_ID), "id_pdc_itinerance does not match the IRVE pattern"),
            (~frame["id_station_itinerance"].str.match(IRVE_ID), "id_station_itinerance does not match the IRVE pattern"),
            (lon.isna() | lat.isna() | (lon.abs() > 180) | (lat.abs() > 90), "coordonneesXY is not \"[lon, lat]\""),
            (power.isna() | (power <= 1.3) | (power >= 4000), "puissance_nominale outside ]1.3, 4000[ kW"),
            (n_pdc.isna() | (n_pdc < 0) | (n_pdc % 1 != 0), "nbre_pdc is not an integer >= 0"),
            (~frame["implantation_station"].isin(IMPLANTATION), "implantation_station outside the IRVE enum"),
            (~frame["condition_acces"].isin(ACCES), "condition_acces outside the IRVE enum"),
            (~frame["accessibilite_pmr"].isin(PMR), "accessibilite_pmr outside the IRVE enum"),
            ((insee != "") & ~insee.str.fullmatch(r"([013-9]\d|2[AB1-9])\d{3}"), "code_insee_commune is not an INSEE code"),
            (bad_bool, bool_reason),
            (date_maj.isna(), "date_maj is not a date YYYY-MM-DD"),
        ], frame.index)
        bad = reason != ""
        fields = [c for c in frame.columns if c != "source_line"]
        rejects += reject_rows(frame, bad, reason, fields, when=date_maj, sep=sep)
        ok = ~bad
        nz = lambda c: frame.loc[ok, c].where(frame.loc[ok, c] != "", None)  # noqa: E731
        out = pd.DataFrame({
            "datetime_utc": date_maj[ok], "id_pdc_itinerance": frame.loc[ok, "id_pdc_itinerance"],
            "id_station_itinerance": frame.loc[ok, "id_station_itinerance"], "nom_station": frame.loc[ok, "nom_station"],
            "nom_amenageur": nz("nom_amenageur"), "nom_operateur": nz("nom_operateur"),
            "nom_enseigne": frame.loc[ok, "nom_enseigne"], "implantation_station": frame.loc[ok, "implantation_station"],
            "adresse_station": frame.loc[ok, "adresse_station"], "code_insee_commune": nz("code_insee_commune"),
            "longitude": lon[ok], "latitude": lat[ok], "nbre_pdc": n_pdc[ok].astype("int64"),
            "puissance_nominale_kw": power[ok].astype(float),
            **{c: bools[c][0][ok] for c in ("prise_type_2", "prise_type_combo_ccs", "prise_type_chademo",
                                             "prise_type_ef", "gratuit", "paiement_acte")},
            "condition_acces": frame.loc[ok, "condition_acces"], "horaires": frame.loc[ok, "horaires"],
            "accessibilite_pmr": frame.loc[ok, "accessibilite_pmr"], "num_pdl": nz("num_pdl"),
            "date_mise_en_service": nz("date_mise_en_service"), "date_maj": frame.loc[ok, "date_maj"],
            "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects),
                        stats={"irve_rows_refused": int(bad.sum())})

    def fetch(self, landing, start, end, ctx: FetchContext):
        url = ctx.live.get("url", DEFAULT_URL)
        dept = str(ctx.live.get("departement", "05"))
        name = f"irve_statique_consolidation_{dept}_{datetime.now(UTC):%Y-%m-%d}.csv"

        def keep_departement(lines):
            header_fields = None
            for raw in lines:
                if header_fields is None:
                    header_fields = next(csv.reader([raw.decode("utf-8-sig")]))
                    i_insee = header_fields.index("code_insee_commune") if "code_insee_commune" in header_fields else None
                    i_cp = (header_fields.index("consolidated_code_postal")
                            if "consolidated_code_postal" in header_fields else None)
                    if i_insee is None and i_cp is None:
                        raise SourceFileError(Path(name), "national IRVE file has no code_insee_commune column")
                    yield raw
                    continue
                fields = next(csv.reader(io.StringIO(raw.decode("utf-8", errors="replace"))), [])
                insee = fields[i_insee] if i_insee is not None and i_insee < len(fields) else ""
                cp = fields[i_cp] if i_cp is not None and i_cp < len(fields) else ""
                if insee.startswith(dept) or (not insee and cp.startswith(dept)):
                    yield raw

        try:
            return [download(session(ctx.live), url, landing, name, ctx, transform=keep_departement)]
        except (requests.RequestException, SourceFileError) as exc:
            ctx.log.warning("IRVE national file not reachable or unusable (%s); reading the files already in "
                            "landing/%s", f"{type(exc).__name__}: {str(exc)[:200]}", landing.source_id)
            return []


ADAPTER = IrveStaticAdapter()
