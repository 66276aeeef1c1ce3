"""Supplier bills of the Region's buildings: every fluid, as the suppliers' billing exports deliver them.

Format (file drop into landing/fournisseurs_factures/, one file per supplier and issue month,
`factures_<supplier>_<YYYYMM>.csv`): ';'-separated, UTF-8 with BOM or latin-1, dd/mm/yyyy dates,
decimal commas, one line per billed meter and period:
`numero_facture;date_facture;fournisseur;type_document;facture_annulee;numero_compteur;fluide;
date_debut;date_fin;index_debut;index_fin;nature_index;quantite;unite;coefficient_conversion;
montant_ht_eur;montant_tva_eur;montant_ttc_eur`.
- `type_document`: FACTURE, or AVOIR (a credit note; with `facture_annulee` it cancels that
  invoice, the first half of a cancel-and-rebill);
- `date_debut`..`date_fin`: the consumption period, both days included, not aligned on months;
- `nature_index`: R (read), E (estimated), A (self-read, counted as read), C (computed); the
  quantity of the first read bill after estimates carries the regularisation (possibly negative);
- `quantite` + `unite`: kWh, m3 (gas: converted with `coefficient_conversion`, kWh PCS per m³)
  or MWh; signed (credit notes are negative);
- amounts in EUR, signed like the quantity.
Rows are typed here, not judged: a duplicate, an impossible quantity or a price out of contract
is kept (it is what was billed) and the UC4 transforms report it. Only what cannot be read is
rejected: bad dates, a period ending before it starts, an unknown unit or document type, a
number that is not one. `datetime_utc` is the Paris midnight of the issue date.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import paris_periods, paris_start
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import (empty_to_none, fluid_codes, french_dates, french_numbers,
                                                       paris_midnight)
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows

FIELDS = ["numero_facture", "date_facture", "type_document", "numero_compteur", "fluide", "date_debut", "date_fin",
          "quantite", "unite", "montant_ht_eur", "montant_ttc_eur"]
OPTIONAL = ["fournisseur", "facture_annulee", "index_debut", "index_fin", "nature_index", "coefficient_conversion",
            "montant_tva_eur"]
COLUMNS = ["datetime_utc", "invoice_number", "invoice_date", "supplier", "document_type", "cancelled_invoice",
           "meter_id", "fluid", "fluid_label", "period_start", "period_end", "index_start", "index_end", "index_nature",
           "quantity", "unit", "conversion_kwh_per_m3", "amount_excl_vat_eur", "vat_eur", "amount_incl_vat_eur",
           "source_line"]
UNITS = {"kwh": "kWh", "m3": "m3", "m³": "m3", "mwh": "MWh"}
DOCUMENTS = {"facture": "FACTURE", "avoir": "AVOIR", "facture rectificative": "FACTURE", "refacturation": "FACTURE"}
NATURES = {"r": "R", "reel": "R", "releve": "R", "e": "E", "estime": "E", "a": "A", "c": "C"}
_MONTH = re.compile(r"_(\d{4})(\d{2})\.csv$")


class BuildingBillsAdapter(SourceAdapter):
    suffixes = (".csv",)

    def span_from_name(self, path: Path):
        if m := _MONTH.search(path.name):
            year, month = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12:
                first = paris_start(datetime(year, month, 1).date())
                return first, paris_periods(first, first + timedelta(days=40), "month")[0].end
        return None

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=FIELDS)
        for name in OPTIONAL:
            if name not in frame:
                frame[name] = ""
        issued = french_dates(frame["date_facture"])
        start, end = french_dates(frame["date_debut"]), french_dates(frame["date_fin"])
        numbers = {c: french_numbers(frame[c]) for c in ("index_debut", "index_fin", "quantite", "coefficient_conversion",
                                                         "montant_ht_eur", "montant_tva_eur", "montant_ttc_eur")}
        unit = frame["unite"].str.strip().str.lower().map(UNITS)
        doc = frame["type_document"].str.strip().str.lower().map(DOCUMENTS)
        nature = frame["nature_index"].str.strip().str.lower().map(NATURES)
        fluid = fluid_codes(frame["fluide"])
        checks = [
            (frame["numero_facture"].eq(""), "empty numero_facture"),
            (issued.isna(), "date_facture is not a date (dd/mm/yyyy): " + frame["date_facture"].map(repr)),
            (start.isna(), "date_debut is not a date (dd/mm/yyyy): " + frame["date_debut"].map(repr)),
            (end.isna(), "date_fin is not a date (dd/mm/yyyy): " + frame["date_fin"].map(repr)),
            (end < start, "period ends before it starts: " + frame["date_debut"] + " > " + frame["date_fin"]),
            (frame["numero_compteur"].eq(""), "empty numero_compteur"),
            (fluid.isna(), "unknown fluid " + frame["fluide"].map(repr)),
            (unit.isna(), "unknown unit " + frame["unite"].map(repr) + " (expected kWh, m3 or MWh)"),
            (doc.isna(), "unknown type_document " + frame["type_document"].map(repr) + " (expected FACTURE or AVOIR)"),
            (frame["nature_index"].ne("") & nature.isna(), "unknown nature_index " + frame["nature_index"].map(repr)),
        ]
        for col in numbers:
            checks.append((frame[col].ne("") & numbers[col].isna(), f"{col} is not a number: " + frame[col].map(repr)))
        checks.append((numbers["quantite"].isna(), "empty quantite"))
        checks.append((numbers["montant_ht_eur"].isna() & numbers["montant_ttc_eur"].isna(), "no amount"))
        reason = first_reason(checks, frame.index)
        bad = reason != ""
        when = paris_midnight(issued.where(issued.notna(), pd.Timestamp("1970-01-01")))
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"],
                               when=when.where(issued.notna()))
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": when[ok], "invoice_number": frame.loc[ok, "numero_facture"], "invoice_date": issued[ok].dt.date,
            "supplier": empty_to_none(frame.loc[ok, "fournisseur"]), "document_type": doc[ok],
            "cancelled_invoice": empty_to_none(frame.loc[ok, "facture_annulee"]),
            "meter_id": frame.loc[ok, "numero_compteur"].str.replace(" ", "", regex=False), "fluid": fluid[ok],
            "fluid_label": frame.loc[ok, "fluide"], "period_start": start[ok].dt.date, "period_end": end[ok].dt.date,
            "index_start": numbers["index_debut"][ok], "index_end": numbers["index_fin"][ok],
            "index_nature": nature[ok].where(nature[ok].notna(), None), "quantity": numbers["quantite"][ok],
            "unit": unit[ok], "conversion_kwh_per_m3": numbers["coefficient_conversion"][ok],
            "amount_excl_vat_eur": numbers["montant_ht_eur"][ok], "vat_eur": numbers["montant_tva_eur"][ok],
            "amount_incl_vat_eur": numbers["montant_ttc_eur"][ok], "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS).reset_index(drop=True)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"bill_lines": len(out)})


ADAPTER = BuildingBillsAdapter()
