"""Parses an OpenMetrics exposition from stdin with the Prometheus project's
own Python parser (strict: a malformed line, a sample outside its family or a
missing `# EOF` raises) and prints its families and samples as JSON."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    })
json.dump(families, sys.stdout)
