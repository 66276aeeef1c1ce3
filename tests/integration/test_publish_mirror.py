"""MirrorPublisher: the offline portal mirror (layout, idempotence, atomic replacement)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from energy_pipelines.publish import (
    CkanPublisher,
    MirrorPublisher,
    PublicationError,
    PublicationRequest,
    Publisher,
    ResourceFile,
)
from energy_pipelines.publish import mirror as mirror_module


def write_parquet(path: Path, values: list[float]) -> Path:
    table = pa.table({"half_hour_utc": pa.array(range(len(values)), pa.int64()), "consumption_mw": values})
    pq.write_table(table, path)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    data = write_parquet(src / "data.parquet", [1.0, 2.0, 3.0])
    meta = src / "datapackage.json"
    meta.write_text(json.dumps({"name": "core_rte__eco2mix_paca"}))
    return {"data": data, "meta": meta}


def make_request(files: dict[str, Path], *, private: bool = True, title: str = "éCO2mix PACA") -> PublicationRequest:
    return PublicationRequest(
        name="core_rte__eco2mix_paca",
        title=title,
        notes="Consommation et production régionales, pas demi-horaire.",
        owner_org="region-sud",
        private=private,
        license_id="lov2",
        tags=("energie", "rte"),
        extras={"owners": "rte", "publisher": "region-sud", "access": "open"},
        resources=(
            ResourceFile("core_rte__eco2mix_paca.parquet", files["data"], "Parquet", "Half-hourly data"),
            ResourceFile("datapackage.json", files["meta"], "JSON"),
        ),
    )


def test_both_publishers_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(MirrorPublisher(tmp_path), Publisher)
    assert isinstance(CkanPublisher("http://127.0.0.1:9", "k"), Publisher)


def test_layout_and_package_json(tmp_path: Path, files: dict[str, Path]) -> None:
    root = tmp_path / "mirror"
    report = MirrorPublisher(root).publish(make_request(files))

    folder = root / "region-sud" / "core_rte__eco2mix_paca"
    assert sorted(p.name for p in folder.iterdir()) == [
        "core_rte__eco2mix_paca.parquet", "datapackage.json", "package.json",
    ]
    assert report.created and report.private and report.metadata_updated
    assert report.uploaded == ["core_rte__eco2mix_paca.parquet", "datapackage.json"]
    assert report.unchanged == []
    assert report.url == (folder / "package.json").resolve().as_uri()

    pkg = json.loads((folder / "package.json").read_text())
    assert pkg["private"] is True
    assert pkg["license_id"] == "lov2"
    assert pkg["owner_org"] == "region-sud"
    assert {e["key"]: e["value"] for e in pkg["extras"]} == {"owners": "rte", "publisher": "region-sud", "access": "open"}
    assert [t["name"] for t in pkg["tags"]] == ["energie", "rte"]
    res = {r["name"]: r for r in pkg["resources"]}
    parquet = res["core_rte__eco2mix_paca.parquet"]
    assert parquet["sha256"] == sha(files["data"]) == parquet["hash"]
    assert parquet["size"] == files["data"].stat().st_size
    assert parquet["format"] == "Parquet"
    # the mirrored file is the same Parquet, readable as such
    assert pq.read_table(folder / parquet["url"]).column("consumption_mw").to_pylist() == [1.0, 2.0, 3.0]


def test_republishing_unchanged_rewrites_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files))
    folder = tmp_path / "region-sud" / "core_rte__eco2mix_paca"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}

    report = pub.publish(make_request(files))

    assert report.uploaded == [] and not report.created and not report.metadata_updated
    assert report.unchanged == ["core_rte__eco2mix_paca.parquet", "datapackage.json"]
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    assert after == before  # same inodes, times and bytes: nothing was rewritten


def test_changed_file_is_replaced_and_others_kept(tmp_path: Path, files: dict[str, Path]) -> None:
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files))
    folder = tmp_path / "region-sud" / "core_rte__eco2mix_paca"
    meta_inode = (folder / "datapackage.json").stat().st_ino
    first = json.loads((folder / "package.json").read_text())

    write_parquet(files["data"], [4.0, 5.0, 6.0, 7.0])
    report = pub.publish(make_request(files))

    assert report.uploaded == ["core_rte__eco2mix_paca.parquet"]
    assert report.unchanged == ["datapackage.json"]
    assert sha(folder / "core_rte__eco2mix_paca.parquet") == sha(files["data"])
    assert (folder / "datapackage.json").stat().st_ino == meta_inode
    pkg = json.loads((folder / "package.json").read_text())
    res = {r["name"]: r for r in pkg["resources"]}
    assert res["core_rte__eco2mix_paca.parquet"]["sha256"] == sha(files["data"])
    assert res["datapackage.json"]["last_modified"] == {r["name"]: r for r in first["resources"]}["datapackage.json"]["last_modified"]
    assert pkg["metadata_created"] == first["metadata_created"]


def test_metadata_only_change_uploads_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files, private=True))
    report = pub.publish(make_request(files, private=False, title="New title"))
    assert report.metadata_updated and report.uploaded == [] and not report.private
    pkg = pub.package_show("region-sud", "core_rte__eco2mix_paca")
    assert pkg["private"] is False and pkg["title"] == "New title"


def test_file_altered_in_the_mirror_is_copied_again(tmp_path: Path, files: dict[str, Path]) -> None:
    # package.json says the right hash, but the bytes on disk were damaged: trust the bytes.
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files))
    target = tmp_path / "region-sud" / "core_rte__eco2mix_paca" / "core_rte__eco2mix_paca.parquet"
    target.write_bytes(target.read_bytes()[:-8])
    report = pub.publish(make_request(files))
    assert "core_rte__eco2mix_paca.parquet" in report.uploaded
    assert sha(target) == sha(files["data"])


def test_failed_copy_leaves_the_previous_version_whole(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files))
    folder = tmp_path / "region-sud" / "core_rte__eco2mix_paca"
    old_bytes = (folder / "core_rte__eco2mix_paca.parquet").read_bytes()
    old_package = (folder / "package.json").read_bytes()

    def copy_half_then_crash(fin, fout, *args):  # simulates a crash (disk full, kill) mid-copy
        fout.write(fin.read(100))
        raise OSError("disk full")

    monkeypatch.setattr(mirror_module.shutil, "copyfileobj", copy_half_then_crash)
    write_parquet(files["data"], [9.0] * 1000)
    with pytest.raises(OSError, match="disk full"):
        pub.publish(make_request(files))

    assert (folder / "core_rte__eco2mix_paca.parquet").read_bytes() == old_bytes
    assert (folder / "package.json").read_bytes() == old_package
    assert sorted(p.name for p in folder.iterdir()) == [
        "core_rte__eco2mix_paca.parquet", "datapackage.json", "package.json",
    ]  # no temporary file left behind

    monkeypatch.undo()
    report = pub.publish(make_request(files))  # the next run recovers
    assert report.uploaded == ["core_rte__eco2mix_paca.parquet"]
    assert sha(folder / "core_rte__eco2mix_paca.parquet") == sha(files["data"])


def test_replacement_is_a_rename_so_open_readers_keep_the_old_bytes(tmp_path: Path, files: dict[str, Path]) -> None:
    pub = MirrorPublisher(tmp_path)
    pub.publish(make_request(files))
    target = tmp_path / "region-sud" / "core_rte__eco2mix_paca" / "core_rte__eco2mix_paca.parquet"
    old_bytes = target.read_bytes()
    with open(target, "rb") as reader:
        write_parquet(files["data"], [8.0, 8.0])
        pub.publish(make_request(files))
        assert reader.read() == old_bytes  # an in-place rewrite would have changed these bytes
    assert target.read_bytes() == files["data"].read_bytes()
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_missing_file_or_reserved_name_fails_before_writing(tmp_path: Path, files: dict[str, Path]) -> None:
    pub = MirrorPublisher(tmp_path / "m")
    missing = PublicationRequest(
        name="ds-x", title="t", notes="", owner_org="region-sud", private=False, license_id="lov2",
        resources=(ResourceFile("a.parquet", tmp_path / "nope.parquet", "Parquet"),),
    )
    with pytest.raises(PublicationError, match="not found"):
        pub.publish(missing)
    reserved = PublicationRequest(
        name="ds-x", title="t", notes="", owner_org="region-sud", private=False, license_id="lov2",
        resources=(ResourceFile("package.json", files["meta"], "JSON"),),
    )
    with pytest.raises(PublicationError, match="reserved"):
        pub.publish(reserved)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("bad", ["A-Upper", "x", "has space", "é"])
def test_request_rejects_invalid_slugs(bad: str) -> None:
    with pytest.raises(ValueError, match="a-z0-9"):
        PublicationRequest(name=bad, title="t", notes="", owner_org="org", private=True, license_id="lov2")
