"""bosh env/tasks/task/cancel-task/locks/events/event against a real director over TLS."""

from __future__ import annotations

import json
import threading
import time

from bosh_core.director.events import EventLog
from tests.cli.conftest import RunBosh
from tests.core.client.conftest import ADMIN, Served, served  # noqa: F401 (fixture)


def env_args(served: Served) -> list[str]:  # noqa: F811
    return ["-e", served.url, "--ca-cert", str(served.ca), "--client", ADMIN[0],
            "--client-secret", ADMIN[1], "--tty"]  # fmt: skip


def test_env_prints_the_reference_table(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    run = bosh("env", *env_args(served))
    assert run.exit_code == 0, run.stderr
    assert f"Using environment '{served.url}' as client 'admin'" in run.stdout
    assert "Name      test-director" in run.stdout
    assert "Features  config_server: disabled  \n          local_dns: disabled" in run.stdout
    assert "User      admin" in run.stdout
    assert run.stdout.rstrip().endswith("Succeeded")


def test_task_follows_and_renders_events(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    task_id, output = served.add_task(state="processing")
    log = output.event_log()

    def worker() -> None:
        with log.stage("Preparing deployment", total=1).track("Rendering templates"):
            time.sleep(0.3)
        served.set_state(task_id, "done")

    thread = threading.Thread(target=worker)
    thread.start()
    run = bosh("task", str(task_id), *env_args(served))
    thread.join()
    assert run.exit_code == 0, run.stderr
    assert f"Task {task_id}\n" in run.stdout
    assert "| Preparing deployment: Rendering templates (00:00:0" in run.stdout
    assert f"Task {task_id} Duration 00:00:0" in run.stdout
    assert f"\nTask {task_id} done\n" in run.stdout


def test_failed_task_exits_1(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    task_id, output = served.add_task(state="error")
    output.event_log().log_error(RuntimeError("boom"))
    run = bosh("task", str(task_id), *env_args(served))
    assert run.exit_code == 1
    assert f"Expected task '{task_id}' to succeed but state is 'error'" in run.stderr


def test_task_result_and_tasks_json(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    task_id, output = served.add_task(result="ok")
    output.write_result("the-result\n")
    assert "the-result" in bosh("task", str(task_id), "--result", *env_args(served)).stdout
    run = bosh("tasks", "--recent", *env_args(served), "--json")
    table = json.loads(run.stdout)["Tables"][0]
    assert table["Rows"][0]["id"] == str(task_id) and table["Rows"][0]["state"] == "done"
    queued, _ = served.add_task(state="queued")
    assert bosh("cancel-task", str(queued), *env_args(served)).exit_code == 0
    assert f"{queued}\tcancelling" in bosh("ts", *env_args(served)[:-1]).stdout


def test_events_event_and_locks(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    record = EventLog(served.database).record(
        user="admin", action="update", object_type="deployment", object_name="cf"
    )
    assert record is not None
    run = bosh("events", "--object-type", "deployment", *env_args(served))
    assert "update  deployment   cf" in run.stdout
    one = bosh("event", str(record.id), *env_args(served))
    assert "Object Name  cf" in one.stdout
    assert "0 locks" in bosh("locks", *env_args(served)).stdout


def test_wrong_password_says_log_in(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    args = env_args(served)
    args[args.index(ADMIN[1])] = "wrong"
    run = bosh("tasks", *args)
    assert run.exit_code == 1 and "Not logged in" in run.stderr


def test_cancel_task_finds_the_task_first(bosh: RunBosh, served: Served) -> None:  # noqa: F811
    missing = bosh("cancel-task", "999", *env_args(served))
    assert missing.exit_code == 1
    assert missing.stderr.startswith(
        "Finding task '999': Director responded with non-successful status code '404'"
    )
    done, _ = served.add_task(state="done")
    refused = bosh("ct", str(done), *env_args(served))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Cancelling task '{done}': ")


def test_short_options_take_their_value_after_equals(
    bosh: RunBosh,
    served: Served,  # noqa: F811
) -> None:
    for _ in range(3):
        served.add_task()
    served.add_task(deployment="other")
    queued_vms, _ = served.add_task(state="queued", task_type="vms")
    queued_other, _ = served.add_task(state="queued", task_type="update_deployment")
    args = env_args(served)[:-1]  # tab-separated rows
    assert len(bosh("tasks", "-r=2", *args).stdout.splitlines()) == 2
    assert len(bosh("tasks", "-r2", *args).stdout.splitlines()) == 2
    assert len(bosh("tasks", "-r", *args).stdout.splitlines()) == 5  # not the vms task
    assert len(bosh("tasks", "-ar", *args).stdout.splitlines()) == 6
    # A global letter joins tasks' own, as in the reference: -n global, -a and -r of tasks.
    for letters, rows in (("-nr", 5), ("-anr", 6)):
        run = bosh("tasks", letters, *args)
        assert run.exit_code == 0 and len(run.stdout.splitlines()) == rows, run.stderr
    run = bosh("tasks", "-r=9", "-nd", "other", *args)
    assert run.exit_code == 0 and len(run.stdout.splitlines()) == 1, run.stderr
    assert len(bosh("tasks", "-r=9", "-d=other", *args).stdout.splitlines()) == 1
    extra = bosh("tasks", "-r", "2", *args)  # the reference takes a value only after `=`
    assert extra.exit_code == 1 and "unexpected extra argument (2)" in extra.stderr
    run = bosh("cancel-tasks", "-t=vms", "-s=queued", *args)
    assert run.exit_code == 0, run.stderr
    listed = bosh("tasks", "-a", "-r", *args).stdout.splitlines()
    states = dict(line.replace(" ", "").split("\t")[:2] for line in listed)
    assert (states[str(queued_vms)], states[str(queued_other)]) == ("cancelling", "queued")
