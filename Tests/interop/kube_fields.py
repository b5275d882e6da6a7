"""metadata.managedFields for the stand-in Kubernetes API server (kube_apiserver.py), as the real
server records them for non-apply writes (k8s.io/apimachinery/pkg/util/managedfields/internal:
structuredmerge's Updater.Update, managedFieldsUpdater, stripMetaManager, buildManagerInfo,
encodeManagedFields' sort; sigs.k8s.io/structured-merge-diff's Compare and FieldsV1 encoding).

A field set is a set of paths; a path is a tuple of FieldsV1 keys ("f:spec", "f:hosts"). Lists are
atomic (one leaf, as in a CRD without x-kubernetes-list-type): the associative list keys of
built-in kinds (k:{"name":"app"}) are not modelled.
"""

from __future__ import annotations

import datetime
# stripMetaManager's stripSet: never part of a manager's fields
STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", f"f:{k}") for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                                        "generation", "managedFields", "resourceVersion")}


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _all(v, path: tuple, out: set):
    out.add(path)
    if isinstance(v, dict):
        for k, x in v.items():
            _all(x, path + (f"f:{k}",), out)


def compare(old: dict, new: dict) -> tuple[set, set, set]:
    """typed.Compare: (added, modified, removed). An added or removed map counts itself and every
    path below it; a changed leaf (or list, or a value changing type) is modified."""
    added, modified, removed = set(), set(), set()

    def walk(a: dict, b: dict, path: tuple):
        for k in list(a) + [k for k in b if k not in a]:
            p = path + (f"f:{k}",)
            if k not in a:
                _all(b[k], p, added)
            elif k not in b:
                _all(a[k], p, removed)
            elif isinstance(a[k], dict) and isinstance(b[k], dict):
                walk(a[k], b[k], p)
            elif not _same(a[k], b[k]):
                modified.add(p)
    walk(_content(old), _content(new), ())
    return added, modified, removed


def _content(obj: dict | None) -> dict:
    if not obj:
        return {}
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


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
    sorted (fields by name, then keys/values/indexes)."""
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
        for k in sorted(node, key=lambda e: (not e.startswith("f:"), e)):
            out[k] = render(node[k], path + (k,))
        return out
    return render(tree, ())


def _identity(e: dict) -> tuple:
    """BuildManagerIdentifier: manager, operation, apiVersion (not for Apply), subresource."""
    return (e.get("manager", ""), e.get("operation", ""),
            "" if e.get("operation") == "Apply" else e.get("apiVersion", ""), e.get("subresource", ""))


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


def _under(path: tuple, prefix: tuple) -> bool:
    return path[:len(prefix)] == prefix


def update_managed_fields(live: dict | None, new: dict, manager: str, api_version: str, subresource: str,
                          now: str, ignored=None) -> list | None:
    """The managedFields `new` gets when `manager` writes it over `live` (None: a create) with an
    Update operation: the fields this write added or changed move to the manager's entry (its time
    set to `now`), every other entry loses them and the removed ones, empty entries go, and the
    list is sorted as encodeManagedFields sorts it (operation, time, manager, apiVersion,
    subresource). `ignored(path)` marks the reset fields of the subresource (status on the main
    resource, all but status on /status). Answers None for "no managedFields"."""
    provided = None if subresource else _decode((new.get("metadata") or {}).get("managedFields"))
    managed = provided if provided else (_decode(((live or {}).get("metadata") or {}).get("managedFields")) or {})
    added, modified, removed = compare(live or {}, new)
    if ignored:
        added, modified, removed = ({p for p in s if not ignored(p)} for s in (added, modified, removed))
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
