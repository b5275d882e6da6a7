"""metadata.managedFields and server-side apply for the stand-in Kubernetes API server
(kube_apiserver.py), as kube-apiserver v1.32 computes them: k8s.io/apimachinery/pkg/util/
managedfields/internal (structuredmerge.go's Update and Apply, managedFieldsUpdater,
stripMetaManager, buildManagerInfo, skipNonAppliedManager's "before-first-apply",
lastAppliedManager and lastAppliedUpdater, conflict.go, encodeManagedFields' sort) over
sigs.k8s.io/structured-merge-diff v4.4 (typed: ToFieldSet, Compare, Merge, RemoveItems and the
validating walker's errors; merge/update.go: Updater.Update, Updater.Apply, prune,
addBackOwnedItems, addBackDanglingItems; fieldpath: EnsureNamedFieldsAreMembers, PathElement's
String and FieldsV1 serialization).

A field set is a set of paths; a path is a tuple of FieldsV1 path elements: "f:spec" (a field),
'k:{"name":"app"}' (an item of an associative list, by its key fields, sorted), 'v:"x"' (an item of
a set). Which lists are associative and which maps are atomic is the schema's (a FieldType):
- custom resources: the version's structural schema (SchemaType): x-kubernetes-list-type map (by
  x-kubernetes-list-map-keys, a key's `default` filling a missing key) or set, atomic otherwise;
  x-kubernetes-map-type atomic; `properties` are named fields, additionalProperties and
  x-kubernetes-preserve-unknown-fields maps of elements (deduced).
- built-in kinds (BuiltinType, the +listType / +listMapKey / +structType / +mapType markers of the
  k8s.io/api types): containers, initContainers, ephemeralContainers, env, volumes,
  imagePullSecrets, resourceClaims, schedulingGates, webhooks and matchConditions by name;
  volumeMounts by mountPath, volumeDevices by devicePath, hostAliases by ip, conditions by type,
  metadata.ownerReferences by uid, topologySpreadConstraints by topologyKey and
  whenUnsatisfiable, a container's ports by containerPort and protocol and a Service's by port and
  protocol (protocol defaulting to TCP, as the OpenAPI `default` lets SMD fill it);
  metadata.finalizers a set; every other list atomic (rbac rules and subjects, webhook rules,
  args, tolerations, CRD versions...); selectors, namespace/object/label selectors, nodeSelector,
  roleRef and the *KeyRef / fieldRef structs atomic; labels, annotations, data, binaryData,
  stringData, resources' limits / requests maps of elements; everything else a struct.
"""

from __future__ import annotations

import copy
import datetime
import json

from kube_crds import go_float

# stripMetaManager's stripSet: never part of a manager's fields
STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", f"f:{k}") for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                                        "generation", "managedFields", "resourceVersion")}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
_MISSING = object()
_GONE = object()

# --------------------------------------------------------------------------------------------
# Field types (what SMD's schema.Atom says about a node)


class Deduced:
    """No schema (SMD's deduced type): maps of elements, atomic lists."""

    def map_kind(self) -> str:
        """"struct" (named fields), "map" (elements) or "atomic"."""
        return "map"

    def named(self, name: str) -> bool:
        return False

    def declares(self, name: str) -> bool:
        return True

    def field(self, name: str):
        return DEDUCED

    def item(self):
        return DEDUCED

    def list_type(self) -> str:
        """"atomic", "map" (associative, by keys()) or "set"."""
        return "atomic"

    def keys(self) -> tuple:
        return ()

    def key_default(self, name: str):
        return None


DEDUCED = Deduced()

_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
_ATOMIC_MAPS = {"selector", "namespaceSelector", "objectSelector", "labelSelector", "nodeSelector", "roleRef",
                "fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"}
_ELEMENT_MAPS = {"labels", "annotations", "data", "binaryData", "stringData", "limits", "requests", "capacity",
                 "allocatable", "hard", "used", "matchLabels"}
_KEYED = {"containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
          "volumes": ("name",), "imagePullSecrets": ("name",), "resourceClaims": ("name",),
          "schedulingGates": ("name",), "matchConditions": ("name",), "volumeMounts": ("mountPath",),
          "volumeDevices": ("devicePath",), "hostAliases": ("ip",), "conditions": ("type",),
          "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable")}
_WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


class BuiltinType(Deduced):
    """A node of a built-in kind, known by the field names leading to it (list items skipped)."""

    def __init__(self, kind: str, names: tuple = (), item: bool = False):
        self.kind, self.names, self.is_item = kind, names, item

    def map_kind(self) -> str:
        if self.is_item:
            return "struct"
        last = self.names[-1] if self.names else ""
        if last in _ATOMIC_MAPS:
            return "atomic"
        return "map" if last in _ELEMENT_MAPS else "struct"

    def named(self, name: str) -> bool:
        return self.map_kind() == "struct"

    def field(self, name: str):
        return BuiltinType(self.kind, self.names + (name,))

    def item(self):
        return BuiltinType(self.kind, self.names, item=True)

    def _list(self) -> tuple:
        names = self.names
        last = names[-1] if names else ""
        parent = names[-2] if len(names) > 1 else ""
        if last == "ports":
            if parent in _CONTAINERS:
                return "map", ("containerPort", "protocol")
            if self.kind == "Service" and names == ("spec", "ports"):
                return "map", ("port", "protocol")
            return "atomic", ()
        if last == "env":
            return ("map", ("name",)) if parent in _CONTAINERS else ("atomic", ())
        if parent == "metadata" and last == "ownerReferences":
            return "map", ("uid",)
        if parent == "metadata" and last == "finalizers":
            return "set", ()
        if last == "webhooks":
            return ("map", ("name",)) if self.kind in _WEBHOOK_KINDS else ("atomic", ())
        if last in _KEYED:
            return "map", _KEYED[last]
        return "atomic", ()

    def list_type(self) -> str:
        return self._list()[0]

    def keys(self) -> tuple:
        return self._list()[1]

    def key_default(self, name: str):
        return "TCP" if name == "protocol" else None


class SchemaType(Deduced):
    """A node of a custom resource's structural schema (the root and embedded resources carry
    apiVersion, kind and an ObjectMeta metadata)."""

    def __init__(self, schema: dict | None, kind: str = "", root: bool = False):
        self.s, self.kind, self.root = schema or {}, kind, root

    def _embedded(self) -> bool:
        return self.root or bool(self.s.get("x-kubernetes-embedded-resource"))

    def map_kind(self) -> str:
        if self.s.get("x-kubernetes-map-type") == "atomic":
            return "atomic"
        return "struct" if self.s.get("properties") or self._embedded() else "map"

    def named(self, name: str) -> bool:
        return name in (self.s.get("properties") or {}) or \
            (self._embedded() and name in ("apiVersion", "kind", "metadata"))

    def declares(self, name: str) -> bool:
        return self.named(name) or self.s.get("additionalProperties") not in (None, False) or \
            bool(self.s.get("x-kubernetes-preserve-unknown-fields"))

    def field(self, name: str):
        if self._embedded() and name == "metadata":
            return BuiltinType(self.kind, ("metadata",))
        props = self.s.get("properties") or {}
        if name in props:
            return SchemaType(props[name], self.kind)
        ap = self.s.get("additionalProperties")
        return SchemaType(ap, self.kind) if isinstance(ap, dict) else DEDUCED

    def item(self):
        items = self.s.get("items")
        return SchemaType(items, self.kind) if isinstance(items, dict) else DEDUCED

    def list_type(self) -> str:
        t = self.s.get("x-kubernetes-list-type") or "atomic"
        return "atomic" if t == "map" and not self.keys() else t

    def keys(self) -> tuple:
        return tuple(self.s.get("x-kubernetes-list-map-keys") or ())

    def key_default(self, name: str):
        items = self.s.get("items") or {}
        return ((items.get("properties") or {}).get(name) or {}).get("default")


# --------------------------------------------------------------------------------------------
# Path elements


class SchemaError(Exception):
    """typed.ValidationErrors: the applied configuration does not fit the schema."""


def _json(v) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _to_string(v) -> str:
    """value.ToString: strings %q, numbers and booleans %v."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return _json(v)


def pe_string(el: str) -> str:
    """PathElement.String(): .field, [key=value,...], [=value], [index]."""
    kind, rest = el[:1], el[2:]
    if kind == "f":
        return "." + rest
    if kind == "k":
        return "[" + ",".join(f"{k}={_to_string(v)}" for k, v in json.loads(rest).items()) + "]"
    if kind == "v":
        return "[=" + _to_string(json.loads(rest)) + "]"
    return f"[{rest}]"


def path_string(path: tuple) -> str:
    return "".join(pe_string(e) for e in path)


def _value_rank(v) -> tuple:
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, _json(v))


def _pe_sort_key(el: str) -> tuple:
    """PathElement.Compare: field names, then keys, values, indexes."""
    kind, rest = el[:1], el[2:]
    if kind == "f":
        return (0, rest)
    try:
        if kind == "k":
            return (1, tuple((k, _value_rank(v)) for k, v in json.loads(rest).items()))
        if kind == "v":
            return (2, _value_rank(json.loads(rest)))
        return (3, int(rest))
    except ValueError:
        return (4, rest)


def path_sort_key(path: tuple) -> tuple:
    return tuple(_pe_sort_key(e) for e in path)


def list_elements(items: list, typ, path: tuple = (), strict: bool = False) -> list | None:
    """The path elements of a list's items (listItemToPathElement), or None when the list is
    atomic. strict (the applied configuration): a bad item is a SchemaError worded as SMD's
    validator words it; otherwise the list is treated as atomic."""
    lt = typ.list_type()
    if lt == "atomic":
        return None
    out, seen = [], set()
    for i, item in enumerate(items):
        problem = None
        if lt == "map":
            if item is None:
                problem = "associative list with keys may not have a null element"
            elif not isinstance(item, dict):
                problem = "associative list with keys may not have non-map elements"
            else:
                fields = {}
                for k in typ.keys():
                    if k in item:
                        fields[k] = item[k]
                    elif typ.key_default(k) is not None:
                        fields[k] = typ.key_default(k)
                    else:
                        problem = (f'associative list with keys has an element that omits key field "{k}" '
                                   "(and doesn't have default value)")
                        break
                pe = "k:" + _json(fields)
        else:
            if isinstance(item, (dict, list)) or item is None:
                problem = "associative list without keys has an element that's a map type"
            else:
                pe = "v:" + _json(item)
        if problem:
            if strict:
                raise SchemaError(f"{path_string(path)}: element {i}: {problem}")
            return None
        if pe in seen:
            if strict:
                raise SchemaError(f"{path_string(path)}: duplicate entries for key {pe_string(pe)}")
            return None
        seen.add(pe)
        out.append(pe)
    return out


# --------------------------------------------------------------------------------------------
# The typed operations


def validate_config(obj: dict, typ) -> None:
    """ObjectToTyped of an applied configuration: a field the schema does not declare (the first
    of each map, in key order) and bad associative-list items are errors ("errors:\\n  ..." when
    several)."""
    errs: list[str] = []

    def walk(v, t, path):
        if isinstance(v, dict):
            if t.map_kind() == "atomic" and path:
                return
            for k in sorted(v):
                if not t.declares(k):
                    errs.append(f"{path_string(path + ('f:' + k,))}: field not declared in schema")
                    break
                walk(v[k], t.field(k), path + ("f:" + k,))
        elif isinstance(v, list):
            if t.list_type() == "atomic":
                for i, item in enumerate(v):
                    walk(item, t.item(), path + (f"i:{i}",))
                return
            try:
                pes = list_elements(v, t, path, strict=True)
            except SchemaError as e:
                errs.append(str(e))
                return
            for pe, item in zip(pes, v):
                walk(item, t.item(), path + (pe,))
    walk(obj, typ, ())
    if len(errs) == 1:
        raise SchemaError(errs[0])
    if errs:
        raise SchemaError("\n".join(["errors:"] + ["  " + e for e in errs]))


def field_set(obj, typ) -> set:
    """TypedValue.ToFieldSet: every leaf, atomic list or map, and associative list item (maps of
    fields or elements are not members themselves)."""
    out: set = set()

    def walk(v, t, path):
        if isinstance(v, dict):
            if t.map_kind() == "atomic" and path:
                out.add(path)
                return
            for k, x in v.items():
                walk(x, t.field(k), path + ("f:" + k,))
        elif isinstance(v, list):
            pes = list_elements(v, t, path)
            if pes is None:
                out.add(path)
                return
            for pe, item in zip(pes, v):
                walk(item, t.item(), path + (pe,))
                out.add(path + (pe,))
        elif path:
            out.add(path)
    walk(obj, typ, ())
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _empty(v) -> bool:
    return v is _MISSING or v is None or (isinstance(v, (dict, list)) and not v)


def compare(old: dict, new: dict, typ=DEDUCED) -> tuple[set, set, set]:
    """typed.Compare: (added, modified, removed). A map or associative list that appears or goes
    counts itself and every path below it; a changed leaf, atomic list or atomic map is modified;
    maps and lists empty on both sides are leaves."""
    added, modified, removed = set(), set(), set()

    def leaf(a, b, path):
        if a is _MISSING:
            added.add(path)
        elif b is _MISSING:
            removed.add(path)
        elif not _same(a, b):
            modified.add(path)

    def walk(a, b, t, path):
        is_map = isinstance(a, dict) or isinstance(b, dict)
        is_list = isinstance(a, list) or isinstance(b, list)
        if is_map and all(x is _MISSING or isinstance(x, dict) for x in (a, b)):
            if (t.map_kind() == "atomic" and path) or (_empty(a) and _empty(b)):
                return leaf(a, b, path)
            A = a if isinstance(a, dict) else {}
            B = b if isinstance(b, dict) else {}
            for k in list(A) + [k for k in B if k not in A]:
                walk(A.get(k, _MISSING), B.get(k, _MISSING), t.field(k), path + ("f:" + k,))
        elif is_list and all(x is _MISSING or isinstance(x, list) for x in (a, b)):
            A = a if isinstance(a, list) else []
            B = b if isinstance(b, list) else []
            pa, pb = list_elements(A, t, path), list_elements(B, t, path)
            if pa is None or pb is None or (_empty(a) and _empty(b)):
                return leaf(a, b, path)
            ia, ib = dict(zip(pa, A)), dict(zip(pb, B))
            for pe in pa + [p for p in pb if p not in ia]:
                walk(ia.get(pe, _MISSING), ib.get(pe, _MISSING), t.item(), path + (pe,))
        else:
            return leaf(a, b, path)
        if a is _MISSING:
            added.add(path)
        elif b is _MISSING:
            removed.add(path)
    walk(_content(old), _content(new), typ, ())
    return added, modified, removed


def merge(a, b, typ=DEDUCED):
    """TypedValue.Merge (rhs wins): maps merged by key, associative lists by item (the order of
    SMD's mergingWalker.visitListItems), atomic lists and maps and scalars replaced."""
    if b is _MISSING:
        return copy.deepcopy(a)
    if a is _MISSING:
        return copy.deepcopy(b)
    if isinstance(a, dict) and isinstance(b, dict):
        if typ.map_kind() == "atomic" or (not a and not b):
            return copy.deepcopy(b)
        out = {k: merge(v, b.get(k, _MISSING), typ.field(k)) for k, v in a.items()}
        for k, v in b.items():
            if k not in a:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(a, list) and isinstance(b, list) and (a or b):
        pa, pb = list_elements(a, typ), list_elements(b, typ)
        if pa is None or pb is None:
            return copy.deepcopy(b)
        return _merge_items(a, b, pa, pb, typ.item())
    return copy.deepcopy(b)


def _merge_items(a: list, b: list, pa: list, pb: list, it) -> list:
    ia, ib = dict(zip(pa, a)), dict(zip(pb, b))
    shared = [pe for pe in pb if pe in ia]
    nxt = shared.pop(0) if shared else None
    out, merged_b = [], set()
    li = ri = 0
    while li < len(pa) or ri < len(pb):
        if li < len(pa) and ri < len(pb):
            pe = pa[li]
            if pe == pb[ri]:
                merged_b.add(pe)
                out.append(merge(ia[pe], ib[pe], it))
                li += 1
                ri += 1
                nxt = shared.pop(0) if shared else None
                continue
            if pe in ib and nxt is not None and nxt != pe:
                li += 1  # a shared item, but not the one wanted in this round
                continue
        if li < len(pa):
            pe = pa[li]
            if pe not in ib:
                out.append(copy.deepcopy(a[li]))
                li += 1
                continue
            if pe in merged_b:
                li += 1
        if ri < len(pb):
            pe = pb[ri]
            merged_b.add(pe)
            out.append(merge(ia.get(pe, _MISSING), ib[pe], it))
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = shared.pop(0) if shared else None
    return out


def ensure_named(paths: set, typ) -> set:
    """Set.EnsureNamedFieldsAreMembers: the paths plus every prefix ending in a named field of a
    struct (a map of elements' keys and list items are not added)."""
    out = set(paths)
    for p in paths:
        t = typ
        for i, el in enumerate(p[:-1]):
            if el.startswith("f:"):
                if t.named(el[2:]):
                    out.add(p[:i + 1])
                t = t.field(el[2:])
            else:
                t = t.item()
    return out


def remove_items(obj: dict, paths: set, typ) -> dict:
    """TypedValue.RemoveItems: drops every field and list item in `paths` (with what is below it);
    a map or list left empty goes too."""
    prefixes = {p[:i] for p in paths for i in range(len(p))}

    def walk(v, t, path):
        if isinstance(v, dict):
            if t.map_kind() == "atomic" and path:
                return v
            out = {}
            for k, x in v.items():
                p = path + ("f:" + k,)
                if p in paths:
                    continue
                if p in prefixes:
                    x = walk(x, t.field(k), p)
                    if x is _GONE:
                        continue
                out[k] = x
            return out if out or not path else _GONE
        if isinstance(v, list):
            pes = list_elements(v, t, path)
            if pes is None:
                return v
            out = []
            for pe, item in zip(pes, v):
                p = path + (pe,)
                if p in paths:
                    continue
                if p in prefixes:
                    item = walk(item, t.item(), p)
                    if item is _GONE:
                        continue
                out.append(item)
            return out if out else _GONE
        return v
    return walk(obj, typ, ())


def _prune(merged: dict, managed: dict, last: set, typ) -> dict:
    """Updater.prune: what the applier applied last time, does not apply now and no manager owns
    goes (RemoveItems, then addBackOwnedItems and addBackDanglingItems, with named fields)."""
    last_e = ensure_named(last, typ)
    pruned = remove_items(merged, last_e, typ)
    owned = set().union(*(m["set"] for m in managed.values()))
    merged_e = ensure_named(field_set(merged, typ), typ)
    pruned = remove_items(merged, merged_e - (ensure_named(field_set(pruned, typ), typ) | ensure_named(owned, typ)), typ)
    return remove_items(merged, (merged_e - ensure_named(field_set(pruned, typ), typ)) & last_e, typ)


# --------------------------------------------------------------------------------------------
# FieldsV1


def decode_fields(fields: dict, path: tuple = ()) -> set:
    """FieldsV1 JSON to a set of paths ("." marks the node itself)."""
    out = set()
    for k, v in (fields or {}).items():
        if k == ".":
            out.add(path)
            continue
        p = path + (k,)
        if not v:
            out.add(p)
        else:
            out |= decode_fields(v, p)
    return out


def encode_fields(paths: set) -> dict:
    """A set of paths to FieldsV1: "." first when a member node has children, then the children
    in PathElement order (fields by name, then keys, values, indexes)."""
    tree: dict = {}
    members = set(paths)
    for p in paths:
        node = tree
        for el in p:
            node = node.setdefault(el, {})

    def render(node: dict, path: tuple) -> dict:
        out = {}
        if path in members and node and path:
            out["."] = {}
        for k in sorted(node, key=_pe_sort_key):
            out[k] = render(node[k], path + (k,))
        return out
    return render(tree, ())


# --------------------------------------------------------------------------------------------
# managedFields


def _content(obj) -> dict:
    if not obj:
        return {}
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def _identity(e: dict) -> tuple:
    """BuildManagerIdentifier: manager, operation, apiVersion (not for Apply), subresource."""
    return (e.get("manager", ""), e.get("operation", ""),
            "" if e.get("operation") == "Apply" else e.get("apiVersion", ""), e.get("subresource", ""))


def _identity_json(e: dict) -> str:
    d = {"manager": e.get("manager", ""), "operation": e.get("operation", "")}
    if e.get("operation") != "Apply" and e.get("apiVersion"):
        d["apiVersion"] = e["apiVersion"]
    if e.get("subresource"):
        d["subresource"] = e["subresource"]
    return json.dumps(d, separators=(",", ":"))


def _decode(entries) -> dict | None:
    """DecodeManagedFields; None when an entry is malformed (the live object's are used then)."""
    if not isinstance(entries, list):
        return None
    out = {}
    for e in entries:
        if not isinstance(e, dict) or e.get("operation") not in ("Apply", "Update") or not e.get("apiVersion") \
                or e.get("fieldsType") != "FieldsV1":
            return None
        entry = {k: v for k, v in e.items() if k != "fieldsV1"}
        if entry.get("time"):
            entry["time"] = rfc3339(entry["time"])
        out[_identity(e)] = {"entry": entry, "set": decode_fields(e.get("fieldsV1") or {})}
    return out


def rfc3339(t: str) -> str:
    """metav1.Time as it is written back: RFC 3339 in UTC, whole seconds ("…+00:00" from a client
    becomes "…Z")."""
    try:
        d = datetime.datetime.fromisoformat(str(t).replace("Z", "+00:00"))
    except ValueError:
        return t
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(managed: dict) -> list | None:
    """encodeManagedFields: entries with fields, sorted by operation, time (seconds), manager,
    apiVersion, subresource."""
    out = []
    for m in managed.values():
        if not m["set"]:
            continue
        e = dict(m["entry"])
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = encode_fields(m["set"])
        out.append(_ordered(e))
    out.sort(key=lambda e: (e.get("operation", ""), e.get("time") or "", e.get("manager", ""),
                            e.get("apiVersion", ""), e.get("subresource", "")))
    return out or None


def _filtered(sets, ignored):
    return tuple({p for p in s if not ignored(p)} for s in sets) if ignored else tuple(sets)


def update_managed_fields(live: dict | None, new: dict, manager: str, api_version: str, subresource: str,
                          now: str, ignored=None, typ=DEDUCED) -> list | None:
    """The managedFields `new` gets when `manager` writes it over `live` (None: a create) with an
    Update operation: the fields this write added or changed move to the manager's entry (its time
    set to `now`), every other entry loses them and the removed ones, empty entries go, and the
    list is sorted as encodeManagedFields sorts it (operation, time, manager, apiVersion,
    subresource). `ignored(path)` marks the reset fields of the subresource (status on the main
    resource, all but status on /status). Answers None for "no managedFields"."""
    provided = None if subresource else _decode((new.get("metadata") or {}).get("managedFields"))
    managed = provided if provided else (_decode(((live or {}).get("metadata") or {}).get("managedFields")) or {})
    added, modified, removed = _filtered(compare(live or {}, new, typ), ignored)
    taken = added | modified
    for m in managed.values():
        m["set"] = m["set"] - taken - removed
    mine = (taken - STRIPPED)
    key = (manager, "Update", api_version, subresource)
    if mine:
        entry = managed.setdefault(key, {"entry": {"manager": manager, "operation": "Update", "apiVersion": api_version},
                                         "set": set()})
        entry["set"] |= mine
        entry["entry"]["time"] = now
        if subresource:
            entry["entry"]["subresource"] = subresource
    return _encode(managed)


class Conflicts(Exception):
    """merge.Conflicts turned into the 409 kube-apiserver answers (internal/conflict.go
    NewConflictError: reason Conflict, one FieldManagerConflict cause per field)."""

    def __init__(self, conflicts: list):
        self.conflicts = sorted(conflicts, key=lambda c: (_identity_json(c[0]), path_sort_key(c[1])))
        super().__init__(self.message())

    @staticmethod
    def who(e: dict) -> str:
        """printManager: "name" [with subresource "s"] [using apiVersion (Update)]."""
        s = json.dumps(e.get("manager", ""), ensure_ascii=False)
        if e.get("subresource"):
            s += f' with subresource {json.dumps(e["subresource"])}'
        if e.get("operation") == "Update":
            s += f' using {e.get("apiVersion", "")}'
        return s

    def message(self) -> str:
        c = self.conflicts
        if len(c) == 1:
            return f"Apply failed with 1 conflict: conflict with {self.who(c[0][0])}: {path_string(c[0][1])}"
        lines, seen = [], None
        for e, p in c:
            if _identity_json(e) != seen:
                seen = _identity_json(e)
                lines.append(f"conflicts with {self.who(e)}:")
            lines.append(f"- {path_string(p)}")
        return f"Apply failed with {len(c)} conflicts: " + "\n".join(lines)

    def status(self) -> dict:
        causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {self.who(e)}", "field": path_string(p)}
                  for e, p in self.conflicts]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message(),
                "reason": "Conflict", "details": {"causes": causes}, "code": 409}


def apply_managed_fields(live: dict | None, config: dict, manager: str, api_version: str, subresource: str,
                         now: str, typ, ignored=None, force: bool = False) -> tuple[dict, list | None]:
    """Server-side apply of `config` (validated with validate_config) by `manager` over `live`
    (None: the object does not exist): (the object without managedFields, its managedFields).
    Raises Conflicts unless forced. As kube-apiserver: a live object without managedFields first
    gets a "before-first-apply" Update entry owning all it has; the merge keeps what other
    managers own, drops what this manager applied last time and applies no more (if no one else
    owns it), moves a field set to another value from its other owners (or conflicts); an apply
    changing nothing renews no time; with manager "kubectl", conflicts that the
    last-applied-configuration annotation shows as kubectl's own are forced, and that annotation,
    when present, is rewritten to the applied configuration."""
    live_c = _content(live) if live else {}
    stored = _decode(((live or {}).get("metadata") or {}).get("managedFields")) or {}
    if live and not stored:  # skipNonAppliedManager
        added, modified, _ = _filtered(compare({}, live_c, typ), ignored)
        owned = (added | modified) - STRIPPED
        if owned:
            entry = {"manager": BEFORE_FIRST_APPLY, "operation": "Update", "apiVersion": api_version, "time": now}
            if subresource:
                entry["subresource"] = subresource
            stored[(BEFORE_FIRST_APPLY, "Update", api_version, subresource)] = {"entry": entry, "set": owned}

    def attempt(forced: bool):
        managed = {k: {"entry": dict(v["entry"]), "set": set(v["set"])} for k, v in stored.items()}
        me = (manager, "Apply", "", subresource)
        last = managed.get(me)
        merged = merge(live_c, config, typ)
        applied = field_set(config, typ)
        if ignored:
            applied = {p for p in applied if not ignored(p)}
        entry = dict(last["entry"]) if last else {"manager": manager, "operation": "Apply"}
        entry["apiVersion"] = api_version
        if subresource:
            entry["subresource"] = subresource
        managed[me] = {"entry": entry, "set": applied}
        if last and last["set"]:
            merged = _prune(merged, managed, last["set"], typ)
        added, modified, removed = _filtered(compare(live_c, merged, typ), ignored)
        taken = added | modified
        conflicts = [(m["entry"], p) for k, m in managed.items() if k != me for p in m["set"] & taken]
        if conflicts and not forced:
            raise Conflicts(conflicts)
        for k, m in managed.items():
            if k != me:
                m["set"] -= taken | removed
        if not _same_content(live_c, merged):
            entry["time"] = now
        managed[me]["set"] -= STRIPPED
        return merged, managed

    try:
        merged, managed = attempt(force)
    except Conflicts as e:
        allowed = _allowed_by_last_applied(live_c, api_version, typ) if manager == "kubectl" else None
        if allowed is None:
            raise
        rest = [(en, p) for en, p in e.conflicts if p not in allowed]
        if rest:
            raise Conflicts(rest)
        merged, managed = attempt(True)
    if manager == "kubectl" and LAST_APPLIED in ((merged.get("metadata") or {}).get("annotations") or {}):
        merged["metadata"]["annotations"][LAST_APPLIED] = last_applied(config)
    return merged, _encode(managed)


def _same_content(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_content(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_content(x, y) for x, y in zip(a, b))
    return _same(a, b)


def last_applied(config: dict) -> str:
    """buildLastApplied: the configuration without the annotation, as encoding/json writes it
    (keys sorted, <>& escaped, a newline)."""
    obj = copy.deepcopy(config)
    ann = (obj.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def _allowed_by_last_applied(live_c: dict, api_version: str, typ) -> set | None:
    """lastAppliedManager.allowedConflictsFromLastApplied: the fields of the last-applied
    configuration whose value the live object still has."""
    text = ((live_c.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        la = json.loads(text)
    except ValueError:
        return None
    if not isinstance(la, dict) or la.get("apiVersion") != api_version:
        return None
    try:
        validate_config(la, typ)
    except SchemaError:
        return None
    added, modified, removed = compare(la, live_c, typ)
    return field_set(la, typ) - modified - added - removed


def _ordered(e: dict) -> dict:
    """ManagedFieldsEntry's JSON field order."""
    keys = ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")
    return {k: e[k] for k in keys if k in e and e[k] not in (None, "")}


def manager_from_user_agent(user_agent: str) -> str:
    """prefixFromUserAgent: the part before the first '/', printable characters, 128 at most."""
    out = ""
    for ch in (user_agent or "").split("/")[0]:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > 128:
            break
        out += ch
    return out
