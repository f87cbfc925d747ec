"""The deploy and operate pages (docs/) say what infra/ does: alerts, hooks, roles, Python version."""

from __future__ import annotations

import re

import yaml

from tests.infra.bicep import INFRA, ROOT, parse
from tests.infra.contract import REQUIRED_ASSIGNMENTS
from tests.infra.kql import alert_queries

DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def section(name: str, title: str) -> str:
    text = page(name)
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 4)
    return text[start : end if end > 0 else None]


def test_the_operate_section_explains_every_alert_deployed() -> None:
    table = section("operate.md", "Operating in Azure")
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \(\d\) \|", table, re.MULTILINE))
    assert documented == set(alert_queries())


def test_the_deploy_section_names_the_hooks_azd_runs() -> None:
    deploy = page("deploy.md")
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))["hooks"]
    for event, hook in hooks.items():
        script = str(hook["run"]).removeprefix("./")
        assert script in deploy, f"{event} hook {script} is not described"


def test_the_deploy_section_lists_the_roles_the_bicep_assigns() -> None:
    deploy = page("deploy.md")
    for _scope, role in REQUIRED_ASSIGNMENTS:
        assert role in deploy, role
    assert "Storage Queue Data Contributor" not in deploy


def test_the_deploy_section_states_the_deployed_python() -> None:
    site = next(r for r in parse(INFRA / "main.bicep").resources.values() if r["type"] == "Microsoft.Web/sites")
    version = site["config"]["properties"]["functionAppConfig"]["runtime"]["version"]
    assert f"Python {version}" in page("deploy.md")
