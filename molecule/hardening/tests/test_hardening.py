"""Checks every control of roles/hardening on the molecule instance.

The instance is a container: it shares the host's kernel, so for kernel parameters, module
blacklists, auditd, chrony and AIDE the tests check the written configuration, and the live
state only where the host owns its kernel (HRD-KRN-01, HRD-AUD-01, HRD-TIME-01, HRD-FIM-01).
"""

from __future__ import annotations

import pytest

SYSCTL = "/etc/sysctl.d/60-careops-hardening.conf"


@pytest.fixture(scope="module")
def in_container(host) -> bool:
    return host.run("systemd-detect-virt --container").rc == 0


@pytest.fixture(scope="module")
def sshd(host) -> dict[str, str]:
    effective = host.check_output("/usr/sbin/sshd -T")
    return dict(line.split(" ", 1) for line in effective.splitlines() if " " in line)


def settings(text: str) -> dict[str, str]:
    """Key/value lines of a configuration file, comments and blanks dropped."""
    pairs = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            key, _, value = line.replace("=", " ", 1).partition(" ")
            pairs[key.strip()] = value.strip()
    return pairs


def pam_module(line: str) -> str:
    """The module of a PAM line, whether its control is a word or a [bracketed] list."""
    rest = line.split("]", 1)[1] if "[" in line.split()[1] else " ".join(line.split()[2:])
    return rest.split()[0]


# HRD-KRN-01 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("net.ipv4.ip_forward", "0"),
        ("net.ipv4.conf.all.accept_redirects", "0"),
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.all.accept_source_route", "0"),
        ("net.ipv4.conf.all.rp_filter", "1"),
        ("net.ipv4.tcp_syncookies", "1"),
        ("net.ipv6.conf.all.accept_redirects", "0"),
        ("kernel.randomize_va_space", "2"),
        ("kernel.kptr_restrict", "2"),
        ("kernel.dmesg_restrict", "1"),
        ("fs.protected_symlinks", "1"),
        ("fs.suid_dumpable", "0"),
    ],
)
def test_krn01_sysctl_written_and_live_where_effective(host, in_container, key, value) -> None:
    assert settings(host.file(SYSCTL).content_string)[key] == value
    if not in_container:
        assert host.sysctl(key) == int(value)


# HRD-KRN-02 ---------------------------------------------------------------------------------
def test_krn02_core_dumps_off(host) -> None:
    limits = host.file("/etc/security/limits.d/60-careops-coredumps.conf").content_string
    assert "hard    core    0" in limits
    coredump = settings(host.file("/etc/systemd/coredump.conf.d/60-careops.conf").content_string)
    assert coredump["Storage"] == "none"
    assert host.check_output("bash -lc 'ulimit -c'") == "0"


# HRD-KRN-03 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "module", ["cramfs", "udf", "dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core"]
)
def test_krn03_module_not_loadable(host, module) -> None:
    text = host.file("/etc/modprobe.d/60-careops-hardening.conf").content_string
    assert f"install {module} /bin/true" in text
    assert f"blacklist {module}" in text


# HRD-SSH-01 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("permitrootlogin", "no"),
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("x11forwarding", "no"),
        ("allowtcpforwarding", "no"),
        ("allowagentforwarding", "no"),
        ("maxauthtries", "3"),
        ("clientaliveinterval", "300"),
        ("clientalivecountmax", "2"),
        ("loglevel", "VERBOSE"),
        ("compression", "no"),
        ("banner", "/etc/issue.net"),
    ],
)
def test_ssh01_effective_sshd_settings(sshd, key, value) -> None:
    assert sshd[key] == value


def test_ssh01_only_modern_algorithms(sshd) -> None:
    assert not [c for c in sshd["ciphers"].split(",") if "cbc" in c or "3des" in c]
    assert not [m for m in sshd["macs"].split(",") if "sha1" in m or "md5" in m]
    assert not [k for k in sshd["kexalgorithms"].split(",") if "sha1" in k or "group14" in k]


def test_ssh01_daemon_running_with_private_config(host) -> None:
    assert host.service("ssh").is_running
    config = host.file("/etc/ssh/sshd_config")
    assert config.mode == 0o600
    assert host.run("/usr/sbin/sshd -t").rc == 0


# HRD-SSH-02 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/etc/issue", "/etc/issue.net"])
def test_ssh02_legal_banner(host, path) -> None:
    text = host.file(path).content_string.lower()
    for word in ("authorized", "monitored", "prohibited", "prosecution"):
        assert word in text


# HRD-AUD-01 ---------------------------------------------------------------------------------
def test_aud01_rules_cover_required_events(host) -> None:
    rules = host.file("/etc/audit/rules.d/60-careops-hardening.rules").content_string
    for key in ("identity", "scope", "logins", "session", "time-change", "perm_mod", "privileged"):
        assert f"-k {key}" in rules
    assert "-w /etc/sudoers -p wa" in rules
    assert "-F path=/usr/bin/sudo -F perm=x" in rules


def test_aud01_auditd_enabled_and_running_where_effective(host, in_container) -> None:
    assert host.package("auditd").is_installed
    assert host.service("auditd").is_enabled
    if not in_container:
        assert host.service("auditd").is_running
        assert "-k identity" in host.check_output("auditctl -l")


# HRD-AUTH-01 --------------------------------------------------------------------------------
def test_auth01_login_defs(host) -> None:
    defs = settings(host.file("/etc/login.defs").content_string)
    expected = {
        "PASS_MAX_DAYS": "365",
        "PASS_MIN_DAYS": "1",
        "UMASK": "027",
        "ENCRYPT_METHOD": "YESCRYPT",
        "SHA_CRYPT_MIN_ROUNDS": "65536",
    }
    assert {key: defs.get(key) for key in expected} == expected


# HRD-AUTH-02 --------------------------------------------------------------------------------
def test_auth02_password_quality_in_pam(host) -> None:
    quality = settings(host.file("/etc/security/pwquality.conf").content_string)
    assert quality["minlen"] == "14"
    assert "pam_pwquality.so" in host.file("/etc/pam.d/common-password").content_string


# HRD-AUTH-03 (switched on by converge.yml) --------------------------------------------------
def test_auth03_faillock_around_pam_unix(host) -> None:
    assert settings(host.file("/etc/security/faillock.conf").content_string)["deny"] == "5"
    stack = host.file("/etc/pam.d/common-auth").content_string.splitlines()
    auth = [line for line in stack if line.startswith("auth")]
    modules = [pam_module(line) for line in auth]
    assert modules.index("pam_faillock.so") < modules.index("pam_unix.so")
    assert "authfail" in auth[modules.index("pam_unix.so") + 1]


# HRD-AUTH-04 --------------------------------------------------------------------------------
def test_auth04_login_shell_timeout_and_umask(host) -> None:
    out = host.check_output("bash -lc 'echo $TMOUT; umask; readonly -p | grep -c TMOUT'").split()
    assert out == ["900", "0027", "1"]


# HRD-AUTH-05 --------------------------------------------------------------------------------
def test_auth05_private_tmpdir_per_session(host) -> None:
    assert host.package("libpam-tmpdir").is_installed
    assert "pam_tmpdir.so" in host.file("/etc/pam.d/common-session").content_string


# HRD-FILE-01 --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "group", "mode"),
    [
        ("/etc/passwd", "root", 0o644),
        ("/etc/shadow", "shadow", 0o640),
        ("/etc/gshadow", "shadow", 0o640),
        ("/etc/sudoers", "root", 0o440),
        ("/etc/sudoers.d", "root", 0o750),
        ("/etc/ssh/sshd_config", "root", 0o600),
    ],
)
def test_file01_modes(host, path, group, mode) -> None:
    f = host.file(path)
    assert f.user == "root"
    assert f.group == group
    assert f.mode == mode


# HRD-SVC-01 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("package", ["telnet", "rsh-client", "talk", "nis", "xinetd", "avahi-daemon"])
def test_svc01_legacy_services_absent(host, package) -> None:
    assert not host.package(package).is_installed


# HRD-TIME-01 --------------------------------------------------------------------------------
def test_time01_chrony_uses_amazon_time_sync(host, in_container) -> None:
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "server 169.254.169.123 prefer iburst" in conf
    assert "pool " not in conf
    assert host.service("chrony").is_enabled
    if not in_container:
        assert host.service("chrony").is_running


# HRD-LOG-01 ---------------------------------------------------------------------------------
def test_log01_journal_persistent(host) -> None:
    conf = settings(host.file("/etc/systemd/journald.conf.d/60-careops-hardening.conf").content_string)
    assert conf["Storage"] == "persistent"
    assert host.file("/var/log/journal").is_directory


# HRD-UPD-01 ---------------------------------------------------------------------------------
def test_upd01_security_updates_daily(host) -> None:
    assert host.package("unattended-upgrades").is_installed
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    origins = [line for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern::")]
    assert origins
    assert all("Debian-Security" in line for line in origins)
    assert host.service("apt-daily-upgrade.timer").is_enabled


# HRD-FIM-01 ---------------------------------------------------------------------------------
def test_fim01_aide_installed_and_baseline_where_effective(host, in_container) -> None:
    assert host.package("aide").is_installed
    assert host.file("/etc/aide/aide.conf").exists
    if not in_container:
        assert host.file("/var/lib/aide/aide.db").exists or host.file("/var/lib/aide/aide.db.new").exists
