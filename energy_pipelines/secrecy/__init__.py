"""Statistical secrecy of every published energy aggregate: one module for the whole platform.

- `rules`: primary rules per fluid and sector, with their source and protection level
  (`assets_config/secrecy/rules.yaml`);
- `system`: cells in long form and the additive relations generated from declared hierarchies
  (categories -> total, half-hour -> ... -> Paris year, commune -> EPCI -> département -> region);
- `suppress`: primary masking, secondary suppression over every relation, audit-driven repair;
- `audit`: the tightest interval an attacker derives for each masked cell (linear programming,
  HiGHS), exposed when it does not reach the protection level;
- `products`: the secrecy layout of each published product (`assets_config/secrecy/products.yaml`)
  and `audit_products`, the audit of several published tables together;
- `uc3`: the UC3 products as one system (masks at the half-hour, closed upward in time).
"""

from energy_pipelines.secrecy._yaml import SecrecyConfigError
from energy_pipelines.secrecy.audit import AuditError, AuditReport, audit
from energy_pipelines.secrecy.products import (
    ProductsAudit,
    SecrecyProducts,
    audit_products,
    cells_from_table,
    load_products,
)
from energy_pipelines.secrecy.rules import Rule, RuleSet, evaluate_primary, load_rules
from energy_pipelines.secrecy.suppress import apply_primary, protect, relation_pass
from energy_pipelines.secrecy.system import MappingHierarchy, Relations, TableSystem, TimeHierarchy, build_relations

__all__ = [
    "AuditError", "AuditReport", "MappingHierarchy", "ProductsAudit", "Relations", "Rule", "RuleSet",
    "SecrecyConfigError", "SecrecyProducts", "TableSystem", "TimeHierarchy", "apply_primary", "audit",
    "audit_products", "build_relations", "cells_from_table", "evaluate_primary", "load_products", "load_rules",
    "protect", "relation_pass",
]
