"""A throwaway OpenLDAP directory: Debian's slapd run as a child process on a free loopback port, its
database built with slapadd in a temporary directory (.ci/install-identity.sh installs slapd)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.procs import free_port
from tests.interop.auth import make_tls
from tests.support.wait import poll

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SUFFIX = "dc=example,dc=org"
SERVICE_DN = f"cn=dockyard,{SUFFIX}"
SERVICE_PASSWORD = "service-secret-0"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# Disabled accounts carry `description: disabled`, which the user filter leaves out.
USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username})(!(description=disabled)))"


@dataclass(frozen=True)
class User:
    uid: str
    password: str
    rdn: str
    groups: tuple[str, ...] = ()
    disabled: bool = False

    @property
    def dn(self) -> str:
        return f"{self.rdn},{PEOPLE}"


USERS = {
    user.uid: user
    for user in (
        User("alice", "alice-ldap-1", "uid=alice", ("developers", "maintainers")),
        User("bob", "bob-ldap-2", "uid=bob", ("readers",)),
        User("carol", "carol-ldap-3", "uid=carol"),  # in no group
        User("dave", "dave-ldap-4", "uid=dave", ("developers",), disabled=True),
        # Filter metacharacters in the name and in the DN, which the group filter must escape too.
        User("star(*)\\x", "star-ldap-5", "cn=Star (*) Person", ("stars",)),
        # Also in the htpasswd file, which is asked first: this password must not work.
        User("shadow", "shadow-ldap-6", "uid=shadow", ("developers",)),
    )
}


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: dockyard\nuserPassword: {SERVICE_PASSWORD}\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for user in USERS.values():
        lines = [f"dn: {user.dn}", "objectClass: inetOrgPerson", f"uid: {user.uid}", f"sn: {user.uid}"]
        lines += [f"cn: {user.rdn.partition('=')[2]}", f"userPassword: {user.password}"]
        lines += ["description: disabled"] if user.disabled else []
        entries.append("\n".join(lines) + "\n")
    for group in sorted({group for user in USERS.values() for group in user.groups}):
        members = [f"member: {user.dn}" for user in USERS.values() if group in user.groups]
        entries.append("\n".join([f"dn: cn={group},{GROUPS}", "objectClass: groupOfNames", f"cn: {group}", *members]))
    return "\n".join(entry.rstrip("\n") + "\n" for entry in entries)


def _config(directory: Path) -> str:
    schemas = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in ("core", "cosine", "inetorgperson"))
    return f"""{schemas}
TLSCACertificateFile {directory}/tls/ca/ca.crt
TLSCertificateFile {directory}/tls/server/server.crt
TLSCertificateKeyFile {directory}/tls/server/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {directory}/slapd.pid
database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
directory {directory}/db
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by anonymous auth by * none
"""


class Directory:
    """slapd serving the test users on 127.0.0.1, at `url` (plain, StartTLS offered) and `tls_url`
    (ldaps://) with a certificate of a CA of its own (`ca_file`); stop() and start() take it down
    and up again."""

    def __init__(self, directory: Path):
        self._directory = directory
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls_url = f"ldaps://127.0.0.1:{free_port()}"
        self.ca_file = make_tls(directory / "tls").ca_cert
        self._proc: subprocess.Popen[bytes] | None = None
        (directory / "db").mkdir(parents=True)
        (directory / "slapd.conf").write_text(_config(directory))
        (directory / "users.ldif").write_text(_ldif())
        subprocess.run(
            [SLAPADD, "-f", directory / "slapd.conf", "-l", directory / "users.ldif"],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> Directory:
        log = (self._directory / "slapd.log").open("ab")
        self._proc = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", self._directory / "slapd.conf", "-h", f"{self.url} {self.tls_url}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if poll(self._answers, 30) is None:
            self.stop()
            raise RuntimeError(f"slapd did not listen on {self.url}: {(self._directory / 'slapd.log').read_text()}")
        return self

    def _answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"slapd exited: {(self._directory / 'slapd.log').read_text()}")
        for port in (self.port, int(self.tls_url.rpartition(":")[2])):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
        return True

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
        self._proc = None

    def settings(self, **overrides: object) -> dict[str, object]:
        """The `auth.ldap` section for this directory."""
        return {
            "url": self.url,
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "user_base": PEOPLE,
            "user_filter": USER_FILTER,
            "group_base": GROUPS,
            "group_filter": "(&(objectClass=groupOfNames)(member={dn}))",
            "cache_seconds": 60,
            **overrides,
        }
