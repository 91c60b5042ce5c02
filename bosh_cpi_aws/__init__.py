"""aws CPI (arrives with its issue)."""
