"""Write the audit's findings as findings.json, report.md, report.html, junit.xml (and ASFF).

Rendered here rather than with Ansible templates: on an estate of a few hundred instances the
findings number in the thousands, and Ansible's templating of that much data took several
times longer than reading the whole account. Everything is escaped for its format; the HTML
has no scripts and no external resources, so it can be archived as evidence.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

LEVELS = ("critical", "high", "medium", "low")


def _failing(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f["status"] == "FAIL"]


def _by_level(failing: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(level, [f for f in failing if f["severity"] == level]) for level in LEVELS]


def _by_control(failing: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for finding in failing:
        out.setdefault(finding["control_id"], []).append(finding)
    return dict(sorted(out.items()))


def _resource(finding: dict[str, Any]) -> str:
    name = finding.get("resource_name") or finding["resource_id"]
    return finding["resource_id"] if name == finding["resource_id"] else f"{finding['resource_id']} ({name})"


def _cell(text: str) -> str:
    """Markdown table cells cannot hold a bare pipe."""
    return text.replace("|", "\\|")


def markdown(result: dict[str, Any]) -> str:
    findings = result["findings"]
    failing = _failing(findings)
    counts = result["fail_counts"]
    lines = [
        f"# careops audit of account {result['account']}",
        "",
        f"- Generated: {result.get('generated_at', '')}",
        f"- Regions: {', '.join(result['regions'])}",
        f"- Findings: {len(findings)} ({len(failing)} failing)",
        "- Failing by severity: " + ", ".join(f"{level} {counts[level]}" for level in LEVELS),
        f"- Read calls: {result['api_calls']} in {result['duration_seconds']} s",
        "",
        "## Score per control family and environment",
        "",
        "| Family | Environment | Pass | Fail | Score |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['family']} | {r['environment']} | {r['pass']} | {r['fail']} | {r['score']}% |"
        for r in result["summary"]
    ]
    lines += ["", "## Failing resources", ""]
    if not failing:
        lines.append("None.")
    for level, group in _by_level(failing):
        if not group:
            continue
        lines += [
            f"### {level.capitalize()} ({len(group)})",
            "",
            "| Control | Resource | Region | Environment | Enforcement | Finding |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {f['control_id']} | `{_resource(f)}` | {f['region']} | {f['environment']} | "
            f"{f['enforcement']} | {_cell(f['message'])} |"
            for f in group
        ]
        lines.append("")
    lines += ["## Remediation per failing control", ""]
    for control_id, group in _by_control(failing).items():
        first = group[0]
        refs = (
            f"Prowler: {', '.join(first['prowler']) or 'none'}; CIS: {', '.join(first['cis']) or 'none'}; "
            f"{', '.join(first['privacy']) or 'no privacy article'}"
        )
        lines.append(
            f"- **{control_id}** {first['title']} ({len(group)} resource(s); {refs}): {first['remediation']}"
        )
    if result.get("errors"):
        lines += ["", "## Calls that failed (their controls are incomplete)", ""]
        lines += [f"- {e['region']} {e['service']}:{e['operation']}: {e['error']}" for e in result["errors"]]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; }
.critical { background: #f8d0d0; } .high { background: #fbe3c8; }
.medium { background: #fbf3c8; } .low { background: #eef3f8; }
.good { color: #176b2c; } .bad { color: #a11; font-weight: bold; }
"""


def html_report(result: dict[str, Any]) -> str:
    e: Callable[[Any], str] = lambda value: html.escape(str(value))  # noqa: E731 - local shorthand
    findings = result["findings"]
    failing = _failing(findings)
    counts = result["fail_counts"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>careops audit {e(result['account'])} {e(result.get('generated_at', ''))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>careops audit of account {e(result['account'])}</h1>",
        f"<p>Generated {e(result.get('generated_at', ''))} over {e(', '.join(result['regions']))}: "
        f"{len(findings)} findings, {len(failing)} failing ("
        + ", ".join(f"{level} {counts[level]}" for level in LEVELS)
        + f"). {result['api_calls']} read calls in {result['duration_seconds']} s.</p>",
        "<h2>Score per control family and environment</h2>",
        "<table><tr><th>Family</th><th>Environment</th><th>Pass</th><th>Fail</th><th>Score</th></tr>",
    ]
    for row in result["summary"]:
        mark = "good" if row["fail"] == 0 else "bad"
        out.append(
            f"<tr><td>{e(row['family'])}</td><td>{e(row['environment'])}</td>"
            f'<td class="num">{row["pass"]}</td><td class="num">{row["fail"]}</td>'
            f'<td class="num {mark}">{row["score"]}%</td></tr>'
        )
    out += ["</table>", "<h2>Failing resources</h2>"]
    if not failing:
        out.append('<p class="good">None.</p>')
    for level, group in _by_level(failing):
        if not group:
            continue
        out += [
            f"<h3>{level.capitalize()} ({len(group)})</h3>",
            "<table><tr><th>Control</th><th>Resource</th><th>Region</th><th>Environment</th>"
            "<th>Enforcement</th><th>Finding</th><th>Remediation</th></tr>",
        ]
        out += [
            f'<tr class="{level}"><td title="{e(f["title"])}">{e(f["control_id"])}</td>'
            f"<td><code>{e(_resource(f))}</code></td><td>{e(f['region'])}</td>"
            f"<td>{e(f['environment'])}</td><td>{e(f['enforcement'])}</td>"
            f"<td>{e(f['message'])}</td><td>{e(f['remediation'])}</td></tr>"
            for f in group
        ]
        out.append("</table>")
    if result.get("errors"):
        out.append("<h2>Calls that failed (their controls are incomplete)</h2><ul>")
        out += [
            f"<li>{e(x['region'])} {e(x['service'])}:{e(x['operation'])}: {e(x['error'])}</li>"
            for x in result["errors"]
        ]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def junit(result: dict[str, Any]) -> str:
    findings = result["findings"]
    errors = result.get("errors") or []
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="careops-audit" tests="{len(findings)}" '
        f'failures="{len(_failing(findings))}" errors="{len(errors)}">',
    ]
    families: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        families.setdefault(finding["family"], []).append(finding)
    for family, group in sorted(families.items()):
        out.append(
            f'  <testsuite name={quoteattr(family)} tests="{len(group)}" failures="{len(_failing(group))}">'
        )
        for f in group:
            case = (
                f"    <testcase classname={quoteattr(f['control_id'] + '.' + f['region'])} "
                f"name={quoteattr(f['control_id'] + ' ' + f['resource_id'])}"
            )
            if f["status"] == "FAIL":
                out.append(case + ">")
                out.append(
                    f"      <failure type={quoteattr(f['severity'])} message={quoteattr(f['message'])}>"
                    f"{escape(f['title'] + '. ' + f['remediation'])}</failure>"
                )
                out.append("    </testcase>")
            else:
                out.append(case + "/>")
        out.append("  </testsuite>")
    if errors:
        out.append(f'  <testsuite name="read-errors" tests="{len(errors)}" errors="{len(errors)}">')
        for x in errors:
            out.append(
                f"    <testcase classname={quoteattr('read.' + x['region'])} "
                f"name={quoteattr(x['service'] + ':' + x['operation'])}>"
                f"<error message={quoteattr(x['error'])}/></testcase>"
            )
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def asff(result: dict[str, Any]) -> str:
    """The findings in the AWS Security Finding Format, for securityhub:BatchImportFindings."""
    stamp = result.get("generated_at", "")
    account = result["account"]
    items = [
        {
            "SchemaVersion": "2018-10-08",
            "Id": f"{f['control_id']}/{f['region']}/{f['resource_id']}",
            "ProductArn": f"arn:aws:securityhub:{f['region']}:{account}:product/{account}/default",
            "GeneratorId": f"careops/{f['control_id']}",
            "AwsAccountId": account,
            "Types": [f"Software and Configuration Checks/careops/{f['family']}"],
            "CreatedAt": stamp,
            "UpdatedAt": stamp,
            "Severity": {"Label": f["severity"].upper()},
            "Title": f"{f['control_id']} {f['title']}",
            "Description": f["message"],
            "Remediation": {"Recommendation": {"Text": f["remediation"][:512]}},
            "Resources": [
                {"Type": "Other", "Id": f["resource_arn"] or f["resource_id"], "Region": f["region"]}
            ],
            "Compliance": {"Status": "PASSED" if f["status"] == "PASS" else "FAILED"},
            "RecordState": "ACTIVE",
        }
        for f in result["findings"]
    ]
    return json.dumps(items, indent=1) + "\n"


def write_all(folder: str, result: dict[str, Any], *, with_asff: bool = False) -> list[str]:
    """Write every report file into ``folder`` (created 0750); returns the paths written."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True, mode=0o750)
    files = {
        "findings.json": json.dumps(result["findings"], indent=1, default=str) + "\n",
        "report.md": markdown(result),
        "report.html": html_report(result),
        "junit.xml": junit(result),
    }
    if with_asff:
        files["securityhub-findings.json"] = asff(result)
    written = []
    for name, text in files.items():
        path = target / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o640)
        tmp.replace(path)
        written.append(str(path))
    return written
