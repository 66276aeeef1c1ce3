"""The catalogue loads, and a malformed file fails naming the file and the field."""

import shutil
from pathlib import Path

import pytest
import yaml

from energy_pipelines.catalog import CatalogError, load_catalog
from energy_pipelines.settings import CATALOG_DIR


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, target)
    return target


def _edit(catalog_dir: Path, dataset: str, change) -> Path:
    path = catalog_dir / "datasets" / f"{dataset}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_the_project_catalogue_loads_and_is_consistent():
    catalog = load_catalog(CATALOG_DIR)
    assert "raw_rte__eco2mix_regional" in catalog
    for spec in catalog.datasets.values():
        assert spec.layer == spec.id.split("_", 1)[0]
        if spec.layer == "raw":
            assert spec.owner in catalog.organisations
            assert spec.access in ("open", "restricted", "closed")
        assert spec.licence in catalog.licences


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d.pop("owner"), "owner", "raw dataset must declare 'owner'"),
        (lambda d: d["schema"]["columns"]["consommation"].update(dtype="decimal"), "schema.columns.consommation.dtype",
         "Input should be"),
        (lambda d: d.update(access="public"), "access", "Input should be 'open', 'restricted' or 'closed'"),
        (lambda d: d.update(licence="wtfpl"), "licence", "not declared in licences.yaml"),
        (lambda d: d.update(owner="nobody"), "owner", "not declared in organisations.yaml"),
        (lambda d: d["schema"].update(primary_key=["missing_column"]), "schema", "primary key column 'missing_column'"),
        (lambda d: d.update(colour="blue"), "colour", "Extra inputs are not permitted"),
        (lambda d: d.update(time_column="nature"), "(file)", "must be a non-nullable timestamp"),
    ],
)
def test_a_malformed_dataset_file_names_the_file_and_the_field(catalog_copy, change, field, words):
    path = _edit(catalog_copy, "raw_rte__eco2mix_regional", change)
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_copy)
    message = str(err.value)
    assert str(path) in message
    assert words in message
    if field != "(file)":
        assert f"field '{field}" in message or f"'{field}'" in message


def test_invalid_yaml_and_wrong_file_name_are_reported(catalog_copy):
    path = catalog_copy / "datasets" / "raw_rte__eco2mix_regional.yaml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(CatalogError, match="not valid YAML") as err:
        load_catalog(catalog_copy)
    assert str(path) in str(err.value)
    shutil.copy(CATALOG_DIR / "datasets" / "raw_rte__eco2mix_regional.yaml", catalog_copy / "datasets" / "raw_x__y.yaml")
    path.unlink()
    with pytest.raises(CatalogError, match="differs from the file name"):
        load_catalog(catalog_copy)


def test_an_unknown_organisation_entry_field_is_named(catalog_copy):
    orgs = catalog_copy / "organisations.yaml"
    data = yaml.safe_load(orgs.read_text())
    data["rte"]["ckan_org"] = "Not A Slug!"
    orgs.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_copy)
    assert "organisations.yaml" in str(err.value) and "rte.ckan_org" in str(err.value)


def test_schema_maps_to_arrow_types():
    spec = load_catalog(CATALOG_DIR)["core_rte__eco2mix_regional"]
    schema = spec.table_schema.to_arrow()
    assert str(schema.field("datetime_utc").type) == "timestamp[us, tz=UTC]"
    assert not schema.field("datetime_utc").nullable
    assert str(schema.field("green_share_pct").type) == "double"
