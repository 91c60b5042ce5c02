"""The initial schema: every table of the director.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:58:53.998604
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("manifest_text", sa.Text(), nullable=True),
        sa.Column("links_serial_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("name", name=op.f("uq_deployments_name")),
    )
    op.create_table(
        "director_attributes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_director_attributes")),
        sa.UniqueConstraint("name", name=op.f("uq_director_attributes_name")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("object_type", sa.String(length=255), nullable=False),
        sa.Column("object_name", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task", sa.String(length=255), nullable=True),
        sa.Column("deployment", sa.String(length=255), nullable=True),
        sa.Column("instance", sa.String(length=255), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_timestamp"), "events", ["timestamp"], unique=False)
    op.create_table(
        "locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("expired_at", sa.DateTime(), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locks")),
        sa.UniqueConstraint("name", name=op.f("uq_locks_name")),
    )
    op.create_table(
        "orphan_disks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disk_cid", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("deployment_name", sa.String(length=255), nullable=False),
        sa.Column("instance_name", sa.String(length=255), nullable=False),
        sa.Column("cloud_properties", sa.JSON(), nullable=False),
        sa.Column("cpi", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orphan_disks")),
        sa.UniqueConstraint("disk_cid", name=op.f("uq_orphan_disks_disk_cid")),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("name", name=op.f("uq_releases_name")),
    )
    op.create_table(
        "stemcells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("operating_system", sa.String(length=255), nullable=False),
        sa.Column("cid", sa.String(length=255), nullable=False),
        sa.Column("cpi", sa.String(length=255), nullable=False),
        sa.Column("api_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stemcells")),
        sa.UniqueConstraint("name", "version", "cpi", name=op.f("uq_stemcells_name_version_cpi")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("checkpoint_time", sa.DateTime(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("deployment_name", sa.String(length=255), nullable=True),
        sa.Column("context_id", sa.String(length=64), nullable=False),
        sa.Column("event_output", sa.Text(), nullable=False),
        sa.Column("result_output", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_context_id"), "tasks", ["context_id"], unique=False)
    op.create_index(op.f("ix_tasks_deployment_name"), "tasks", ["deployment_name"], unique=False)
    op.create_index(op.f("ix_tasks_state"), "tasks", ["state"], unique=False)
    op.create_index(op.f("ix_tasks_type"), "tasks", ["type"], unique=False)
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_configs_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configs")),
    )
    op.create_index(
        op.f("ix_configs_type_name_id"), "configs", ["type", "name", "id"], unique=False
    )
    op.create_table(
        "deployment_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=255), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_problems_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_problems")),
    )
    op.create_index(
        op.f("ix_deployment_problems_deployment_id_type_state"),
        "deployment_problems",
        ["deployment_id", "type", "state"],
        unique=False,
    )
    op.create_table(
        "deployments_stemcells",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("stemcell_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployments_stemcells_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stemcell_id"],
            ["stemcells.id"],
            name=op.f("fk_deployments_stemcells_stemcell_id_stemcells"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "stemcell_id", name=op.f("pk_deployments_stemcells")
        ),
    )
    op.create_table(
        "deployments_teams",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployments_teams_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_deployments_teams_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "team_id", name=op.f("pk_deployments_teams")),
    )
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("blobstore_id", sa.String(length=255), nullable=True),
        sa.Column("sha1", sa.String(length=255), nullable=True),
        sa.Column("dependency_set", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_packages_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint(
            "release_id", "name", "version", name=op.f("uq_packages_release_id_name_version")
        ),
    )
    op.create_index(op.f("ix_packages_fingerprint"), "packages", ["fingerprint"], unique=False)
    op.create_table(
        "release_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("commit_hash", sa.String(length=255), nullable=True),
        sa.Column("uncommitted_changes", sa.Boolean(), nullable=False),
        sa.Column("update_completed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_release_versions_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_versions")),
        sa.UniqueConstraint(
            "release_id", "version", name=op.f("uq_release_versions_release_id_version")
        ),
    )
    op.create_table(
        "tasks_teams",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_tasks_teams_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_tasks_teams_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "team_id", name=op.f("pk_tasks_teams")),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("blobstore_id", sa.String(length=255), nullable=False),
        sa.Column("sha1", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("package_names", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_templates_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint(
            "release_id", "name", "version", name=op.f("uq_templates_release_id_name_version")
        ),
    )
    op.create_index(op.f("ix_templates_fingerprint"), "templates", ["fingerprint"], unique=False)
    op.create_table(
        "variable_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deployed_successfully", sa.Boolean(), nullable=False),
        sa.Column("writable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_variable_sets_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variable_sets")),
    )
    op.create_table(
        "compiled_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("stemcell_os", sa.String(length=255), nullable=False),
        sa.Column("stemcell_version", sa.String(length=255), nullable=False),
        sa.Column("dependency_key", sa.Text(), nullable=False),
        sa.Column("dependency_key_sha1", sa.String(length=255), nullable=False),
        sa.Column("blobstore_id", sa.String(length=255), nullable=False),
        sa.Column("sha1", sa.String(length=255), nullable=False),
        sa.Column("build", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name=op.f("fk_compiled_packages_package_id_packages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compiled_packages")),
        sa.UniqueConstraint(
            "package_id",
            "stemcell_os",
            "stemcell_version",
            "dependency_key_sha1",
            name=op.f(
                "uq_compiled_packages_package_id_stemcell_os_stemcell_version_dependency_key_sha1"
            ),
        ),
    )
    op.create_table(
        "deployments_configs",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["configs.id"],
            name=op.f("fk_deployments_configs_config_id_configs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployments_configs_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "config_id", name=op.f("pk_deployments_configs")),
    )
    op.create_table(
        "deployments_release_versions",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("release_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployments_release_versions_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_version_id"],
            ["release_versions.id"],
            name=op.f("fk_deployments_release_versions_release_version_id_release_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "release_version_id", name=op.f("pk_deployments_release_versions")
        ),
    )
    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=255), nullable=False),
        sa.Column("az", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=255), nullable=False),
        sa.Column("bootstrap", sa.Boolean(), nullable=False),
        sa.Column("compilation", sa.Boolean(), nullable=False),
        sa.Column("ignore", sa.Boolean(), nullable=False),
        sa.Column("update_completed", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("cloud_properties", sa.JSON(), nullable=True),
        sa.Column("variable_set_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_instances_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variable_set_id"],
            ["variable_sets.id"],
            name=op.f("fk_instances_variable_set_id_variable_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint(
            "deployment_id", "job", "index", name=op.f("uq_instances_deployment_id_job_index")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_instances_uuid")),
    )
    op.create_table(
        "packages_release_versions",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("release_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name=op.f("fk_packages_release_versions_package_id_packages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_version_id"],
            ["release_versions.id"],
            name=op.f("fk_packages_release_versions_release_version_id_release_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "package_id", "release_version_id", name=op.f("pk_packages_release_versions")
        ),
    )
    op.create_table(
        "release_versions_templates",
        sa.Column("release_version_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_version_id"],
            ["release_versions.id"],
            name=op.f("fk_release_versions_templates_release_version_id_release_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_release_versions_templates_template_id_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "release_version_id", "template_id", name=op.f("pk_release_versions_templates")
        ),
    )
    op.create_table(
        "variables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variable_set_id", sa.Integer(), nullable=False),
        sa.Column("variable_id", sa.String(length=255), nullable=False),
        sa.Column("variable_name", sa.String(length=255), nullable=False),
        sa.Column("is_local", sa.Boolean(), nullable=False),
        sa.Column("provider_deployment", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["variable_set_id"],
            ["variable_sets.id"],
            name=op.f("fk_variables_variable_set_id_variable_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variables")),
        sa.UniqueConstraint(
            "variable_set_id",
            "variable_name",
            "provider_deployment",
            name=op.f("uq_variables_variable_set_id_variable_name_provider_deployment"),
        ),
    )
    op.create_table(
        "persistent_disks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("disk_cid", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("cloud_properties", sa.JSON(), nullable=False),
        sa.Column("cpi", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_persistent_disks_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persistent_disks")),
        sa.UniqueConstraint("disk_cid", name=op.f("uq_persistent_disks_disk_cid")),
    )
    op.create_table(
        "vms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("cid", sa.String(length=255), nullable=True),
        sa.Column("agent_id", sa.String(length=255), nullable=True),
        sa.Column("cpi", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stemcell_api_version", sa.Integer(), nullable=True),
        sa.Column("env", sa.JSON(), nullable=True),
        sa.Column("network_spec", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_vms_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vms")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_vms_agent_id")),
        sa.UniqueConstraint("cid", name=op.f("uq_vms_cid")),
    )
    op.create_table(
        "ip_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=39), nullable=False),
        sa.Column("static", sa.Boolean(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ip_addresses_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["vm_id"], ["vms.id"], name=op.f("fk_ip_addresses_vm_id_vms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_addresses")),
        sa.UniqueConstraint(
            "network_name", "address", name=op.f("uq_ip_addresses_network_name_address")
        ),
    )


def downgrade() -> None:
    op.drop_table("ip_addresses")
    op.drop_table("vms")
    op.drop_table("persistent_disks")
    op.drop_table("variables")
    op.drop_table("release_versions_templates")
    op.drop_table("packages_release_versions")
    op.drop_table("instances")
    op.drop_table("deployments_release_versions")
    op.drop_table("deployments_configs")
    op.drop_table("compiled_packages")
    op.drop_table("variable_sets")
    op.drop_index(op.f("ix_templates_fingerprint"), table_name="templates")
    op.drop_table("templates")
    op.drop_table("tasks_teams")
    op.drop_table("release_versions")
    op.drop_index(op.f("ix_packages_fingerprint"), table_name="packages")
    op.drop_table("packages")
    op.drop_table("deployments_teams")
    op.drop_table("deployments_stemcells")
    op.drop_index(
        op.f("ix_deployment_problems_deployment_id_type_state"), table_name="deployment_problems"
    )
    op.drop_table("deployment_problems")
    op.drop_index(op.f("ix_configs_type_name_id"), table_name="configs")
    op.drop_table("configs")
    op.drop_table("teams")
    op.drop_index(op.f("ix_tasks_type"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_state"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_deployment_name"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_context_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("stemcells")
    op.drop_table("releases")
    op.drop_table("orphan_disks")
    op.drop_table("locks")
    op.drop_index(op.f("ix_events_timestamp"), table_name="events")
    op.drop_table("events")
    op.drop_table("director_attributes")
    op.drop_table("deployments")
