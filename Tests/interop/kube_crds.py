"""CustomResourceDefinitions for the stand-in Kubernetes API server (kube_apiserver.py): the served
kinds a CRD makes, its status, decoding of custom resources against their structural schema
(pruning and strict field validation), schema validation, and the OpenAPI v3 documents kubectl
reads to learn that the server validates fields itself.

Each piece follows kubernetes/apiextensions-apiserver v0.32 (and kube-openapi, apimachinery) and
names what it mirrors; see kube_apiserver.py's docstring for what is left out.
"""

from __future__ import annotations

import copy
import decimal
import hashlib
import json
import re

# --------------------------------------------------------------------------------------------
# Errors in the apimachinery field.Error / errors.NewInvalid form


class FieldError:
    """k8s.io/apimachinery/pkg/util/validation/field.Error: Error() is "FIELD: BODY"."""

    TYPES = {"FieldValueTypeInvalid": "Invalid value", "FieldValueInvalid": "Invalid value",
             "FieldValueRequired": "Required value", "FieldValueNotSupported": "Unsupported value",
             "FieldValueForbidden": "Forbidden"}

    def __init__(self, type_: str, field: str, value=None, detail: str = "", omit_value: bool = False):
        self.type, self.field, self.value, self.detail, self.omit_value = type_, field, value, detail, omit_value

    def body(self) -> str:
        """field.Error.ErrorBody(): Required and Forbidden have no value; strings quoted; simple
        types as %v."""
        s = self.TYPES[self.type]
        if self.type not in ("FieldValueRequired", "FieldValueForbidden") and not self.omit_value:
            s += ": " + go_value(self.value)
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self):
        return f"{self.field}: {self.body()}"


def go_float(f: float) -> str:
    """Go's %v of a float64: strconv 'g' with the shortest digits, the exponent form when the
    decimal exponent is below -4 or at least 6 (fmt.Println(1e6) is "1e+06")."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    _, digits, exp = decimal.Decimal(repr(abs(f))).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    mant = "".join(map(str, digits))
    dp = len(mant) + exp
    sign = "-" if f < 0 else ""
    x = dp - 1
    if x < -4 or x >= 6:
        m = mant[0] + ("." + mant[1:] if len(mant) > 1 else "")
        return f"{sign}{m}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{mant}"
    if dp >= len(mant):
        return sign + mant + "0" * (dp - len(mant))
    return f"{sign}{mant[:dp]}.{mant[dp:]}"


class GoLiteral(str):
    """A bad value printed as is (a uint64 resourceVersion of 0 prints as %#v: 0x0)."""


def go_value(v) -> str:
    """How field.Error prints a bad value: strings %q, int64/float64/bool %v, else %#v-ish."""
    if isinstance(v, GoLiteral):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(f"{json.dumps(k)}:{_go_sharp(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    return str(v)


def _go_sharp(v) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}"
    if v is None:
        return "interface {}(nil)"
    return go_value(v)


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several deduplicated in [a, b]."""
    seen = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def invalid(kind: str, group: str, name: str, errs: list[FieldError]) -> tuple[int, str, str, dict]:
    """errors.NewInvalid(GroupKind, name, errs): (422, "Invalid", message, details)."""
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {json.dumps(name)} is invalid"
    if errs:
        message += ": " + aggregate([str(e) for e in errs])
    details = {"name": name, "group": group, "kind": kind,
               "causes": [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]}
    if not group:
        details.pop("group")
    if not name:
        details.pop("name")
    return 422, "Invalid", message, details


# --------------------------------------------------------------------------------------------
# Versions


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(v: str) -> tuple:
    """version.CompareKubeAwareVersionStrings order as a sort key: GA before beta before alpha,
    higher numbers first, non-kube-like versions last in alphabetical order."""
    m = _KUBE_VERSION.match(v)
    if not m:
        return (3, 0, 0, v)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -major, -minor, v)


# --------------------------------------------------------------------------------------------
# CRD validation, status and the resources it serves


CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
CRD_NAME = "customresourcedefinitions.apiextensions.k8s.io"


def crd_errors(crd: dict) -> list[FieldError]:
    """A few of apiextensions' ValidateCustomResourceDefinition checks (the ones a hand-written or
    generated CRD is likely to trip), with the real field paths and details."""
    errs = []
    meta, spec = crd.get("metadata") or {}, crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group", ""), names.get("plural", "")
    if meta.get("name") != f"{plural}.{group}":
        errs.append(FieldError("FieldValueInvalid", "metadata.name", meta.get("name", ""),
                               'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(FieldError("FieldValueRequired", "spec.group"))
    if not plural:
        errs.append(FieldError("FieldValueRequired", "spec.names.plural"))
    if not names.get("kind"):
        errs.append(FieldError("FieldValueRequired", "spec.names.kind"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(FieldError("FieldValueNotSupported", "spec.scope", spec.get("scope", ""),
                               'supported values: "Cluster", "Namespaced"'))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(FieldError("FieldValueInvalid", "spec.versions", versions, "must have exactly one version marked as storage version", omit_value=True))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(FieldError("FieldValueInvalid", "spec.versions", versions,
                               "must have exactly one version marked as storage version", omit_value=True))
    for i, v in enumerate(versions):
        if not ((v.get("schema") or {}).get("openAPIV3Schema")):
            errs.append(FieldError("FieldValueRequired", f"spec.versions[{i}].schema.openAPIV3Schema", detail="schemas are required"))
    if versions and not any(v.get("served") for v in versions):
        errs.append(FieldError("FieldValueInvalid", "spec.versions", versions,
                               "must have at least one version marked as served", omit_value=True))
    return errs


def crd_status(crd: dict, now: str) -> dict:
    """The status the naming and establishing controllers give a CRD whose names are free
    (naming_controller.go: NamesAccepted/NoConflicts, establishing_controller.go:
    Established/InitialNamesAccepted)."""
    spec = crd["spec"]
    names = spec["names"]
    accepted = {"plural": names["plural"], "singular": names.get("singular") or names["kind"].lower(),
                "kind": names["kind"], "listKind": names.get("listKind") or names["kind"] + "List"}
    for k in ("shortNames", "categories"):
        if names.get(k):
            accepted[k] = list(names[k])
    old = crd.get("status") or {}
    stamp = {c.get("type"): c.get("lastTransitionTime") for c in old.get("conditions") or []}
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list(old.get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    return {"conditions": [
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": stamp.get("NamesAccepted") or now,
         "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": stamp.get("Established") or now,
         "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
        "acceptedNames": accepted, "storedVersions": stored}


def crd_resources(crd: dict, resource_cls) -> list:
    """One Resource per served version (discovery_controller.go: verbs, shortNames, categories,
    the status subresource), all sharing the CRD's store."""
    spec = crd["spec"]
    names = spec["names"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    out = []
    for v in spec["versions"]:
        if not v.get("served"):
            continue
        subs = ("status",) if "status" in (v.get("subresources") or {}) else ()
        out.append(resource_cls(
            spec["group"], v["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced",
            tuple(names.get("shortNames") or ()), verbs=CR_VERBS, subresources=subs,
            singular=names.get("singular") or names["kind"].lower(), categories=tuple(names.get("categories") or ()),
            crd=crd["metadata"]["name"], storage_version=storage,
            schema=copy.deepcopy((v.get("schema") or {}).get("openAPIV3Schema") or {})))
    return out


def load_crd_docs(path_or_docs) -> list[dict]:
    """CRDs from a YAML/JSON file path, a YAML string, or a list of dicts (Lists flattened,
    other kinds skipped)."""
    import yaml
    if isinstance(path_or_docs, (list, tuple)):
        docs = list(path_or_docs)
    else:
        text = str(path_or_docs)
        if "\n" not in text and not text.lstrip().startswith(("{", "apiVersion")):
            with open(text) as f:
                text = f.read()
        docs = [d for d in yaml.safe_load_all(text) if d]
    out = []
    for d in docs:
        if isinstance(d, list):
            out += load_crd_docs(d)
        elif d.get("kind", "").endswith("List") and "items" in d:
            out += load_crd_docs(d["items"])
        elif d.get("kind") == "CustomResourceDefinition":
            out.append(d)
    return out


# --------------------------------------------------------------------------------------------
# Decoding a custom resource: metadata, pruning, nulls (customresource_handler.go
# unstructuredSchemaCoercer.apply, schema/objectmeta/coerce.go, schema/pruning/algorithm.go)


OBJECT_META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                      "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                      "annotations", "ownerReferences", "finalizers", "managedFields"}
_NESTED_META = {"ownerReferences": {"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"},
                "managedFields": {"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1",
                                  "subresource"}}
_META_FIELDS = ("apiVersion", "kind", "metadata")


class DecodeError(Exception):
    """A metadata value json.Unmarshal into ObjectMeta refuses (not a strict error)."""


def coerce_object_meta(obj: dict) -> list[str]:
    """GetObjectMetaWithOptions with ReturnUnknownFieldPaths: unknown ObjectMeta keys are
    reported as "metadata.KEY" (sorted, as utiljson.Marshal orders them) and dropped."""
    meta = obj.get("metadata")
    if meta is None:
        return []
    if not isinstance(meta, dict):
        raise DecodeError(f"json: cannot unmarshal {_json_type(meta)} into Go value of type v1.ObjectMeta")
    for k in ("labels", "annotations"):
        m = meta.get(k)
        if m is not None and (not isinstance(m, dict) or any(not isinstance(v, str) for v in m.values())):
            bad = m if not isinstance(m, dict) else next(v for v in m.values() if not isinstance(v, str))
            raise DecodeError(f"json: cannot unmarshal {_json_type(bad)} into Go struct field "
                              f"ObjectMeta.metadata.{k} of type {'string' if isinstance(m, dict) else 'map[string]string'}")
    unknown = []
    for k in sorted(meta):
        if k not in OBJECT_META_FIELDS:
            unknown.append(f"metadata.{k}")
            del meta[k]
        elif k in _NESTED_META and isinstance(meta[k], list):
            for i, item in enumerate(meta[k]):
                if isinstance(item, dict):
                    for kk in sorted(item):
                        if kk not in _NESTED_META[k]:
                            unknown.append(f"metadata.{k}[{i}].{kk}")
                            del item[kk]
    return unknown


def _json_type(v) -> str:
    """The JSON type encoding/json names in an UnmarshalTypeError."""
    t = _sch_type(v)
    return {"boolean": "bool", "integer": "number"}.get(t, t)


def _additional(s: dict | None):
    ap = (s or {}).get("additionalProperties")
    if ap is True:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return ap if isinstance(ap, dict) else None


def _key(path: str, k: str) -> str:
    return f"{path}.{k}" if path else k


def prune(obj, schema: dict | None, root: bool = True) -> list[str]:
    """pruning.PruneWithOptions(obj, s, isResourceRoot, TrackUnknownFieldPaths): drops what the
    structural schema does not name, outside x-kubernetes-preserve-unknown-fields, and answers
    the dropped paths sorted ("spec.http[0].route[0].weigth")."""
    unknown: list[str] = []
    if root:
        schema = dict(schema or {})
        schema["x-kubernetes-embedded-resource"] = True
    _prune(obj, schema, "", unknown)
    return sorted(unknown)


def _prune(x, s, path, unknown):
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_key(path, k))
                del x[k]
            return
        props, ap = s.get("properties") or {}, _additional(s)
        for k in list(x):
            if s.get("x-kubernetes-embedded-resource") and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _key(path, k), unknown)
            elif ap is not None:
                _prune(x[k], ap, _key(path, k), unknown)
            else:
                if k not in _META_FIELDS or path:
                    unknown.append(_key(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", unknown)


def _skip_prune(x, s, path, unknown):
    if isinstance(x, dict):
        props, ap = s.get("properties") or {}, _additional(s)
        for k, v in x.items():
            if s.get("x-kubernetes-embedded-resource") and k in _META_FIELDS:
                continue
            if k in props:
                _prune(v, props[k], _key(path, k), unknown)
            elif ap is not None:
                _prune(v, ap, _key(path, k), unknown)
    elif isinstance(x, list):
        items = s.get("items")
        if items is not None:
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", unknown)


def prune_nulls(x, s):
    """defaulting.PruneNonNullableNullsWithoutDefaults: a null map value whose schema is neither
    nullable nor defaulted is dropped."""
    if isinstance(x, dict):
        for k in list(x):
            sub = None
            if s is not None:
                sub = (s.get("properties") or {}).get(k)
                if sub is None:
                    sub = _additional(s)
            if x[k] is None and sub is not None and not sub.get("nullable") and "default" not in sub:
                del x[k]
            else:
                prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for v in x:
            prune_nulls(v, items)


def decode_custom_resource(obj: dict, schema: dict | None) -> list[str]:
    """Prune `obj` in place as the custom resource decoder does; answers the unknown field paths
    in the order the strict decoding error lists them (metadata first, then the pruned ones)."""
    unknown = coerce_object_meta(obj)
    unknown += prune(obj, schema)
    prune_nulls(obj, schema)
    return unknown


def strict_error(unknown: list[str]) -> str:
    """runtime.NewStrictDecodingError(...).Error()."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)


# --------------------------------------------------------------------------------------------
# Schema validation (apiextensions validation.ValidateCustomResource over kube-openapi's validator)


_SCH_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
              (dict, "object"))


def _sch_type(v) -> str:
    """The schema type of a decoded value, as typeValidator.schemaInfoForType names it."""
    return next((name for t, name in _SCH_TYPES if isinstance(v, t)), "null")


def _type_ok(want: str, v) -> bool:
    got = _sch_type(v)
    return got == want or (want == "integer" and got == "number" and float(v).is_integer()) or \
        (want == "number" and got == "integer")


def _type_error(path: str, want: str, got: str) -> FieldError:
    """errors.InvalidType(name, "body", type, schType) → field.TypeInvalid(path, schType, msg)."""
    return FieldError("FieldValueTypeInvalid", path, got, f'{path} in body must be of type {want}: "{got}"')


def validate(obj, schema: dict | None) -> list[FieldError]:
    """Types, enum, minimum/maximum (exclusive), multipleOf, minLength, pattern, minItems,
    minProperties and required, with kube-openapi's messages as apiextensions turns them into
    field errors (kubeOpenAPIResultToFieldErrors)."""
    errs: list[FieldError] = []
    if schema:
        _validate(obj, schema, "", errs)
    return errs


def _validate(v, s: dict, path: str, errs: list):
    name = path
    want = s.get("type")
    if v is None:
        if want and not s.get("nullable"):
            errs.append(_type_error(name, want, "null"))
        return
    if s.get("x-kubernetes-int-or-string") and not want:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            got = _sch_type(v)
            errs.append(_type_error(name, "integer", got))
            errs.append(_type_error(name, "string", got))
            errs.append(FieldError("FieldValueInvalid", name, "", f"{name} in body must validate at least one schema (anyOf)"))
            return
    elif want and not _type_ok(want, v):
        errs.append(_type_error(name, want, _sch_type(v)))
        return
    if "enum" in s and not any(isinstance(e, bool) == isinstance(v, bool) and e == v for e in s["enum"]):
        allowed = [e if isinstance(e, str) else json.dumps(e) for e in s["enum"]]
        errs.append(FieldError("FieldValueNotSupported", name, v,
                               "supported values: " + ", ".join(json.dumps(a, ensure_ascii=False) for a in allowed)))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        _validate_number(v, s, name, errs)
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(FieldError("FieldValueInvalid", name, v, f"{name} in body should be at least {s['minLength']} chars long"))
        if "pattern" in s:
            try:
                if not re.search(s["pattern"], v):
                    errs.append(FieldError("FieldValueInvalid", name, v, f"{name} in body should match '{s['pattern']}'"))
            except re.error:
                pass
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(FieldError("FieldValueInvalid", name, "", f"{name} in body should have at least {s['minItems']} items"))
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(v):
                _validate(item, items, f"{path}[{i}]", errs)
    if isinstance(v, dict):
        props, ap = s.get("properties") or {}, _additional(s)
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(FieldError("FieldValueInvalid", name, "", f"{name} in body should have at least {s['minProperties']} properties"))
        for k, item in v.items():
            sub = props.get(k)
            if sub is None and ap is not None and not ap.get("x-kubernetes-preserve-unknown-fields"):
                sub = ap
            if sub is not None:
                _validate(item, sub, _key(path, k), errs)
        for k in s.get("required") or ():
            if k not in v:
                errs.append(FieldError("FieldValueRequired", _key(path, k)))


def _validate_number(v, s, name, errs):
    def fmt(x):  # ExceedsMinimumInt / ExceedsMinimum print the boundary with %v
        return str(x) if isinstance(x, int) else go_float(x)
    if "minimum" in s:
        lo, exc = s["minimum"], bool(s.get("exclusiveMinimum"))
        if v < lo or (exc and v == lo):
            errs.append(FieldError("FieldValueInvalid", name, v,
                                   f"{name} in body should be greater than {'' if exc else 'or equal to '}{fmt(lo)}"))
    if "maximum" in s:
        hi, exc = s["maximum"], bool(s.get("exclusiveMaximum"))
        if v > hi or (exc and v == hi):
            errs.append(FieldError("FieldValueInvalid", name, v,
                                   f"{name} in body should be less than {'' if exc else 'or equal to '}{fmt(hi)}"))
    if s.get("multipleOf"):
        m = s["multipleOf"]
        q = v / m
        if not float(q).is_integer():
            errs.append(FieldError("FieldValueInvalid", name, v, f"{name} in body should be a multiple of {fmt(m)}"))


_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def name_errors(name: str) -> list[FieldError]:
    """The metadata.name check every custom resource gets (ValidateObjectMetaAccessor with
    NameIsDNSSubdomain)."""
    if len(name) > 253:
        return [FieldError("FieldValueInvalid", "metadata.name", name, "must be no more than 253 characters")]
    if not _DNS1123_SUBDOMAIN.match(name):
        return [FieldError("FieldValueInvalid", "metadata.name", name,
                           "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                           "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                           r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


# --------------------------------------------------------------------------------------------
# OpenAPI v3 (kube-openapi handler3; what kubectl's queryParamVerifierV3 and patcher read)


_PATCH_TYPES_CR = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _param(name: str, where: str = "query", description: str = "") -> dict:
    p = {"name": name, "in": where, "description": description, "schema": {"type": "string", "uniqueItems": True}}
    if where == "path":
        p["required"] = True
    return p


def _definition_name(r) -> str:
    """The schema component name: the reversed group, version, kind (io.istio.networking.v1.VirtualService)."""
    group = ".".join(reversed(r.group.split("."))) if r.group else "io.k8s.api.core"
    return f"{group}.{r.version}.{r.kind}"


def openapi_gv_document(resources: list, group: str, version: str) -> dict:
    """A minimal OpenAPI v3 document for one group-version: each kind's item and collection paths
    with get/put/patch/delete/post operations tagged x-kubernetes-action and
    x-kubernetes-group-version-kind, the write operations taking dryRun / fieldManager /
    fieldValidation; custom resources also get their schema as a component. PATCH of a built-in
    kind lists json-patch, merge-patch and apply-patch bodies but no strategic-merge one (the
    stand-in publishes no built-in schemas, so kubectl keeps computing strategic merges from its
    compiled-in types)."""
    paths, schemas = {}, {}
    prefix = "/" + gv_path(group, version)
    for r in resources:
        gvk = {"group": r.group, "kind": r.kind, "version": r.version}
        base = prefix + (f"/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"/{r.plural}")
        ref = {"$ref": f"#/components/schemas/{_definition_name(r)}"}
        body = {"content": {"application/json": {"schema": ref}}}
        writes = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
        patch_types = _PATCH_TYPES_CR
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}

        def op(action, params=(), request=None, r=r, gvk=gvk):
            o = {"operationId": f"{action}{r.kind}", "parameters": list(params), "responses": ok,
                 "x-kubernetes-action": action, "x-kubernetes-group-version-kind": dict(gvk)}
            if request:
                o["requestBody"] = request
            return o
        common = [_param("name", "path", f"name of the {r.kind}")] + \
            ([_param("namespace", "path", "object name and auth scope")] if r.namespaced else [])
        paths[base + "/{name}"] = {
            "get": op("get"), "put": op("put", writes, body),
            "patch": op("patch", writes + [_param("force")],
                        {"content": {t: {"schema": {"type": "object"}} for t in patch_types}}),
            "delete": op("delete", [_param("dryRun")]), "parameters": common}
        paths[base] = {"get": op("list"), "post": op("post", writes, body),
                       "parameters": common[1:]}
        if r.crd and r.schema is not None:
            s = copy.deepcopy(r.schema)
            s.setdefault("type", "object")
            props = s.setdefault("properties", {})
            props.setdefault("apiVersion", {"type": "string"})
            props.setdefault("kind", {"type": "string"})
            props.setdefault("metadata", {"type": "object"})
            s["x-kubernetes-group-version-kind"] = [dict(gvk)]
            schemas[_definition_name(r)] = s
        else:
            schemas[_definition_name(r)] = {"type": "object", "x-kubernetes-group-version-kind": [dict(gvk)]}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": schemas}}


def document_hash(doc: dict) -> str:
    """The hash= kube-openapi puts in serverRelativeURL (an upper-case SHA-512 of the document)."""
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()
