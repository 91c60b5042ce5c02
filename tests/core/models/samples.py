"""Valid documents of each kind, as operators write them; tests change one thing at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bosh_core.errors import ManifestError
from bosh_core.serialization import load_yaml

__all__ = ["CLOUD_CONFIG", "CPI_CONFIG", "MANIFEST", "RUNTIME_CONFIG", "document", "problems"]

MANIFEST = """\
name: redis
features:
  use_dns_addresses: true
releases:
- name: redis
  version: "12"
- name: syslog
  version: 11.1.1
  url: https://bosh.io/d/github.com/cloudfoundry/syslog-release?v=11.1.1
  sha1: 332ac15609b220a3fdf5efad0e0aa069d8235788
stemcells:
- alias: default
  os: ubuntu-jammy
  version: latest
update:
  canaries: 1
  max_in_flight: 25%
  canary_watch_time: 1000-30000
  update_watch_time: 5000
  vm_strategy: create-swap-delete
instance_groups:
- name: redis-master
  azs: [z1, z2]
  instances: 2
  jobs:
  - name: redis-server
    release: redis
    properties:
      port: 3606
    provides:
      redis: {as: master, shared: true}
    custom_provider_definitions:
    - name: admin
      type: address
  vm_type: medium
  vm_extensions: [public-lbs]
  stemcell: default
  persistent_disk_type: medium
  networks:
  - name: default
    default: [dns, gateway]
  - name: public
    static_ips: [203.0.113.10 - 203.0.113.11]
  update:
    max_in_flight: 1
  env:
    bosh:
      remove_dev_tools: true
- name: smoke-tests
  lifecycle: errand
  azs: [z1]
  instances: 1
  jobs:
  - name: smoke-tests
    release: redis
  vm_resources: {cpu: 2, ram: 1024, ephemeral_disk_size: 10240}
  stemcell: default
  networks:
  - name: default
addons:
- name: logging
  jobs:
  - name: syslog_forwarder
    release: syslog
  include:
    stemcell:
    - os: ubuntu-jammy
variables:
- name: redis_password
  type: password
- name: redis_ca
  type: certificate
  options: {is_ca: true, common_name: redis-ca}
tags:
  project: cache
"""

CLOUD_CONFIG = """\
azs:
- name: z1
  cloud_properties: {availability_zone: us-east-1a}
- name: z2
  cloud_properties: {availability_zone: us-east-1b}
  cpi: aws-east
vm_types:
- name: medium
  cloud_properties: {instance_type: m5.large}
vm_extensions:
- name: public-lbs
  cloud_properties: {elbs: [main]}
disk_types:
- name: medium
  disk_size: 10_240
  cloud_properties: {type: gp3}
networks:
- name: default
  type: manual
  subnets:
  - range: 10.10.0.0/24
    gateway: 10.10.0.1
    az: z1
    dns: [10.10.0.2]
    reserved: [10.10.0.2 - 10.10.0.10]
    static: [10.10.0.62]
    cloud_properties: {subnet: subnet-f2744a86}
  - range: 10.10.64.0/24
    gateway: 10.10.64.1
    azs: [z2]
    static: 10.10.64.121 - 10.10.64.122
- name: public
  type: vip
- name: outside
  type: dynamic
  subnets:
  - az: z1
    dns: [8.8.8.8]
compilation:
  workers: 5
  reuse_compilation_vms: true
  az: z1
  vm_type: medium
  network: default
"""

RUNTIME_CONFIG = """\
releases:
- name: bosh-dns
  version: 1.39.0
  url: https://bosh.io/d/github.com/cloudfoundry/bosh-dns-release?v=1.39.0
addons:
- name: bosh-dns
  jobs:
  - name: bosh-dns
    release: bosh-dns
    properties:
      api: {server: {tls: ((dns_api_server_tls))}}
  include:
    stemcell:
    - os: ubuntu-jammy
  exclude:
    deployments: [bosh]
    lifecycle: errand
variables:
- name: dns_api_server_tls
  type: certificate
  options: {ca: dns_api_ca, common_name: api.bosh-dns}
tags:
  owner: platform
"""

CPI_CONFIG = """\
cpis:
- name: aws-east
  type: aws
  properties:
    default_key_name: bosh
    region: us-east-1
  migrated_from:
  - name: ""
- name: aws-west
  type: aws
  exec_path: /var/vcap/jobs/aws_cpi/bin/cpi
  properties:
    region: us-west-2
"""


def document(text: str) -> Any:
    """A fresh parsed copy of a sample, for a test to change."""
    return load_yaml(text, source="sample")


def problems(load: Callable[[Any], Any], data: Any, *, source: str) -> list[str]:
    """The problems `load` reports for `data`, checking the error names `source`."""
    with pytest.raises(ManifestError) as caught:
        load(data)
    assert str(caught.value).startswith(f"Invalid {source}:")
    return [str(problem) for problem in caught.value.problems]
