from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.agent.monit import MonitFileError, MonitProcess, parse_monit, read_monit

REPO = Path(__file__).resolve().parents[3]


def test_sample_release_hello_monit_file_parses() -> None:
    parsed = read_monit(REPO / "examples/hello-release/jobs/hello/monit")
    assert parsed.processes == (
        MonitProcess(
            name="hello",
            pidfile="/var/vcap/sys/run/hello/hello.pid",
            start="/var/vcap/jobs/hello/bin/ctl start",
            stop="/var/vcap/jobs/hello/bin/ctl stop",
            group=("vcap",),
        ),
    )


def test_the_forms_real_releases_use() -> None:
    text = """
# a comment
set daemon 10
check process web with pidfile /var/vcap/sys/run/web/web.pid
  start program "/var/vcap/jobs/web/bin/ctl start" with timeout 60 seconds
  stop program = "/var/vcap/jobs/web/bin/ctl stop" as uid vcap and gid vcap with timeout 2 minutes
  group vcap
  depends on db, config_file   # trailing comment
  mode manual
  if failed port 8080 protocol http then restart
  if totalmem > 100 Mb for 5 cycles then alert
  if 5 restarts within 5 cycles then timeout
  if cpu > 90% then exec "/bin/report" as uid vcap else if succeeded then alert

check file config_file with path /var/vcap/jobs/web/config/web.yml
  if changed checksum then alert

check process db
  matching "postgres.*-D /var/vcap/store"
  start program "/bin/sh -c 'exec /var/vcap/jobs/db/bin/ctl start'" \\
    with timeout 5 seconds
  stop program "/var/vcap/jobs/db/bin/ctl stop"
  group vcap
  group database
"""
    parsed = parse_monit(text, source="web/monit")
    web, db = parsed.processes
    assert web == MonitProcess(
        name="web",
        pidfile="/var/vcap/sys/run/web/web.pid",
        start="/var/vcap/jobs/web/bin/ctl start",
        stop="/var/vcap/jobs/web/bin/ctl stop",
        group=("vcap",),
        depends_on=("db", "config_file"),
        start_timeout=60.0,
        stop_timeout=120.0,
        mode="manual",
        stop_uid="vcap",
        stop_gid="vcap",
    )
    assert db.matching == "postgres.*-D /var/vcap/store"
    assert db.start == "/bin/sh -c 'exec /var/vcap/jobs/db/bin/ctl start'"
    assert (db.start_timeout, db.stop_timeout, db.group) == (5.0, 30.0, ("vcap", "database"))
    assert parsed.other_services == ("config_file",)


def test_two_processes_on_one_line_and_statements_across_lines() -> None:
    parsed = parse_monit(
        'check process a with pidfile /a.pid start program "/a" check process b\n'
        "  with\n  pidfile\n  /b.pid\n"
    )
    assert [(p.name, p.pidfile, p.start) for p in parsed.processes] == [
        ("a", "/a.pid", "/a"),
        ("b", "/b.pid", None),
    ]


def test_every_problem_is_reported_with_file_and_line() -> None:
    text = """check process a
  with pidfile /a.pid
  start program /not/quoted
check process b
  stop program "/b stop" with timeout 5 cycles
check process c with pidfile /c.pid
  frobnicate now
check process a with pidfile /again.pid
"""
    with pytest.raises(MonitFileError) as caught:
        parse_monit(text, source="/var/vcap/jobs/x/monit")
    message = str(caught.value)
    assert message.startswith("Invalid monit file '/var/vcap/jobs/x/monit':")
    assert "line 3: expected a quoted command after 'start program'" in message
    assert "line 5: program timeouts in cycles are not supported" in message
    assert "line 7: unexpected 'frobnicate' in 'check process c'" in message
    assert "line 8: service 'a' is declared twice" in message


def test_a_process_needs_a_pidfile_and_if_needs_then() -> None:
    with pytest.raises(MonitFileError, match="line 1: 'check process x' needs one of"):
        parse_monit('check process x\n  start program "/x"\n')
    with pytest.raises(MonitFileError, match="line 2: 'if' without 'then'"):
        parse_monit("check process x with pidfile /p\n  if failed port 80\n")
    with pytest.raises(MonitFileError, match="found the end of the file"):
        parse_monit("check process")


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(MonitFileError, match=r"monit file '.*missing'.*No such file"):
        read_monit(tmp_path / "missing")
