"""Datasets the bureau shares outward under agreements (`hrss/employment_status`)."""
