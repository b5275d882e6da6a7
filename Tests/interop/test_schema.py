"""No field silently ignored: a field outside Istio's schema is refused (422, named by its path)
and nothing of the request is applied; a field in Istio's schema that meshd does not translate
yet is accepted with a warning naming it."""
from __future__ import annotations

import configs

MISSPELLED = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weigth: 100
"""

NOT_YET = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    tunnel: {targetHost: example.com, targetPort: 443}
  subsets: [{name: v1, labels: {version: v1}}]
"""


def test_a_misspelled_field_is_refused_by_path_and_nothing_is_applied(meshd):
    r = meshd.apply_raw(MISSPELLED)
    assert r.status == 422, r.text
    err = r.json()["error"]
    assert err["resource"] == "VirtualService default/reviews", err
    assert err["field"] == "spec.http[0].route[0].weigth", err
    assert err["message"] == 'unknown field "weigth"', err
    # All or nothing: the valid DestinationRule in the same request was not applied either.
    assert meshd.get_raw("dr", "default", "reviews").status == 404


def test_a_field_not_yet_translated_is_accepted_with_a_warning(meshd):
    answer = meshd.apply(NOT_YET)
    assert ("DestinationRule default/reviews: spec.trafficPolicy.tunnel: not yet honoured by meshd"
            in answer["warnings"]), answer
    assert meshd.get_raw("dr", "default", "reviews").status == 200
    # The canary's own resources carry nothing meshd ignores.
    answer = meshd.apply(configs.canary(9081, 9082))
    assert not [w for w in answer["warnings"] if "not yet honoured" in w], answer
