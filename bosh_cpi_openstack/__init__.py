"""openstack CPI (arrives with its issue)."""
