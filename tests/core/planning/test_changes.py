"""Change detection: the reference's change kinds and the action they lead to."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from bosh_core.planning.changes import (
    ActualInstance,
    ChangeKind,
    DesiredInstance,
    DesiredState,
    DiskSpec,
    InstanceAction,
    InstanceSpec,
    Requests,
    VmFacts,
    plan_changes,
)

SPEC = InstanceSpec(
    stemcell_name="bosh-stemcell",
    stemcell_version="1.1",
    cloud_properties={"instance_type": "small"},
    env={"bosh": {"password": "x"}},
    networks={"default": {"ip": "10.0.0.10", "dns_record_name": "a.b"}},
    packages={"app": {"name": "app", "version": "1", "sha1": "s", "blobstore_id": "b", "x": 1}},
    configuration_hash="c1",
    job={"name": "web", "templates": [{"name": "b"}, {"name": "a"}]},
    persistent_disks=(DiskSpec("", 1024),),
    dns_records=("web-0",),
    tags={"team": "x"},
)
CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _actual(spec: InstanceSpec = SPEC, **kwargs: object) -> ActualInstance:
    defaults: dict[str, object] = {
        "spec": spec,
        "vm": VmFacts(created_at=CREATED, env=spec.env),
        "job_state": "running",
        "persistent_disks": spec.persistent_disks,
    }
    defaults.update(kwargs)
    return ActualInstance(**defaults)  # type: ignore[arg-type]


def _plan(want: InstanceSpec = SPEC, actual: ActualInstance | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    state = kwargs.pop("state", DesiredState.STARTED)
    return plan_changes(
        DesiredInstance(spec=want, state=state),  # type: ignore[arg-type]
        actual if actual is not None else _actual(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_nothing_changed_means_no_action() -> None:
    result = _plan()
    assert (result.changes, result.action) == ((), InstanceAction.NONE)


def test_order_of_job_templates_dns_record_name_and_extra_package_keys_do_not_count() -> None:
    want = attrs.evolve(
        SPEC,
        job={"name": "web", "templates": [{"name": "a"}, {"name": "b"}], "ignored": 1},
        networks={"default": {"ip": "10.0.0.10", "dns_record_name": "other"}},
        packages={"app": {"name": "app", "version": "1", "sha1": "s", "blobstore_id": "b"}},
    )
    assert _plan(want).action is InstanceAction.NONE


@pytest.mark.parametrize(
    ("change", "kind", "action"),
    [
        ({"dns_records": ("web-0", "web-0-new")}, ChangeKind.DNS, InstanceAction.LIGHT_UPDATE),
        ({"tags": {"team": "y"}}, ChangeKind.TAGS, InstanceAction.LIGHT_UPDATE),
        ({"configuration_hash": "c2"}, ChangeKind.CONFIGURATION, InstanceAction.RESTART),
        ({"packages": {}}, ChangeKind.PACKAGES, InstanceAction.RESTART),
        ({"job": {"name": "api", "templates": []}}, ChangeKind.JOB, InstanceAction.RESTART),
        (
            {"persistent_disks": (DiskSpec("", 2048),)},
            ChangeKind.PERSISTENT_DISK,
            InstanceAction.RESTART,
        ),
        (
            {"cloud_properties": {"instance_type": "large"}},
            ChangeKind.CLOUD_PROPERTIES,
            InstanceAction.RECREATE,
        ),
        ({"stemcell_version": "1.2"}, ChangeKind.STEMCELL, InstanceAction.RECREATE),
        ({"env": {"bosh": {"password": "y"}}}, ChangeKind.ENV, InstanceAction.RECREATE),
        (
            {"networks": {"default": {"ip": "10.0.0.11"}}},
            ChangeKind.NETWORK,
            InstanceAction.RECREATE,
        ),
    ],
)
def test_each_kind_of_change_and_its_action(
    change: dict[str, object], kind: ChangeKind, action: InstanceAction
) -> None:
    result = _plan(attrs.evolve(SPEC, **change))
    assert result.kinds == {kind}
    assert result.action is action
    assert "FROM" in result.changes[0].reason


def test_light_changes_ride_along_with_a_restart() -> None:
    result = _plan(attrs.evolve(SPEC, tags={"team": "y"}, configuration_hash="c2"))
    assert [c.kind for c in result.changes] == [ChangeKind.CONFIGURATION, ChangeKind.TAGS]
    assert result.action is InstanceAction.RESTART


def test_dirty_restart_and_state() -> None:
    assert _plan(actual=_actual(update_completed=False)).kinds == {ChangeKind.DIRTY}
    assert _plan(state=DesiredState.RESTART).kinds == {ChangeKind.RESTART}
    failing = _plan(actual=_actual(job_state="failing"))
    assert failing.kinds == {ChangeKind.STATE} and failing.action is InstanceAction.RESTART
    stopping = _plan(state=DesiredState.STOPPED)
    assert stopping.kinds == {ChangeKind.STATE}
    assert (
        _plan(state=DesiredState.STOPPED, actual=_actual(job_state="stopped")).action
        is InstanceAction.NONE
    )


def test_detach_deletes_the_vm_and_keeps_the_disks() -> None:
    result = _plan(
        state=DesiredState.DETACHED, actual=_actual(job_state="stopped", state="stopped")
    )
    assert result.kinds == {ChangeKind.STATE} and result.action is InstanceAction.DETACH
    already = _plan(
        state=DesiredState.DETACHED, actual=_actual(state="detached", vm=None, job_state=None)
    )
    assert already.action is InstanceAction.NONE


def test_recreate_requests() -> None:
    assert _plan(requests=Requests(recreate=True)).action is InstanceAction.RECREATE
    assert _plan(state=DesiredState.RECREATE).kinds == {ChangeKind.RECREATE}
    newer = Requests(recreate=True, recreate_vms_created_before=CREATED - dt.timedelta(days=1))
    assert _plan(requests=newer).action is InstanceAction.NONE
    older = Requests(recreate=True, recreate_vms_created_before=CREATED + dt.timedelta(days=1))
    assert _plan(requests=older).kinds == {ChangeKind.RECREATE}
    dirty = _plan(requests=newer, actual=_actual(update_completed=False))
    assert dirty.kinds == {ChangeKind.DIRTY, ChangeKind.RECREATE}


def test_unresponsive_agent_under_fix_recreates() -> None:
    result = _plan(actual=_actual(job_state="unresponsive"))
    assert result.kinds == {ChangeKind.RECREATE, ChangeKind.STATE}
    assert result.action is InstanceAction.RECREATE


def test_recreate_persistent_disks() -> None:
    result = _plan(requests=Requests(recreate_persistent_disks=True))
    assert result.kinds == {ChangeKind.RECREATE_PERSISTENT_DISKS, ChangeKind.PERSISTENT_DISK}
    assert result.action is InstanceAction.RESTART


def test_new_and_obsolete_instances() -> None:
    new = plan_changes(DesiredInstance(spec=SPEC), None)
    assert new.action is InstanceAction.CREATE
    assert {ChangeKind.NETWORK, ChangeKind.PACKAGES, ChangeKind.JOB, ChangeKind.STATE} <= new.kinds
    assert ChangeKind.STEMCELL not in new.kinds  # nothing to compare with
    obsolete = plan_changes(None, _actual())
    assert obsolete.action is InstanceAction.DELETE
    assert obsolete.kinds == {ChangeKind.PERSISTENT_DISK}
    with pytest.raises(ValueError):
        plan_changes(None, None)


def test_an_instance_without_vm_gets_one() -> None:
    result = _plan(actual=_actual(vm=None, job_state=None))
    assert result.action is InstanceAction.CREATE
