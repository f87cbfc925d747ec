"""Every resource of infra/*.bicep against the generated Azure resource types, offline (no Bicep compiler here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import INFRA, bicep_files, parse
from tests.infra.resource_types import TypeIndex, check_file


@pytest.fixture(scope="module")
def index() -> TypeIndex:
    return TypeIndex()


def test_every_resource_matches_its_type(index: TypeIndex) -> None:
    files = bicep_files()
    assert files, "no infra/*.bicep"
    total = 0
    problems: list[str] = []
    for path in files:
        count, findings = check_file(parse(path), index)
        total += count
        problems += [f"{path.relative_to(INFRA.parent)}: {finding}" for finding in findings]
    print(f"{total} resources in {len(files)} Bicep file(s) checked against the resource types")
    assert total >= 15
    assert not problems, "\n".join(problems)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in main.bicep: update this test"
    copy = tmp_path / "main.bicep"
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ("allowSharedKeyAccess: false", "allowSharedKeyAcess: false", "allowSharedKeyAcess: no such property"),
        ("httpsOnly: true", "httpsonly: true", "did you mean 'httpsOnly'"),
        ("httpsOnly: true", "httpsOnly: 'true'", "httpsOnly: 'true' is not BooleanType"),
        ("minTlsVersion: '1.2'", "minTlsVersion: 12", "minTlsVersion: 12 is none of"),
        ("retentionInDays: 30", "retentionInDays: '30'", "retentionInDays: '30' is not IntegerType"),
        ("disableLocalAuth: true //", "hostName: 'x'\n    disableLocalAuth: true //", "hostName: is read-only"),
        ("Application_Type: 'web'", "ApplicationType: 'web'", "Application_Type: required property missing"),
        ("runtime: {\n        name: 'python'", "runtime: {\n        nme: 'python'", "runtime.nme: no such property"),
        ("'Microsoft.Web/sites@2024-11-01'", "'Microsoft.Web/sites@2099-01-01'", "no such resource type"),
        ("name: 'scm'", "name: 'webdeploy'", "'webdeploy' is none of"),
    ],
)
def test_a_broken_copy_is_reported(index: TypeIndex, tmp_path: Path, old: str, new: str, reported: str) -> None:
    _, findings = check_file(parse(_broken(tmp_path, old, new)), index)
    assert any(reported in str(finding) for finding in findings), [str(f) for f in findings]
