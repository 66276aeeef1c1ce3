"""The register of a collective self-consumption operation, as its PMO keeps it (landing/acc_register/).

The PMO (personne morale organisatrice) lists the participants it declares to Enedis. Each delivery
is a whole snapshot, `REGISTRE_ACC_<operation>_<YYYYMMDD>.csv`, ';'-separated UTF-8, one row per
participant:

    id_operation;id_participant;nom;type_participant;prm_soutirage;prm_injection;date_entree;
    date_sortie;latitude;longitude;puissance_crete_kwc;puissance_injection_kva;puissance_souscrite_kva;tarif

- type_participant: consommateur, producteur or consommateur_producteur (a household that both
  consumes, on its withdrawal PRM, and injects its PV surplus, on its injection PRM);
- dates are Paris calendar days; date_entree is the first day in the operation, date_sortie the
  last one (empty while the participant stays);
- latitude/longitude in WGS84 degrees (for the perimeter rule); puissance_crete_kwc the PV peak
  power of producers; tarif the id of the participant's tariff in assets_config/uc5/tariffs.yaml.
`nom` is personal data: the dataset is closed. Rows carry `datetime_utc` = Paris midnight of the
snapshot date in the file name (the core keeps the latest snapshot). A row that cannot be typed is
rejected with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from energy_pipelines.sources.acc_formats import PRM, plain_label, read_table
from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import first_reason, paris_midnight_utc, reject_rows, to_number

FIELDS = ["id_operation", "id_participant", "nom", "type_participant", "prm_soutirage", "prm_injection",
          "date_entree", "date_sortie", "latitude", "longitude", "puissance_crete_kwc", "puissance_injection_kva",
          "puissance_souscrite_kva", "tarif"]
REQUIRED = ["id_operation", "id_participant", "type_participant", "prm_soutirage", "prm_injection", "date_entree",
            "latitude", "longitude"]
TYPES = ("consommateur", "producteur", "consommateur_producteur")
RAW_COLUMNS = ["datetime_utc", "snapshot_date", "id_operation", "id_participant", "nom", "type_participant",
               "prm_soutirage", "prm_injection", "date_entree", "date_sortie", "latitude", "longitude",
               "puissance_crete_kwc", "puissance_injection_kva", "puissance_souscrite_kva", "tarif", "source_line"]
_SNAPSHOT = re.compile(r"_(\d{8})\.csv$", re.IGNORECASE)


def _date(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.date


class AccRegisterAdapter(SourceAdapter):
    suffixes = (".csv",)

    def read_file(self, path: Path) -> FileRead:
        m = _SNAPSHOT.search(path.name)
        if not m:
            raise SourceFileError(path, "file name must end with the snapshot date: REGISTRE_ACC_<operation>_<YYYYMMDD>.csv")
        snapshot = pd.Series([f"{m.group(1)[:4]}-{m.group(1)[4:6]}-{m.group(1)[6:]}"])
        snapshot_utc = paris_midnight_utc(snapshot).iloc[0]
        if pd.isna(snapshot_utc):
            raise SourceFileError(path, f"snapshot date {m.group(1)} in the file name is not a date")
        frame, rejects = read_table(path, REQUIRED)
        for name in FIELDS:
            if name not in frame:
                frame[name] = ""
        t = frame[FIELDS].astype(str).apply(lambda c: c.str.strip())
        kind = t["type_participant"].map(plain_label)
        consumes = kind.isin(["consommateur", "consommateur_producteur"])
        produces = kind.isin(["producteur", "consommateur_producteur"])
        entry, exit_ = _date(t["date_entree"]), _date(t["date_sortie"])
        lat, lon = to_number(t["latitude"]).astype("float64"), to_number(t["longitude"]).astype("float64")
        numbers = {c: to_number(t[c]).astype("float64")
                   for c in ("puissance_crete_kwc", "puissance_injection_kva", "puissance_souscrite_kva")}
        reason = first_reason([
            (t["id_operation"] == "", "empty id_operation"),
            (t["id_participant"] == "", "empty id_participant"),
            (~kind.isin(TYPES), "unknown type_participant " + t["type_participant"] + f" (expected {', '.join(TYPES)})"),
            (consumes & ~t["prm_soutirage"].str.match(PRM),
             "a consumer needs its withdrawal PRM (prm_soutirage, 14 digits): " + t["prm_soutirage"]),
            (produces & ~t["prm_injection"].str.match(PRM),
             "a producer needs its injection PRM (prm_injection, 14 digits): " + t["prm_injection"]),
            (~consumes & (t["prm_soutirage"] != ""), "prm_soutirage given for a pure producer"),
            (~produces & (t["prm_injection"] != ""), "prm_injection given for a pure consumer"),
            (entry.isna(), "date_entree is not a date YYYY-MM-DD: " + t["date_entree"]),
            ((t["date_sortie"] != "") & exit_.isna(), "date_sortie is not a date YYYY-MM-DD: " + t["date_sortie"]),
            (exit_.notna() & entry.notna() & (exit_ < entry), "date_sortie before date_entree"),
            (lat.isna() | (lat < -90) | (lat > 90), "latitude missing or out of range: " + t["latitude"]),
            (lon.isna() | (lon < -180) | (lon > 180), "longitude missing or out of range: " + t["longitude"]),
            (produces & ~(numbers["puissance_crete_kwc"] > 0),
             "a producer needs its PV peak power (puissance_crete_kwc > 0): " + t["puissance_crete_kwc"]),
            (numbers["puissance_injection_kva"] < 0, "negative puissance_injection_kva"),
            (numbers["puissance_souscrite_kva"] < 0, "negative puissance_souscrite_kva"),
        ], frame.index)
        bad = (reason != "").to_numpy()
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=snapshot_utc)
        ok = ~bad
        rows = pd.DataFrame({
            "datetime_utc": pd.Series(snapshot_utc, index=range(int(ok.sum()))),
            "snapshot_date": pd.to_datetime(snapshot.iloc[0]).date(),
            "id_operation": t["id_operation"][ok].to_numpy(),
            "id_participant": t["id_participant"][ok].to_numpy(),
            "nom": t["nom"][ok].replace("", None).to_numpy(),
            "type_participant": kind[ok].to_numpy(),
            "prm_soutirage": t["prm_soutirage"][ok].replace("", None).to_numpy(),
            "prm_injection": t["prm_injection"][ok].replace("", None).to_numpy(),
            "date_entree": entry[ok].to_numpy(),
            "date_sortie": exit_[ok].to_numpy(),
            "latitude": lat[ok].astype(float).to_numpy(),
            "longitude": lon[ok].astype(float).to_numpy(),
            **{c: v[ok].astype(float).to_numpy() for c, v in numbers.items()},
            "tarif": t["tarif"][ok].replace("", None).to_numpy(),
            "source_line": frame["source_line"][ok].astype("int64").to_numpy(),
        })
        rows["date_sortie"] = rows["date_sortie"].astype(object).where(pd.notna(rows["date_sortie"]), None)
        return FileRead(rows=rows[RAW_COLUMNS], rejects=reject_frame(rejects),
                        stats={"participants": int(ok.sum())})


ADAPTER = AccRegisterAdapter()
