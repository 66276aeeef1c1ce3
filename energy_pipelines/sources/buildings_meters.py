"""The meters of the Region's buildings and their supply contracts (register export, file drop).

Format (landing/patrimoine_compteurs/, same conventions as the building register):
`id_batiment;fluide;numero_compteur;segment;capacite;unite_capacite;fournisseur;reference_contrat;
prix_min_eur_ht;prix_max_eur_ht;unite_prix;abonnement_eur_ht_mois;date_debut;date_fin`.
- `numero_compteur`: the electricity PDL/PRM (14 digits), the gas PCE (14 digits, or GI + 6 for
  the older remotely read meters), the water meter's serial, the heat-network sub-station;
- `segment`: C1-C5 (electricity), T1-T4 (gas), the meter calibre (water), R2 (heat network);
- `capacite` + `unite_capacite`: subscribed power (kVA, kW) or maximum flow (m3/h): what bounds a
  possible quantity;
- `prix_min_eur_ht` / `prix_max_eur_ht` / `unite_prix`: the range of the contract's energy price
  (EUR excl. VAT per kWh, or per m³ for water) over its time-of-use classes and revisions;
  `abonnement_eur_ht_mois`: its fixed part per month;
- `date_debut` / `date_fin` (dd/mm/yyyy): when the meter belongs to the building (end empty: still).
A row whose fluid is unknown, whose meter number is empty or malformed, whose price range is
inverted or whose dates do not parse is rejected with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import empty_to_none, fluid_codes, french_dates, french_numbers
from energy_pipelines.sources.buildings_register import snapshot_time
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows

FIELDS = ["id_batiment", "fluide", "numero_compteur", "segment", "capacite", "unite_capacite", "fournisseur",
          "prix_min_eur_ht", "prix_max_eur_ht", "unite_prix", "abonnement_eur_ht_mois", "date_debut", "date_fin"]
COLUMNS = ["datetime_utc", "building_id", "fluid", "fluid_label", "meter_id", "segment", "capacity", "capacity_unit",
           "supplier", "contract_ref", "price_min_eur", "price_max_eur", "price_unit", "fixed_eur_month",
           "valid_from", "valid_to", "source_line"]
PRICE_UNITS = {"eur/kwh": "EUR/kWh", "€/kwh": "EUR/kWh", "eur/m3": "EUR/m3", "€/m3": "EUR/m3", "eur/mwh": "EUR/MWh",
               "€/mwh": "EUR/MWh"}
CAPACITY_UNITS = {"kva": "kVA", "kw": "kW", "m3/h": "m3/h"}


class BuildingMetersAdapter(SourceAdapter):
    suffixes = (".csv",)

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=FIELDS)
        if "reference_contrat" not in frame:
            frame["reference_contrat"] = ""
        fluid = fluid_codes(frame["fluide"])
        meter = frame["numero_compteur"].str.replace(" ", "", regex=False)
        capacity = french_numbers(frame["capacite"])
        p_min, p_max = french_numbers(frame["prix_min_eur_ht"]), french_numbers(frame["prix_max_eur_ht"])
        fixed = french_numbers(frame["abonnement_eur_ht_mois"])
        price_unit = frame["unite_prix"].str.lower().str.replace(" ", "").map(PRICE_UNITS)
        cap_unit = frame["unite_capacite"].str.lower().str.replace(" ", "").map(CAPACITY_UNITS)
        since, until = french_dates(frame["date_debut"]), french_dates(frame["date_fin"])
        reason = first_reason([
            (frame["id_batiment"].eq(""), "empty id_batiment"),
            (fluid.isna(), "unknown fluid " + frame["fluide"].map(repr)),
            (meter.eq(""), "empty numero_compteur"),
            ((fluid == "electricite") & ~meter.str.fullmatch(r"\d{14}"), "electricity PDL/PRM is not 14 digits: " + meter),
            ((fluid == "gaz") & ~meter.str.fullmatch(r"\d{14}|GI\d{6}"), "gas PCE is not 14 digits or GI + 6 digits: " + meter),
            (frame["capacite"].ne("") & (capacity.isna() | (capacity <= 0)), "capacite is not a positive number"),
            (frame["capacite"].ne("") & cap_unit.isna(), "unknown unite_capacite " + frame["unite_capacite"].map(repr)),
            (frame["prix_min_eur_ht"].ne("") & p_min.isna(), "prix_min_eur_ht is not a number"),
            (frame["prix_max_eur_ht"].ne("") & p_max.isna(), "prix_max_eur_ht is not a number"),
            (p_min.notna() & p_max.notna() & (p_min > p_max), "contract price range inverted (min > max)"),
            ((p_min.notna() | p_max.notna()) & price_unit.isna(), "unknown unite_prix " + frame["unite_prix"].map(repr)),
            (since.isna(), "date_debut is not a date (dd/mm/yyyy): " + frame["date_debut"].map(repr)),
            (frame["date_fin"].ne("") & until.isna(), "date_fin is not a date (dd/mm/yyyy): " + frame["date_fin"]),
            (until.notna() & (until < since), "date_fin before date_debut"),
        ], frame.index)
        bad = reason != ""
        stamp = snapshot_time(path)
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=stamp)
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": stamp, "building_id": frame.loc[ok, "id_batiment"], "fluid": fluid[ok],
            "fluid_label": frame.loc[ok, "fluide"], "meter_id": meter[ok], "segment": empty_to_none(frame.loc[ok, "segment"]),
            "capacity": capacity[ok], "capacity_unit": cap_unit[ok], "supplier": empty_to_none(frame.loc[ok, "fournisseur"]),
            "contract_ref": empty_to_none(frame.loc[ok, "reference_contrat"]), "price_min_eur": p_min[ok],
            "price_max_eur": p_max[ok], "price_unit": price_unit[ok], "fixed_eur_month": fixed[ok],
            "valid_from": since[ok].dt.date, "valid_to": until[ok].dt.date, "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS).reset_index(drop=True)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        out["valid_to"] = out["valid_to"].astype(object).where(out["valid_to"].notna(), None)
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"meters": len(out)})


ADAPTER = BuildingMetersAdapter()
