"""A stand-in Kubernetes API server for meshd's Kubernetes tests (issues 25 and 26), held to real
clients (kubectl 1.32 and PyPI's `kubernetes` client; see test_kube_apiserver.py).

No kube-apiserver runs on these machines, so this module speaks enough of the Kubernetes REST API
(api-conventions.md; client-go's reflector and discovery behaviour) for a controller to list,
watch, write and review tokens against it, and lets a test break it on purpose.

    with KubeApiServer(tokens={"admin-token"}) as api:
        api.kubeconfig(path, "admin-token")          # for kubectl / kubernetes.config
        api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {...}})
        api.state("pods")                            # {(ns, name): object}

    api.install_crds("deploy/kubernetes/istio-crds.yaml")   # custom resources served at once
    api.add_webhook_service("istio-system", "istiod", "127.0.0.1:15017")  # where a webhook is
    api.set_deployment_ready("mesh-system", "meshd")      # as the deployment controller would

    python kube_apiserver.py --port 6443 --data seed.yaml --token admin-token [--http]

The custom resource, field validation and OpenAPI pieces live in kube_crds.py, the admission
webhooks in kube_admission.py, managedFields and server-side apply in kube_fields.py; each names
the Kubernetes code it mirrors (v1.32: k8s.io/apiserver, apiextensions-apiserver, apimachinery,
kube-openapi, kubectl, sigs.k8s.io/structured-merge-diff v4.4).

What it serves (thread-based, ThreadingHTTPServer, 127.0.0.1, port 0 = a free one):
- HTTPS with a CA and a server certificate (127.0.0.1 / localhost SANs) generated at start with
  `cryptography` (`ca_pem` bytes, `ca_path`), or plain HTTP (`tls=False`) for debugging.
  Every request but /healthz /livez /readyz needs `Authorization: Bearer T` with T in `tokens`;
  otherwise 401 and a `Status` (reason Unauthorized).
- Legacy discovery (`/api`, `/api/v1`, `/apis`, `/apis/G/V`) as plain `application/json`; the
  aggregated form (apidiscovery.k8s.io/v2) is not offered, and clients asking for it fall back, as
  they do against any server answering plain JSON. `/version`.
- OpenAPI: `/openapi/v3` (the root: every group-version with a `serverRelativeURL` carrying a
  content hash) and `/openapi/v3/api/v1`, `/openapi/v3/apis/G/V`: minimal documents whose PATCH
  operations carry x-kubernetes-group-version-kind and a `fieldValidation` parameter. That is what
  kubectl 1.32's query-param verifier (cli-runtime query_param_verifier_v3.go) reads: finding it,
  kubectl skips its client-side validation and sends `fieldValidation=Strict` (its --validate
  default; `warn` sends Warn, `false` Ignore), so plain `kubectl apply/create/replace/edit` work
  as against a cluster. Custom resources' schemas are the documents' components; built-in kinds
  get no schema, and their PATCH lists json-patch, merge-patch and apply-patch bodies but no
  strategic-merge one, so kubectl computes strategic merges from its compiled-in types. `/openapi/v2` answers 404 (kubectl only falls back to it).
- Kinds (RESOURCES): core/v1 namespaces, nodes (cluster scoped), services, pods, serviceaccounts,
  configmaps, secrets (`stringData` folded into base64 `data` on write; `type` defaults to
  Opaque); discovery.k8s.io/v1 endpointslices; coordination.k8s.io/v1 leases;
  authentication.k8s.io/v1 tokenreviews (create only); apiextensions.k8s.io/v1
  customresourcedefinitions and admissionregistration.k8s.io/v1 validatingwebhookconfigurations and
  mutatingwebhookconfigurations (cluster scoped, below); apps/v1 deployments (`deploy`; status
  subresource; SetDefaults_Deployment's top-level defaults: replicas 1, strategy RollingUpdate
  25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600, the pod template not defaulted;
  create drops status; generation counts spec and annotation changes, as deploymentStrategy does);
  policy/v1 poddisruptionbudgets (`pdb`, status subresource, create drops status);
  rbac.authorization.k8s.io/v1 clusterroles, clusterrolebindings (cluster scoped), roles,
  rolebindings (stored, never enforced); plus every served version of each CRD. Namespaces
  default, kube-system, kube-public exist from the start; a namespaced object needs its
  namespace (404 otherwise); deleting a namespace deletes what is in it (each a DELETED event).
- GET item / list (namespaced and across namespaces), POST (uid, creationTimestamp,
  resourceVersion, generation; generateName; services get a clusterIP), PUT (409 Conflict on a
  stale metadata.resourceVersion), PATCH (application/merge-patch+json,
  application/strategic-merge-patch+json for the simple cases: maps merged, `null` deletes, lists
  of objects merged by their usual key (containers/env/volumes by name, ports by port or
  containerPort, conditions by type...) honouring `$patch: delete`, `$setElementOrder/` and
  `$retainKeys` directives dropped; application/json-patch+json add/remove/replace/test;
  server-side apply, below), DELETE (preconditions.resourceVersion / uid honoured; answers the
  object). A write that changes nothing keeps the resourceVersion (and makes no watch event).
  `status` subresource for namespaces, nodes, pods, services, deployments and
  poddisruptionbudgets: PUT/PATCH `/pods/NAME/status` changes only status; the main resource keeps
  the old status on a PUT/PATCH (as the real server does).
- Server-side apply (PATCH application/apply-patch+yaml; patch.go applyPatcher, fieldmanager's
  Apply, structured-merge-diff; kube_fields.py), for every kind and its /status: the body is the
  YAML or JSON of the intended object (read as sigs.k8s.io/yaml does: timestamps stay strings).
  ValidatePatchOptions first: no `fieldManager` is 422 `PatchOptions.meta.k8s.io "" is invalid:
  fieldManager: Required value: is required for apply patch` (and `force` on any other patch type
  422 `force: Forbidden: may not be specified for non-apply patch`); then 400 `Incorrect version
  specified in apply patch. Specified patch version: X, expected: Y`, 400 `metadata.managedFields
  must be nil`, a custom resource's field its schema lacks or an associative list item without
  its key (or a duplicate) 500 without a reason (`failed to create typed patch object (NS/NAME;
  GROUP/VERSION, Kind=KIND): .spec.x: field not declared in schema`, as kube-apiserver answers
  it), 400 `the name of the object (A) does not match the name on the URL (B)`. An absent object
  is created (201; through the create path: defaults, mutating and validating webhooks as
  CREATE); otherwise (200) the configuration is merged into the live object: maps by key,
  associative lists by their keys (kube_fields.py lists them: containers, env, volumes, ports...;
  CRDs' x-kubernetes-list-type), atomic lists and maps replaced; what the manager applied last
  time and leaves out now goes unless another manager owns it; a field the apply changes that
  another manager owns is a 409 (reason Conflict, `Apply failed with 1 conflict: conflict with
  "kubectl-patch" using apps/v1: .spec.replicas`, one `FieldManagerConflict` cause per field;
  several: `Apply failed with N conflicts: conflicts with "M":\n- PATH...`) unless `force=true`,
  which takes the fields; the same value is shared ownership. managedFields get the manager's
  `operation: Apply` entry (fieldsV1 of the applied fields: leaves, list items with `.`); a live
  object without managedFields first gets a `before-first-apply` Update entry. An apply that
  changes nothing renews no time and writes nothing; but, as the real server, a default inside
  an atomic list (a webhook rule's `scope`) or a write-only field (`stringData`) makes the merge
  differ from the live object, so such an apply renews its time, and rewrites the object, in
  every new second (kubernetes#121404). Status in an apply to the main resource (and all but
  status in one to /status) is ignored, as GetResetFields makes it. With fieldManager `kubectl`:
  conflicts its last-applied-configuration annotation shows as kubectl's own are forced (the
  client-side to server-side upgrade) and that annotation follows the applied configuration.
  fieldValidation Strict: repeated YAML keys are 400 `error strict decoding YAML: ...` (Warn: a
  warning). dryRun=All persists nothing. A resourceVersion in the body is a precondition.
- One global resourceVersion, an integer rendered as a string, +1 per write.
- CustomResourceDefinitions (apiextensions.k8s.io/v1, cluster scoped, status subresource): on
  create (or update) each `served` version of spec.versions becomes a served kind at
  /apis/GROUP/VERSION, in discovery (`/apis` lists the group's versions, preferred first in
  kube-aware order: v1, v1beta1, v1alpha3; its APIResourceList has shortNames, categories, the
  custom-resource verbs and `PLURAL/status` when declared), in `kubectl api-resources`, by short
  name, `plural.group` and category. The CRD is established at once (status.conditions
  NamesAccepted/NoConflicts and Established/InitialNamesAccepted, acceptedNames, storedVersions:
  a MODIFIED event after the ADDED). A few of the real checks (name = plural.group, one storage
  version, a schema per version, scope) answer 422. All versions share one store (conversion
  strategy None): objects are stored in the storage version and answered, listed and watched in
  the requested one, only `apiVersion` rewritten; unstructured lists keep each item's
  kind/apiVersion. Deleting a CRD deletes its objects (DELETED events), stops serving the kind and
  ends its open watches. `install_crds(path_or_docs)` creates CRDs from a file, YAML text or dicts.
- Custom resources, decoded as the custom resource handler does (over HTTP): unknown fields (not
  in the version's structural schema, outside x-kubernetes-preserve-unknown-fields; metadata
  against ObjectMeta's fields) are always pruned, and null values of non-nullable fields dropped.
  `fieldValidation=Strict`: 400 BadRequest `VirtualService in version "v1" cannot be handled as a
  VirtualService: strict decoding error: unknown field "metadata.x", unknown field
  "spec.http[0].route[0].weigth"` (metadata first, then the rest sorted, as the real pruner does);
  on a PATCH the real 422 on `patch` (` "" is invalid: patch: Invalid value: "<patched JSON>":
  strict decoding error: ...`, which kubectl prints as "The request is invalid: ..."). `Warn`, the
  server's default when the parameter is absent (handlers/rest.go fieldValidation()): accepted,
  one `Warning: 299 - "unknown field \"spec.x\""` header per field. `Ignore`: silent. A value
  against the schema: type (`spec.x: Invalid value: "string": spec.x in body must be of type
  integer: "string"`), enum (`Unsupported value: "X": supported values: "A", "B"`),
  minimum/maximum (exclusive), multipleOf, minLength, pattern, minItems, minProperties,
  required, x-kubernetes-int-or-string, and metadata.name as a DNS subdomain: 422 Invalid
  `Kind.group "name" is invalid: ERR` (several: `[ERR1, ERR2]`) with details.causes, as
  errors.NewInvalid writes it (kubectl prints `The Kind "name" is invalid: ...`). A custom
  resource's PUT needs metadata.resourceVersion (422 `metadata.resourceVersion: Invalid value:
  0x0: must be specified for an update`). A strategic-merge PATCH of a custom resource is 415
  with the real list of accepted patch types. Built-in kinds are neither pruned nor
  type-checked (the stand-in has no schema for them).
- The status subresource of custom resources (when the version declares it) follows
  customResourceStrategy: create drops status; PUT/PATCH of the main resource keep the stored
  status; PUT/PATCH `/NAME/status` change only status; metadata.generation counts changes outside
  metadata and status (not label or status writes). Without the subresource, status is an
  ordinary field and `/status` is 404.
- metadata.managedFields on every write over HTTP (kube_fields.py): Update entries `{manager,
  operation: Update, apiVersion (the request's), time, fieldsType: FieldsV1, fieldsV1,
  subresource?}`; the manager is `fieldManager`, else the User-Agent before its first '/'
  (kubectl apply: kubectl-client-side-apply, create: kubectl-create, patch: kubectl-patch, edit:
  kubectl-edit, label: kubectl-label, the python client: OpenAPI-Generator). One entry per
  manager, apiVersion and subresource; the fields a write adds or changes become its manager's
  (its time renewed; a write changing nothing renews nothing), other managers lose them and the
  removed ones, an entry left empty goes; entries sorted by operation, time (seconds), manager,
  apiVersion, subresource — so the newest writer is last unless two wrote in the same second. A
  /status write is tracked with `subresource: status` and only its status fields; status changes
  to the main resource are not tracked. Lists and maps as the kind's schema has them
  (kube_fields.py): associative lists of built-in kinds by their keys (`k:{"name":"app"}`,
  `k:{"containerPort":8080,"protocol":"TCP"}`), a CRD's by x-kubernetes-list-type, every other
  list one atomic field (`f:http`); selectors and roleRef atomic; nodes a manager added carry
  `.`. Server-side apply adds `operation: Apply` entries (above). What mutating webhooks change
  is no one's, as in the real server. Client-sent managedFields replace the stored ones when valid
  (as the real server does), with times normalised to RFC 3339 `Z`.
- Validating admission webhooks (kube_admission.py): ValidatingWebhookConfigurations (CRUD,
  watch, every patch type, so a controller can patch `webhooks[].clientConfig.caBundle`;
  defaulted: failurePolicy Fail, matchPolicy Equivalent, selectors {}, timeoutSeconds 10,
  rules[].scope "*", service port 443; a few real checks: sideEffects None/NoneOnDryRun,
  admissionReviewVersions, exactly one of url/service, https, timeout 1-30). Every CREATE,
  UPDATE (PUT and PATCH, also no-op ones) and DELETE over HTTP (not the configurations
  themselves, not test helpers) is matched against every webhook (configurations by name, then
  in order): namespaceSelector (the namespace's labels; a Namespace's own), objectSelector
  (object or old object), rules (operations, apiGroups, apiVersions, resources with
  `res/sub` and `*`, scope), then with matchPolicy Equivalent the CRD's other served versions. A
  matching webhook gets kube-apiserver's `admission.k8s.io/v1 AdmissionReview` (uid, kind,
  resource, subResource, requestKind, requestResource, requestSubResource, name, namespace,
  operation, userInfo of the caller, object, oldObject — converted to the rule's version — dryRun,
  options: CreateOptions/UpdateOptions/DeleteOptions of meta.k8s.io/v1 with what the request
  sent) POSTed to `clientConfig.url` or to `https://NAME.NAMESPACE.svc:PORT/PATH` (the
  connection goes to `webhook_service_address((namespace, name))`: the `webhook_services`
  option or `add_webhook_service`), both with `?timeout=Ns`, over HTTPS verified against
  `caBundle` (the system roots without one) for `NAME.NAMESPACE.svc` / the URL's host, within
  `timeoutSeconds`. Webhooks run after decoding, schema validation and the namespace check, before
  the write (and, as the real server, before an AlreadyExists). An answer with `allowed: false`
  ends the request with the webhook's Status: code from `status.code` if >= 400 else 400,
  `admission webhook "NAME" denied the request: MESSAGE` (or its reason, or "without
  explanation"). `warnings` become `Warning: 299 - "..."` headers (kubectl prints `Warning: ...`),
  also on denials. A validating webhook that cannot be called (connection refused, TLS failure, unknown
  service, timeout, a non-2xx or undecodable answer, wrong uid/kind, a patch): failurePolicy
  Fail answers 500 InternalError `Internal error occurred: failed calling webhook "NAME": failed
  to call webhook: Post "URL?timeout=10s": dial tcp 127.0.0.1:P: connect: connection refused`
  (or `tls: failed to verify certificate: x509: certificate signed by unknown authority`, `...
  x509: certificate is valid for A, not B`, `context deadline exceeded`, `received invalid
  webhook response: ...`); Ignore lets the request through. `dryRun=All` calls webhooks (their
  sideEffects are None/NoneOnDryRun) and persists nothing. Every call is recorded in
  `admission_calls` ({webhook, configuration, url, review, response, error, allowed, type:
  "validating" or "mutating", patch: the JSONPatch operations applied or None}).
- Mutating admission webhooks (kube_admission.mutate, mutating/dispatcher.go):
  MutatingWebhookConfigurations (as the validating ones, defaulted also reinvocationPolicy Never,
  which is checked as Never/IfNeeded) are matched the same way (namespaceSelector against the
  namespace's labels, so labelling a namespace istio-injection=enabled sends its pods through a
  webhook selecting it) for every CREATE, UPDATE and DELETE over HTTP, before the validating ones
  and in kube-apiserver's place: on CREATE after decoding, defaults, managedFields and the
  namespace check but before the store fills in uid, creationTimestamp, generation and a
  generateName's name (the review then has no `name`) and before validation; on UPDATE after the
  managedFields, before the strategy (status kept, generation) and validation. They are called one
  after the other, configurations by name then in order, each sent the object as the previous
  ones left it. An allowed answer with `patchType: JSONPatch` and a base64 `patch` (RFC 6902,
  json_patch) changes the object, which is then defaulted again (and, a custom resource, pruned);
  a patch without patchType or the reverse, another patchType, bad base64: `received invalid
  webhook response: ...` (a call failure, under failurePolicy); a patch that is not a JSON array
  or does not apply, or one on a DELETE: 500 InternalError whatever the failurePolicy. Denials,
  warnings, call failures and dryRun as for validating webhooks. reinvocationPolicy IfNeeded is
  treated as Never (each webhook is called once).
- Callers (`users` option): a token's user is `users[token]`, else a service-account token's
  `system:serviceaccount:NS:SA` (uid, groups), else `admin-token` is `kubernetes-admin`
  (system:masters, system:authenticated), any other token a user named after it. A token only
  authenticates when it is in `tokens`.
- Lists: labelSelector (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`),
  fieldSelector (`metadata.name`, `metadata.namespace`, and for pods `spec.nodeName`,
  `status.phase`, for secrets `type`; `=`, `==`, `!=`; others 400), `limit` / `continue` over a consistent snapshot:
  the continue token (base64 JSON) holds the snapshot's resourceVersion and the last key, a page
  after writes still shows the snapshot, a token older than the history window is 410 Gone with
  reason Expired. The list's metadata.resourceVersion is the snapshot's; `remainingItemCount`.
  `resourceVersion` unset or "0": latest; `resourceVersion=R&resourceVersionMatch=Exact`: the
  state at R (410 Expired when compacted); `NotOlderThan` / no match with R: latest, or 504 "Too
  large resource version" when R is in the future.
- Watches (`watch=1|true`): chunked JSON lines `{"type", "object"}`. From resourceVersion R, the
  events after R from the history window (R older than the window: one ERROR event with a 410
  `Status`, reason Expired, "too old resource version: R (C)", and the end of the stream, as the
  real server). Unset or "0": ADDED for every current object first. Selectors applied per event
  (an object leaving the selector is DELETED, one entering it ADDED). `allowWatchBookmarks=true`:
  a BOOKMARK every `bookmark_interval` seconds carrying only kind, apiVersion and
  metadata.resourceVersion (every event up to it has been sent). `timeoutSeconds`: the server
  ends the stream then (default `watch_timeout`, 1800 s). A DELETED event carries the object with
  the deletion's resourceVersion.
- TokenReview: POST /apis/authentication.k8s.io/v1/tokenreviews (the caller needs a valid bearer
  token itself) looks `spec.token` up in `service_accounts` {token: (namespace, sa, audiences)}:
  authenticated with user `system:serviceaccount:NS:SA`, groups, and `status.audiences` = the
  audiences both the token and the request (or, when the request names none, the server's
  `api_audiences`) have; no common audience or an unknown token: authenticated false and
  `status.error`. Answers 201.

Fault hooks (the "storm"): `end_watches()`, `fail_watches(code=410)` (ERROR Status then end),
`reset_watches()` (half an event written then the socket closed), `pause(seconds)` (events held,
bookmarks still sent, at the paused position), `compact(rv=None)` (history before rv dropped: older
watches / continue tokens get 410), `restart(keep_state=True)` (same port; without state: objects
and history gone, resourceVersion keeps counting, every older version 410), `delay(seconds)`
(every answer waits), `unreachable()` / `reachable()` (listening socket closed, open connections
cut; the same port again).

Test helpers (no HTTP, no auth, no status-subresource rules, no pruning or schema checks, no
admission, managedFields only with `manager=`): `create(obj, manager=None)`, `update(obj,
check_version=False, manager=None)` (a full replacement), `patch(resource, ns, name, merge,
manager=None)`, `delete(resource, ns, name)`, `get(resource, ns, name)` and `state(resource)`
({(ns, name): obj}; custom resources as stored, in their storage version), `resource(name)` (a
kind's storage Resource by plural, plural.group or kind), `install_crds(path_or_docs)` (the CRDs'
names), `add_webhook_service(ns, name, "host:port")`, `webhook_service_address((ns, name))`,
`user_for_token(token)`, `admission_calls`, `resource_version` (int), `kubeconfig(path, token)`,
`url`, `requests` (method, path, status), `registry` (the served kinds), `openapi_root()`,
`set_deployment_ready(ns, name, replicas=None)` (status as the deployment controller writes it
once the pods are ready: observedGeneration = generation; replicas, updatedReplicas,
readyReplicas, availableReplicas = `replicas` else spec.replicas, default 1; conditions
Available/MinimumReplicasAvailable and Progressing/NewReplicaSetAvailable; a /status Update by
kube-controller-manager, writing nothing when the status already says so).
`make_tls_material(dir, dns_names, ips)` makes a CA and a server certificate (for a test's
webhook server too).
Limits: no RBAC (roles and bindings are stored, never enforced), no controllers (a Deployment
gets no ReplicaSet or pods; set_deployment_ready plays its controller), mutating webhooks called
once each (no reinvocation), no ValidatingAdmissionPolicy, no webhook matchConditions,
no admission for what a namespace or CRD deletion cascades to, validating webhooks called one
after the other (the real server calls them in parallel; the first failure in order is answered), no
defaulting beyond the fields above (schema `default`s are not applied), no CRD conversion
webhooks, no `scale` subresource, no additionalPrinterColumns (no server-side Table output:
kubectl prints NAME/AGE), no validation of built-in kinds, no x-kubernetes-validations (CEL),
x-kubernetes-list-type uniqueness or maxLength/maxItems checks, no managedFields cap (the real server folds
updates beyond 10 managers into "ancient-changes"), built-in kinds' list and map types only as
kube_fields.py's table knows them (any other list atomic), no schema for built-in kinds (an apply
of an unknown built-in field is accepted, not a 500; no scalar type checks), a null in an applied
configuration dropped (not owned), managed field sets not converted between versions, the
Update entry of a built-in kind's create with `.` on its spec and lists (the real server compares
with the typed zero object, whose spec exists and whose lists are null), no CBOR apply, no
graceful deletion or finalizers (a deleted CRD is gone at once), no
protobuf (so `kubectl create namespace` and other typed generators fail; `kubectl create -f`
works), no aggregated discovery, no watch of a single object by name other than through
fieldSelector=metadata.name, no sendInitialEvents.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import ipaddress
import json
import os
import random
import re
import socket
import ssl
import string
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

import kube_admission
import kube_crds
import kube_fields

# --------------------------------------------------------------------------------------------
# The kinds served


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    verbs: tuple = ("create", "delete", "get", "list", "patch", "update", "watch")
    subresources: tuple = ()  # e.g. ("status",)
    singular: str = ""
    categories: tuple = ()
    crd: str = ""              # custom resources: the CRD's name (plural.group)
    storage_version: str = ""  # custom resources: the version objects are stored in
    schema: dict | None = field(default=None, compare=False, hash=False, repr=False)  # openAPIV3Schema

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self) -> str:
        """The store all versions of a kind share ("pods"; "virtualservices.networking.istio.io")."""
        return f"{self.plural}.{self.group}" if self.crd else self.plural


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), subresources=("status",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), subresources=("status",)),
    Resource("", "v1", "services", "Service", True, ("svc",), subresources=("status",)),
    Resource("", "v1", "pods", "Pod", True, ("po",), subresources=("status",)),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=("create",)),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
             ("crd", "crds"), subresources=("status",), categories=("api-extensions",)),
    Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", False, categories=("api-extensions",)),
    Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", False, categories=("api-extensions",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), subresources=("status",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), subresources=("status",)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
]
WEBHOOK_CONFIGURATIONS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")


class Registry:
    """The kinds one server serves: the built-in RESOURCES plus every served version of each
    established CRD (lookups by group/version/plural, by apiVersion/kind, by store; discovery's
    groups with their versions, preferred first)."""

    def __init__(self):
        self.resources = list(RESOURCES)
        self._index()

    def _index(self):
        self.by_gvp = {(r.group, r.version, r.plural): r for r in self.resources}
        self.by_kind = {(r.api_version, r.kind): r for r in self.resources}
        groups: dict = {}
        for r in self.resources:
            if r.version not in groups.setdefault(r.group, []):
                groups[r.group].append(r.version)
        self.groups = {g: sorted(vs, key=kube_crds.version_priority) for g, vs in groups.items()}
        by_store: dict = {}
        for r in self.resources:
            if not r.crd or r.version == r.storage_version:
                by_store.setdefault(r.store_key, r)
        for r in self.resources:  # a CRD whose storage version is not served still has a store
            by_store.setdefault(r.store_key, r)
        self.by_store = by_store

    def set_crd(self, name: str, resources: list):
        self.resources = [r for r in self.resources if r.crd != name] + list(resources)
        self._index()

    def equivalents(self, res: Resource) -> list:
        return [r for r in self.resources if r.store_key == res.store_key]

    def lookup(self, plural: str) -> Resource:
        """A kind's storage Resource by plural, plural.group, Kind or kind."""
        for r in self.by_store.values():
            if plural in (r.plural, f"{r.plural}.{r.group}", r.kind, r.kind.lower()):
                return r
        raise KeyError(plural)


BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public")
DEFAULT_API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-meshd-standin",
                  "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                  "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
                  "platform": "linux/amd64"}


class ApiError(Exception):
    """An error answered as a metav1 Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None, body: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.body = body  # a whole Status to answer as is (a webhook's denial)

    def status(self) -> dict:
        return self.body or status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:  # StatusReasonUnknown ("") is left out, as for an error that is not a Status
        s["reason"] = reason
    s["code"] = code
    if details:
        s["details"] = details
    return s


def qualified(res: Resource) -> str:
    """schema.GroupResource.String(): "pods", "virtualservices.networking.istio.io"."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(res)} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.plural})


@dataclass
class Write:
    """How a write came: over HTTP (strict decoding, schema checks, the subresource's rules,
    managedFields, admission webhooks) or from a test helper (none of those; managedFields only
    when the helper names a manager)."""
    http: bool = False
    user: dict = field(default_factory=dict)
    manager: str | None = None
    q: dict = field(default_factory=dict)
    directive: str = "Ignore"     # fieldValidation: Strict / Warn / Ignore
    warnings: list = field(default_factory=list)
    sub: str | None = None        # "status" for /status
    dry_run: bool = False
    apply: bool = False           # server-side apply: managedFields already computed


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Selectors


_LABEL_TERM = re.compile(r"^\s*(!)?\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_terms(selector: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur)
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None):
    """A predicate over a labels dict; ApiError 400 for a selector it cannot parse."""
    if not selector:
        return lambda labels: True
    checks = []
    for term in _split_terms(selector):
        m = _LABEL_TERM.match(term)
        if not m or (m.group(1) and (m.group(3) or m.group(5))):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label selector {selector!r}")
        neg, key, op, value, setop, values = m.groups()
        if neg:
            checks.append(lambda l, k=key: k not in l)
        elif op in ("=", "=="):
            checks.append(lambda l, k=key, v=value: l.get(k) == v)
        elif op == "!=":
            checks.append(lambda l, k=key, v=value: l.get(k) != v)
        elif setop:
            vs = {v.strip() for v in values.split(",") if v.strip()}
            if setop == "in":
                checks.append(lambda l, k=key, vs=vs: l.get(k) in vs)
            else:
                checks.append(lambda l, k=key, vs=vs: l.get(k) not in vs)
        else:
            checks.append(lambda l, k=key: k in l)
    return lambda labels: all(c(labels or {}) for c in checks)


_FIELD_TERM = re.compile(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$")


def parse_field_selector(selector: str | None, res: Resource):
    """A predicate over an object; 400 for a field the kind does not support."""
    if not selector:
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace"}
    if res.plural == "pods":
        allowed |= {"spec.nodeName", "status.phase"}
    if res.plural == "secrets":
        allowed |= {"type"}  # pkg/registry/core/secret: SelectableFields
    checks = []
    for term in _split_terms(selector):
        m = _FIELD_TERM.match(term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector {selector!r}")
        path, op, value = m.groups()
        if path not in allowed:
            raise ApiError(400, "BadRequest", f'field label not supported: {path}')

        def get(obj, path=path):
            cur = obj
            for part in path.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            return cur if cur is not None else ""
        if op == "!=":
            checks.append(lambda o, g=get, v=value: g(o) != v)
        else:
            checks.append(lambda o, g=get, v=value: g(o) == v)
    return lambda obj: all(c(obj) for c in checks)


# --------------------------------------------------------------------------------------------
# Patches


_MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
               "env": "name", "volumes": "name", "volumeMounts": "mountPath", "conditions": "type",
               "imagePullSecrets": "name", "ownerReferences": "uid", "tolerations": None,
               "hostAliases": "ip", "volumeDevices": "devicePath"}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _list_merge_key(field_name: str, items: list):
    key = _MERGE_KEYS.get(field_name, "")
    if field_name == "ports":
        key = "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    if key and all(isinstance(i, dict) and key in i for i in items if not (isinstance(i, dict) and i.get("$patch"))):
        return key
    return None


def strategic_merge_patch(target, patch, field_name: str = ""):
    """Strategic merge for the simple cases kubectl sends (see the module docstring)."""
    if not isinstance(patch, dict):
        if isinstance(patch, list) and isinstance(target, list):
            key = _list_merge_key(field_name, patch + target)
            if key:
                out = copy.deepcopy(target)
                for item in patch:
                    if item.get("$patch") == "delete":
                        out = [o for o in out if o.get(key) != item.get(key)]
                        continue
                    for i, o in enumerate(out):
                        if o.get(key) == item.get(key):
                            out[i] = strategic_merge_patch(o, item)
                            break
                    else:
                        out.append(strategic_merge_patch({}, item))
                return out
        if isinstance(patch, list):
            return [strategic_merge_patch({}, i) if isinstance(i, dict) else i for i in patch]
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            result[name] = [x for x in result.get(name, []) if x not in v]
        elif k.startswith("$"):
            continue  # $retainKeys, $patch: not modelled
        elif v is None:
            result.pop(k, None)
        else:
            result[k] = strategic_merge_patch(result.get(k), v, k)
    for name, order in orders.items():
        items = result.get(name)
        if not isinstance(items, list):
            continue
        key = _list_merge_key(name, items)
        if key:
            wanted = [o.get(key) for o in order if isinstance(o, dict)]
            ranked = {v: i for i, v in enumerate(wanted)}
            items.sort(key=lambda o: ranked.get(o.get(key), len(ranked)))
    return result


def json_patch(target, ops: list):
    """RFC 6902 add / remove / replace / test."""
    doc = copy.deepcopy(target)
    for op in ops:
        path = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in path[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = path[-1] if path else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        else:
            raise ApiError(422, "Invalid", f"json patch op {kind!r} not supported by the stand-in")
    return doc


def pod_template_hash(template) -> str:
    """controller.ComputeHash's shape: an FNV-32a hash of the template, its decimal digits
    rand.SafeEncodeString-ed (the stand-in hashes the template's JSON, not Go's DeepHashObject)."""
    h = 0x811C9DC5
    for b in json.dumps(template, sort_keys=True).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[ord(c) % len(alphabet)] for c in str(h))


# --------------------------------------------------------------------------------------------
# TLS material


def make_tls_material(directory: str, dns_names=("localhost", "kubernetes.default.svc"),
                      ips=("127.0.0.1",)) -> tuple[str, str, str, bytes]:
    """A CA and a server certificate for `dns_names` and `ips` (by default 127.0.0.1 / localhost):
    (ca_path, cert_path, key_path, ca_pem). Tests use it for their webhook servers too."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver stand-in CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    paths = [os.path.join(directory, n) for n in ("ca.crt", "tls.crt", "tls.key")]
    for p, data in zip(paths, (ca_pem, cert.public_bytes(serialization.Encoding.PEM), pem_key(key))):
        with open(p, "wb") as f:
            f.write(data)
    return paths[0], paths[1], paths[2], ca_pem


# --------------------------------------------------------------------------------------------
# The store: objects, one resourceVersion, a bounded history of events


@dataclass
class Event:
    rv: int
    type: str           # ADDED / MODIFIED / DELETED
    res: Resource
    key: tuple          # (namespace, name)
    obj: dict           # the object after the write (DELETED: last state with the deletion's rv)
    prev: dict | None   # the object before (None for ADDED)


@dataclass(eq=False)
class _WatchControl:
    action: str | None = None   # "end" / "error" / "reset"
    code: int = 410


class Store:
    """Objects keyed by (resource plural, namespace, name); every write one event in history."""

    def __init__(self, history_size: int):
        self.cond = threading.Condition()
        self.history_size = history_size
        self.rv = 0
        self.reset(keep_rv=False)

    def reset(self, keep_rv: bool = True):
        with self.cond:
            if not keep_rv:
                self.rv = 0
            self.objects: dict[tuple, dict] = {}
            self.history: list[Event] = []   # events with rv in (compacted, rv], contiguous
            self.compacted = self.rv
            self.cond.notify_all()

    # -- reads
    def objects_at(self, res: Resource, at_rv: int) -> dict:
        """{(ns, name): obj} of `res` as of `at_rv` (>= compacted), rewinding the history."""
        with self.cond:
            if at_rv < self.compacted:
                raise gone(f"too old resource version: {at_rv} ({self.compacted})")
            state = {k[1:]: v for k, v in self.objects.items() if k[0] == res.store_key}
            for ev in reversed(self.history):
                if ev.rv <= at_rv:
                    break
                if ev.res.store_key != res.store_key:
                    continue
                if ev.prev is None:
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.prev
            return state

    # -- writes (callers hold no lock)
    def commit(self, res: Resource, key: tuple, new: dict | None) -> dict | None:
        """Store `new` (None deletes) as the next resourceVersion; the event's object."""
        with self.cond:
            full = (res.store_key,) + key
            prev = self.objects.get(full)
            self.rv += 1
            if new is None:
                obj = copy.deepcopy(prev)
                obj["metadata"]["resourceVersion"] = str(self.rv)
                del self.objects[full]
                etype = "DELETED"
            else:
                obj = copy.deepcopy(new)
                obj["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[full] = obj
                etype = "ADDED" if prev is None else "MODIFIED"
            self.history.append(Event(self.rv, etype, res, key, obj, prev))
            if len(self.history) > self.history_size:
                drop = len(self.history) - self.history_size
                self.compacted = self.history[drop - 1].rv
                del self.history[:drop]
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def compact(self, rv: int | None = None):
        with self.cond:
            rv = self.rv if rv is None else min(max(rv, self.compacted), self.rv)
            self.history = [e for e in self.history if e.rv > rv]
            self.compacted = rv
            self.cond.notify_all()


# --------------------------------------------------------------------------------------------
# The server


class KubeApiServer:
    def __init__(self, tokens=("admin-token",), service_accounts: dict | None = None, tls: bool = True,
                 host: str = "127.0.0.1", port: int = 0, bookmark_interval: float = 1.0,
                 history_size: int = 1000, watch_timeout: float = 1800.0,
                 api_audiences=DEFAULT_API_AUDIENCES, workdir: str | None = None,
                 users: dict | None = None, webhook_services: dict | None = None):
        self.tokens = set(tokens)
        # token -> (namespace, serviceaccount, audiences)
        self.service_accounts = dict(service_accounts or {})
        # token -> {"username", "uid", "groups"} (the caller a webhook is told about)
        self.users = dict(users or {})
        # (namespace, service name) -> "host:port" a webhook's clientConfig.service is reached at
        self.webhook_services = dict(webhook_services or {})
        self.admission_calls: list[dict] = []
        self.registry = Registry()
        self.tls = tls
        self.host, self.port = host, port
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.api_audiences = list(api_audiences)
        self.store = Store(history_size)
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="kube-apiserver-")
        self.ca_path = self.cert_path = self.key_path = None
        self.ca_pem = b""
        if tls:
            self.ca_path, self.cert_path, self.key_path, self.ca_pem = make_tls_material(self.workdir)
        self.requests: list[tuple[str, str, int]] = []
        self._httpd = None
        self._thread = None
        self._conns: set = set()
        self._watches: set = set()
        self._lock = threading.Lock()
        self._delay = 0.0
        self._paused_until = 0.0
        self._stopping = threading.Event()
        self._seed_namespaces()

    # -- lifecycle
    def _seed_namespaces(self):
        self.registry = Registry()
        for ns in BUILTIN_NAMESPACES:
            if ("namespaces", "", ns) not in self.store.objects:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def start(self) -> "KubeApiServer":
        server = self

        class Handler(_Handler):
            api = server

        httpd = _HTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert_path, self.key_path)
            ctx.set_alpn_protocols(["http/1.1"])
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kube-apiserver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _halt(self):
        """Stop listening, end every watch and cut every connection."""
        if not self._httpd:
            return
        self._stopping.set()
        with self.store.cond:
            self.store.cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._httpd = None

    def stop(self):
        self._halt()
        self._paused_until = 0.0
        self._delay = 0.0
        if self._own_dir:
            for n in ("ca.crt", "tls.crt", "tls.key"):
                try:
                    os.unlink(os.path.join(self.workdir, n))
                except OSError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def kubeconfig(self, path: str, token: str = "admin-token", namespace: str = "default") -> str:
        """Write a kubeconfig (context `standin`) for kubectl and client libraries; returns path."""
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "standin",
               "clusters": [{"name": "standin", "cluster": cluster}],
               "users": [{"name": "standin", "user": {"token": token}}],
               "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin",
                                                             "namespace": namespace}}]}
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)  # JSON is YAML
        return path

    # -- fault hooks
    def _signal_watches(self, action: str, code: int = 410):
        with self.store.cond:
            for ctl in list(self._watches):
                ctl.action, ctl.code = action, code
            self.store.cond.notify_all()

    def open_watches(self) -> int:
        with self.store.cond:
            return len(self._watches)

    def end_watches(self):
        """End every open watch cleanly (the stream's last chunk)."""
        self._signal_watches("end")

    def fail_watches(self, code: int = 410):
        """Send an ERROR event with a Status of `code` (410: Expired) on every open watch, then end it."""
        self._signal_watches("error", code)

    def reset_watches(self):
        """Write half of an event on every open watch, then close the socket."""
        self._signal_watches("reset")

    def pause(self, seconds: float):
        """Hold every watch event for `seconds` (bookmarks still go out, at the held position)."""
        self._paused_until = time.monotonic() + seconds
        with self.store.cond:
            self.store.cond.notify_all()

    def compact(self, rv: int | None = None):
        """Drop history up to rv (default: all): older watches and continue tokens get 410."""
        self.store.compact(rv)

    def delay(self, seconds: float):
        """Every answer from now on waits `seconds` first (0 ends it)."""
        self._delay = seconds

    def unreachable(self):
        """Close the listening socket and cut every connection (refused until reachable())."""
        self._halt()

    def reachable(self):
        if not self._httpd:
            self.start()

    def restart(self, keep_state: bool = True):
        """Stop and start on the same port; without state objects and history are gone (the
        resourceVersion keeps counting, so every older version is 410 Expired)."""
        self._halt()
        if not keep_state:
            self.store.reset(keep_rv=True)
            self._seed_namespaces()
        self.start()

    # -- test helpers (no HTTP)
    @property
    def resource_version(self) -> int:
        return self.store.rv

    def resource(self, plural: str) -> Resource:
        """A served kind's storage Resource by plural, plural.group, Kind or kind."""
        return self.registry.lookup(plural)

    def equivalents(self, res: Resource) -> list:
        return self.registry.equivalents(res)

    def state(self, plural: str) -> dict:
        res = self.resource(plural)
        with self.store.cond:
            return {k[1:]: copy.deepcopy(v) for k, v in self.store.objects.items() if k[0] == res.store_key}

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        with self.store.cond:
            o = self.store.objects.get((self.resource(plural).store_key, namespace or "", name))
            return copy.deepcopy(o)

    def _by_kind(self, obj: dict) -> Resource:
        res = self.registry.by_kind.get((obj.get("apiVersion"), obj.get("kind")))
        if res is None:
            raise KeyError(f"no {obj.get('kind')} in {obj.get('apiVersion')} is served")
        return res

    def create(self, obj: dict, manager: str | None = None) -> dict:
        res = self._by_kind(obj)
        ns = obj.get("metadata", {}).get("namespace", "default") if res.namespaced else ""
        return self._create(res, ns, obj, Write(manager=manager))

    def update(self, obj: dict, check_version: bool = False, manager: str | None = None) -> dict:
        res = self._by_kind(obj)
        ns = obj["metadata"].get("namespace", "default") if res.namespaced else ""
        return self._update(res, ns, obj["metadata"]["name"], lambda cur: obj, Write(manager=manager),
                            check_version=check_version)

    def patch(self, plural: str, namespace: str, name: str, merge: dict, manager: str | None = None) -> dict:
        res = self.resource(plural)
        return self._update(res, namespace or "", name, lambda cur: merge_patch(cur, merge), Write(manager=manager),
                            check_version=False)

    def delete(self, plural: str, namespace: str, name: str) -> dict:
        return self._delete(self.resource(plural), namespace or "", name, {}, Write())

    def set_deployment_ready(self, namespace: str, name: str, replicas: int | None = None) -> dict:
        """Write a Deployment's status as the deployment controller does once its pods are ready
        (a /status write by kube-controller-manager): observedGeneration = generation; replicas,
        updatedReplicas, readyReplicas, availableReplicas = `replicas`, else spec.replicas (1 when
        unset), zeros left out as the API leaves them; conditions Available (MinimumReplicasAvailable)
        and Progressing (NewReplicaSetAvailable, naming the ReplicaSet NAME-HASH), their times kept
        when they already said so. kubectl rollout status then reports it rolled out."""
        res = self.resource("deployments")

        def mutate(cur: dict) -> dict:
            spec = cur.get("spec") or {}
            n = replicas if replicas is not None else (spec.get("replicas") if spec.get("replicas") is not None else 1)
            now = now_rfc3339()
            old = {c.get("type"): c for c in (cur.get("status") or {}).get("conditions") or []}

            def condition(kind: str, reason: str, message: str) -> dict:
                prev = old.get(kind) or {}
                same = prev.get("status") == "True" and prev.get("reason") == reason and prev.get("message") == message
                return {"type": kind, "status": "True",
                        "lastUpdateTime": prev["lastUpdateTime"] if same and prev.get("lastUpdateTime") else now,
                        "lastTransitionTime": prev["lastTransitionTime"] if prev.get("status") == "True"
                        and prev.get("lastTransitionTime") else now,
                        "reason": reason, "message": message}
            status = {"observedGeneration": cur["metadata"].get("generation", 1)}
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
                if n:
                    status[k] = n
            status["conditions"] = [
                condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                condition("Progressing", "NewReplicaSetAvailable",
                          f'ReplicaSet "{name}-{pod_template_hash(spec.get("template"))}" has successfully progressed.')]
            new = copy.deepcopy(cur)
            new["status"] = status
            return new
        return self._update(res, namespace or "", name, mutate, Write(manager="kube-controller-manager", sub="status"),
                            check_version=False)

    def install_crds(self, path_or_docs) -> list[str]:
        """Create every CustomResourceDefinition in a file, YAML text or list of dicts (other kinds
        skipped); each is established at once. Answers the CRDs' names."""
        names = []
        for crd in kube_crds.load_crd_docs(path_or_docs):
            self.create(crd)
            names.append(crd["metadata"]["name"])
        return names

    def add_webhook_service(self, namespace: str, name: str, address: str):
        """Where a webhook's clientConfig.service (namespace, name) is reached ("127.0.0.1:PORT")."""
        self.webhook_services[(namespace, name)] = address

    def webhook_service_address(self, key: tuple) -> str | None:
        """The "host:port" a clientConfig.service (namespace, name) resolves to (None: unknown)."""
        return self.webhook_services.get(tuple(key))

    def user_for_token(self, token: str) -> dict:
        """The user a bearer token authenticates as (what an AdmissionReview's userInfo says):
        `users` first, then a service-account token's system:serviceaccount:NS:SA, admin-token as
        kubernetes-admin (system:masters), any other token as a user of its own name."""
        if token in self.users:
            return dict(self.users[token])
        if token in self.service_accounts:
            ns, sa = self.service_accounts[token][:2]
            return {"username": f"system:serviceaccount:{ns}:{sa}",
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sa/{ns}/{sa}")),
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}
        if token == "admin-token":
            return {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
        return {"username": token, "groups": ["system:authenticated"]}

    # -- the store's rules
    def _out(self, res: Resource, obj: dict | None) -> dict | None:
        """An object as answered for `res`: custom resources in the requested version."""
        if obj is None:
            return None
        obj = copy.deepcopy(obj)
        if res.crd:
            obj["apiVersion"] = res.api_version
        return obj

    def _storage(self, res: Resource) -> Resource:
        return self.registry.by_store.get(res.store_key, res)

    def _stored(self, res: Resource, obj: dict) -> dict:
        return kube_admission.convert(obj, self._storage(res).api_version) if res.crd else obj

    def _get(self, res: Resource, ns: str, name: str) -> dict:
        with self.store.cond:
            o = self.store.objects.get((res.store_key, ns, name))
            if o is None:
                raise not_found(res, name)
            return self._out(res, o)

    def _check_namespace(self, res: Resource, ns: str):
        if res.namespaced and ("namespaces", "", ns) not in self.store.objects:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                           {"name": ns, "kind": "namespaces"})

    def _decode_custom(self, res: Resource, obj: dict, w: "Write", patched: dict | None = None):
        """The custom resource decoder: unknown fields pruned (always, as for every structural
        schema); with fieldValidation Strict a 400 (create/update, transformDecodeError's wording)
        or a 422 on `patch` (patch.go), with Warn one warning per field."""
        try:
            unknown = kube_crds.decode_custom_resource(obj, res.schema)
        except kube_crds.DecodeError as e:
            raise ApiError(400, "BadRequest", f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {e}')
        if not unknown:
            return
        if w.directive == "Strict":
            msg = kube_crds.strict_error(unknown)
            if patched is None:
                raise ApiError(400, "BadRequest", f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {msg}')
            raise ApiError(*kube_crds.invalid("", "", "", [kube_crds.FieldError(
                "FieldValueInvalid", "patch", json.dumps(patched, sort_keys=True, separators=(",", ":")), msg)]))
        if w.directive == "Warn":
            w.warnings += [f'unknown field "{p}"' for p in unknown]

    def _validate(self, res: Resource, obj: dict, name: str, create: bool):
        """422 Invalid: a custom resource against its schema (and its name), a CRD or a webhook
        configuration against the checks the stand-in knows."""
        errs = []
        if res.crd:
            errs = (kube_crds.name_errors(name) if create else []) + kube_crds.validate(obj, res.schema)
        elif res.plural == "customresourcedefinitions":
            errs = kube_crds.crd_errors(obj)
        elif res.plural in WEBHOOK_CONFIGURATIONS:
            errs = kube_admission.configuration_errors(obj, mutating=res.plural.startswith("mutating"))
        if errs:
            raise ApiError(*kube_crds.invalid(res.kind, res.group, name, errs))

    def _defaults(self, res: Resource, obj: dict):
        if res.plural == "customresourcedefinitions":
            names = (obj.setdefault("spec", {})).setdefault("names", {})
            if names.get("kind"):
                names.setdefault("singular", names["kind"].lower())
                names.setdefault("listKind", names["kind"] + "List")
            obj["spec"].setdefault("conversion", {"strategy": "None"})
        elif res.plural in WEBHOOK_CONFIGURATIONS:
            kube_admission.default_configuration(obj, mutating=res.plural.startswith("mutating"))
        elif res.plural == "secrets":
            # Secret's stringData is write-only: merged into data (base64), never stored.
            data = obj.setdefault("data", {})
            for key, value in (obj.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj.setdefault("type", "Opaque")
        elif res.plural == "deployments":  # apps/v1 SetDefaults_Deployment (the pod template is not defaulted)
            spec = obj.setdefault("spec", {})
            for k, v in (("replicas", 1), ("revisionHistoryLimit", 10), ("progressDeadlineSeconds", 600)):
                if spec.get(k) is None:
                    spec[k] = v
            strategy = spec.get("strategy") or {}
            spec["strategy"] = strategy
            if not strategy.get("type"):
                strategy["type"] = "RollingUpdate"
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.get("rollingUpdate") or {}
                strategy["rollingUpdate"] = rolling
                for k in ("maxUnavailable", "maxSurge"):
                    if rolling.get(k) is None:
                        rolling[k] = "25%"

    def _field_type(self, res: Resource):
        """The schema managedFields and server-side apply walk (kube_fields): a custom resource's
        structural schema, a built-in kind's list and map markers."""
        if res.crd:
            return kube_fields.SchemaType(res.schema, res.kind, root=True)
        return kube_fields.BuiltinType(res.kind)

    @staticmethod
    def _ignored(res: Resource, sub: str | None):
        """The reset fields (GetResetFields) a write to `sub` leaves to the other endpoint: status
        on the main resource, everything else on /status; None without a status subresource."""
        if "status" not in res.subresources:
            return None
        status = sub == "status"
        return lambda p: (p[:1] == ("f:status",)) != status

    def _managed_fields(self, res: Resource, live: dict | None, new: dict, w: "Write"):
        if w.apply:  # computed by the apply itself (kube_fields.apply_managed_fields)
            return
        if not w.manager:
            if live is not None and "managedFields" not in new["metadata"] and (live["metadata"].get("managedFields")):
                new["metadata"]["managedFields"] = copy.deepcopy(live["metadata"]["managedFields"])
            return
        mf = kube_fields.update_managed_fields(live, new, w.manager, res.api_version, w.sub or "", now_rfc3339(),
                                               self._ignored(res, w.sub), self._field_type(res))
        if mf:
            new["metadata"]["managedFields"] = mf
        else:
            new["metadata"].pop("managedFields", None)

    def _admit(self, res: Resource, op: str, ns: str, name: str, obj: dict | None, old: dict | None, w: "Write",
               delete_body: dict | None = None):
        """The validating admission phase (kube_admission.admit); its warnings join the answer's."""
        if not w.http:
            return
        try:
            w.warnings += kube_admission.admit(self, res, op, ns, name, w.sub, obj, old, w.user, w.q, delete_body)
        except kube_admission.WebhookRejection as e:
            w.warnings += getattr(e, "warnings", [])
            raise ApiError(e.status["code"], e.status.get("reason", ""), e.status["message"], body=e.status)

    def _mutate(self, res: Resource, op: str, ns: str, name: str, obj: dict | None, old: dict | None, w: "Write",
                delete_body: dict | None = None) -> dict | None:
        """The mutating admission phase (kube_admission.mutate): the object as the mutating
        webhooks leave it (their JSONPatches applied, then defaulted again and, for a custom
        resource, pruned, as decoding the patched object does); their warnings join the answer's."""
        if not w.http:
            return obj

        def reprocess(o: dict) -> dict:
            o = copy.deepcopy(o)
            if res.crd:
                kube_crds.decode_custom_resource(o, res.schema)
            self._defaults(res, o)
            return o
        try:
            out, warnings = kube_admission.mutate(self, res, op, ns, name, w.sub, obj, old, w.user, w.q, delete_body,
                                                  apply_patch=json_patch, reprocess=reprocess)
        except kube_admission.WebhookRejection as e:
            w.warnings += getattr(e, "warnings", [])
            raise ApiError(e.status["code"], e.status.get("reason", ""), e.status["message"], body=e.status)
        w.warnings += warnings
        return out

    def _create(self, res: Resource, ns: str, obj: dict, w: "Write") -> dict:
        """POST (and an apply that creates), in kube-apiserver's order: the create handler (decoded
        and defaulted, namespace set, system fields wiped, managedFields), NamespaceLifecycle,
        mutating admission, then the store (generateName, uid, creationTimestamp, generation,
        PrepareForCreate, validation), validating admission and the write."""
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        if w.http and res.crd:
            self._decode_custom(res, obj, w)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise ApiError(400, "BadRequest", "resourceVersion should not be set on objects to be created")
        if w.http:  # rest.WipeObjectMetaSystemFields
            for k in ("creationTimestamp", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(k, None)
        self._defaults(res, obj)
        self._managed_fields(res, None, obj, w)
        with self.store.cond:
            self._check_namespace(res, ns)  # NamespaceLifecycle admission, before the webhooks
        obj = self._mutate(res, "CREATE", ns, meta.get("name") or "", obj, None, w)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind}.{res.group or 'core'} is invalid: metadata.name: Required value: name or generateName is required",
                           {"kind": res.kind})
        if w.http and "status" in res.subresources and \
                (res.crd or res.plural in ("customresourcedefinitions", "deployments", "poddisruptionbudgets")):
            obj.pop("status", None)  # PrepareForCreate: create cannot set status
        if w.http:
            self._validate(res, obj, name, create=True)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        if res.plural == "services":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                spec["clusterIP"] = f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}"
            if spec.get("clusterIP") and spec["clusterIP"] != "None":
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if res.plural == "pods":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        if res.plural == "namespaces":
            obj.setdefault("status", {"phase": "Active"})
        self._admit(res, "CREATE", ns, name, obj, None, w)
        with self.store.cond:
            self._check_namespace(res, ns)
            if (res.store_key, ns, name) in self.store.objects:
                raise ApiError(409, "AlreadyExists", f'{qualified(res)} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            if w.dry_run:
                return obj
            stored = self.store.commit(self._storage(res), (ns, name), self._stored(res, obj))
        if res.plural == "customresourcedefinitions":
            self._crd_changed(stored)
        return self._out(res, stored)

    def _update(self, res: Resource, ns: str, name: str, mutate, w: "Write", check_version: bool = True) -> dict:
        """Replace an object with mutate(current) (a PUT's body, a patch applied), retrying on a
        concurrent write as GuaranteedUpdate does (a precondition on resourceVersion then fails)."""
        for _ in range(20):
            with self.store.cond:
                stored = self.store.objects.get((res.store_key, ns, name))
                if stored is None:
                    raise not_found(res, name)
            cur = self._out(res, stored)
            new = self._prepare_update(res, ns, name, cur, copy.deepcopy(mutate(copy.deepcopy(cur))), w, check_version)
            self._admit(res, "UPDATE", ns, name, new, cur, w)
            with self.store.cond:
                now_stored = self.store.objects.get((res.store_key, ns, name))
                if now_stored is None:
                    raise not_found(res, name)
                if now_stored["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]:
                    continue
                if new == cur:
                    return cur  # a no-op write keeps its version
                if w.dry_run:
                    return new
                committed = self.store.commit(self._storage(res), (ns, name), self._stored(res, new))
            if res.plural == "customresourcedefinitions":
                self._crd_changed(committed)
            return self._out(res, committed)
        raise ApiError(409, "Conflict", "too many concurrent writes")

    def _prepare_update(self, res: Resource, ns: str, name: str, cur: dict, obj: dict, w: "Write",
                        check_version: bool) -> dict:
        """The update path in kube-apiserver's order: the handler's checks, the object (a /status
        write takes only status), defaults, managedFields, mutating admission, then the strategy
        (PrepareForUpdate: the main resource keeps the stored status, generation) and validation."""
        meta = obj.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        if res.namespaced and meta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        want = meta.get("resourceVersion")
        if check_version and want and want != cur["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {qualified(res)} "{name}": the object has been modified; '
                           "please apply your changes to the latest version and try again",
                           {"name": name, "group": res.group, "kind": res.plural})
        if w.http and check_version and not want and res.crd:  # AllowUnconditionalUpdate false; a uint64 0
            raise ApiError(*kube_crds.invalid(res.kind, res.group, name, [kube_crds.FieldError(
                "FieldValueInvalid", "metadata.resourceVersion", kube_crds.GoLiteral("0x0"),
                "must be specified for an update")]))
        if w.sub == "status":
            new = copy.deepcopy(cur)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            if "managedFields" in meta:
                new["metadata"]["managedFields"] = meta["managedFields"]
        else:
            new = obj
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            m = new["metadata"]
            m["name"] = name
            if res.namespaced:
                m["namespace"] = ns
            for k in ("uid", "creationTimestamp", "generation"):
                if k in cur["metadata"]:
                    m[k] = cur["metadata"][k]
            self._defaults(res, new)
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        self._managed_fields(res, cur, new, w)
        new = self._mutate(res, "UPDATE", ns, name, new, cur, w)
        if w.sub == "status":  # the status strategy keeps only what the webhooks did to status
            status, mf = new.get("status"), new["metadata"].get("managedFields")
            new = copy.deepcopy(cur)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if mf is None:
                new["metadata"].pop("managedFields", None)
            else:
                new["metadata"]["managedFields"] = mf
        else:
            if w.http and "status" in res.subresources:  # the main resource cannot change status
                if "status" in cur:
                    new["status"] = copy.deepcopy(cur["status"])
                else:
                    new.pop("status", None)
            m = new["metadata"]
            for k in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                if k in cur["metadata"]:
                    m[k] = cur["metadata"][k]
            if res.crd:  # customResourceStrategy.PrepareForUpdate: any change outside metadata
                changed = {k: v for k, v in new.items() if k != "metadata"} != {k: v for k, v in cur.items() if k != "metadata"}
            elif res.plural == "deployments":  # deploymentStrategy: annotations are copied to ReplicaSets
                changed = new.get("spec") != cur.get("spec") or \
                    m.get("annotations") != cur["metadata"].get("annotations")
            else:
                changed = new.get("spec") != cur.get("spec")
            if changed:
                m["generation"] = cur["metadata"].get("generation", 1) + 1
        if w.http:
            self._validate(res, new, name, create=False)
        return new

    def _delete(self, res: Resource, ns: str, name: str, options: dict, w: "Write") -> dict:
        options = options or {}
        with self.store.cond:
            stored = self.store.objects.get((res.store_key, ns, name))
            if stored is None:
                raise not_found(res, name)
            pre = options.get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != stored["metadata"]["resourceVersion"] or \
                    pre.get("uid") and pre["uid"] != stored["metadata"]["uid"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(res)} "{name}": '
                               "the precondition is not met", {"name": name, "kind": res.plural})
        cur = self._out(res, stored)
        self._mutate(res, "DELETE", ns, name, None, cur, w, delete_body=options)
        self._admit(res, "DELETE", ns, name, None, cur, w, delete_body=options)
        if w.dry_run or "All" in (options.get("dryRun") or []):
            return cur
        with self.store.cond:
            if (res.store_key, ns, name) not in self.store.objects:
                raise not_found(res, name)
            if res.plural == "namespaces":
                for key in [k for k in self.store.objects if k[1] == name and k[0] != "namespaces"]:
                    self.store.commit(self.registry.by_store[key[0]], key[1:], None)
            if res.plural == "customresourcedefinitions":
                crd_res = [r for r in self.registry.resources if r.crd == name]
                if crd_res:
                    for key in [k for k in self.store.objects if k[0] == crd_res[0].store_key]:
                        self.store.commit(self._storage(crd_res[0]), key[1:], None)
            out = self.store.commit(self._storage(res), (ns, name), None)
            if res.plural == "customresourcedefinitions":
                self.registry.set_crd(name, [])
        return self._out(res, out)

    def _delete_collection(self, res: Resource, ns: str | None, q: dict, options: dict, w: "Write") -> dict:
        listed = self.list(res, ns, {k: v for k, v in q.items() if k in ("labelSelector", "fieldSelector")})
        items = [self._delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"], options, w)
                 for o in listed["items"]]
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": {}, "items": items}

    def _crd_changed(self, crd: dict):
        """A CRD written: serve its versions (or none, once deleted) and, as the naming and
        establishing controllers do, accept its names and mark it Established."""
        name = crd["metadata"]["name"]
        self.registry.set_crd(name, kube_crds.crd_resources(crd, Resource))
        crd_res = self.registry.by_gvp[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]
        with self.store.cond:
            cur = self.store.objects.get((crd_res.store_key, "", name))
            if cur is None:
                return
            status = kube_crds.crd_status(cur, now_rfc3339())
            if cur.get("status") != status:
                new = copy.deepcopy(cur)
                new["status"] = status
                self.store.commit(crd_res, ("", name), new)

    # -- OpenAPI v3 (kube-openapi handler3): what kubectl reads to leave field validation to us
    def _openapi_gvs(self) -> dict:
        out = {}
        for g, versions in self.registry.groups.items():
            for v in versions:
                rs = [r for r in self.registry.resources if (r.group, r.version) == (g, v)]
                out[kube_crds.gv_path(g, v)] = kube_crds.openapi_gv_document(rs, g, v)
        return out

    def openapi_root(self) -> dict:
        """GET /openapi/v3: {"paths": {"apis/G/V": {"serverRelativeURL": "/openapi/v3/apis/G/V?hash=H"}}}."""
        return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={kube_crds.document_hash(doc)}"}
                          for p, doc in self._openapi_gvs().items()}}

    def openapi_document(self, gv_path: str) -> dict | None:
        return self._openapi_gvs().get(gv_path)

    # -- lists
    def list(self, res: Resource, ns: str | None, q: dict) -> dict:
        label_ok = parse_label_selector(q.get("labelSelector"))
        field_ok = parse_field_selector(q.get("fieldSelector"), res)
        limit = int(q.get("limit") or 0)
        cont = q.get("continue")
        rv_param, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        start_after = None
        if cont:
            if rv_param:
                raise ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue")
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                snap, start_after = int(token["rv"]), tuple(token["start"])
            except Exception:
                raise ApiError(400, "BadRequest", "continue key is not valid")
            with self.store.cond:
                if snap < self.store.compacted:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                                   "list result. You can start a new list without the continue parameter, or use the "
                                   "continue token in this response to retrieve the remainder of the results. "
                                   "Continuing with the provided token results in an inconsistent list - objects "
                                   "that were created, modified, or deleted between the time the first chunk was "
                                   "returned and now may show up in the list.")
        elif rv_param and rv_param != "0":
            try:
                want = int(rv_param)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version {rv_param!r}")
            if want > self.store.rv:
                raise ApiError(504, "Timeout", f"Too large resource version: {want}, current: {self.store.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]})
            snap = want if match == "Exact" else self.store.rv
        else:
            if match == "Exact":
                raise ApiError(400, "BadRequest", "resourceVersionMatch: Exact needs a resourceVersion other than 0")
            snap = self.store.rv
        objects = self.store.objects_at(res, snap)
        keys = sorted(k for k in objects if ns is None or k[0] == ns)
        if start_after is not None:
            keys = [k for k in keys if k > start_after]
        selected = [k for k in keys if label_ok(objects[k]["metadata"].get("labels")) and field_ok(objects[k])]
        meta = {"resourceVersion": str(snap)}
        if limit and len(selected) > limit:
            last = selected[limit - 1]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": snap, "start": list(last)}).encode()).decode()
            meta["remainingItemCount"] = len(selected) - limit
            selected = selected[:limit]
        items = []
        for k in selected:
            o = self._out(res, objects[k])
            if not res.crd:  # typed lists leave their items' kind out; unstructured ones keep it
                o.pop("apiVersion", None)
                o.pop("kind", None)
            items.append(o)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta, "items": items}

    # -- token reviews
    def review(self, body: dict) -> dict:
        spec = body.get("spec") or {}
        token = spec.get("token", "")
        wanted = spec.get("audiences") or self.api_audiences
        status: dict = {"authenticated": False, "user": {}}
        entry = self.service_accounts.get(token)
        if entry is None:
            status["error"] = "[invalid bearer token, token lookup failed]"
        else:
            ns, sa, token_auds = entry[0], entry[1], list(entry[2] if len(entry) > 2 else self.api_audiences)
            common = [a for a in wanted if a in token_auds]
            if not common:
                status["error"] = (f"[invalid bearer token, token audiences {json.dumps(token_auds)} is invalid "
                                   f"for the target audiences {json.dumps(list(wanted))}]")
            else:
                status = {"authenticated": True, "audiences": common, "user": {
                    "username": f"system:serviceaccount:{ns}:{sa}",
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sa/{ns}/{sa}")),
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}}
        return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


# --------------------------------------------------------------------------------------------
# HTTP


def _discovery_resources(registry: Registry, group: str, version: str) -> list[dict]:
    """An APIResourceList's resources (custom resources as discovery_controller.go lists them)."""
    out = []
    for r in registry.resources:
        if (r.group, r.version) != (group, version):
            continue
        d = {"name": r.plural, "singularName": r.singular or r.kind.lower(), "namespaced": r.namespaced,
             "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            d["shortNames"] = list(r.short_names)
        if r.categories:
            d["categories"] = list(r.categories)
        out.append(d)
        for sub in r.subresources:
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["get", "patch", "update"]})
    return out


def _group_entry(group: str, versions: list) -> dict:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


APPLY_PATCH = "application/apply-patch+yaml"
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_BOOLS = _GO_TRUE + ("0", "f", "F", "FALSE", "false", "False")


class _ApplyYAMLLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml turns it into JSON: timestamps stay strings, keys become strings;
    repeated keys are noted ((line, key)) for the strict decoding that refuses them."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list = []

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
        return {str(k): v for k, v in super().construct_mapping(node, deep=True).items()}


_ApplyYAMLLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _without_nulls(v):
    """An applied configuration's null fields dropped (the stand-in does not model null ownership)."""
    if isinstance(v, dict):
        return {k: _without_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_without_nulls(x) for x in v]
    return v


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # TLS handshakes and connections cut by the fault hooks
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        with self.api._lock:
            self.api._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.api._lock:
                self.api._conns.discard(self.connection)

    # -- plumbing
    def _send_json(self, code: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        seen = set()
        for w in getattr(self, "_warnings", []):  # the warning recorder: deduplicated, in order
            if w and w not in seen:
                seen.add(w)
                self.send_header("Warning", kube_admission.warning_header(w))
        self.end_headers()
        self.wfile.write(data)
        self.api.requests.append((self.command, self.path, code))

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        if "yaml" in ctype:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json ({ctype})")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}")

    def _handle(self):
        self._warnings = []
        try:
            if self.api._delay:
                time.sleep(self.api._delay)
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path.rstrip("/") or "/"
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
            if path in ("/healthz", "/livez", "/readyz"):
                data = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(data)
                return
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:].strip() not in self.api.tokens:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._token = auth[7:].strip()
            self._route(path, q)
        except ApiError as e:
            self._send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # a bug in the stand-in: answer 500, keep serving
            try:
                self._send_json(500, status_object(500, "InternalError", f"stand-in error: {e!r}"))
            except OSError:
                self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _write(self, sub: str | None, q: dict, options_kind: str, patch_type: str | None = None) -> Write:
        """The write's context: the caller, its field manager (fieldManager, else the User-Agent's
        product as managerOrUserAgent takes it), fieldValidation (Warn when absent, as
        handlers/rest.go fieldValidation() defaults it) and dryRun, checked as
        ValidateCreateOptions / ValidateUpdateOptions / ValidatePatchOptions do (a PATCH: force only
        for apply, fieldManager required for apply, after `force` decoded as a bool)."""
        errs = []
        apply = patch_type == APPLY_PATCH
        if options_kind == "PatchOptions":
            if "force" in q and q["force"] not in _GO_BOOLS:  # the parameter codec's strconv.ParseBool
                raise ApiError(400, "BadRequest", f'strconv.ParseBool: parsing {json.dumps(q["force"])}: invalid syntax')
            if not apply and "force" in q:
                errs.append(kube_crds.FieldError("FieldValueForbidden", "force", detail="may not be specified for non-apply patch"))
            if apply and not q.get("fieldManager"):
                errs.append(kube_crds.FieldError("FieldValueRequired", "fieldManager", detail="is required for apply patch"))
        dry = q.get("dryRun", "")
        if dry not in ("", "All"):
            errs.append(kube_crds.FieldError("FieldValueNotSupported", "dryRun", dry, 'supported values: "All"'))
        directive = q.get("fieldValidation", "")
        if directive not in ("", "Ignore", "Strict", "Warn"):
            errs.append(kube_crds.FieldError("FieldValueNotSupported", "fieldValidation", directive,
                                             'supported values: "", "Ignore", "Strict", "Warn"'))
        if errs:
            raise ApiError(*kube_crds.invalid(options_kind, "meta.k8s.io", "", errs))
        manager = q.get("fieldManager") or kube_fields.manager_from_user_agent(self.headers.get("User-Agent", ""))
        return Write(http=True, user=self.api.user_for_token(self._token), manager=manager, q=q,
                     directive=directive or "Warn", warnings=self._warnings, sub=sub, dry_run=dry == "All",
                     apply=apply)

    def _route(self, path: str, q: dict):
        m = self.command
        api = self.api
        reg = api.registry
        if path == "/version":
            return self._send_json(200, SERVER_VERSION)
        if path == "/api" and m == "GET":
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                         "serverAddress": f"127.0.0.1:{self.api.port}"}]})
        if path == "/apis" and m == "GET":
            return self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                         "groups": [_group_entry(g, vs) for g, vs in reg.groups.items() if g]})
        if path == "/openapi/v3" and m == "GET":
            return self._send_json(200, api.openapi_root())
        if path.startswith("/openapi/v3/") and m == "GET":
            doc = api.openapi_document(path[len("/openapi/v3/"):])
            if doc is not None:
                return self._send_json(200, doc)
        if path.startswith("/openapi"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2 and parts[1] in reg.groups:
            if len(parts) == 2 and m == "GET":
                return self._send_json(200, {"kind": "APIGroup", "apiVersion": "v1",
                                             **_group_entry(parts[1], reg.groups[parts[1]])})
            if len(parts) < 3 or parts[2] not in reg.groups[parts[1]]:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if m != "GET":
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            return self._send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                         "groupVersion": f"{group}/{version}" if group else version,
                                         "resources": _discovery_resources(reg, group, version)})
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        res = reg.by_gvp.get((group, version, rest[0]))
        if res is None or (ns is not None and not res.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        nskey = ns if res.namespaced else ""
        if res.plural == "tokenreviews":
            if m != "POST" or name:
                raise ApiError(405, "MethodNotAllowed", "tokenreviews: only create is allowed")
            return self._send_json(201, api.review(self._body()))
        if name is None:
            if m == "GET":
                if q.get("watch") in ("1", "true", "True"):
                    return self._watch(res, ns if res.namespaced else None, q)
                return self._send_json(200, api.list(res, ns if res.namespaced else None, q))
            if m == "POST":
                if res.namespaced and ns is None:
                    raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                w = self._write(None, q, "CreateOptions")
                body = self._body()
                self._check_kind(res, body)
                return self._send_json(201, api._create(res, nskey, body, w))
            if m == "DELETE" and "deletecollection" in res.verbs:
                w = self._write(None, q, "DeleteOptions")
                return self._send_json(200, api._delete_collection(res, ns if res.namespaced else None, q,
                                                                   self._body(), w))
            raise ApiError(405, "MethodNotAllowed", f"{m} on a collection is not supported by the stand-in")
        if m == "GET":
            return self._send_json(200, api._get(res, nskey, name))
        if m == "PUT":
            w = self._write(sub, q, "UpdateOptions")
            body = self._body()
            self._check_kind(res, body)
            if res.crd:
                api._decode_custom(res, body, w)
            return self._send_json(200, api._update(res, nskey, name, lambda cur: body, w, check_version=True))
        if m == "PATCH":
            return self._send_json(*self._patch(res, nskey, name, sub, q))
        if m == "DELETE":
            if sub:
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            w = self._write(None, q, "DeleteOptions")
            return self._send_json(200, api._delete(res, nskey, name, self._body(), w))
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def _check_kind(self, res: Resource, body: dict):
        if body.get("kind", res.kind) != res.kind or body.get("apiVersion", res.api_version) != res.api_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')}) does not match "
                           f"the expected API version ({res.api_version})")

    def _patch(self, res: Resource, ns: str, name: str, sub: str | None, q: dict) -> tuple[int, dict]:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        kinds = ["application/json-patch+json", "application/merge-patch+json", APPLY_PATCH]
        if not res.crd:
            kinds.append("application/strategic-merge-patch+json")
        if ctype not in kinds:  # negotiation.NewUnsupportedMediaTypeError(patchTypes)
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: " + ", ".join(kinds))
        if ctype == APPLY_PATCH:
            return self._apply(res, ns, name, sub, q)
        w = self._write(sub, q, "PatchOptions", ctype)
        body = self._body()
        patched_rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None

        def mutate(cur: dict) -> dict:
            if ctype == "application/merge-patch+json":
                new = merge_patch(cur, body)
            elif ctype == "application/strategic-merge-patch+json":
                new = strategic_merge_patch(cur, body)
            else:
                new = json_patch(cur, body)
            if not patched_rv:
                new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if res.crd:
                self.api._decode_custom(res, new, w, patched=copy.deepcopy(new))
            return new
        return 200, self.api._update(res, ns, name, mutate, w, check_version=bool(patched_rv))

    def _apply(self, res: Resource, ns: str, name: str, sub: str | None, q: dict) -> tuple[int, dict]:
        """Server-side apply (patch.go applyPatcher, fieldmanager's Apply, kube_fields): the body is
        the YAML (or JSON) of the intended object; 201 when it creates the object, 200 otherwise."""
        api = self.api
        w = self._write(sub, q, "PatchOptions", APPLY_PATCH)
        force = q.get("force", "false") in _GO_TRUE
        config, duplicates = self._apply_body()
        gvknn = lambda o: (f'{((o.get("metadata") or {}).get("namespace") or "")}/'  # noqa: E731
                           f'{((o.get("metadata") or {}).get("name") or "")}; {res.group}/{res.version}, Kind={o.get("kind", "")}')
        if config.get("apiVersion") != res.api_version:
            raise ApiError(400, "BadRequest", "Incorrect version specified in apply patch. Specified patch version: "
                           f'{config.get("apiVersion") or ""}, expected: {res.api_version}')
        if isinstance(config.get("metadata"), dict) and config["metadata"].get("managedFields") is not None:
            raise ApiError(400, "BadRequest", "metadata.managedFields must be nil")
        typ = api._field_type(res)
        try:
            if config.get("kind") != res.kind:
                raise kube_fields.SchemaError(f"no corresponding type for {res.group}/{res.version}, Kind={config.get('kind', '')}")
            kube_fields.validate_config(config, typ)
        except kube_fields.SchemaError as e:  # a plain error: 500 without a reason
            raise ApiError(500, "", f"failed to create typed patch object ({gvknn(config)}): {e}")
        if duplicates and w.directive in ("Strict", "Warn"):  # yaml.UnmarshalStrict, after the apply
            text = "error converting YAML to JSON: yaml: unmarshal errors:\n" + "\n".join(
                f"  line {line}: key {json.dumps(key)} already set in map" for line, key in duplicates)
            if w.directive == "Strict":
                raise ApiError(400, "BadRequest", f"error strict decoding YAML: {text}")
            w.warnings.append(text)
        ignored = api._ignored(res, sub)
        want_rv = (config.get("metadata") or {}).get("resourceVersion")

        def applied(live: dict | None) -> dict:
            try:
                merged, mf = kube_fields.apply_managed_fields(live, config, w.manager, res.api_version, sub or "",
                                                              now_rfc3339(), typ, ignored, force)
            except kube_fields.Conflicts as e:
                raise ApiError(409, "Conflict", e.message(), body=e.status())
            meta = merged.setdefault("metadata", {})
            if live is None and meta.get("uid"):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(res)} "{name}": uid mismatch: '
                               f'the provided object specified uid {meta["uid"]}, and no existing object was found',
                               {"name": name, "group": res.group, "kind": res.plural})
            if not res.namespaced:  # EnsureObjectNamespaceMatchesRequestNamespace
                meta.pop("namespace", None)
            elif meta.get("namespace", ns) not in (ns, ""):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            if not meta.get("name"):  # checkName
                raise ApiError(400, "BadRequest", f"the name of the object ({name} based on URL) was undeterminable: "
                               "name must be provided")
            if meta["name"] != name:
                raise ApiError(400, "BadRequest", f'the name of the object ({meta["name"]}) does not match the name on '
                               f'the URL ({name})')
            if mf:
                meta["managedFields"] = mf
            else:
                meta.pop("managedFields", None)
            return merged

        for _ in range(5):
            with api.store.cond:
                exists = (res.store_key, ns, name) in api.store.objects
            if not exists:
                if sub:  # subresources never create on update
                    raise not_found(res, name)
                obj = applied(None)
                obj["metadata"].pop("resourceVersion", None)  # PrepareObjectForStorage
                try:
                    return 201, api._create(res, ns, obj, w)
                except ApiError as e:
                    if e.reason != "AlreadyExists":
                        raise
                    continue
            try:
                return 200, api._update(res, ns, name, applied, w, check_version=bool(want_rv))
            except ApiError as e:
                if e.reason != "NotFound" or (e.details or {}).get("name") != name:
                    raise
        raise ApiError(409, "Conflict", "too many concurrent writes")

    def _apply_body(self) -> tuple[dict, list]:
        """The apply body as sigs.k8s.io/yaml reads it into a map (400 `error decoding YAML: ...`
        otherwise), nulls dropped, and the keys it repeats ((line, key): UnmarshalStrict's errors)."""
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        loader = _ApplyYAMLLoader(raw.decode("utf-8", errors="replace"))
        try:
            doc = loader.get_single_data()
        except yaml.YAMLError as e:
            raise ApiError(400, "BadRequest", f"error decoding YAML: error converting YAML to JSON: yaml: {e}")
        finally:
            loader.dispose()
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            kind = "array" if isinstance(doc, list) else "string" if isinstance(doc, str) else "number"
            raise ApiError(400, "BadRequest", "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: "
                           f"cannot unmarshal {kind} into Go value of type map[string]interface {{}}")
        return _without_nulls(doc), loader.duplicates

    # -- watch
    def _watch(self, res: Resource, ns: str | None, q: dict):
        api, store = self.api, self.api.store
        label_ok = parse_label_selector(q.get("labelSelector"))
        field_ok = parse_field_selector(q.get("fieldSelector"), res)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        timeout = float(q.get("timeoutSeconds") or api.watch_timeout)
        rv_param = q.get("resourceVersion", "")
        deadline = time.monotonic() + timeout

        def matches(obj):
            return obj is not None and (ns is None or obj["metadata"].get("namespace") == ns) and \
                label_ok(obj["metadata"].get("labels")) and field_ok(obj)

        initial = []
        with store.cond:
            if rv_param in ("", "0"):
                pos = store.rv
                initial = [{"type": "ADDED", "object": api._out(res, o)} for k, o in sorted(store.objects.items())
                           if k[0] == res.store_key and matches(o)]
            else:
                try:
                    pos = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version {rv_param!r}")
            ctl = _WatchControl()
            api._watches.add(ctl)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        api.requests.append((self.command, self.path, 200))
        self.close_connection = True

        def chunk(data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def line(ev: dict) -> bytes:
            return json.dumps(ev).encode() + b"\n"

        try:
            for ev in initial:
                chunk(line(ev))
            next_bookmark = time.monotonic() + api.bookmark_interval
            while True:
                out, action, expired = [], None, None
                with store.cond:
                    while True:
                        now = time.monotonic()
                        if api._stopping.is_set() or now >= deadline:
                            action = "end"
                            break
                        if ctl.action:
                            action = ctl.action
                            break
                        if pos < store.compacted:
                            expired = store.compacted
                            break
                        paused = now < api._paused_until
                        if not paused and pos < store.rv:
                            for e in store.history[pos - store.compacted:]:
                                out.append(e)
                            pos = store.rv
                            break
                        if res.crd and res.store_key not in api.registry.by_store:  # its CRD is gone
                            action = "end"
                            break
                        if bookmarks and now >= next_bookmark:
                            break
                        wake = deadline
                        if bookmarks:
                            wake = min(wake, next_bookmark)
                        if paused:
                            wake = min(wake, api._paused_until)
                        store.cond.wait(max(0.0, min(wake - now, 0.5)))
                if expired is not None:
                    chunk(line({"type": "ERROR", "object": status_object(
                        410, "Expired", f"too old resource version: {pos} ({expired})")}))
                    break
                if action == "end":
                    break
                if action == "error":
                    chunk(line({"type": "ERROR", "object": status_object(
                        ctl.code, "Expired" if ctl.code == 410 else "InternalError",
                        f"too old resource version: {pos} ({store.compacted})" if ctl.code == 410 else "watch failed")}))
                    break
                if action == "reset":
                    data = line({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                                                "metadata": {"resourceVersion": str(pos)}}})
                    chunk(data[: len(data) // 2])
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                for e in out:
                    typ = self._filtered_type(e, matches) if e.res.store_key == res.store_key else None
                    if typ:
                        chunk(line({"type": typ, "object": api._out(res, e.obj) if res.crd else e.obj}))
                if bookmarks and time.monotonic() >= next_bookmark:
                    chunk(line({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                                               "metadata": {"resourceVersion": str(pos)}}}))
                    next_bookmark = time.monotonic() + api.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            with store.cond:
                api._watches.discard(ctl)

    @staticmethod
    def _filtered_type(e: Event, matches) -> str | None:
        now_in = e.type != "DELETED" and matches(e.obj)
        before = matches(e.prev) if e.prev is not None else False
        if e.type == "DELETED":
            return "DELETED" if matches(e.prev) else None
        if now_in and before:
            return "MODIFIED"
        if now_in:
            return "ADDED"
        if before:
            return "DELETED"
        return None


# --------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description="A stand-in Kubernetes API server (see the module docstring).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data", help="YAML or JSON file of objects (a list or multi-document) created at start")
    ap.add_argument("--token", action="append", default=[], help="a valid bearer token (repeatable; default admin-token)")
    ap.add_argument("--sa-token", action="append", default=[],
                    help="TOKEN=NAMESPACE:SERVICEACCOUNT[:AUD1,AUD2] for TokenReview (repeatable)")
    ap.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    ap.add_argument("--kubeconfig", help="write a kubeconfig here (first token)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    args = ap.parse_args(argv)
    tokens = args.token or ["admin-token"]
    sas = {}
    for spec in args.sa_token:
        tok, rest = spec.split("=", 1)
        parts = rest.split(":")
        sas[tok] = (parts[0], parts[1], parts[2].split(",") if len(parts) > 2 else list(DEFAULT_API_AUDIENCES))
    api = KubeApiServer(tokens=tokens, service_accounts=sas, tls=not args.http, port=args.port,
                        bookmark_interval=args.bookmark_interval)
    if args.data:
        import yaml
        with open(args.data) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for d in (x for doc in docs for x in (doc if isinstance(doc, list) else doc.get("items", [doc]) if doc.get("kind", "").endswith("List") else [doc])):
            api.create(d)
    api.start()
    print(f"serving {api.url}" + (f" (CA {api.ca_path})" if api.tls else ""), flush=True)
    if args.kubeconfig:
        api.kubeconfig(args.kubeconfig, tokens[0])
        print(f"kubeconfig {args.kubeconfig}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()


if __name__ == "__main__":
    sys.exit(main())
