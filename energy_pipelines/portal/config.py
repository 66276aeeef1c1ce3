"""The portal's two configuration files under `assets_config/`: `portal.yaml` (use cases, themes) and
`access.yaml` (who approves access requests). Pydantic models; errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from energy_pipelines.catalog import Catalog, CatalogError, read_yaml

PORTAL_FILE = "portal.yaml"
ACCESS_FILE = "access.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dashboard(_Strict):
    folder: str | None = Field(default=None, description="folder under the data root holding index.html")
    restricted_note: str | None = None


class UseCase(_Strict):
    title: str
    summary: str
    page: str | None = Field(default=None, description="a use-case page built by the portal (uc2, uc3)")
    dashboard: Dashboard | None = None


class ProductPlacement(_Strict):
    use_cases: tuple[str, ...]
    theme: str


class PortalConfig(_Strict):
    title: str
    subtitle: str
    themes: dict[str, str]
    use_cases: dict[str, UseCase]
    products: dict[str, ProductPlacement] = {}

    @model_validator(mode="after")
    def _known(self) -> PortalConfig:
        for product, placement in self.products.items():
            if placement.theme not in self.themes:
                raise ValueError(f"products.{product}.theme: {placement.theme!r} is not among the themes")
            for uc in placement.use_cases:
                if uc not in self.use_cases:
                    raise ValueError(f"products.{product}.use_cases: {uc!r} is not among the use cases")
        return self


class Approver(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name: str
    email: str | None = None


class Committee(_Strict):
    name: str
    approvers: tuple[Approver, ...] = Field(min_length=1)


class AccessConfig(_Strict):
    max_duration_days: int = Field(gt=0, le=3650)
    steering_committee: Committee
    owners: dict[str, tuple[Approver, ...]]

    @model_validator(mode="after")
    def _unique_ids(self) -> AccessConfig:
        seen: dict[str, str] = {a.id: "steering_committee" for a in self.steering_committee.approvers}
        for owner, approvers in self.owners.items():
            if not approvers:
                raise ValueError(f"owners.{owner}: names no approver")
            for a in approvers:
                if a.id in seen:
                    raise ValueError(f"approver id {a.id!r} is declared for both {seen[a.id]} and {owner}")
                seen[a.id] = owner
        return self

    def party_of(self, approver_id: str) -> str | None:
        """The party an approver answers for: an owner id, `steering_committee`, or None."""
        if any(a.id == approver_id for a in self.steering_committee.approvers):
            return COMMITTEE
        for owner, approvers in self.owners.items():
            if any(a.id == approver_id for a in approvers):
                return owner
        return None

    def approver(self, approver_id: str) -> Approver | None:
        for a in (*self.steering_committee.approvers, *(a for group in self.owners.values() for a in group)):
            if a.id == approver_id:
                return a
        return None


COMMITTEE = "steering_committee"


def _load(path: Path, model: type[BaseModel]) -> BaseModel:
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"field '{'.'.join(map(str, e['loc'])) or '(file)'}': {e['msg'].removeprefix('Value error, ')}"
                           for e in exc.errors())
        raise CatalogError(f"{path}: {fields}") from None


def load_portal_config(catalog: Catalog) -> PortalConfig:
    path = Path(catalog.directory) / PORTAL_FILE
    config = _load(path, PortalConfig)
    for product in config.products:
        if product not in catalog:
            raise CatalogError(f"{path}: field 'products.{product}': not a dataset of the catalogue")
    return config


def load_access_config(catalog: Catalog) -> AccessConfig:
    path = Path(catalog.directory) / ACCESS_FILE
    config = _load(path, AccessConfig)
    for owner in config.owners:
        if owner not in catalog.organisations:
            raise CatalogError(f"{path}: field 'owners.{owner}': not an organisation of organisations.yaml")
    return config
