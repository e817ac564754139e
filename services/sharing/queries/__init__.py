"""Outward queries: an agency asks for persons' records of an outward dataset under its agreement."""
