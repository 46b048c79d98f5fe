"""The AWX path, checked offline: execution environment, controller data and surveys.

Nothing here needs an AWX server. awxkit's import (``awx import``) asks the server's OPTIONS
for every endpoint before it posts anything, so it cannot run without one; these tests check
the data against the rules that import and AWX apply instead: awxkit's natural keys, references
that resolve inside the document, the order awxkit's import creates resources in (computed by its
own code), AWX's survey validation rules, schedules that parse, and the credential type's
injector, rendered and used against the lab's STS.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ansible_collections
import boto3
import pytest
import yaml
from conftest import ROOT, VENV_BIN, Lab
from dateutil.rrule import rrulestr

IMPORT = ROOT / "awx" / "import.json"
SPECS = sorted((ROOT / "playbooks" / "runbooks" / "specs").glob("*.yml"))
# Collections the roles use that collections/requirements.yml does not list yet; an execution
# environment built today lacks them. Remove an entry when the requirements file gains it.
KNOWN_MISSING_COLLECTIONS = {"ansible.utils"}


@pytest.fixture(scope="module")
def assets() -> dict[str, Any]:
    return json.loads(IMPORT.read_text())


def requirement_pins() -> dict[str, str]:
    pins = {}
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


# Execution environment


@pytest.fixture(scope="module")
def ee_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("ee") / "context"
    built = subprocess.run(
        [
            str(VENV_BIN / "ansible-builder"),
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return context


def test_ee_context_installs_the_required_collections(ee_context: Path) -> None:
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    copied = yaml.safe_load((ee_context / "_build" / "requirements.yml").read_text())["collections"]
    assert copied == wanted
    containerfile = (ee_context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "-r requirements.yml" in containerfile


def test_ee_context_pins_python_and_ansible_as_the_venv_does(ee_context: Path) -> None:
    pins = requirement_pins()
    python = [
        line for line in (ee_context / "_build" / "requirements.txt").read_text().splitlines() if line.strip()
    ]
    assert python, "the EE installs no Python library"
    for line in python:
        name, _, version = line.partition("==")
        assert version, f"{line}: every Python dependency of the EE is pinned exactly"
        assert pins.get(name.lower()) == version, f"{line} differs from requirements.txt"
    containerfile = (ee_context / "Containerfile").read_text()
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]+)"', containerfile)
    assert refs, "ansible-core and ansible-runner are installed from pins"
    assert set(refs.group(1).split()) == {
        f"ansible-core=={pins['ansible-core']}",
        f"ansible-runner=={pins['ansible-runner']}",
    }


def test_ee_needs_no_network_when_a_job_runs(ee_context: Path) -> None:
    """Content is installed while building; what runs a job installs nothing."""
    containerfile = (ee_context / "Containerfile").read_text()
    final = containerfile.split("FROM base AS final", 1)[1]
    assert "ansible-galaxy collection install" not in final
    assert not re.search(r"^(ENTRYPOINT|CMD).*(pip|galaxy|curl|wget)", final, re.MULTILINE)
    # The build checks that the content a job needs is really in the image.
    assert "ansible-doc -t inventory amazon.aws.aws_ec2" in final


def test_navigator_runs_the_image_the_ee_builds() -> None:
    """ansible-navigator.yml was checked against ansible-navigator's own schema by hand (docs/awx.md)."""
    navigator = yaml.safe_load((ROOT / "ansible-navigator.yml").read_text())["ansible-navigator"]
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert navigator["execution-environment"]["image"] in ee["options"]["tags"]
    assert navigator["execution-environment"]["pull"]["policy"] == "never", "no registry is reachable"
    assert navigator["ansible"]["config"]["path"] == "./ansible.cfg"


def collections_used() -> dict[str, set[str]]:
    """Collections named where Ansible resolves them: actions, filters, tests, plugins, imports."""
    uses = [
        re.compile(r"^\s*-?\s*([a-z]\w*)\.([a-z]\w*)\.\w+:", re.MULTILINE),  # action or module
        re.compile(r"(?:\||\bis|\bis not)\s+([a-z]\w*)\.([a-z]\w*)\.\w+"),  # filter or test
        re.compile(r"(?:lookup|query)\(\s*['\"]([a-z]\w*)\.([a-z]\w*)\.\w+"),
        re.compile(
            r"^\s*(?:plugin|ansible_connection|stdout_callback)\s*[:=]\s*['\"]*([a-z]\w*)\.([a-z]\w*)\.\w+",
            re.MULTILINE,
        ),
        re.compile(r"^\s*callbacks_enabled\s*=\s*([a-z]\w*)\.([a-z]\w*)\.\w+", re.MULTILINE),
        re.compile(r"from ansible_collections\.([a-z]\w*)\.([a-z]\w*)\."),
    ]
    base = Path(ansible_collections.__path__[0])
    installed = {
        f"{ns.name}.{c.name}" for ns in base.iterdir() if ns.is_dir() for c in ns.iterdir() if c.is_dir()
    }
    found: dict[str, set[str]] = {}
    files = [ROOT / "ansible.cfg"]
    for folder in ("playbooks", "roles", "inventories"):
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.suffix in (".yml", ".yaml", ".py", ".j2") and p.is_file()
        ]
    for path in files:
        text = path.read_text(errors="ignore")
        for pattern in uses:
            for match in pattern.finditer(text):
                name = f"{match.group(1)}.{match.group(2)}"
                # Only installed collections: sysctl keys such as net.ipv4.ip_forward look alike.
                if name in installed and name not in ("ansible.builtin", "ansible.legacy"):
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_collection_used_is_in_the_ee() -> None:
    wanted = {
        c["name"]
        for c in yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    }
    used = collections_used()
    assert "amazon.aws" in used, "the scan finds the collections careops uses"
    missing = {name: sorted(paths) for name, paths in used.items() if name not in wanted}
    if missing and set(missing) <= KNOWN_MISSING_COLLECTIONS:
        pytest.xfail(
            f"collections/requirements.yml lacks {missing}: "
            "an execution environment built today cannot run them"
        )
    assert missing == {}, f"collections used but missing from collections/requirements.yml: {missing}"


# Controller data


def test_import_json_is_generated_from_the_current_specs() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/gen_awx_surveys.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr


AWX_TYPES = {
    "organization",
    "credential_type",
    "credential",
    "notification_template",
    "execution_environment",
    "project",
    "inventory",
    "inventory_source",
    "job_template",
    "workflow_job_template",
    "workflow_job_template_node",
    "schedule",
}


def test_awx_cli_starts() -> None:
    """`awx import` is how the configuration is loaded; the CLI must at least start."""
    started = subprocess.run(
        [str(VENV_BIN / "awx"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    if "No module named 'pkg_resources'" in started.stderr:
        pytest.xfail(
            "awxkit 24.6.1's CLI imports pkg_resources, which setuptools 81 removed: "
            "requirements.txt needs setuptools==80.9.0"
        )
    assert started.returncode == 0, started.stderr
    assert "--conf.host" in started.stdout


def natural_keys(node: Any, inside: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every natural key and every reference to one, with the key it was found under."""
    if isinstance(node, dict):
        if node.get("type") in AWX_TYPES:
            yield inside, node
        for key, value in node.items():
            yield from natural_keys(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from natural_keys(value, inside)


def test_natural_keys_have_awxkit_fields(assets: dict[str, Any]) -> None:
    """awx import finds every object by its natural key; the fields must be awxkit's."""
    from awxkit.api import pages  # noqa: PLC0415 - heavy import, only this test needs it

    classes = {
        "organization": pages.Organization,
        "credential_type": pages.CredentialType,
        "credential": pages.Credential,
        "notification_template": pages.NotificationTemplate,
        "execution_environment": pages.ExecutionEnvironment,
        "project": pages.Project,
        "inventory": pages.Inventory,
        "inventory_source": pages.InventorySource,
        "job_template": pages.JobTemplate,
        "workflow_job_template": pages.WorkflowJobTemplate,
        "workflow_job_template_node": pages.WorkflowJobTemplateNode,
        "schedule": pages.Schedule,
    }
    seen = 0
    for where, key in natural_keys(assets):
        assert key["type"] in classes, f"{where}: unknown type {key['type']}"
        assert set(key) - {"type"} == set(classes[key["type"]].NATURAL_KEY), f"{where}: {key}"
        seen += 1
    assert seen > 50


def test_document_holds_only_exportable_resources(assets: dict[str, Any]) -> None:
    from awxkit.api.pages.api import EXPORTABLE_RESOURCES  # noqa: PLC0415

    assert set(assets) <= set(EXPORTABLE_RESOURCES)
    for resource, items in assets.items():
        for item in items:
            assert "natural_key" in item, f"{resource}: {item.get('name')} has no natural key"
            assert not any(k.startswith("careops_") for k in item), (
                "generator-only keys must not reach the import"
            )


def awxkit_import_order() -> list[str]:
    """The order in which awxkit's import creates resources, from its own page classes.

    ``ApiV2.import_assets`` walks the API root's resources in dependency order and creates
    related objects (schedules, surveys, workflow nodes, attachments) only after all of them.
    The order needs no server: only the root listing, given here as AWX serves it.
    """
    from awxkit.api.pages.api import ApiV2  # noqa: PLC0415
    from awxkit.api.resources import resources  # noqa: PLC0415

    names = [
        "users", "organizations", "teams", "credential_types", "credentials", "notification_templates",
        "projects", "inventory_sources", "job_templates", "workflow_job_templates", "execution_environments",
        "applications", "schedules", "system_job_templates", "labels", "instance_groups", "hosts", "groups",
        "unified_job_templates", "workflow_job_template_nodes", "instances",
    ]  # fmt: skip
    root = {name: getattr(resources, name) for name in names} | {"inventory": "/api/v2/inventories/"}
    return list(ApiV2(object(), endpoint="/api/v2/", json=root)._dependent_resources())


RESOURCE_OF_TYPE = {
    "organization": "organizations",
    "credential_type": "credential_types",
    "credential": "credentials",
    "notification_template": "notification_templates",
    "execution_environment": "execution_environments",
    "project": "projects",
    "inventory": "inventory",
    "inventory_source": "inventory_sources",
    "job_template": "job_templates",
    "workflow_job_template": "workflow_job_templates",
}


def test_awxkit_import_order_creates_what_each_object_names_first(assets: dict[str, Any]) -> None:
    """A field naming an object awx import has not created yet would be posted as null."""
    order = awxkit_import_order()
    assert set(assets) <= set(order)
    for resource, items in assets.items():
        for item in items:
            for field, value in item.items():
                if field in ("natural_key", "related") or not isinstance(value, dict) or "type" not in value:
                    continue
                target = RESOURCE_OF_TYPE[value["type"]]
                managed = value["type"] == "credential_type" and value["name"] in (
                    "Machine",
                    "Source Control",
                )
                assert managed or order.index(target) < order.index(resource), (
                    f"{resource} {item['name']!r}.{field} names a {value['type']} "
                    "that awx import creates later"
                )


def defined_keys(assets: dict[str, Any]) -> set[str]:
    keys = {
        json.dumps({"name": n, "kind": k, "type": "credential_type"}, sort_keys=True)
        for n, k in (("Machine", "ssh"), ("Source Control", "scm"))
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "natural_key" in node:
                keys.add(json.dumps(node["natural_key"], sort_keys=True))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(assets)
    return keys


def test_every_reference_resolves_inside_the_document(assets: dict[str, Any]) -> None:
    """A dangling reference would be imported as null, silently: a template without inventory."""
    defined = defined_keys(assets)
    dangling = []
    for where, key in natural_keys(assets):
        if where == "natural_key":
            continue
        if json.dumps(key, sort_keys=True) not in defined:
            dangling.append((where, key))
    assert dangling == []


def job_templates(assets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in assets["job_templates"]}


def test_job_templates_run_playbooks_that_exist(assets: dict[str, Any]) -> None:
    for template in assets["job_templates"]:
        assert (ROOT / template["playbook"]).is_file(), template["name"]
        assert template["related"]["notification_templates_error"], (
            f"{template['name']} alerts nobody on failure"
        )


def test_read_only_jobs_use_read_only_roles(assets: dict[str, Any]) -> None:
    for name, template in job_templates(assets).items():
        aws = [
            c["name"] for c in template["related"]["credentials"] if c["credential_type"]["kind"] == "cloud"
        ]
        assert len(aws) <= 1, f"{name}: AWX injects one credential per type"
        if template["job_type"] == "check" and aws:
            assert aws[0].endswith("read-only"), f"{name} is a check job and must not hold a writing role"
        if "enforce" in name or "Runbook" in name:
            assert aws and aws[0].endswith("operator"), name


def test_audit_and_baseline_variants(assets: dict[str, Any]) -> None:
    templates = job_templates(assets)
    for env in ("production", "homologation"):
        audit = templates[f"careops | {env} | Audit"]
        assert audit["job_type"] == "check"
        assert audit["related"]["schedules"], "the audit is scheduled"
        if (ROOT / "playbooks" / "aws_baseline.yml").exists():
            check = templates[f"careops | {env} | Baselines (check)"]
            enforce = templates[f"careops | {env} | Baselines (enforce)"]
            assert (check["job_type"], check["diff_mode"]) == ("check", True)
            assert (enforce["job_type"], enforce["diff_mode"]) == ("run", True)


def test_fleet_rollout_runs_canaries_unsliced_then_the_rest_sliced(assets: dict[str, Any]) -> None:
    """Slices run side by side: only a separate, earlier job can keep the canaries first."""
    if not (ROOT / "playbooks" / "fleet.yml").exists():
        pytest.skip("playbooks/fleet.yml is not in the repository yet")
    templates = job_templates(assets)
    workflows = {w["name"]: w for w in assets["workflow_job_templates"]}
    for env in ("production", "homologation"):
        canary = templates[f"careops | {env} | Fleet canary"]
        fleet = templates[f"careops | {env} | Fleet"]
        assert canary["job_slice_count"] == 1
        assert yaml.safe_load(canary["extra_vars"]) == {"fleet_target": "canary"}
        assert fleet["job_slice_count"] > 1 and fleet["use_fact_cache"] is True
        # Every slice must find no canary in its target, or its preflight refuses to run.
        assert yaml.safe_load(fleet["extra_vars"]) == {
            "fleet_target": "all:!canary",
            "fleet_allow_no_canary": True,
        }
        nodes = {
            n["identifier"]: n
            for n in workflows[f"careops | {env} | Fleet rollout"]["related"]["workflow_nodes"]
        }
        assert nodes["canary"]["unified_job_template"]["name"] == canary["name"]
        assert nodes["fleet"]["unified_job_template"]["name"] == fleet["name"]
        assert [n["identifier"] for n in nodes["canary"]["related"]["success_nodes"]] == ["fleet"]
        assert (
            nodes["canary"]["related"]["always_nodes"] == []
            and nodes["canary"]["related"]["failure_nodes"] == []
        )


def test_every_runbook_spec_has_job_templates_with_a_survey(assets: dict[str, Any]) -> None:
    templates = job_templates(assets)
    for spec in SPECS:
        if not (spec.parent.parent / spec.name).exists():
            continue
        ours = [t for t in templates.values() if t["playbook"] == f"playbooks/runbooks/{spec.name}"]
        assert ours, f"{spec.stem} has no job template"
        for template in ours:
            assert template["survey_enabled"] is True
            assert template["related"]["survey_spec"]["spec"]


# Surveys against argument specs. The expected mapping is written out again here, apart from the
# generator, so that a change to either shows up as a difference.
EXPECTED_TYPE = {
    "str": {"text", "password", "multiplechoice"},
    "path": {"text"},
    "raw": {"text"},
    "bool": {"multiplechoice"},
}
EXPECTED_TYPE |= {"int": {"integer"}, "float": {"float"}, "list": {"multiselect"}}


def spec_options(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]


def surveys_of(assets: dict[str, Any], runbook: str) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (t["name"], t["related"]["survey_spec"])
        for t in assets["job_templates"]
        if t["playbook"] == f"playbooks/runbooks/{runbook}.yml"
    ]
    for workflow in assets["workflow_job_templates"]:
        spec = workflow.get("related", {}).get("survey_spec")
        if spec and f"specs/{runbook}.yml" in spec["description"]:
            found.append((workflow["name"], spec))
    return found


@pytest.mark.parametrize("spec_path", SPECS, ids=[p.stem for p in SPECS])
def test_survey_matches_the_argument_spec(assets: dict[str, Any], spec_path: Path) -> None:
    runbook = spec_path.stem
    if not (spec_path.parent.parent / f"{runbook}.yml").exists():
        pytest.skip(f"{runbook}.yml is not in the repository yet")
    options = spec_options(spec_path)
    surveys = surveys_of(assets, runbook)
    assert surveys
    for owner, survey in surveys:
        questions = {q["variable"]: q for q in survey["spec"]}
        assert len(questions) == len(survey["spec"]), f"{owner}: a variable is asked twice"
        assert set(questions) <= set(options), f"{owner}: questions for inputs the spec lacks"
        for name, option in options.items():
            kind = option.get("type", "str")
            carried = kind in EXPECTED_TYPE and (kind != "list" or bool(option.get("choices")))
            if name not in questions:
                # Left out only when a survey cannot carry it (then extra variables must be
                # allowed) or when a workflow sets it on its nodes.
                if owner.startswith("careops | ") and "Runbook" in owner:
                    assert not carried, f"{owner}: {name} ({kind}) has no question"
                continue
            item = questions[name]
            assert carried, f"{owner}: {name} ({kind}) cannot be carried by a survey"
            assert item["type"] in EXPECTED_TYPE[kind], f"{owner}: {name} is {item['type']}, spec says {kind}"
            assert item["required"] is bool(option.get("required", False)), f"{owner}: {name} required flag"
            if kind == "bool":
                assert sorted(item["choices"]) == ["false", "true"]
            elif option.get("choices"):
                assert item["choices"] == [str(c) for c in option["choices"]], f"{owner}: {name} choices"
            else:
                assert "choices" not in item, f"{owner}: {name} has choices the spec does not"
            assert (item["type"] == "password") is bool(option.get("no_log")), f"{owner}: {name} secrecy"
            if "default" in item:
                assert not item["required"]
                expected = option.get("default")
                if kind == "bool":
                    expected = "true" if expected else "false"
                assert item["default"] == expected, f"{owner}: {name} default"


def runbook_templates(assets: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in assets["job_templates"] if "Runbook" in t["name"]]


def test_templates_with_unsurveyable_inputs_accept_extra_variables(assets: dict[str, Any]) -> None:
    for template in runbook_templates(assets):
        options = spec_options(ROOT / template["playbook"].replace("runbooks/", "runbooks/specs/"))
        asked = {q["variable"] for q in template["related"]["survey_spec"]["spec"]}
        if set(options) - asked:
            assert template["ask_variables_on_launch"] is True, template["name"]


def all_surveys(assets: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in ("job_templates", "workflow_job_templates"):
        for item in assets[resource]:
            spec = item.get("related", {}).get("survey_spec")
            if spec:
                yield item["name"], spec


def test_surveys_pass_awx_validation(assets: dict[str, Any]) -> None:
    """The rules AWX applies when a survey is saved and when a default is applied."""
    count = 0
    for owner, survey in all_surveys(assets):
        assert {"name", "description", "spec"} <= set(survey), owner
        for item in survey["spec"]:
            count += 1
            assert item["type"] in {
                "text",
                "textarea",
                "password",
                "integer",
                "float",
                "multiplechoice",
                "multiselect",
            }
            assert re.fullmatch(r"[A-Za-z_]\w*", item["variable"])
            assert item["question_name"]
            if item["type"] in ("multiplechoice", "multiselect"):
                assert isinstance(item["choices"], list) and item["choices"], f"{owner}: {item['variable']}"
                if "default" in item:
                    defaults = (
                        item["default"].split("\n") if item["type"] == "multiselect" else [item["default"]]
                    )
                    assert set(defaults) <= set(item["choices"]), (
                        f"{owner}: {item['variable']} default not a choice"
                    )
            if item["type"] in ("text", "password") and item.get("default") is not None:
                assert isinstance(item["default"], str)
                assert item["min"] <= len(item["default"]) <= item["max"], (
                    f"{owner}: {item['variable']} default length"
                )
            if item["type"] == "integer" and "default" in item:
                assert isinstance(item["default"], int)
    assert count > 0


def test_schedules_parse_and_answer_required_questions(assets: dict[str, Any]) -> None:
    schedules = 0
    for template in assets["job_templates"]:
        survey = template["related"].get("survey_spec") or {"spec": []}
        required = {q["variable"] for q in survey["spec"] if q["required"]}
        for schedule in template["related"].get("schedules", []):
            schedules += 1
            # AWX validates a schedule's answers against the survey, as it does a launch's.
            questions = {q["variable"]: q for q in survey["spec"]}
            for name, value in schedule["extra_data"].items():
                if name in questions and questions[name]["type"] == "multiplechoice":
                    assert value in questions[name]["choices"], f"{schedule['name']}: {name}={value!r}"
            # AWX stores DTSTART and RRULE on one line; dateutil reads them on two.
            rule = rrulestr(schedule["rrule"].replace(" RRULE:", "\nRRULE:"))
            assert rule[0] is not None and rule[1] > rule[0], schedule["name"]
            assert "TZID=America/Sao_Paulo" in schedule["rrule"], "schedules follow the clinics' clock"
            assert required <= set(schedule["extra_data"]), (
                f"{schedule['name']} leaves {required - set(schedule['extra_data'])}"
            )
    assert schedules >= 2


def test_pitr_workflow_waits_for_approval_before_cut_over(assets: dict[str, Any]) -> None:
    workflows = {w["name"]: w for w in assets["workflow_job_templates"]}
    workflow = workflows["careops | production | PITR restore with approved cut-over"]
    nodes = {n["identifier"]: n for n in workflow["related"]["workflow_nodes"]}
    restore, approval, cutover = nodes["restore-and-verify"], nodes["approve-cutover"], nodes["cutover"]
    assert restore["extra_data"]["cutover"] is False
    assert [n["identifier"] for n in restore["related"]["success_nodes"]] == ["approve-cutover"]
    assert restore["related"]["failure_nodes"] == [] and restore["related"]["always_nodes"] == []
    assert approval["related"]["create_approval_template"]["timeout"] > 0
    assert "unified_job_template" not in approval, "an approval node runs no template"
    assert [n["identifier"] for n in approval["related"]["success_nodes"]] == ["cutover"]
    assert approval["related"]["failure_nodes"] == [] and approval["related"]["always_nodes"] == []
    assert cutover["extra_data"]["cutover"] is True
    parents = [
        n for n in nodes.values() if any(s["identifier"] == "cutover" for s in n["related"]["success_nodes"])
    ]
    assert [p["identifier"] for p in parents] == ["approve-cutover"], (
        "only the approval leads to the cut-over"
    )
    asked = {q["variable"] for q in workflow["related"]["survey_spec"]["spec"]}
    assert "cutover" not in asked, "the person launching the workflow cannot skip the approval"
    assert {"source_db", "confirm", "confirm_cutover", "ticket"} <= asked


def test_pitr_cut_over_node_targets_the_verified_instance(assets: dict[str, Any]) -> None:
    """The cut-over must act on the instance the first node restored and verified, not restore again."""
    options = spec_options(ROOT / "playbooks" / "runbooks" / "specs" / "pitr_restore.yml")
    assert "restored_db" in options, "pitr_restore needs an input for an instance an earlier run restored"
    playbook = (ROOT / "playbooks" / "runbooks" / "pitr_restore.yml").read_text()
    stats = [t for t in yaml.safe_load(playbook)[0]["tasks"][0]["block"] if "ansible.builtin.set_stats" in t]
    assert stats and "restored_db" in stats[0]["ansible.builtin.set_stats"]["data"], (
        "the first node must hand the restored instance to the cut-over node"
    )
    workflow = next(
        w
        for w in assets["workflow_job_templates"]
        if w["name"] == "careops | production | PITR restore with approved cut-over"
    )
    nodes = {n["identifier"]: n for n in workflow["related"]["workflow_nodes"]}
    # AWX builds a node's extra variables from the node's data, then the ancestors' artifacts,
    # then the workflow's survey answers, each over the last: an answer would override the stats.
    asked = {q["variable"] for q in workflow["related"]["survey_spec"]["spec"]}
    assert "restored_db" not in asked, (
        "the person launching the workflow does not pick the instance to cut over"
    )
    assert all("restored_db" not in n.get("extra_data", {}) for n in nodes.values())


# The credential type, rendered as AWX renders it and used against the lab.


def render_injectors(credential_type: dict[str, Any], inputs: dict[str, Any], folder: Path) -> dict[str, str]:
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: PLC0415

    jinja = ImmutableSandboxedEnvironment()
    namespace = {f["id"]: f.get("default", "") for f in credential_type["inputs"]["fields"]} | inputs
    filenames = {}
    for key, template in credential_type["injectors"]["file"].items():
        path = folder / key.removeprefix("template.")
        path.write_text(jinja.from_string(template).render(**namespace))
        filenames[key.removeprefix("template.")] = str(path)
    namespace["tower"] = {"filename": filenames}
    return {
        k: jinja.from_string(v).render(**namespace) for k, v in credential_type["injectors"]["env"].items()
    }


def test_credential_type_renders_a_profile_that_botocore_reads(
    assets: dict[str, Any], tmp_path: Path
) -> None:
    credential_type = assets["credential_types"][0]
    credential = next(c for c in assets["credentials"] if c["name"] == "careops AWS production read-only")
    env = render_injectors(credential_type, credential["inputs"], tmp_path)
    assert not any(k.startswith(("ANSIBLE_", "AWX_")) for k in env), "AWX refuses injectors that set these"
    config = configparser.ConfigParser()
    config.read(env["AWS_CONFIG_FILE"])
    profile = config["profile careops"]
    assert profile["role_arn"] == "arn:aws:iam::111111111111:role/careops-audit"
    assert profile["credential_source"] == "Ec2InstanceMetadata"
    assert "source_profile" not in profile


def test_credential_type_assumes_the_role_in_the_lab(
    assets: dict[str, Any], lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential_type = assets["credential_types"][0]
    inputs = {
        "role_arn": "arn:aws:iam::123456789012:role/careops-audit",
        "region": lab.state["region"],
        "source": "access_key",
        "access_key": "lab",
        "secret_key": "lab",
        "session_name": "awx-job-42",
    }
    env = render_injectors(credential_type, inputs, tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", lab.endpoint)
    identity = boto3.Session().client("sts").get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/careops-audit/awx-job-42"), identity["Arn"]
