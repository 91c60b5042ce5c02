"""vsphere CPI (arrives with its issue)."""
