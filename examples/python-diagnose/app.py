"""`db-diagnose`: the diagnosis of runbook scenario 1 (database failure), in Python.

The runbook's three diagnosis commands, read-only:

    psql "$SUPABASE_DATABASE_URL" -c "SELECT 1"                     # step 1
    (each backend: running, healthy, GET /health)                    # step 2
    docker logs toolboxai-backend1 | grep -i "database\\|connection" # step 3

One step each; the findings go in one table and in facts. Exit 0 when the
database answers and every backend is healthy (matching log lines are
evidence, not a fault); otherwise a failure naming the first failing step,
with a hint pointing at the runbook's next move. Changes nothing.
Built with drhost_sdk (`sdk/python/build.sh`).
"""

import re
import time

from drhost_sdk import (
    Access, Failed, ManifestBuilder, NotFound, Outcome, Params, Table, Timeout, Unavailable, containers_named,
    docker, export_plugin, fail, http_get, info, manifest, outcome, postgres,
    published_url, step, table, warn,
)

# What the diagnosis reports instead of stopping: the service is at fault,
# not the plugin or its grants (those still end the run at once).
SERVICE_FAULTS = (Unavailable, Timeout, NotFound, Failed)


def describe() -> ManifestBuilder:
    return (
        manifest(
            "db-diagnose", "0.1.0",
            "Runbook scenario 1 diagnosis (database failure): SELECT 1 on the database, each backend's "
            "health, and the backends' logs grepped for database errors; changes nothing",
        )
        .param("database", "postgres target label to test", "primary")
        .param("containers", "glob over the backend containers", "toolboxai-backend*")
        .param("health-path", "HTTP path probed on each backend's published ports", "/health")
        .param("grep", "what to look for in the logs: a regular expression, case-insensitive", "database|connection")
        .param("log-lines", "newest log lines read per backend", "200")
        .need("postgres", "primary", Access.READ, "tests the database connection with SELECT 1")
        .need("docker", "toolboxai-backend*", Access.READ, "inspects the backends and reads their logs")
        .need("http", "127.0.0.1:*", Access.READ, "probes each backend's health endpoint")
    )


class Diagnosis:
    """What the steps found: one table row per check, facts, and the problems
    (each with the step that found it)."""

    def __init__(self) -> None:
        self.findings = table("diagnosis", ["OK", "CHECK", "TARGET", "STATE", "DETAIL"])
        self.facts: dict[str, object] = {}
        self.problems: list[tuple[str, str]] = []

    def test_database(self, label: str) -> bool:
        """Step 1: SELECT 1 (and the number of sessions); whether it answered."""
        with step(f"test database connection ({label})") as s:
            try:
                started = time.monotonic()
                db = postgres.Database.open(label)
                db.query("SELECT 1", [])
                ms = round((time.monotonic() - started) * 1000)
                sessions = db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()", [])
            except SERVICE_FAULTS as e:
                s.note(str(e))
                s.fail()
                self.findings.row("NO", "database", label, e.kind, e.message[:160])
                self.facts["database"] = e.kind
                self.problems.append((f"database {label} {e}", s.name))
                return False
            count = sessions.rows[0][0] or "?"
            s.note(f"SELECT 1 answered in {ms} ms; {count} session(s)")
            self.findings.row("yes", "database", label, "answers SELECT 1", f"{ms} ms, {count} session(s)")
            self.facts.update({"database": "reachable", "database-ms": ms, "database-sessions": count})
            return True

    def check_backends(self, glob: str, path: str) -> list[str]:
        """Step 2: each backend's state, Docker health and health URLs; their names."""
        with step(f"check backends {glob}") as s:
            backends, unhealthy = [], []
            for c in docker.list_containers(containers_named(glob)):
                healthy, detail = backend_health(docker.inspect_container(c.name), path)
                backends.append(c.name)
                self.findings.row("yes" if healthy else "NO", "backend", c.name,
                                  "healthy" if healthy else "unhealthy", detail)
                if not healthy:
                    unhealthy.append(c.name)
            s.note(f"{len(backends)} checked, {len(unhealthy)} unhealthy")
            if not backends:
                raise fail(f"no container matches `{glob}` (or none is granted)",
                           hint="check --param containers and the [[plugins.db-diagnose.docker]] grant")
            self.facts.update({"backends": len(backends), "backends-unhealthy": len(unhealthy)})
            if unhealthy:
                s.fail()
                self.problems.append(
                    (f"{len(unhealthy)} of {len(backends)} backends unhealthy ({', '.join(unhealthy)})", s.name))
            return backends

    def scan_logs(self, backends: list[str], grep: str, params: Params) -> Table:
        """Step 3: the backends' newest log lines matching `grep`, as a table."""
        matches = table(f"backend log lines matching /{grep}/i (newest last)", ["CONTAINER", "LINE"])
        with step(f"scan backend logs for {grep}") as s:
            # An invalid pattern fails this step with Python's own message.
            pattern = re.compile(grep, re.IGNORECASE)
            lines = params.integer("log-lines", minimum=1)
            total = 0
            for name in backends:
                log = docker.container_logs(name, lines, None, None)
                found = [line for line in log.lines if pattern.search(line)]
                total += len(found)
                for line in found[-5:]:
                    matches.row(name, line[:200])
                if found:
                    warn(f"{name}: {len(found)} log line(s) match /{grep}/i")
            s.note(f"{total} matching line(s) in the newest {lines} of {len(backends)} backend(s)")
        self.facts["log-matches"] = total
        return matches


def backend_health(container: docker.ContainerInfo, path: str) -> tuple[bool, str]:
    """Running, Docker health not unhealthy, and 200 from `path` on every published TCP port."""
    if not container.running:
        return False, f"{container.state} (exit code {container.exit_code})"
    healthy = container.health != "unhealthy"
    seen = [f"health {container.health or '-'}"]
    for port in container.ports:
        url = published_url(container, port.container_port, path)
        if url is None or not port.container_port.endswith("/tcp"):
            continue
        try:
            status = http_get(url, 3000).status
            healthy &= status == 200
            seen.append(f"{url} {status}")
        except SERVICE_FAULTS as e:
            healthy = False
            seen.append(f"{url} {e.kind}")
    return healthy, ", ".join(seen)


def run(params: Params) -> Outcome:
    label = params.get("database")
    diagnosis = Diagnosis()
    database_ok = diagnosis.test_database(label)
    backends = diagnosis.check_backends(params.get("containers"), params.get("health-path"))
    matches = diagnosis.scan_logs(backends, params.get("grep"), params)

    if diagnosis.problems:
        hint = ("the database answers: run service-recover for the unhealthy backends (scenario 4)" if database_ok
                else "runbook scenario 1: wait with db-outage (maintenance page) or restore with db-restore; "
                     "the log lines show what the backends saw")
        failure = fail("; ".join(p for p, _ in diagnosis.problems), step=diagnosis.problems[0][1], hint=hint)
        for name, value in diagnosis.facts.items():
            failure.fact(name, value)
        raise failure.table(diagnosis.findings).table(matches)
    info(f"database {label} and {len(backends)} backend(s) healthy")
    return (outcome(f"database {label} answers SELECT 1 in {diagnosis.facts['database-ms']} ms; "
                    f"{len(backends)} backend(s) healthy; {diagnosis.facts['log-matches']} log line(s) match",
                    diagnosis.facts)
            .table(diagnosis.findings).table(matches))


WitWorld = export_plugin(describe, run)
