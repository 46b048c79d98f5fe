#!/usr/bin/env python3
"""Generate awx/import.json: the controller configuration with surveys from the runbooks' specs.

An AWX survey is a second description of a runbook's inputs; written by hand it drifts from the
argument spec the runbook validates against, and an on-call engineer finds out at 3 a.m. So the
surveys are derived here from ``playbooks/runbooks/specs/<runbook>.yml`` and never edited:

- ``awx/controller.yml`` (hand-written, ``awx export`` format) is copied through, with every
  ``careops_survey: {runbook, exclude}`` key replaced by a generated ``survey_spec``;
- ``awx/runbooks.yml`` declares one job template per runbook and environment; each gets the
  runbook's survey, the environment's inventory and operator credential, and its schedules;
- every spec under ``playbooks/runbooks/specs/`` gets job templates, listed or not.

Usage::

    python scripts/gen_awx_surveys.py           # write awx/import.json
    python scripts/gen_awx_surveys.py --check   # exit 1 when awx/import.json is stale

How spec options become questions (AWX survey types):

==========================  ==============================================================
spec                        survey question
==========================  ==============================================================
str with choices            multiplechoice, the same choices
str, path, raw              text (password when ``no_log: true``)
bool                        multiplechoice ``true``/``false`` (playbooks apply ``| bool``)
int / float                 integer / float
list with choices           multiselect, the same choices
list without choices, dict  no question: AWX surveys carry strings, and schedules would send
                            lists that a text question refuses. The job template asks for
                            extra variables on launch instead.
==========================  ==============================================================

A spec default becomes the question's default when the runbook's play sets the same variable;
a default the spec only describes ("the inventory's first region") is computed by the play, so
the question has none and AWX sends nothing when it is left empty.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTROLLER = ROOT / "awx" / "controller.yml"
RUNBOOKS = ROOT / "awx" / "runbooks.yml"
OUTPUT = ROOT / "awx" / "import.json"
RUNBOOK_DIR = ROOT / "playbooks" / "runbooks"
SPEC_DIR = RUNBOOK_DIR / "specs"

ORG = {"name": "careops", "type": "organization"}
TEXT_MAX = 1024
# Spec types that a survey can carry, and the question type each becomes.
SCALAR_TYPES = {"str": "text", "path": "text", "raw": "text", "int": "integer", "float": "float"}


class SpecError(ValueError):
    """A spec, a schedule or a survey reference that cannot become valid controller data."""


def spec_options(path: Path) -> tuple[dict[str, Any], str]:
    """Return a spec file's options and short description.

    Accepts the role layout (``argument_specs: {main: {options}}``), a single other entry
    point, or a bare ``options`` mapping.
    """
    data = yaml.safe_load(path.read_text()) or {}
    if "argument_specs" in data:
        entries = data["argument_specs"]
        entry = entries.get("main") or (next(iter(entries.values())) if len(entries) == 1 else None)
        if entry is None:
            raise SpecError(f"{path}: several entry points and none is called main")
    else:
        entry = data
    return dict(entry.get("options") or {}), str(entry.get("short_description", ""))


def play_vars(playbook: Path) -> dict[str, Any]:
    """Variables the runbook's first play sets: the defaults it really applies."""
    plays = yaml.safe_load(playbook.read_text()) or []
    return dict(plays[0].get("vars") or {}) if plays else {}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v).strip() for v in value)
    return str(value or "").strip()


def _question_name(name: str, description: str) -> str:
    first = re.split(r"(?<=[a-z0-9)])[.;:] ", description, maxsplit=1)[0].rstrip(".")
    return first if 0 < len(first) <= 80 else name.replace("_", " ").capitalize()


def surveyable(option: dict[str, Any]) -> bool:
    """True when AWX can ask for this option in a survey."""
    kind = option.get("type", "str")
    if kind in SCALAR_TYPES or kind == "bool":
        return True
    return kind == "list" and bool(option.get("choices")) and option.get("elements", "str") == "str"


def question(name: str, option: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """One survey question for one surveyable spec option."""
    kind = option.get("type", "str")
    description = _text(option.get("description"))
    required = bool(option.get("required", False))
    item: dict[str, Any] = {
        "question_name": _question_name(name, description),
        "question_description": description,
        "variable": name,
        "required": required,
        "min": None,
        "max": None,
    }
    if kind == "bool":
        item.update(type="multiplechoice", choices=["true", "false"])
    elif kind == "list":
        item.update(type="multiselect", choices=[str(c) for c in option["choices"]])
    elif option.get("choices"):
        item.update(type="multiplechoice", choices=[str(c) for c in option["choices"]])
    else:
        item["type"] = "password" if option.get("no_log") else SCALAR_TYPES[kind]
        if item["type"] in ("text", "password"):
            item.update(min=1 if required else 0, max=TEXT_MAX)
    if not required and "default" in option and _applied(option["default"], defaults.get(name, _UNSET)):
        item["default"] = _survey_default(kind, option["default"])
    return item


_UNSET = object()


def _applied(spec_default: Any, play_value: Any) -> bool:
    """True when the play really applies the spec's default, so the survey may send it.

    A play value that is a template ("{{ aws_dr_region }}") or that differs from the spec's
    default means the spec only describes a computed default.
    """
    if play_value is _UNSET or (isinstance(play_value, str) and "{{" in play_value):
        return False
    return play_value == spec_default or str(play_value).lower() == str(spec_default).lower()


def _survey_default(kind: str, value: Any) -> Any:
    if kind == "bool":
        return "true" if value in (True, "true", "yes", "True") else "false"
    if kind in ("int", "float"):
        return value
    if kind == "list":
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def survey(runbook: str, exclude: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The survey of one runbook, and the options left to extra variables."""
    spec_path = SPEC_DIR / f"{runbook}.yml"
    options, short = spec_options(spec_path)
    defaults = play_vars(RUNBOOK_DIR / f"{runbook}.yml")
    questions, unsurveyable = [], []
    for name, option in options.items():
        if name in (exclude or []):
            continue
        if surveyable(option or {}):
            questions.append(question(name, option or {}, defaults))
        else:
            unsurveyable.append(name)
    spec = {
        "name": f"{runbook} inputs",
        "description": (
            f"Generated from playbooks/runbooks/specs/{runbook}.yml by scripts/gen_awx_surveys.py. {short}"
        ).strip(),
        "spec": questions,
    }
    return spec, unsurveyable


def _check_schedule(
    runbook: str, schedule: dict[str, Any], survey_spec: dict[str, Any], options: dict[str, Any]
) -> None:
    answered = set(schedule.get("extra_data") or {})
    unknown = answered - set(options)
    if unknown:
        raise SpecError(f"schedule {schedule['name']!r}: {sorted(unknown)} are not inputs of {runbook}")
    missing = [q["variable"] for q in survey_spec["spec"] if q["required"] and q["variable"] not in answered]
    questions = {q["variable"]: q for q in survey_spec["spec"]}
    for name, value in (schedule.get("extra_data") or {}).items():
        question = questions.get(name)
        if question is None:
            continue  # not a survey question: passed as an extra variable
        wrong = (
            (question["type"] == "multiplechoice" and value not in question["choices"])
            or (question["type"] in ("text", "password") and not isinstance(value, str))
            or (question["type"] == "integer" and type(value) is not int)
        )
        if wrong:
            choices = f", one of {question['choices']}" if "choices" in question else ""
            raise SpecError(
                f"schedule {schedule['name']!r}: {name}={value!r} does not answer the survey question "
                f"({question['type']}{choices})"
            )
    if missing:
        raise SpecError(
            f"schedule {schedule['name']!r} leaves required inputs of {runbook} unanswered: {missing}"
        )


def _by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for item in items:
        if item["name"] == name:
            return item["natural_key"]
    raise SpecError(f"awx/controller.yml has no entry named {name!r}")


def runbook_templates(
    controller: dict[str, Any], table: dict[str, Any], notes: list[str]
) -> list[dict[str, Any]]:
    """Job templates of the runbooks, with surveys and schedules."""
    defaults = table.get("defaults") or {}
    declared = dict(table.get("runbooks") or {})
    for spec_path in sorted(SPEC_DIR.glob("*.yml")):
        declared.setdefault(spec_path.stem, {})
    templates = []
    for runbook, declared_entry in sorted(declared.items()):
        entry = {**defaults, **(declared_entry or {})}
        playbook = RUNBOOK_DIR / f"{runbook}.yml"
        spec_path = SPEC_DIR / f"{runbook}.yml"
        if not playbook.exists() or not spec_path.exists():
            notes.append(
                f"{runbook}: no playbook or spec in playbooks/runbooks yet; left out of awx/import.json"
            )
            continue
        options, _short = spec_options(spec_path)
        survey_spec, unsurveyable = survey(runbook)
        for env in entry["environments"]:
            name = f"careops | {env} | Runbook {runbook}"
            natural_key = {"organization": ORG, "name": name, "type": "job_template"}
            schedules = []
            for schedule in (entry.get("schedules") or {}).get(env, []):
                _check_schedule(runbook, schedule, survey_spec, options)
                schedules.append(
                    {
                        "name": schedule["name"],
                        "description": schedule.get("description", ""),
                        "enabled": schedule.get("enabled", True),
                        "rrule": schedule["rrule"],
                        "extra_data": schedule.get("extra_data") or {},
                        "natural_key": {
                            "unified_job_template": natural_key,
                            "name": schedule["name"],
                            "type": "schedule",
                        },
                    }
                )
            templates.append(
                {
                    "name": name,
                    "description": _text(entry.get("description")) or f"Runbook {runbook}",
                    "job_type": "run",
                    "inventory": _by_name(controller["inventory"], f"careops {env}"),
                    "project": _by_name(controller["projects"], "careops"),
                    "playbook": f"playbooks/runbooks/{runbook}.yml",
                    "verbosity": 0,
                    "timeout": entry.get("timeout", 0),
                    "diff_mode": True,
                    "allow_simultaneous": False,
                    "survey_enabled": True,
                    # Options a survey cannot carry (lists, dicts) are passed as extra variables.
                    "ask_variables_on_launch": bool(unsurveyable),
                    "ask_job_type_on_launch": True,
                    "natural_key": natural_key,
                    "related": {
                        "credentials": [_by_name(controller["credentials"], f"careops AWS {env} operator")],
                        "notification_templates_error": [
                            _by_name(controller["notification_templates"], "careops failure alert")
                        ],
                        "survey_spec": survey_spec,
                        "schedules": schedules,
                    },
                }
            )
    return templates


def build() -> tuple[dict[str, Any], list[str]]:
    """The import document and notes on what was left out."""
    controller = yaml.safe_load(CONTROLLER.read_text())
    table = yaml.safe_load(RUNBOOKS.read_text()) or {}
    notes: list[str] = []
    document = copy.deepcopy(controller)
    written = []
    for template in document.get("job_templates") or []:
        if (ROOT / template["playbook"]).exists():
            written.append(template)
        else:
            notes.append(
                f"{template['name']!r}: {template['playbook']} is not in the repository yet; left out"
            )
    document["job_templates"] = written + runbook_templates(controller, table, notes)
    present = {t["name"] for t in document["job_templates"]}
    workflows = []
    for workflow in document.get("workflow_job_templates") or []:
        wanted = workflow.pop("careops_survey", None)
        missing = [
            n["unified_job_template"]["name"]
            for n in workflow.get("related", {}).get("workflow_nodes", [])
            if n.get("unified_job_template") and n["unified_job_template"]["name"] not in present
        ]
        if missing:
            notes.append(
                f"workflow {workflow['name']!r}: left out, it needs job templates "
                f"not generated yet: {sorted(set(missing))}"
            )
            continue
        if wanted:
            spec, _unsurveyable = survey(wanted["runbook"], wanted.get("exclude"))
            workflow["survey_enabled"] = True
            workflow.setdefault("related", {})["survey_spec"] = spec
        workflows.append(workflow)
    document["workflow_job_templates"] = workflows
    return document, notes


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when awx/import.json is not up to date")
    args = parser.parse_args(argv)
    try:
        document, notes = build()
    except (SpecError, KeyError, OSError, yaml.YAMLError) as error:
        print(f"gen_awx_surveys: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    text = render(document)
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(
                "awx/import.json is stale: a runbook spec, awx/controller.yml or awx/runbooks.yml changed. "
                "Run: python scripts/gen_awx_surveys.py",
                file=sys.stderr,
            )
            return 1
        print("awx/import.json is up to date")
        return 0
    OUTPUT.write_text(text)
    counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
