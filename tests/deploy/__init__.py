"""Tests of the deployment manifests, Prometheus rules and Grafana dashboards."""
