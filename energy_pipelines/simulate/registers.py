"""Static registers of the sample: the SyMEnergie05 IRVE file (schema statique 2.3.0) and the INSEE
commune typology (grille communale de densité, 7 levels) of the communes of the stations.

The IRVE file carries one deliberately invalid row (a test charge point whose ids break the IRVE
pattern) so the reader's quarantine is exercised on every run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from energy_pipelines.simulate.charging import network
from energy_pipelines.simulate.green_signal import _num_pdl
from energy_pipelines.simulate.hautes_alpes import COMMUNES, DENSITY_LABELS

UTC = timezone.utc
IRVE_FIELDS = [
    "nom_amenageur", "siren_amenageur", "contact_amenageur", "nom_operateur", "contact_operateur",
    "telephone_operateur", "nom_enseigne", "id_station_itinerance", "id_station_local", "nom_station",
    "implantation_station", "adresse_station", "code_insee_commune", "coordonneesXY", "nbre_pdc",
    "id_pdc_itinerance", "id_pdc_local", "puissance_nominale", "prise_type_ef", "prise_type_2",
    "prise_type_combo_ccs", "prise_type_chademo", "prise_type_autre", "gratuit", "paiement_acte", "paiement_cb",
    "paiement_autre", "tarification", "condition_acces", "reservation", "horaires", "accessibilite_pmr",
    "restriction_gabarit", "station_deux_roues", "raccordement", "num_pdl", "date_mise_en_service",
    "observations", "date_maj", "cable_t2_attache",
]
SAMPLE_IRVE_FILE = "irve_statique_symenergie05_sample.csv"
SAMPLE_DATE_MAJ = "2024-12-15"
TYPOLOGY_FILE = "grille_densite_7_niveaux_2024_sample.csv"


def irve_static_csv() -> str:
    net = network()
    pdc = net.pdc.merge(net.stations.drop(columns=["power_kw", "node", "resort", "population", "commune_code",
                                                   "user_pool", "user_offset"]),
                        on="id_station_itinerance")
    tf = lambda b: "true" if b else "false"  # noqa: E731
    rows = []
    for r in pdc.itertuples(index=False):
        rows.append({
            "nom_amenageur": "SyMEnergie05", "siren_amenageur": "200012345",
            "contact_amenageur": "irve@symenergie05.example", "nom_operateur": "SPIE CityNetworks",
            "contact_operateur": "supervision-irve@spie.example", "telephone_operateur": "+33400000000",
            "nom_enseigne": "eborn", "id_station_itinerance": r.id_station_itinerance,
            "id_station_local": r.id_station_itinerance[-7:], "nom_station": r.nom_station,
            "implantation_station": r.implantation,
            "adresse_station": f"Place de la Mairie, {r.commune_name}", "code_insee_commune": r.commune_code,
            "coordonneesXY": f"[{r.lon},{r.lat}]", "nbre_pdc": r.nbre_pdc, "id_pdc_itinerance": r.id_pdc_itinerance,
            "id_pdc_local": r.id_pdc_itinerance[-8:], "puissance_nominale": f"{r.power_kw:g}",
            "prise_type_ef": tf(not r.dc), "prise_type_2": tf(not r.dc), "prise_type_combo_ccs": tf(r.dc),
            "prise_type_chademo": "false", "prise_type_autre": "false", "gratuit": "false",
            "paiement_acte": "true", "paiement_cb": tf(r.dc), "paiement_autre": "true",
            "tarification": "0,45 €/kWh" if r.dc else "0,30 €/kWh", "condition_acces": "Accès libre",
            "reservation": "false", "horaires": "24/7", "accessibilite_pmr": "Accessible mais non réservé PMR",
            "restriction_gabarit": "Aucune", "station_deux_roues": "false", "raccordement": "Direct",
            "num_pdl": _num_pdl(r.id_station_itinerance), "date_mise_en_service": r.mise_en_service,
            "observations": "", "date_maj": SAMPLE_DATE_MAJ, "cable_t2_attache": "false",
        })
    bad = dict(rows[0], id_station_itinerance="FR-S05-TEST", id_pdc_itinerance="FR-S05-TEST-1",
               nom_station="Borne de test atelier", observations="borne de test")
    rows.append(bad)
    return pd.DataFrame(rows, columns=IRVE_FIELDS).to_csv(sep=",", index=False, lineterminator="\n")


def write_irve(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    if (landing.dir / SAMPLE_IRVE_FILE).exists():
        return []
    return [landing.write_atomic(SAMPLE_IRVE_FILE, irve_static_csv())]


def typology_csv() -> str:
    frame = pd.DataFrame({
        "CODGEO": [c.code for c in COMMUNES], "LIBGEO": [c.name for c in COMMUNES],
        "DENS": [c.density_level for c in COMMUNES], "LIBDENS": [DENSITY_LABELS[c.density_level] for c in COMMUNES],
        "PMUN": [c.population for c in COMMUNES],
    })
    return frame.to_csv(sep=";", index=False, lineterminator="\n")


def write_typology(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    if (landing.dir / TYPOLOGY_FILE).exists():
        return []
    return [landing.write_atomic(TYPOLOGY_FILE, typology_csv())]


def write_cog(landing, start: datetime, end: datetime, *, now: datetime | None = None) -> list[Path]:
    """INSEE's commune file and DGCL's EPCI composition, restricted to the declared territories' communes."""
    import csv
    import io

    from energy_pipelines.territories import default_territories

    cog, epci = {}, []
    for t in default_territories().values():
        for c in t.communes:
            dep = c.code[:2]
            cog.setdefault(c.code, ["COM", c.code, "93", dep, "", "", "0", c.name.upper(), c.name, c.name, "", ""])
            if t.kind == "epci":
                epci.append([dep, t.epci_siren, t.name, "", "", str(len(t.communes)), "", "", dep, c.code, "",
                             c.name, str(c.population or 0), str(c.population or 0)])
    cog_header = "TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT"
    epci_header = ("dept,siren,raison_sociale,nature_juridique,mode_financ,nb_membres,total_pop_tot,"
                   "total_pop_mun,dep_com,insee,siren_membre,nom_membre,ptot_2024,pmun_2024")
    written = []
    for name, header, rows in (("sample_insee_cog_communes_2024.csv", cog_header, cog.values()),
                               ("sample_dgcl_epcicom_2024.csv", epci_header, epci)):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header.split(","))
        writer.writerows(sorted(rows, key=lambda r: (r[1], r[9]) if len(r) > 12 else r[1]))
        content = buf.getvalue()
        target = landing.dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            written.append(landing.write_atomic(name, content))
    return written
