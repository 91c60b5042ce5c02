"""Links: which provider each job's ``consumes`` binds to, and what the job then sees.

The director's rules (D/links/links_parser.rb and its providers/consumers parsers,
D/links/links_manager.rb, D/deployment_plan/links/link.rb), without its database:

- Every job provides what its release spec declares in ``provides`` (plus the manifest's
  ``custom_provider_definitions``), under its name or the manifest's ``as`` alias;
  ``provides: {x: nil}`` makes it unconsumable, ``shared: true`` lets other deployments
  consume it. Named ``persistent_disks`` provide ``disk`` links.
- A consumer not named in the manifest is *implicit*: it binds to the one provider of its
  type in the deployment. A named one is *explicit*: ``from`` (the provider's alias),
  ``deployment`` (another deployment's shared providers), ``network``, ``ip_addresses``;
  ``nil`` blocks it; ``instances``/``properties``/``address`` make a *manual* link.
- An optional consumer without a provider gets no link (unless it named one explicitly).
  Zero or several candidates are an error naming the consumer and every candidate; all
  errors of a deployment are reported together (LinkResolutionError).

Addresses are inputs: placement gives each instance's per-network IP and DNS name
(`LinkInstance`); this module picks which one a link shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bosh_core.director.errors import LinkDefinitionError, LinkResolutionError
from bosh_core.models.manifest import Features, InstanceGroup, Job, Manifest
from bosh_core.models.release import JobSpec
from bosh_core.models.validation import canonical_name
from bosh_core.planning.properties import link_properties, provided_job_properties

__all__ = [
    "DeploymentLinks",
    "DnsSettings",
    "LinkInstance",
    "LinkProvider",
    "ResolvedLink",
    "default_network",
    "resolve_links",
]

_MANUAL_LINK_KEYS = ("instances", "properties", "address")


@attrs.frozen(kw_only=True)
class LinkInstance:
    """An instance of a providing group as placement planned it.

    ``addresses``: network name -> IP (on a dynamic network, its DNS name: the IaaS picks
    the IP). ``dns_addresses``: network name -> DNS name (the IP when local DNS is off).
    """

    id: str
    index: int
    az: str | None = None
    bootstrap: bool = False
    addresses: Mapping[str, str] = attrs.field(factory=dict)
    dns_addresses: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DnsSettings:
    """The director's DNS settings for links; a manifest's ``features`` override them."""

    root_domain: str = "bosh"
    use_dns_addresses: bool = False
    use_short_dns_addresses: bool = False
    use_link_dns_names: bool = False

    def for_features(self, features: Features) -> DnsSettings:
        """These settings with what the manifest's `features` set explicitly."""
        changes = {
            name: value
            for name in ("use_dns_addresses", "use_short_dns_addresses", "use_link_dns_names")
            if (value := getattr(features, name)) is not None
        }
        return attrs.evolve(self, **changes)


@attrs.frozen(kw_only=True)
class LinkProvider:
    """A link a job (or a named persistent disk) provides.

    ``job`` is the providing job (the instance group's name for a disk, as the director
    records it); ``kind`` is ``job`` or ``disk``; ``name`` the alias consumers use.
    ``content`` is the director's link spec, with every instance's ``addresses`` and
    ``dns_addresses`` still in it: a consumer picks one of them. Providers of other
    deployments are given back to `resolve_links` as they come out of it.
    """

    deployment: str
    instance_group: str
    job: str
    kind: str
    original_name: str
    name: str
    type: str
    shared: bool = False
    consumable: bool = True
    content: dict[str, Any] = attrs.field(factory=dict)

    def describe(self, expected_network: str | None) -> str:
        """How the director lists this provider among the candidates of a link error."""
        if self.kind == "disk":
            missing = " does not contain any networks" if expected_network is not None else ""
            return (
                f"Disk link provider '{self.original_name}' from instance group"
                f" '{self.instance_group}'{missing}"
            )
        alias = f"with alias '{self.name}' " if self.name != self.original_name else ""
        network = (
            f" does not belong to network '{expected_network}'"
            if expected_network is not None
            else ""
        )
        return (
            f"Link provider '{self.original_name}' {alias}from job '{self.job}' in instance"
            f" group '{self.instance_group}' in deployment '{self.deployment}'{network}"
        )


@attrs.frozen(kw_only=True)
class ResolvedLink:
    """A consumer's link: ``name`` is its name in the job spec (what ``link()`` takes);
    ``provider`` None for a manual link; ``content`` what templates see."""

    instance_group: str
    job: str
    name: str
    type: str
    provider: LinkProvider | None
    content: dict[str, Any]


@attrs.frozen(kw_only=True)
class DeploymentLinks:
    """Every provider and resolved link of a deployment, plus warnings (manifest entries
    no spec declares), which the deploy task writes to its event log."""

    deployment: str
    providers: tuple[LinkProvider, ...]
    links: tuple[ResolvedLink, ...]
    warnings: tuple[str, ...] = ()

    def shared_providers(self) -> tuple[LinkProvider, ...]:
        """What other deployments may consume: give these to their `resolve_links`."""
        return tuple(provider for provider in self.providers if provider.shared)

    def for_job(self, instance_group: str, job: str) -> dict[str, dict[str, Any]]:
        """The links a job's templates see: consumer name -> link content."""
        return {
            link.name: link.content
            for link in self.links
            if link.instance_group == instance_group and link.job == job
        }


@attrs.frozen(kw_only=True)
class _Consumer:
    """A consumer intent: one ``consumes`` entry of one job, after the manifest."""

    instance_group: str
    job: str
    original_name: str
    name: str
    type: str
    optional: bool
    explicit: bool = False
    blocked: bool = False
    manual_content: dict[str, Any] | None = None
    from_deployment: str | None = None
    network: str | None = None
    ip_addresses: bool | None = None

    def error_header(self) -> str:
        alias = f"alias '{self.name}' and " if self.name != self.original_name else ""
        return (
            f"Failed to resolve link '{self.original_name}' with {alias}type '{self.type}'"
            f" from job '{self.job}' in instance group '{self.instance_group}'."
        )


def default_network(group: InstanceGroup) -> str:
    """The network a group's addresses are on: the ``addressable`` default, else the
    ``gateway`` one, else its only network."""
    for role in ("addressable", "gateway"):
        for network in group.networks:
            if role in network.default:
                return network.name
    return group.networks[0].name


def resolve_links(
    manifest: Manifest,
    job_specs: Mapping[tuple[str, str], JobSpec],
    instances: Mapping[str, Sequence[LinkInstance]],
    *,
    other_deployments: Mapping[str, Sequence[LinkProvider]] | None = None,
    dns: DnsSettings | None = None,
) -> DeploymentLinks:
    """Resolve every consumer of `manifest` (addons already applied).

    `job_specs`: (release name, job name) -> spec of every job in the manifest.
    `instances`: instance group name -> its instances (not the obsolete ones).
    `other_deployments`: deployment name -> its providers (only ``shared`` ones can be
    consumed), for every other deployment of the director.

    Raises LinkDefinitionError when manifest ``consumes``/``provides`` entries are
    malformed, LinkResolutionError listing every link that does not resolve.
    """
    settings = (dns or DnsSettings()).for_features(manifest.features)
    others = other_deployments or {}
    errors: list[str] = []
    warnings: list[str] = []
    providers: list[LinkProvider] = []
    consumers: list[_Consumer] = []
    for group in manifest.instance_groups:
        group_content = _group_content(
            manifest.name, group, instances.get(group.name, ()), settings
        )
        for job in group.jobs:
            spec = job_specs[(job.release, job.name)]
            provided = provided_job_properties(
                job, group_properties=group.properties, global_properties=manifest.properties
            )
            providers += _job_providers(
                manifest.name, group, job, spec, provided, group_content, errors, warnings
            )
            consumers += _job_consumers(manifest.name, group, job, spec, others, errors, warnings)
        providers += _disk_providers(manifest.name, group)
    if errors:
        raise LinkDefinitionError(errors)

    by_type: dict[tuple[str, str], list[LinkProvider]] = defaultdict(list)
    for provider in _all_providers(providers, others):
        by_type[(provider.deployment, provider.type)].append(provider)
    links: list[ResolvedLink] = []
    for consumer in consumers:
        try:
            link = _resolve(consumer, manifest.name, by_type, others)
        except _LinkError as error:
            errors.append(str(error))
            continue
        if link is not None:
            links.append(link)
    if errors:
        raise LinkResolutionError(manifest.name, errors)
    return DeploymentLinks(
        deployment=manifest.name,
        providers=tuple(providers),
        links=tuple(links),
        warnings=tuple(warnings),
    )


class _LinkError(Exception):
    """One consumer's failure; collected into LinkResolutionError."""


def _all_providers(
    own: Iterable[LinkProvider], others: Mapping[str, Sequence[LinkProvider]]
) -> Iterable[LinkProvider]:
    yield from own
    for providers in others.values():
        yield from providers


def _group_content(
    deployment: str, group: InstanceGroup, instances: Sequence[LinkInstance], dns: DnsSettings
) -> dict[str, Any]:
    """The link spec of a group (D/deployment_plan/links/link.rb), minus ``properties``."""
    network = default_network(group)
    return {
        "deployment_name": deployment,
        "domain": dns.root_domain,
        "default_network": network,
        "networks": [each.name for each in group.networks],
        "instance_group": group.name,
        "use_short_dns_addresses": dns.use_short_dns_addresses,
        "use_dns_addresses": dns.use_dns_addresses,
        "use_link_dns_names": dns.use_link_dns_names,
        "instances": [
            {
                "name": group.name,
                "id": instance.id,
                "index": instance.index,
                "bootstrap": instance.bootstrap,
                "az": instance.az,
                "address": (
                    instance.dns_addresses if dns.use_dns_addresses else instance.addresses
                ).get(network),
                "addresses": dict(instance.addresses),
                "dns_addresses": dict(instance.dns_addresses),
            }
            for instance in instances
        ],
    }


def _job_providers(
    deployment: str,
    group: InstanceGroup,
    job: Job,
    spec: JobSpec,
    provided: Mapping[str, Any],
    group_content: dict[str, Any],
    errors: list[str],
    warnings: list[str],
) -> list[LinkProvider]:
    where = f"in job '{job.name}' in instance group '{group.name}'"
    release_names = {definition.get("name") for definition in spec.provides}
    definitions: list[Mapping[str, Any]] = []
    for custom in job.custom_provider_definitions:
        if custom.name in release_names:
            errors.append(
                f"Custom provider '{custom.name}' {where} is already defined in release"
                f" '{job.release}'"
            )
        definitions.append(
            {"name": custom.name, "type": custom.type, "properties": list(custom.properties)}
        )
    definitions += spec.provides
    manifest_provides = dict(job.provides)
    providers = []
    for definition in definitions:
        original_name = str(definition.get("name"))
        alias, shared, consumable = original_name, False, True
        if original_name in manifest_provides:
            source = manifest_provides.pop(original_name)
            if source == "nil":
                consumable = False
            elif not isinstance(source, Mapping):
                errors.append(
                    f"Provider '{original_name}' {where} specified in the manifest should only"
                    " be a hash or string 'nil'"
                )
                continue
            elif "name" in source or "type" in source:
                errors.append(
                    "Cannot specify 'name' or 'type' properties in the manifest for link"
                    f" '{original_name}' {where}. Please provide these keys in the release only."
                )
                continue
            else:
                alias = str(source.get("as", alias))
                shared = source.get("shared") is True
        properties, property_errors = link_properties(
            spec.properties, provided, definition.get("properties") or (), job_name=job.name
        )
        if property_errors:
            errors += property_errors
            continue
        providers.append(
            LinkProvider(
                deployment=deployment,
                instance_group=group.name,
                job=job.name,
                kind="job",
                original_name=original_name,
                name=alias,
                type=str(definition.get("type")),
                shared=shared,
                consumable=consumable,
                content={**group_content, "properties": properties},
            )
        )
    if manifest_provides:
        warnings.append(
            "Manifest defines unknown providers:"
            + "".join(
                f"\n  - Job '{job.name}' does not define link provider '{name}' in the release spec"
                for name in manifest_provides
            )
        )
    return providers


def _disk_providers(deployment: str, group: InstanceGroup) -> list[LinkProvider]:
    return [
        LinkProvider(
            deployment=deployment,
            instance_group=group.name,
            job=group.name,
            kind="disk",
            original_name=disk.name,
            name=disk.name,
            type="disk",
            content={
                "deployment_name": deployment,
                "properties": {"name": disk.name},
                "networks": [],
                "instances": [],
            },
        )
        for disk in group.persistent_disks or ()
    ]


def _job_consumers(
    deployment: str,
    group: InstanceGroup,
    job: Job,
    spec: JobSpec,
    others: Mapping[str, Sequence[LinkProvider]],
    errors: list[str],
    warnings: list[str],
) -> list[_Consumer]:
    manifest_consumes = dict(job.consumes)
    consumers = []
    for definition in spec.consumes:
        consumer = _Consumer(
            instance_group=group.name,
            job=job.name,
            original_name=str(definition.get("name")),
            name=str(definition.get("name")),
            type=str(definition.get("type")),
            optional=bool(definition.get("optional", False)),
        )
        if consumer.original_name in manifest_consumes:
            source = manifest_consumes.pop(consumer.original_name)
            problems = _consume_problems(source, consumer)
            if problems:
                errors += problems
                continue
            consumer = _explicit(consumer, source, deployment)
            if consumer.from_deployment not in (None, deployment, *others):
                errors.append(
                    f"Link '{consumer.name}' in job '{job.name}' from instance group"
                    f" '{group.name}' consumes from deployment '{consumer.from_deployment}',"
                    " but the deployment does not exist."
                )
                continue
        consumers.append(consumer)
    if manifest_consumes:
        warnings.append(
            "Manifest defines unknown consumers:"
            + "".join(
                f"\n  - Job '{job.name}' does not define link consumer '{name}' in the release spec"
                for name in manifest_consumes
            )
        )
    return consumers


def _consume_problems(source: Any, consumer: _Consumer) -> list[str]:
    """D/links/link_helpers.rb ``validate_consume_link``."""
    if source == "nil":
        return []
    link = f"'{consumer.original_name}' in job '{consumer.job}' in instance group"
    link += f" '{consumer.instance_group}'"
    if not isinstance(source, Mapping):
        return [f"Consumer {link} specified in the manifest should only be a hash or string 'nil'"]
    problems = [
        f"Cannot specify both '{key}' and 'from' keys for link {link}."
        for key in ("instances", "properties")
        if key in source and "from" in source
    ]
    if "properties" in source and "instances" not in source:
        problems.append(f"Cannot specify 'properties' without 'instances' for link {link}.")
    if "ip_addresses" in source and not isinstance(source["ip_addresses"], bool):
        problems.append(
            f"Cannot specify non boolean values for 'ip_addresses' field for link {link}."
        )
    if "name" in source or "type" in source:
        problems.append(
            f"Cannot specify 'name' or 'type' properties in the manifest for link {link}."
            " Please provide these keys in the release only."
        )
    return problems


def _explicit(consumer: _Consumer, source: Any, deployment: str) -> _Consumer:
    """The consumer as the manifest's (valid) entry `source` for it sets it."""
    if source == "nil":
        return attrs.evolve(consumer, explicit=True, blocked=True)
    if any(key in source for key in _MANUAL_LINK_KEYS):
        content = {key: source.get(key) for key in _MANUAL_LINK_KEYS}
        return attrs.evolve(
            consumer, explicit=True, manual_content={**content, "deployment_name": deployment}
        )
    return attrs.evolve(
        consumer,
        explicit=True,
        name=str(source.get("from", consumer.name)).split(".")[-1],
        from_deployment=source.get("deployment"),
        network=source.get("network"),
        ip_addresses=source.get("ip_addresses"),
    )


def _resolve(
    consumer: _Consumer,
    deployment: str,
    by_type: Mapping[tuple[str, str], Sequence[LinkProvider]],
    others: Mapping[str, Sequence[LinkProvider]],
) -> ResolvedLink | None:
    """D/links/links_manager.rb ``resolve_consumer_intent_and_generate_link``."""
    if consumer.manual_content is not None:
        return _link(consumer, None, dict(consumer.manual_content))
    found = _candidates(consumer, deployment, by_type, others)
    if not found and consumer.optional and (not consumer.explicit or consumer.blocked):
        return None
    if len(found) != 1:
        raise _LinkError(_link_error(consumer, found, None))
    [provider] = found
    networks = provider.content.get("networks")
    if (
        consumer.explicit
        and consumer.network is not None
        and (networks is None or consumer.network not in networks)
    ):
        raise _LinkError(_link_error(consumer, found, consumer.network))
    content = _addresses_for(provider.content, consumer.network, consumer.ip_addresses)
    return _link(consumer, provider, content)


def _candidates(
    consumer: _Consumer,
    deployment: str,
    by_type: Mapping[tuple[str, str], Sequence[LinkProvider]],
    others: Mapping[str, Sequence[LinkProvider]],
) -> list[LinkProvider]:
    if consumer.blocked:
        return []
    source = consumer.from_deployment or deployment
    cross = source != deployment
    if cross and source not in others:
        raise _LinkError(f"Can't find deployment '{source}'")
    return [
        provider
        for provider in by_type.get((source, consumer.type), ())
        if provider.consumable
        and (not consumer.explicit or provider.name == consumer.name)
        and (not cross or provider.shared)
    ]


def _link_error(
    consumer: _Consumer, found: Sequence[LinkProvider], expected_network: str | None
) -> str:
    """D/links/links_error_builder.rb: the consumer, then each candidate (or none)."""
    header = consumer.error_header()
    header += " Multiple link providers found:" if len(found) > 1 else " Details below:"
    details = [provider.describe(expected_network) for provider in found] or [
        "No link providers found"
    ]
    return header + "".join(f"\n    - {detail}" for detail in details)


def _addresses_for(
    provider_content: Mapping[str, Any], network: str | None, ip_addresses: bool | None
) -> dict[str, Any]:
    """The provider's spec with each instance's ``address`` on the consumer's network:
    IPs or DNS names as ``ip_addresses`` asks, else as the provider's deployment uses
    (D/links/links_manager.rb ``update_addresses``)."""
    content = dict(provider_content)
    instances = [dict(instance) for instance in content.get("instances") or ()]
    if "default_network" not in content:
        if ip_addresses is not None:
            raise _LinkError(
                "Unable to retrieve default network from provider. Please redeploy provider"
                " deployment"
            )
        chosen = {network: "addresses"} if network is not None else {}
    else:
        network = network or content["default_network"]
        content["default_network"] = network
        if ip_addresses is None:
            use_dns = bool(content.get("use_dns_addresses"))
        else:
            use_dns = not ip_addresses
        chosen = {network: "dns_addresses" if use_dns else "addresses"}
    for instance in instances:
        for name, key in chosen.items():
            addresses = instance.get(key) or {}
            if name not in addresses:
                raise _LinkError(f"Provider link does not have network: '{name}'")
            instance["address"] = addresses[name]
        instance.pop("addresses", None)
        instance.pop("dns_addresses", None)
    content["instances"] = instances
    return content


def _link(
    consumer: _Consumer, provider: LinkProvider | None, content: dict[str, Any]
) -> ResolvedLink:
    """The link with what the template context needs on top of the stored spec:
    ``group_name`` (the link's DNS group) and, for long-form DNS, the group's
    ``address`` query (templates use a present ``address`` as is, as for manual links;
    short DNS names need the director's group numbers, so the renderer encodes those)."""
    if provider is not None and provider.kind == "job":
        content["group_name"] = f"{provider.name}-{provider.type}"
        network = content.get("default_network")
        if network is not None and not (
            content.get("use_short_dns_addresses") or content.get("use_link_dns_names")
        ):
            content["address"] = ".".join(
                [
                    "q-s0",
                    canonical_name(str(content["instance_group"])),
                    canonical_name(str(network)),
                    canonical_name(str(content["deployment_name"])),
                    str(content["domain"]),
                ]
            )
    return ResolvedLink(
        instance_group=consumer.instance_group,
        job=consumer.job,
        name=consumer.original_name,
        type=consumer.type,
        provider=provider,
        content=content,
    )
