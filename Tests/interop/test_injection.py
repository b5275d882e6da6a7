"""Sidecar injection offline: `meshctl kube-inject` against docs/injection.md, table-driven over
the manifests in Tests/interop/injection/ (Istio's Bookinfo, pods with init containers of their
own, hostNetwork, already injected, traffic / resource / Prometheus annotations,
`sidecar.istio.io/inject: "false"`, every workload kind with a pod template, unhonoured and
malformed annotations, the namespaces meshd leaves alone).

- every injected document validates with kubernetes-validate (Kubernetes 1.32 schemas, strict,
  offline);
- each injected pod (template) has exactly what docs/injection.md lists and nothing else changes:
  istio-init appended after the pod's own init containers (which stay unchanged), its
  istio-iptables.sh flags reflecting the traffic annotations, root with NET_ADMIN and NET_RAW
  only; istio-proxy appended after the application's containers with its environment, port
  15090, readiness probe, security context and resources; the five volumes (the projected token
  with audience istio-ca); the labels, the status annotation in Istio's shape, the default
  container and the Prometheus choice;
- istio-init's arguments are run through the real deploy/sidecar/istio-iptables.sh in `--dry-run`
  mode: accepted, and the iptables commands are exactly those of the flags the annotation table
  prescribes (the excluded ports and CIDRs appear);
- pods left alone (hostNetwork, already injected, inject "false", kube-system & co, meshd's own
  namespace) and kinds without a pod template come out equal to their input (parsed);
- injecting twice equals injecting once; `-f -` reads stdin;
- unhonoured annotations: a warning on stderr naming them, the pod still injected; malformed ones:
  a non-zero exit and a message naming the annotation;
- values: the defaults, `--system-namespace`, a file setting every key (YAML or JSON), unknown
  keys refused by name.

The helpers here (the checks, the strict RFC 6902 applier, running kube-inject) are shared with
test_injection_webhook.py, which checks meshd's `/inject` against the same expectations.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from deploy_manifests import ROOT, no_network, validate  # noqa: F401 (no_network: autouse, in-process only)
from meshd_process import launcher, meshctl_bin
from results import record_result

DATA = Path(__file__).resolve().parent / "injection"
SCRIPT = ROOT / "deploy" / "sidecar" / "istio-iptables.sh"
VALUES = DATA / "values.yaml"
CUSTOM_VALUES = DATA / "values-custom.yaml"
RUN_TIMEOUT = 30.0

INJECTED_VOLUMES = ("workload-socket", "workload-certs", "istio-envoy", "istio-token", "istiod-ca-cert")
ENVOY_PORTS = ("15090", "15021", "15020")
SKIPPED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# Traffic annotations -> istio-iptables.sh flag, its default (docs/injection.md "Traffic annotations").
A_INCLUDE_INBOUND = "traffic.sidecar.istio.io/includeInboundPorts"
A_EXCLUDE_INBOUND = "traffic.sidecar.istio.io/excludeInboundPorts"
A_INCLUDE_OUT_CIDRS = "traffic.sidecar.istio.io/includeOutboundIPRanges"
A_EXCLUDE_OUT_CIDRS = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
A_EXCLUDE_OUT_PORTS = "traffic.sidecar.istio.io/excludeOutboundPorts"
RESOURCE_ANNOTATIONS = {"sidecar.istio.io/proxyCPU": ("requests", "cpu"),
                        "sidecar.istio.io/proxyMemory": ("requests", "memory"),
                        "sidecar.istio.io/proxyCPULimit": ("limits", "cpu"),
                        "sidecar.istio.io/proxyMemoryLimit": ("limits", "memory")}
SCRIPT_DEFAULTS = {"--proxy-port": "15001", "--inbound-capture-port": "15006", "--proxy-uid": "1337",
                   "--proxy-gid": None, "--inbound-ports": "*", "--exclude-inbound-ports": ",".join(ENVOY_PORTS),
                   "--exclude-outbound-ports": "", "--outbound-cidrs": "*", "--exclude-outbound-cidrs": ""}
SHORT_FLAGS = {"-p": "--proxy-port", "-z": "--inbound-capture-port", "-u": "--proxy-uid", "-g": "--proxy-gid",
               "-b": "--inbound-ports", "-d": "--exclude-inbound-ports", "-o": "--exclude-outbound-ports",
               "-i": "--outbound-cidrs", "-x": "--exclude-outbound-cidrs"}

# Which pods meshd leaves alone, and why (docs/injection.md "Which pods get a sidecar").
SKIPPED = {
    ("Pod", "node-probe"): "hostNetwork: true",
    ("DaemonSet", "node-exporter"): "hostNetwork: true",
    ("Pod", "manual-sidecar"): "a container named istio-proxy",
    ("Pod", "status-annotated"): "the sidecar.istio.io/status annotation",
    ("Pod", "label-false"): "label sidecar.istio.io/inject: false",
    ("Pod", "annotation-false"): "annotation sidecar.istio.io/inject: false",
    ("Pod", "label-false-annotation-true"): "label false wins over annotation true",
    ("Deployment", "batch-worker"): "template label sidecar.istio.io/inject: false",
    ("Pod", "dns-helper"): "namespace kube-system",
    ("Pod", "public-info"): "namespace kube-public",
    ("Pod", "lease-watcher"): "namespace kube-node-lease",
    ("Pod", "mesh-tool"): "meshd's own namespace (mesh-system)",
}
UNHONOURED = {  # pod -> the annotation its warning names (None: honoured, no warning)
    "include-outbound-ports": "traffic.sidecar.istio.io/includeOutboundPorts",
    "tproxy": "sidecar.istio.io/interceptionMode",
    "kubevirt": "traffic.sidecar.istio.io/kubevirtInterfaces",
    "rewrite-probers": "sidecar.istio.io/rewriteAppHTTPProbers",
    "redirect-mode": None,
    "no-rewrite": None,
}
WARNED_KEYS = ("includeOutboundPorts", "interceptionMode", "kubevirtInterfaces", "rewriteAppHTTPProbers")
MALFORMED = {  # pod -> the annotation the refusal names
    "port-not-a-number": A_EXCLUDE_INBOUND,
    "port-zero": A_INCLUDE_INBOUND,
    "port-too-large": A_EXCLUDE_OUT_PORTS,
    "cidr-prefix-too-long": A_EXCLUDE_OUT_CIDRS,
    "cidr-not-an-address": A_INCLUDE_OUT_CIDRS,
    "cpu-not-a-quantity": "sidecar.istio.io/proxyCPU",
    "memory-bad-suffix": "sidecar.istio.io/proxyMemoryLimit",
}
FILES = sorted(p.name for p in DATA.glob("*.yaml") if not p.name.startswith("values") and p.name != "malformed.yaml")


# ------------------------------------------------------------------------------ values


class Values:
    """What docs/injection.md's values table says the injected pod carries."""

    def __init__(self, hub="docker.io/meshd", tag=None, system_namespace="mesh-system", discovery=None, ca=None,
                 server_name=None, cluster_id="Kubernetes", domain="cluster.local", revision="default",
                 pull_policy="IfNotPresent", requests=None, limits=None):
        self.hub, self.tag, self.system_namespace = hub, tag, system_namespace
        self.discovery = discovery or f"meshd.{system_namespace}.svc:15013"
        self.ca = ca or f"meshd.{system_namespace}.svc:15012"
        self.server_name = server_name or f"meshd.{system_namespace}.svc"
        self.cluster_id, self.domain, self.revision, self.pull_policy = cluster_id, domain, revision, pull_policy
        self.requests = requests or {"cpu": "100m", "memory": "128Mi"}
        self.limits = limits or {"cpu": "2", "memory": "1Gi"}

    @classmethod
    def from_file(cls, path: Path) -> "Values":
        v = yaml.safe_load(path.read_text())
        res = (v.get("proxy") or {}).get("resources") or {}
        return cls(hub=v.get("hub", "docker.io/meshd"), tag=v.get("tag"),
                   system_namespace=v.get("systemNamespace", "mesh-system"), discovery=v.get("discoveryAddress"),
                   ca=v.get("caAddress"), server_name=v.get("serverName"), cluster_id=v.get("clusterID", "Kubernetes"),
                   domain=v.get("clusterDomain", "cluster.local"), revision=v.get("revision", "default"),
                   pull_policy=v.get("imagePullPolicy", "IfNotPresent"), requests=res.get("requests"),
                   limits=res.get("limits"))


TEST_VALUES = Values.from_file(VALUES)


# ------------------------------------------------------------------------------ running kube-inject


def kube_inject(path: str | Path | None = None, text: str | None = None, values: Path | None = VALUES,
                system_namespace: str | None = None, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    """`meshctl kube-inject -f PATH` (or `-f -` with `text` on stdin)."""
    binary = meshctl_bin()
    if not os.path.exists(binary):
        pytest.fail(f"meshctl not found at {binary}: build it or set MESHCTL_BIN")
    args = [*launcher(binary), "kube-inject", "-f", "-" if text is not None else str(path)]
    if values is not None:
        args += ["--injection-values", str(values)]
    if system_namespace is not None:
        args += ["--system-namespace", system_namespace]
    return subprocess.run(args, input=text if text is not None else "", capture_output=True, text=True, timeout=timeout)


def inject_ok(path=None, text=None, **kw) -> tuple[list[dict], str]:
    p = kube_inject(path, text, **kw)
    assert p.returncode == 0, f"kube-inject {path or '-'} exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return docs_of(p.stdout), p.stderr


@functools.lru_cache(maxsize=None)
def injected_file(name: str) -> tuple[tuple[str, ...], str]:
    """kube-inject of one data file with values.yaml: (each output document as JSON, stderr)."""
    out, err = inject_ok(DATA / name)
    return tuple(json.dumps(d) for d in out), err


def docs_of(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def documents(name: str) -> list[dict]:
    return docs_of((DATA / name).read_text())


def dump(*docs: dict) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


# ------------------------------------------------------------------------------ pod templates


def template_of(doc: dict) -> dict | None:
    """The pod (template) of a document: {"metadata", "spec"}; None for other kinds."""
    kind = doc.get("kind")
    if kind == "Pod":
        return doc
    if kind in TEMPLATE_KINDS:
        return doc["spec"]["template"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]
    return None


def without_template(doc: dict) -> dict:
    """The document with its pod template replaced by a marker (to compare the rest)."""
    d = copy.deepcopy(doc)
    kind = d.get("kind")
    if kind in TEMPLATE_KINDS:
        d["spec"]["template"] = "<template>"
    elif kind == "CronJob":
        d["spec"]["jobTemplate"]["spec"]["template"] = "<template>"
    return d


def meaning(doc: dict) -> dict:
    """A document as compared: `metadata.creationTimestamp: null` and an empty `status` (what
    Go serializers add) mean nothing."""
    d = copy.deepcopy(doc)

    def clean(obj):
        if isinstance(obj, dict):
            md = obj.get("metadata")
            if isinstance(md, dict) and "creationTimestamp" in md and md["creationTimestamp"] is None:
                del md["creationTimestamp"]
            for v in obj.values():
                clean(v)
    clean(d)
    if d.get("status") == {}:
        del d["status"]
    return d


def workload_name(doc: dict) -> str:
    return doc["metadata"]["name"]


def expected_outcome(doc: dict) -> str:
    if template_of(doc) is None:
        return "other"
    return "skipped" if (doc["kind"], doc["metadata"]["name"]) in SKIPPED else "injected"


# ------------------------------------------------------------------------------ quantities


_SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(q) -> Decimal:
    """A Kubernetes resource quantity's value ("100m" -> 0.1, "1Gi" -> 1073741824, 2 -> 2)."""
    if isinstance(q, bool):
        raise AssertionError(f"not a quantity: {q!r}")
    if isinstance(q, (int, float)):
        return Decimal(str(q))
    m = re.fullmatch(r"([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)", str(q))
    assert m, f"not a quantity: {q!r}"
    if m.group(2):
        return Decimal(m.group(1) + m.group(2))
    return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(3) or ""])


def quantities(res: dict | None) -> dict:
    return {kind: {k: quantity(v) for k, v in (res or {}).get(kind, {}).items()} for kind in ("requests", "limits")}


# ------------------------------------------------------------------------------ istio-iptables.sh


def script_argv(init: dict) -> list[str]:
    """The arguments istio-init passes to istio-iptables.sh: its args after the image's entrypoint
    (deploy/sidecar/Containerfile.init), or after the script in its own command."""
    command = init.get("command") or []
    args = [str(a) for a in init.get("args") or []]
    if not command:
        return args
    at = [i for i, c in enumerate(command) if str(c).endswith("istio-iptables.sh")]
    assert at, f"istio-init's command does not run istio-iptables.sh: {command}"
    return [str(c) for c in command[at[0] + 1:]] + args


def parse_flags(argv: list[str]) -> dict:
    """istio-iptables.sh flags (`--flag value`, `--flag=value`, short forms) -> {long flag: value}."""
    out, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if "=" in a and a.startswith("--"):
            flag, value = a.split("=", 1)
            i += 1
        else:
            flag = a
            assert i + 1 < len(argv), f"flag {a} without a value in {argv}"
            value = argv[i + 1]
            i += 2
        flag = SHORT_FLAGS.get(flag, flag)
        assert flag in SCRIPT_DEFAULTS, f"istio-init passes {flag!r}, which is not an istio-iptables.sh capture flag: {argv}"
        assert flag not in out, f"{flag} given twice: {argv}"
        out[flag] = value
    return out


def split_list(value: str | None) -> list[str]:
    """A comma list's items, spaces around them trimmed (as Istio reads its annotations); ports
    as numbers (a leading zero means nothing)."""
    items = [x.strip() for x in (value or "").split(",") if x.strip() != ""]
    return [str(int(x)) if x.isdigit() else x for x in items]


def expected_capture(annotations: dict) -> dict:
    """The capture flags docs/injection.md prescribes for a pod's annotations."""
    def listed(annotation: str, default: str) -> str:
        return ",".join(split_list(annotations[annotation])) if annotation in annotations else default
    excluded_in = list(ENVOY_PORTS) + [p for p in split_list(annotations.get(A_EXCLUDE_INBOUND)) if p not in ENVOY_PORTS]
    return {"--proxy-port": "15001", "--inbound-capture-port": "15006", "--proxy-uid": "1337", "--proxy-gid": "1337",
            "--inbound-ports": listed(A_INCLUDE_INBOUND, "*"),
            "--exclude-inbound-ports": ",".join(excluded_in),
            "--outbound-cidrs": listed(A_INCLUDE_OUT_CIDRS, "*"),
            "--exclude-outbound-cidrs": listed(A_EXCLUDE_OUT_CIDRS, ""),
            "--exclude-outbound-ports": listed(A_EXCLUDE_OUT_PORTS, "")}


def argv_of(flags: dict) -> list[str]:
    return [x for k, v in flags.items() for x in (k, v)]


def dry_run(argv: list[str]) -> list[str]:
    """istio-iptables.sh --dry-run's iptables commands (asserting it accepts the arguments)."""
    p = subprocess.run(["sh", str(SCRIPT), "-n", *argv], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                       env={**os.environ, "IPTABLES": "iptables"})
    assert p.returncode == 0, f"istio-iptables.sh -n {argv} exited {p.returncode}: {p.stderr}"
    return [line for line in p.stdout.splitlines() if line and not line.startswith("#")]


# ------------------------------------------------------------------------------ the checks


def fmt_labels(labels: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def expected_labels(labels: dict, workload: str) -> dict:
    out = dict(labels)
    out.setdefault("security.istio.io/tlsMode", "istio")
    out.setdefault("service.istio.io/canonical-name", labels.get("app.kubernetes.io/name") or labels.get("app") or workload)
    out.setdefault("service.istio.io/canonical-revision", labels.get("app.kubernetes.io/version") or labels.get("version") or "latest")
    return out


def by_name(items: list, what: str) -> dict:
    names = [i["name"] for i in items]
    assert len(names) == len(set(names)), f"duplicate {what}: {names}"
    return {i["name"]: i for i in items}


def mounted_files(container: dict, volume: dict) -> set[str]:
    """The paths at which `container` sees the files of `volume`: a projected token's path, a
    ConfigMap's items (or its key root-cert.pem, what istio-ca-root-cert holds), whole-volume
    mounts and subPath mounts of one file alike."""
    if "projected" in volume:
        files = [s["serviceAccountToken"]["path"] for s in volume["projected"].get("sources") or [] if "serviceAccountToken" in s]
    elif "configMap" in volume:
        items = volume["configMap"].get("items")
        files = [i["path"] for i in items] if items else ["root-cert.pem"]
    else:
        files = []
    out = set()
    for m in container.get("volumeMounts") or []:
        if m["name"] != volume["name"]:
            continue
        if m.get("subPath"):
            if m["subPath"] in files:
                out.add(m["mountPath"])
        else:
            out.update(f"{m['mountPath'].rstrip('/')}/{f}" for f in files)
    return out


def check_istio_init(init: dict, annotations: dict, values: Values, where: str) -> list[str]:
    """istio-init as docs/injection.md says; answers the script's dry-run commands."""
    if values.tag is None:
        assert init["image"].startswith(f"{values.hub}/mesh-init:") and init["image"].split(":")[-1], (where, init["image"])
    else:
        assert init["image"] == f"{values.hub}/mesh-init:{values.tag}", (where, init["image"])
    assert init.get("imagePullPolicy") == values.pull_policy, (where, init.get("imagePullPolicy"))
    sc = init.get("securityContext") or {}
    assert sc.get("runAsUser") == 0, f"{where}: istio-init runs as root: {sc}"
    assert sc.get("runAsNonRoot") in (None, False) and sc.get("privileged") in (None, False), (where, sc)
    caps = sc.get("capabilities") or {}
    assert sorted(caps.get("add") or []) == ["NET_ADMIN", "NET_RAW"], f"{where}: istio-init adds NET_ADMIN and NET_RAW: {caps}"
    assert caps.get("drop") == ["ALL"], f"{where}: istio-init has NET_ADMIN and NET_RAW *only* (drop ALL): {caps}"

    argv = script_argv(init)
    flags = parse_flags(argv)
    want = expected_capture(annotations)
    for flag in ("--proxy-port", "--inbound-capture-port", "--proxy-uid", "--proxy-gid"):
        assert flags.get(flag) == want[flag], f"{where}: istio-init passes {flag} {want[flag]} (docs/injection.md): {argv}"
    effective = {f: flags.get(f, SCRIPT_DEFAULTS[f]) for f in want}
    for flag in ("--inbound-ports", "--outbound-cidrs", "--exclude-outbound-cidrs", "--exclude-outbound-ports", "--exclude-inbound-ports"):
        assert set(split_list(effective[flag])) == set(split_list(want[flag])), \
            f"{where}: {flag} is {effective[flag]!r}, the annotations ask for {want[flag]!r}: {argv}"
    got = dry_run(argv)
    expected = dry_run(argv_of(want))
    assert set(got) == set(expected), (f"{where}: istio-iptables.sh with istio-init's arguments {argv} does not set up "
                                       f"the capture of the annotation table:\nmissing {sorted(set(expected) - set(got))}\n"
                                       f"extra {sorted(set(got) - set(expected))}")
    return got


def check_istio_proxy(proxy: dict, labels_before: dict, labels_after: dict, annotations: dict, values: Values,
                      volumes: dict, where: str) -> None:
    if values.tag is None:
        assert proxy["image"].startswith(f"{values.hub}/proxy:"), (where, proxy["image"])
    else:
        assert proxy["image"] == f"{values.hub}/proxy:{values.tag}", (where, proxy["image"])
    assert proxy.get("imagePullPolicy") == values.pull_policy, (where, proxy.get("imagePullPolicy"))

    env = by_name(proxy.get("env") or [], f"{where}: istio-proxy env")
    for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                       ("INSTANCE_IP", "status.podIP"), ("SERVICE_ACCOUNT", "spec.serviceAccountName")):
        assert name in env, f"{where}: istio-proxy has no {name}: {sorted(env)}"
        e = env[name]
        assert "value" not in e and e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == path, (where, e)
        assert set(e["valueFrom"]) == {"fieldRef"}, (where, e)
    plain = {"MESH_DISCOVERY_ADDRESS": values.discovery, "MESH_CA_ADDRESS": values.ca,
             "MESH_SERVER_NAME": values.server_name, "ISTIO_META_CLUSTER_ID": values.cluster_id,
             "MESH_CLUSTER_DOMAIN": values.domain}
    for name, value in plain.items():
        assert name in env, f"{where}: istio-proxy has no {name}: {sorted(env)}"
        assert env[name].get("value") == value and "valueFrom" not in env[name], f"{where}: {name}: {env[name]}, want {value!r}"
    assert "MESH_POD_LABELS" in env, f"{where}: istio-proxy has no MESH_POD_LABELS"
    got_labels = env["MESH_POD_LABELS"].get("value")
    # "the pod's labels at admission, k=v,k=v sorted": the labels it came with, or (ambiguous in
    # the spec) the labels it is stored with after injection.
    assert got_labels in (fmt_labels(labels_before), fmt_labels(labels_after)), \
        f"{where}: MESH_POD_LABELS {got_labels!r}, want {fmt_labels(labels_before)!r} (or with the injected labels)"

    ports = [{k: v for k, v in p.items() if not (k == "protocol" and v == "TCP")} for p in proxy.get("ports") or []]
    assert ports == [{"name": "http-envoy-prom", "containerPort": 15090}], f"{where}: istio-proxy ports {proxy.get('ports')}"
    probe = proxy.get("readinessProbe") or {}
    get = dict(probe.get("httpGet") or {})
    if get.get("scheme") == "HTTP":
        del get["scheme"]
    assert get == {"path": "/healthz/ready", "port": 15021}, f"{where}: readiness probe {probe}"
    assert (probe.get("initialDelaySeconds"), probe.get("periodSeconds"), probe.get("timeoutSeconds"),
            probe.get("failureThreshold")) == (1, 2, 3, 30), f"{where}: readiness probe timings {probe}"

    sc = proxy.get("securityContext") or {}
    assert (sc.get("runAsUser"), sc.get("runAsGroup"), sc.get("runAsNonRoot"), sc.get("readOnlyRootFilesystem"),
            sc.get("allowPrivilegeEscalation")) == (1337, 1337, True, True, False), f"{where}: istio-proxy securityContext {sc}"
    assert sc.get("privileged") in (None, False), (where, sc)
    caps = sc.get("capabilities") or {}
    assert caps.get("drop") == ["ALL"] and not caps.get("add"), f"{where}: istio-proxy drops every capability: {caps}"

    want = {"requests": dict(values.requests), "limits": dict(values.limits)}
    for annotation, (kind, resource) in RESOURCE_ANNOTATIONS.items():
        if annotation in annotations:
            want[kind][resource] = annotations[annotation]
    assert quantities(proxy.get("resources")) == quantities(want), \
        f"{where}: istio-proxy resources {proxy.get('resources')}, want {want}"

    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in proxy.get("volumeMounts") or [] if not m.get("subPath")}
    assert mounts.get("/var/run/secrets/workload-spiffe-uds") == "workload-socket", f"{where}: SDS socket dir: {mounts}"
    assert mounts.get("/etc/istio/proxy") == "istio-envoy", f"{where}: bootstrap dir /etc/istio/proxy: {mounts}"
    assert "workload-certs" in {m["name"] for m in proxy.get("volumeMounts") or []}, f"{where}: workload-certs not mounted"
    assert "/var/run/secrets/tokens/istio-token" in mounted_files(proxy, volumes["istio-token"]), \
        f"{where}: the istio-ca token at /var/run/secrets/tokens/istio-token: {proxy.get('volumeMounts')}"
    assert "/var/run/secrets/istio/root-cert.pem" in mounted_files(proxy, volumes["istiod-ca-cert"]), \
        f"{where}: the root at /var/run/secrets/istio/root-cert.pem: {proxy.get('volumeMounts')}"
    for m in proxy.get("volumeMounts") or []:
        assert m["name"] in volumes, f"{where}: istio-proxy mounts {m['name']}, which is not a volume"


def check_injected_volumes(volumes: dict, where: str) -> None:
    def only(v, key):
        sources = set(v) - {"name"}
        assert sources == {key}, f"{where}: volume {v['name']} is a {key} only: {v}"
        return v[key] or {}
    only(volumes["workload-socket"], "emptyDir")
    only(volumes["workload-certs"], "emptyDir")
    assert only(volumes["istio-envoy"], "emptyDir").get("medium") == "Memory", f"{where}: istio-envoy in memory: {volumes['istio-envoy']}"
    sources = only(volumes["istio-token"], "projected").get("sources")
    assert sources == [{"serviceAccountToken": {"audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}], \
        f"{where}: istio-token: {volumes['istio-token']}"
    cm = only(volumes["istiod-ca-cert"], "configMap")
    assert cm.get("name") == "istio-ca-root-cert", f"{where}: istiod-ca-cert: {volumes['istiod-ca-cert']}"
    for item in cm.get("items") or []:
        assert item["key"] == "root-cert.pem", (where, cm)


def check_injected(before: dict, after: dict, workload: str, values: Values = TEST_VALUES, where: str = "") -> dict:
    """`after` is `before` (a Pod or pod template) injected exactly as docs/injection.md says, and
    nothing else changed. Answers {"iptables": the script's dry-run commands}."""
    bmeta, ameta = before.get("metadata") or {}, after.get("metadata") or {}
    bspec, aspec = before["spec"], after["spec"]
    blabels, bann = bmeta.get("labels") or {}, bmeta.get("annotations") or {}

    # init containers: the pod's own first, unchanged; istio-init last.
    binit, ainit = bspec.get("initContainers") or [], aspec.get("initContainers") or []
    assert [c["name"] for c in ainit] == [c["name"] for c in binit] + ["istio-init"], \
        f"{where}: init containers {[c['name'] for c in ainit]}: the pod's own, then istio-init"
    assert ainit[:-1] == binit, f"{where}: the pod's own init containers changed"
    # containers: the application's unchanged, istio-proxy last.
    bcont, acont = bspec["containers"], aspec["containers"]
    assert [c["name"] for c in acont] == [c["name"] for c in bcont] + ["istio-proxy"], \
        f"{where}: containers {[c['name'] for c in acont]}: the application's, then istio-proxy"
    assert acont[:-1] == bcont, f"{where}: the application's containers changed"
    # volumes: the pod's own unchanged, plus the five.
    bvol, avol = bspec.get("volumes") or [], aspec.get("volumes") or []
    own = [v for v in avol if v["name"] not in INJECTED_VOLUMES]
    assert own == bvol, f"{where}: the pod's own volumes changed: {own} != {bvol}"
    added = [v["name"] for v in avol if v["name"] in INJECTED_VOLUMES]
    assert sorted(added) == sorted(INJECTED_VOLUMES), f"{where}: injected volumes {added}, want {list(INJECTED_VOLUMES)}"
    volumes = by_name(avol, f"{where}: volumes")
    by_name(ainit + acont, f"{where}: container names (init and application containers share one namespace)")
    check_injected_volumes(volumes, where)
    # nothing else in the spec.
    rest = ("initContainers", "containers", "volumes")
    assert {k: v for k, v in aspec.items() if k not in rest} == {k: v for k, v in bspec.items() if k not in rest}, \
        f"{where}: the pod spec changed outside initContainers/containers/volumes"

    # labels and annotations.
    want_labels = expected_labels(blabels, workload)
    assert (ameta.get("labels") or {}) == want_labels, f"{where}: labels {ameta.get('labels')}, want {want_labels}"
    aann = ameta.get("annotations") or {}
    assert "sidecar.istio.io/status" in aann, f"{where}: no sidecar.istio.io/status annotation"
    status = json.loads(aann["sidecar.istio.io/status"])
    assert set(status) == {"initContainers", "containers", "volumes", "imagePullSecrets", "revision"}, \
        f"{where}: sidecar.istio.io/status is not in Istio's shape: {status}"
    assert status["initContainers"] == ["istio-init"] and status["containers"] == ["istio-proxy"], (where, status)
    assert sorted(status["volumes"]) == sorted(INJECTED_VOLUMES) and len(status["volumes"]) == len(INJECTED_VOLUMES), (where, status)
    assert status["imagePullSecrets"] is None and status["revision"] == values.revision, (where, status)
    want_ann = dict(bann)
    want_ann["sidecar.istio.io/status"] = aann["sidecar.istio.io/status"]
    want_ann["kubectl.kubernetes.io/default-container"] = bcont[0]["name"]
    want_ann["kubectl.kubernetes.io/default-logs-container"] = bcont[0]["name"]
    if not any(k.startswith("prometheus.io/") for k in bann):
        want_ann.update({"prometheus.io/scrape": "true", "prometheus.io/port": "15090", "prometheus.io/path": "/stats/prometheus"})
    assert aann == want_ann, f"{where}: annotations\n{json.dumps(aann, indent=1)}\nwant\n{json.dumps(want_ann, indent=1)}"
    assert {k: v for k, v in ameta.items() if k not in ("labels", "annotations")} == \
        {k: v for k, v in bmeta.items() if k not in ("labels", "annotations")}, f"{where}: metadata changed: {ameta}"
    assert set(after) - {"status", "metadata"} == set(before) - {"status", "metadata"}, f"{where}: top-level fields {sorted(after)}"

    iptables = check_istio_init(ainit[-1], bann, values, where)
    check_istio_proxy(acont[-1], blabels, ameta.get("labels") or {}, bann, values, volumes, where)
    return {"iptables": iptables}


# ------------------------------------------------------------------------------ RFC 6902


class PatchError(AssertionError):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError(f"not a JSON pointer: {path!r}")
    tokens = path.split("/")[1:]
    for t in tokens:
        if re.search(r"~(?![01])", t):
            raise PatchError(f"bad escape in {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _index(token: str, array: list, path: str, end_ok: bool) -> int:
    if end_ok and token == "-":
        return len(array)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"{path!r}: {token!r} is not an array index")
    i = int(token)
    if i > len(array) or (i == len(array) and not end_ok):
        raise PatchError(f"{path!r}: index {i} out of bounds (length {len(array)})")
    return i


def _walk(doc, tokens: list[str], path: str):
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"{path!r}: no member {t!r}")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(t, cur, path, False)]
        else:
            raise PatchError(f"{path!r}: cannot descend into {type(cur).__name__}")
    return cur


def _strict_equal(a, b) -> bool:
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    return a == b


def apply_json_patch(document, ops: list):
    """RFC 6902, strictly: add/remove/replace/move/copy/test; a missing parent, a missing target
    for remove/replace, an index out of range, a bad pointer or escape, a failed test: PatchError."""
    doc = copy.deepcopy(document)
    if not isinstance(ops, list):
        raise PatchError(f"a JSON Patch is an array, not {type(ops).__name__}")

    def add(doc, tokens, value, path):
        if not tokens:
            return value
        parent = _walk(doc, tokens[:-1], path)
        last = tokens[-1]
        if isinstance(parent, dict):
            parent[last] = value
        elif isinstance(parent, list):
            parent.insert(_index(last, parent, path, True), value)
        else:
            raise PatchError(f"{path!r}: parent is a {type(parent).__name__}")
        return doc

    def remove(doc, tokens, path):
        if not tokens:
            raise PatchError("cannot remove the whole document")
        parent = _walk(doc, tokens[:-1], path)
        last = tokens[-1]
        if isinstance(parent, dict):
            if last not in parent:
                raise PatchError(f"{path!r}: nothing to remove")
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(_index(last, parent, path, False))
        raise PatchError(f"{path!r}: parent is a {type(parent).__name__}")

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"not an operation: {op!r}")
        kind, path = op["op"], op["path"]
        tokens = _pointer(path)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} without a value: {op!r}")
        if kind in ("move", "copy") and "from" not in op:
            raise PatchError(f"{kind} without from: {op!r}")
        if kind == "add":
            doc = add(doc, tokens, copy.deepcopy(op["value"]), path)
        elif kind == "remove":
            remove(doc, tokens, path)
        elif kind == "replace":
            if not tokens:
                doc = copy.deepcopy(op["value"])
            else:
                _walk(doc, tokens, path)  # must exist
                parent = _walk(doc, tokens[:-1], path)
                if isinstance(parent, list):
                    parent[_index(tokens[-1], parent, path, False)] = copy.deepcopy(op["value"])
                else:
                    parent[tokens[-1]] = copy.deepcopy(op["value"])
        elif kind == "move":
            source = _pointer(op["from"])
            if path.startswith(op["from"] + "/"):
                raise PatchError(f"cannot move {op['from']!r} into its own child {path!r}")
            value = remove(doc, source, op["from"])
            doc = add(doc, tokens, value, path)
        elif kind == "copy":
            doc = add(doc, tokens, copy.deepcopy(_walk(doc, _pointer(op["from"]), op["from"])), path)
        elif kind == "test":
            if not _strict_equal(_walk(doc, tokens, path), op["value"]):
                raise PatchError(f"test failed at {path!r}")
        else:
            raise PatchError(f"unknown op {kind!r}")
    return doc


# ------------------------------------------------------------------------------ the tests


def test_the_inputs_are_valid_manifests():
    """The test manifests themselves validate strictly (so any failure later is the injection's)."""
    count = 0
    for name in [*FILES, "malformed.yaml"]:
        for doc in documents(name):
            assert validate(doc) == "1.32", f"{name}: {doc['kind']}/{doc['metadata']['name']}"
            count += 1
    assert count >= 40
    names = {(d["kind"], d["metadata"]["name"]) for f in FILES for d in documents(f)}
    assert set(SKIPPED) <= names and {("Pod", n) for n in UNHONOURED} <= names
    assert {d["metadata"]["name"] for d in documents("malformed.yaml")} == set(MALFORMED)


def test_the_patch_applier_is_strict():
    pod = {"metadata": {"annotations": {"a/b": "1"}}, "spec": {"containers": [{"name": "app"}]}}
    got = apply_json_patch(pod, [{"op": "add", "path": "/metadata/annotations/sidecar.istio.io~1status", "value": "{}"},
                                 {"op": "add", "path": "/spec/containers/-", "value": {"name": "istio-proxy"}},
                                 {"op": "add", "path": "/spec/initContainers", "value": []},
                                 {"op": "add", "path": "/spec/initContainers/0", "value": {"name": "istio-init"}},
                                 {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
                                 {"op": "test", "path": "/metadata/annotations/a~1b", "value": "2"},
                                 {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/1"},
                                 {"op": "move", "from": "/spec/containers/1", "path": "/spec/x"},
                                 {"op": "remove", "path": "/spec/x"}])
    assert got == {"metadata": {"annotations": {"a/b": "2", "sidecar.istio.io/status": "{}"}},
                   "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}], "initContainers": [{"name": "istio-init"}]}}
    for bad in ([{"op": "add", "path": "/metadata/annotations/sidecar.istio.io/status", "value": "x"}],  # unescaped '/'
                [{"op": "add", "path": "/metadata/labels/app", "value": "x"}],                          # no parent
                [{"op": "add", "path": "/spec/containers/2", "value": {}}],                             # out of range
                [{"op": "add", "path": "/spec/containers/01", "value": {}}],                            # leading zero
                [{"op": "replace", "path": "/spec/volumes", "value": []}],                              # nothing to replace
                [{"op": "remove", "path": "/metadata/labels"}],
                [{"op": "add", "path": "metadata", "value": {}}],                                       # not a pointer
                [{"op": "add", "path": "/metadata/a~2b", "value": 1}],                                  # bad escape
                [{"op": "test", "path": "/metadata/annotations/a~1b", "value": 1}],
                [{"op": "frobnicate", "path": "/x"}], {"op": "add", "path": "/x", "value": 1}):
        with pytest.raises(PatchError):
            apply_json_patch(pod, bad)


def test_the_iptables_oracle_sees_the_flags():
    """The dry-run oracle distinguishes what matters (self-test of the comparison)."""
    base = dry_run(argv_of(expected_capture({})))
    excluded = dry_run(argv_of(expected_capture({A_EXCLUDE_INBOUND: "8081"})))
    assert "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 8081 -j RETURN" in set(excluded) - set(base)
    assert "iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT" in base
    with pytest.raises(AssertionError):
        dry_run(["--exclude-inbound-ports", "80,abc"])


CASES = [pytest.param(name, i, id=f"{name}#{i}:{d['kind']}/{d['metadata']['name']}")
         for name in FILES for i, d in enumerate(documents(name))]


@pytest.mark.parametrize("name,index", CASES)
def test_kube_inject(name, index):
    """One document of a data file through kube-inject (the whole file in one run): injected as
    docs/injection.md says and strictly valid, or left as it was."""
    before = documents(name)
    out_json, _ = injected_file(name)
    after = [json.loads(d) for d in out_json]
    assert [(d.get("kind"), d["metadata"].get("name")) for d in after] == \
        [(d.get("kind"), d["metadata"].get("name")) for d in before], "kube-inject prints the same documents, in order"
    doc, got = before[index], after[index]
    where = f"{name}: {doc['kind']}/{doc['metadata']['name']}"
    outcome = expected_outcome(doc)
    if outcome != "injected":
        assert meaning(got) == meaning(doc), f"{where} must be left unchanged ({SKIPPED.get((doc['kind'], doc['metadata']['name']), 'not a pod')})"
        return
    assert validate(got) == "1.32", where
    if doc["kind"] != "Pod":
        assert meaning(without_template(got)) == meaning(without_template(doc)), f"{where}: changed outside its pod template"
    check_injected(template_of(doc), template_of(got), workload_name(doc), TEST_VALUES, where)


def test_bookinfo_every_deployment_injected():
    out = [json.loads(d) for d in injected_file("bookinfo.yaml")[0]]
    injected = sorted(d["metadata"]["name"] for d in out
                      if d["kind"] == "Deployment" and "istio-proxy" in [c["name"] for c in template_of(d)["spec"]["containers"]])
    assert injected == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    product = next(template_of(d) for d in out if d["metadata"]["name"] == "productpage-v1")["metadata"]["annotations"]
    assert (product["prometheus.io/port"], product["prometheus.io/path"]) == ("9080", "/metrics"), product
    details = next(template_of(d) for d in out if d["metadata"]["name"] == "details-v1")["metadata"]["annotations"]
    assert (details["prometheus.io/port"], details["prometheus.io/path"]) == ("15090", "/stats/prometheus"), details
    assert all(template_of(d)["metadata"]["labels"]["service.istio.io/canonical-revision"] == "v1"
               for d in out if d["metadata"]["name"].endswith("-v1"))


def test_own_init_containers_come_first():
    out = [json.loads(d) for d in injected_file("init-containers.yaml")[0]]
    spec = out[0]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-db", "migrate", "istio-init"]
    assert spec["initContainers"][:2] == documents("init-containers.yaml")[0]["spec"]["initContainers"]
    assert out[0]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "orders"


def test_traffic_annotations_reach_istio_iptables():
    """The excluded/included ports and CIDRs appear as the script's rules."""
    out = {d["metadata"]["name"]: d for d in (json.loads(x) for x in injected_file("traffic-annotations.yaml")[0])}
    rules = {name: set(dry_run(script_argv(d["spec"]["initContainers"][-1]))) for name, d in out.items()}
    r = rules["capture-some-inbound"]
    for port in ("9080", "8080"):
        assert f"iptables -t nat -A ISTIO_INBOUND -p tcp --dport {port} -j ISTIO_IN_REDIRECT" in r
    assert not any("--dport 8443" in line for line in r), "8443 is neither included nor captured"
    assert "iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT" not in r
    for cidr in ("10.96.0.0/12", "192.168.0.0/16"):
        assert f"iptables -t nat -A ISTIO_OUTPUT -d {cidr} -j RETURN" in r
    r = rules["exclude-inbound"]
    for port in ("8081", "9901", "15090", "15021", "15020"):
        assert f"iptables -t nat -A ISTIO_INBOUND -p tcp --dport {port} -j RETURN" in r
    assert "iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT" in r
    r = rules["outbound-ranges"]
    for cidr in ("10.0.0.0/8", "172.16.0.0/12"):
        assert f"iptables -t nat -A ISTIO_OUTPUT -d {cidr} -j ISTIO_REDIRECT" in r
    assert "iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT" not in r, "only the included ranges are captured"
    assert "iptables -t nat -A ISTIO_OUTPUT -d 10.0.0.1/32 -j RETURN" in r
    for port in ("3306", "5432"):
        assert f"iptables -t nat -A ISTIO_OUTPUT -p tcp --dport {port} -j RETURN" in r
    record_result("injection", "istio-init args: " + "; ".join(
        f"{n}: {' '.join(script_argv(d['spec']['initContainers'][-1]))}" for n, d in out.items()))


def test_resource_annotations():
    out = {d["metadata"]["name"]: d for d in (json.loads(x) for x in injected_file("resources.yaml")[0])}
    proxy = out["proxy-resources"]["spec"]["containers"][-1]
    assert quantities(proxy["resources"]) == quantities({"requests": {"cpu": "50m", "memory": "64Mi"},
                                                         "limits": {"cpu": "1", "memory": "512Mi"}}), proxy["resources"]
    proxy = out["proxy-requests"]["spec"]["containers"][-1]
    assert quantities(proxy["resources"]) == quantities({"requests": {"cpu": "250m", "memory": "256Mi"},
                                                         "limits": {"cpu": "2", "memory": "1Gi"}}), proxy["resources"]


def test_canonical_labels():
    out = {d["metadata"]["name"]: d["metadata"]["labels"] for d in (json.loads(x) for x in injected_file("labels.yaml")[0])}
    assert {k: out["preset"][k] for k in ("service.istio.io/canonical-name", "service.istio.io/canonical-revision",
                                          "security.istio.io/tlsMode")} == \
        {"service.istio.io/canonical-name": "storefront", "service.istio.io/canonical-revision": "2024.06",
         "security.istio.io/tlsMode": "disabled"}
    assert (out["k8s-labels"]["service.istio.io/canonical-name"], out["k8s-labels"]["service.istio.io/canonical-revision"]) == ("checkout", "3.1.4")
    assert (out["bare"]["service.istio.io/canonical-name"], out["bare"]["service.istio.io/canonical-revision"]) == ("bare", "latest")
    workloads = {d["metadata"]["name"]: template_of(d)["metadata"]["labels"]
                 for d in (json.loads(x) for x in injected_file("workloads.yaml")[0]) if template_of(d)}
    assert workloads["unlabelled-api"]["service.istio.io/canonical-name"] == "unlabelled-api"
    assert workloads["nightly-report"]["service.istio.io/canonical-name"] == "nightly-report"
    assert (workloads["cache"]["service.istio.io/canonical-name"], workloads["cache"]["service.istio.io/canonical-revision"]) == ("cache", "7.2")


@pytest.mark.parametrize("name", FILES)
def test_injecting_twice_is_injecting_once(name):
    once = [json.loads(d) for d in injected_file(name)[0]]
    twice, _ = inject_ok(text=dump(*once))
    assert [meaning(d) for d in twice] == [meaning(d) for d in once]


def test_stdin_is_the_file():
    text = (DATA / "bookinfo.yaml").read_text()
    from_stdin, _ = inject_ok(text=text)
    assert [meaning(d) for d in from_stdin] == [meaning(json.loads(d)) for d in injected_file("bookinfo.yaml")[0]]


def test_no_warning_for_what_is_honoured():
    for name in ("bookinfo.yaml", "traffic-annotations.yaml", "resources.yaml", "workloads.yaml"):
        err = injected_file(name)[1]
        assert not any(k in err for k in WARNED_KEYS) and "warning" not in err.lower(), f"{name}: stderr {err!r}"


@pytest.mark.parametrize("pod", sorted(UNHONOURED))
def test_unhonoured_annotation_warns(pod):
    doc = next(d for d in documents("unsupported.yaml") if d["metadata"]["name"] == pod)
    out, err = inject_ok(text=dump(doc))
    check_injected(doc, out[0], pod, TEST_VALUES, f"unsupported.yaml: {pod}")
    assert validate(out[0]) == "1.32"
    annotation = UNHONOURED[pod]
    if annotation is None:
        assert not any(k in err for k in WARNED_KEYS), f"{pod}: no warning expected, stderr {err!r}"
    else:
        assert annotation in err, f"{pod}: stderr must name {annotation}: {err!r}"
        record_result("injection", f"kube-inject warning for {pod}: {err.strip()}")
    # the unhonoured setting does not leak into the capture: istio-init is the default capture.
    assert set(dry_run(script_argv(out[0]["spec"]["initContainers"][-1]))) == set(dry_run(argv_of(expected_capture({}))))


@pytest.mark.parametrize("pod", sorted(MALFORMED))
def test_malformed_annotation_is_refused(pod):
    doc = next(d for d in documents("malformed.yaml") if d["metadata"]["name"] == pod)
    p = kube_inject(text=dump(doc))
    assert p.returncode != 0, f"{pod}: kube-inject must refuse {doc['metadata']['annotations']}; it printed\n{p.stdout}"
    assert MALFORMED[pod] in p.stderr, f"{pod}: the message must name {MALFORMED[pod]}: {p.stderr!r}"
    if pod == "port-not-a-number":
        record_result("injection", f"kube-inject refusal: {p.stderr.strip()}")


def test_a_malformed_document_fails_the_file():
    p = kube_inject(DATA / "malformed.yaml")
    assert p.returncode != 0, p.stdout


def test_edge_values_reach_istio_iptables():
    out = {d["metadata"]["name"]: d for d in (json.loads(x) for x in injected_file("edge-cases.yaml")[0])}
    rules = {name: set(dry_run(script_argv(d["spec"]["initContainers"][-1]))) for name, d in out.items()}
    assert "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 8443 -j RETURN" in rules["spaced-lists"]
    assert "iptables -t nat -A ISTIO_OUTPUT -d 169.254.169.254/32 -j RETURN" in rules["spaced-lists"]
    assert not any("ISTIO_INBOUND" in r and "-A PREROUTING" in r for r in rules["no-inbound-capture"]), \
        "includeInboundPorts \"\" captures no inbound traffic"
    assert not any(r.endswith("-j ISTIO_REDIRECT") and "-A ISTIO_OUTPUT" in r for r in rules["no-outbound-capture"]), \
        "includeOutboundIPRanges \"\" captures no outbound traffic"
    assert "iptables -t nat -A ISTIO_OUTPUT -p tcp --dport 443 -j RETURN" in rules["host-bits"]


def test_an_ipv6_range_is_refused_or_dropped():
    """istio-iptables.sh is IPv4 only: an IPv6 range must not reach istio-init (the init container
    would fail and the pod never start): refused naming the annotation, or left out."""
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "v6", "labels": {"app": "v6"}, "annotations": {
        A_EXCLUDE_OUT_CIDRS: "10.0.0.0/8,fd00::/8"}}, "spec": {"containers": [{"name": "app", "image": "registry.example.com/v6:1"}]}}
    p = kube_inject(text=dump(doc))
    record_result("injection", f"kube-inject of excludeOutboundIPRanges with fd00::/8: exit {p.returncode} {p.stderr.strip()}")
    if p.returncode != 0:
        assert A_EXCLUDE_OUT_CIDRS in p.stderr, p.stderr
        return
    dry_run(script_argv(docs_of(p.stdout)[0]["spec"]["initContainers"][-1]))


def api_server_accepts_names(pod_spec: dict) -> list[str]:
    """The API server's uniqueness rules kubernetes-validate does not check: volume names, and
    container names across initContainers and containers. Answers the duplicates."""
    dup = []
    for what, names in (("volume", [v["name"] for v in pod_spec.get("volumes") or []]),
                        ("container", [c["name"] for c in (pod_spec.get("initContainers") or []) + pod_spec["containers"]])):
        dup += [f"{what} {n}" for n in sorted(set(names)) if names.count(n) > 1]
    return dup


def test_meshds_own_manual_sidecar_example():
    """deploy/sidecar/reviews-sidecar.yaml (meshd's hand-written sidecar: mesh-init, envoy,
    mesh-agent, volumes workload-socket and workload-certs) applied in an injected namespace:
    whatever meshd makes of it must still be a pod the API server accepts (no volume or container
    name twice). docs/injection.md's "already injected" test (status annotation or istio-proxy)
    does not recognise it."""
    doc = next(d for d in docs_of((ROOT / "deploy" / "sidecar" / "reviews-sidecar.yaml").read_text()) if d["kind"] == "Pod")
    out, _ = inject_ok(text=dump(doc))
    duplicates = api_server_accepts_names(out[0]["spec"])
    assert not duplicates, (f"kube-inject of reviews-sidecar.yaml gives a pod the API server refuses (duplicate {duplicates}); "
                            f"containers {[c['name'] for c in out[0]['spec']['containers']]}")


def test_already_injected_output_is_left_alone():
    """kube-inject's output fed back, one pod at a time: unchanged."""
    out = [json.loads(d) for d in injected_file("init-containers.yaml")[0]]
    again, _ = inject_ok(text=dump(out[0]))
    assert meaning(again[0]) == meaning(out[0])


def test_namespaces_follow_the_system_namespace():
    """mesh-system is meshd's by default; with --system-namespace istio-system (no values file)
    istio-system is left alone and mesh-system injected, with istio-system's addresses."""
    docs = {d["metadata"]["name"]: d for d in documents("namespaces.yaml")}
    out, _ = inject_ok(DATA / "namespaces.yaml", values=None, system_namespace="istio-system")
    got = {d["metadata"]["name"]: d for d in out}
    for name in ("dns-helper", "public-info", "lease-watcher", "istio-tool"):
        assert meaning(got[name]) == meaning(docs[name]), f"{name} ({docs[name]['metadata']['namespace']}) must be left alone"
    values = Values(system_namespace="istio-system")
    check_injected(docs["mesh-tool"], got["mesh-tool"], "mesh-tool", values, "mesh-tool with --system-namespace istio-system")


def meshctl_version() -> str | None:
    for args in (["--version"], ["version"]):
        try:
            p = subprocess.run([*launcher(meshctl_bin()), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT)
        except OSError:
            return None
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.strip()
    return None


def test_default_values():
    """No values file: docker.io/meshd images tagged with meshctl's version, mesh-system's addresses."""
    doc = documents("init-containers.yaml")[0]
    out, _ = inject_ok(text=dump(doc), values=None)
    check_injected(doc, out[0], "orders", Values(), "defaults")
    images = {c["name"]: c["image"] for c in out[0]["spec"]["initContainers"] + out[0]["spec"]["containers"]}
    tag = images["istio-proxy"].rsplit(":", 1)[1]
    assert images["istio-init"] == f"docker.io/meshd/mesh-init:{tag}" and tag, images
    version = meshctl_version()
    record_result("injection", f"default images {images['istio-init']} {images['istio-proxy']}; meshctl version: {version!r}")
    if version is not None:
        assert tag in version, f"the default tag {tag!r} is meshctl's version ({version!r})"


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_custom_values(form, tmp_path):
    """Every key of the values file reaches the pod; a pod in the values' systemNamespace is left alone."""
    path = CUSTOM_VALUES
    if form == "json":
        path = tmp_path / "values.json"
        path.write_text(json.dumps(yaml.safe_load(CUSTOM_VALUES.read_text())))
    values = Values.from_file(CUSTOM_VALUES)
    doc = documents("init-containers.yaml")[0]
    own = copy.deepcopy(doc)
    own["metadata"]["namespace"] = "control"
    out, _ = inject_ok(text=dump(doc, own), values=path)
    check_injected(doc, out[0], "orders", values, f"custom values ({form})")
    assert validate(out[0]) == "1.32"
    assert meaning(out[1]) == meaning(own), "a pod in the values' systemNamespace (control) is left alone"


@pytest.mark.parametrize("values,key", [({"hub": "a/b", "bogusKey": 1}, "bogusKey"),
                                        ({"proxy": {"resources": {"requests": {"cpu": "1"}}, "sidecarMode": "x"}}, "sidecarMode")],
                         ids=["top-level", "nested"])
def test_unknown_values_key_is_refused(values, key, tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    p = kube_inject(text=dump(documents("init-containers.yaml")[0]), values=path)
    assert p.returncode != 0, f"kube-inject accepted {values}: {p.stdout[:500]}"
    assert key in p.stderr, f"the message must name {key}: {p.stderr!r}"


# ------------------------------------------------------------------------------ the webhook configuration


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A metav1.LabelSelector against labels (an empty selector matches everything)."""
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        assert op in ("In", "NotIn", "Exists", "DoesNotExist"), e
    return True


INJECTION_TABLE = [  # (namespace labels, pod labels) -> the webhook docs/injection.md calls (None: none)
    ({"istio-injection": "enabled"}, {}, "namespace.sidecar-injector.meshd.io"),
    ({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "true"}, "namespace.sidecar-injector.meshd.io"),
    ({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, None),
    ({"istio-injection": "enabled", "istio.io/rev": "default"}, {}, "namespace.sidecar-injector.meshd.io"),
    ({"istio.io/rev": "default"}, {}, "rev.namespace.sidecar-injector.meshd.io"),
    ({"istio.io/rev": "default"}, {"sidecar.istio.io/inject": "false"}, None),
    ({"istio.io/rev": "canary"}, {}, None),
    ({"istio.io/rev": "canary"}, {"sidecar.istio.io/inject": "true"}, None),
    ({"istio-injection": "disabled"}, {"sidecar.istio.io/inject": "true"}, None),
    ({}, {}, None),
    ({}, {"sidecar.istio.io/inject": "true"}, "object.sidecar-injector.meshd.io"),
    ({}, {"sidecar.istio.io/inject": "false"}, None),
    ({"team": "a"}, {"app": "x", "sidecar.istio.io/inject": "true"}, "object.sidecar-injector.meshd.io"),
]


def check_injector_configuration(cfg: dict, system_namespace: str = "mesh-system") -> None:
    """A MutatingWebhookConfiguration as docs/injection.md's table describes it: which webhook a
    pod meets, and the settings all three share."""
    assert cfg["kind"] == "MutatingWebhookConfiguration" and cfg["metadata"]["name"] == "meshd-sidecar-injector", cfg["metadata"]
    hooks = cfg["webhooks"]
    assert sorted(h["name"] for h in hooks) == sorted(["namespace.sidecar-injector.meshd.io", "rev.namespace.sidecar-injector.meshd.io",
                                                       "object.sidecar-injector.meshd.io"]), [h["name"] for h in hooks]
    for h in hooks:
        assert (h.get("failurePolicy", "Fail"), h.get("reinvocationPolicy", "Never"), h["sideEffects"], h["admissionReviewVersions"],
                h.get("timeoutSeconds", 10)) == ("Fail", "Never", "None", ["v1"], 10), h
        assert [(sorted(r["operations"]), r["apiGroups"], r["apiVersions"], r["resources"]) for r in h["rules"]] == \
            [(["CREATE"], [""], ["v1"], ["pods"])], h["rules"]
        service = h["clientConfig"].get("service") or {}
        assert (service.get("name"), service.get("namespace"), service.get("path")) == ("meshd", system_namespace, "/inject"), h["clientConfig"]
    for ns_labels, pod_labels, want in INJECTION_TABLE:
        called = [h["name"] for h in hooks
                  if selector_matches(h.get("namespaceSelector"), ns_labels) and selector_matches(h.get("objectSelector"), pod_labels)]
        assert called == ([want] if want else []), f"namespace {ns_labels}, pod {pod_labels}: {called}, want {want}"


def test_manifest_generate_has_the_injector_of_the_table():
    """`meshctl manifest generate`'s MutatingWebhookConfiguration (when meshctl has the command)."""
    p = subprocess.run([*launcher(meshctl_bin()), "manifest", "generate"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if p.returncode != 0 and ("manifest" in p.stderr and ("Unexpected" in p.stderr or "unknown" in p.stderr.lower())):
        pytest.skip(f"meshctl has no `manifest generate`: {p.stderr.strip()[:200]}")
    assert p.returncode == 0, p.stderr
    docs = docs_of(p.stdout)
    configs = [d for d in docs if d.get("kind") == "MutatingWebhookConfiguration"]
    assert len(configs) == 1, [d.get("kind") for d in docs]
    assert validate(configs[0]) == "1.32"
    check_injector_configuration(configs[0])
    values = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "meshd-sidecar-injector"]
    assert len(values) == 1 and "values.yaml" in values[0]["data"], "the install mounts ConfigMap meshd-sidecar-injector, key values.yaml"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"meshd-injection-values-{os.getpid()}.yaml"
    path.write_text(values[0]["data"]["values.yaml"])
    try:
        inject_ok(text=dump(documents("init-containers.yaml")[0]), values=path)  # a values file kube-inject takes
    finally:
        path.unlink()
