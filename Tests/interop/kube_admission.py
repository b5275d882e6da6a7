"""Admission webhooks for the stand-in Kubernetes API server (kube_apiserver.py): Validating- and
MutatingWebhookConfiguration defaults and checks, which webhooks a request calls, the
AdmissionReview kube-apiserver posts, the HTTPS call, and the answer turned into the request's
fate (for a mutating webhook also its JSONPatch applied to the object) and its Warning headers.

Each piece follows k8s.io/apiserver v0.32 (pkg/admission/plugin/webhook: generic/webhook.go
ShouldCallHook, predicates/rules, predicates/namespace, predicates/object, validating/dispatcher.go,
mutating/dispatcher.go, request/admissionreview.go VerifyAdmissionResponse, errors/statuserror.go;
pkg/util/webhook: client.go, error.go) and names what it mirrors. Mutating webhooks are called
once each: reinvocationPolicy IfNeeded is treated as Never (the real server calls such a webhook
again when a later one changed the object).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.parse
import uuid

from kube_crds import FieldError

CONFIG_KINDS = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


class WebhookRejection(Exception):
    """The request's fate as a metav1.Status body (code, the Status dict)."""

    def __init__(self, status: dict):
        super().__init__(status.get("message", ""))
        self.status = status


class CallError(Exception):
    """webhookutil.ErrCallingWebhook: the reason after `failed calling webhook "NAME": `."""


# --------------------------------------------------------------------------------------------
# Configurations: defaults (admissionregistration/v1 defaults.go) and the checks a test trips


def default_configuration(cfg: dict, mutating: bool = False) -> dict:
    for hook in cfg.get("webhooks") or []:
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        svc = (hook.get("clientConfig") or {}).get("service")
        if isinstance(svc, dict):
            svc.setdefault("port", 443)
        for rule in hook.get("rules") or []:
            rule.setdefault("scope", "*")
    return cfg


def configuration_errors(cfg: dict, mutating: bool = False) -> list[FieldError]:
    """A few of ValidateValidatingWebhookConfiguration's (and ValidateMutatingWebhookConfiguration's)
    checks, with the real paths and details."""
    errs = []
    for i, hook in enumerate(cfg.get("webhooks") or []):
        p = f"webhooks[{i}]"
        name = hook.get("name", "")
        if not name:
            errs.append(FieldError("FieldValueRequired", f"{p}.name"))
        elif name.count(".") < 2:
            errs.append(FieldError("FieldValueInvalid", f"{p}.name", name, "should be a domain with at least three segments separated by dots"))
        if not hook.get("admissionReviewVersions"):
            errs.append(FieldError("FieldValueRequired", f"{p}.admissionReviewVersions", detail="must specify one of v1, v1beta1"))
        side = hook.get("sideEffects")
        if side is None:
            errs.append(FieldError("FieldValueRequired", f"{p}.sideEffects", detail="must specify one of None, NoneOnDryRun"))
        elif side not in ("None", "NoneOnDryRun"):
            errs.append(FieldError("FieldValueNotSupported", f"{p}.sideEffects", side, 'supported values: "None", "NoneOnDryRun"'))
        if hook.get("failurePolicy") not in ("Fail", "Ignore"):
            errs.append(FieldError("FieldValueNotSupported", f"{p}.failurePolicy", hook.get("failurePolicy"), 'supported values: "Fail", "Ignore"'))
        if mutating and hook.get("reinvocationPolicy") not in ("Never", "IfNeeded"):
            errs.append(FieldError("FieldValueNotSupported", f"{p}.reinvocationPolicy", hook.get("reinvocationPolicy"),
                                   'supported values: "IfNeeded", "Never"'))
        t = hook.get("timeoutSeconds")
        if not isinstance(t, int) or not 1 <= t <= 30:
            errs.append(FieldError("FieldValueInvalid", f"{p}.timeoutSeconds", t, "the timeout value must be between 1 and 30 seconds"))
        cc = hook.get("clientConfig") or {}
        if ("url" in cc) == ("service" in cc):
            errs.append(FieldError("FieldValueRequired", f"{p}.clientConfig", detail="exactly one of url or service is required"))
        elif "url" in cc:
            u = urllib.parse.urlsplit(cc["url"] or "")
            if u.scheme != "https":
                errs.append(FieldError("FieldValueInvalid", f"{p}.clientConfig.url", u.scheme, "'https' is the only allowed URL scheme"))
            if not u.hostname:
                errs.append(FieldError("FieldValueInvalid", f"{p}.clientConfig.url", cc["url"], "host must be specified"))
        if "caBundle" in cc:
            try:
                base64.b64decode(cc["caBundle"], validate=True)
            except Exception:
                errs.append(FieldError("FieldValueInvalid", f"{p}.clientConfig.caBundle", cc["caBundle"], "illegal base64 data"))
    return errs


# --------------------------------------------------------------------------------------------
# Matching (predicates/rules, namespace and object selectors, matchPolicy Equivalent)


def selector_matches(sel: dict | None, labels: dict | None) -> bool:
    """metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    if not sel:
        return True
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals or op == "NotIn" and k in labels and labels[k] in vals \
                or op == "Exists" and k not in labels or op == "DoesNotExist" and k in labels:
            return False
    return True


def _exact_or_wildcard(items, requested) -> bool:
    return any(i == "*" or i == requested for i in items or ())


def rule_matches(rule: dict, op: str, group: str, version: str, plural: str, sub: str, namespace: str) -> bool:
    """rules.Matcher.Matches: scope, operation, group, version, resource (with subresource)."""
    scope = rule.get("scope", "*")
    is_ns = (group, version, plural) == ("", "v1", "namespaces")
    if scope == "Namespaced" and (is_ns or not namespace) or scope == "Cluster" and not (is_ns or not namespace):
        return False
    if not any(o == "*" or o == op for o in rule.get("operations") or ()):
        return False
    if not _exact_or_wildcard(rule.get("apiGroups"), group) or not _exact_or_wildcard(rule.get("apiVersions"), version):
        return False
    for r in rule.get("resources") or ():
        res, _, want_sub = r.partition("/")
        if (res == "*" or res == plural) and (want_sub == "*" or want_sub == (sub or "")):
            return True
    return False


# --------------------------------------------------------------------------------------------
# The call


def _go_url_error(url: str, reason: str) -> str:
    return f'Post "{url}": {reason}'


def _hostname_error(der: bytes, host: str) -> str:
    """crypto/x509 HostnameError.Error()."""
    from cryptography import x509
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = san.get_values_for_type(x509.DNSName), [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    try:
        ipaddress.ip_address(host)
        if not ips:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        valid = ", ".join(ips)
    except ValueError:
        valid = ", ".join(dns)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def _peer_der(addr: tuple, server_name: str, timeout: float) -> bytes | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(addr, timeout=timeout) as s, ctx.wrap_socket(s, server_hostname=server_name) as t:
            return t.getpeercert(binary_form=True)
    except OSError:
        return None


_GENERIC = {400: "the server rejected our request for an unknown reason",
            401: "the server has asked for the client to provide credentials",
            403: "the server does not allow access to the requested resource",
            404: "the server could not find the requested resource",
            405: "the server does not allow this method on the requested resource",
            409: "the server reported a conflict",
            422: "the server rejected our request due to an error in our request",
            429: "the server has received too many requests and has asked us to try again later",
            503: "the server is currently unable to handle the request",
            504: "the server was unable to return a response in the time allotted, but may still be processing the request"}


def post_review(url: str, addr: tuple, server_name: str, ca_bundle: str | None, body: bytes,
                timeout: float) -> dict:
    """POST the review over HTTPS to `addr`, verifying the certificate against the CA bundle (the
    system roots without one, as client-go does) for `server_name`; the decoded answer, or
    CallError with client-go's wording (`failed to call webhook: Post "URL": ...`)."""
    deadline = time.monotonic() + timeout
    try:
        ctx = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode()) if ca_bundle \
            else ssl.create_default_context()
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise CallError("could not get REST client: unable to load root certificates: unable to parse bytes as PEM block")
    ctx.set_alpn_protocols(["http/1.1"])
    u = urllib.parse.urlsplit(url)
    host_header = u.netloc
    target = (u.path or "/") + ("?" + u.query if u.query else "")
    try:
        sock = socket.create_connection(addr, timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionRefusedError:
        raise CallError("failed to call webhook: " + _go_url_error(url, f"dial tcp {addr[0]}:{addr[1]}: connect: connection refused"))
    except (socket.timeout, TimeoutError):
        raise CallError("failed to call webhook: " + _go_url_error(url, "context deadline exceeded"))
    except OSError as e:
        raise CallError("failed to call webhook: " + _go_url_error(url, f"dial tcp {addr[0]}:{addr[1]}: {e.strerror or e}"))
    try:
        try:
            tls = ctx.wrap_socket(sock, server_hostname=server_name)
        except ssl.SSLCertVerificationError as e:
            if e.verify_code == 62:  # hostname / IP mismatch
                der = _peer_der(addr, server_name, max(0.01, deadline - time.monotonic()))
                reason = _hostname_error(der, server_name) if der else f"x509: certificate is not valid for {server_name}"
            else:
                reason = "x509: certificate signed by unknown authority"
            raise CallError("failed to call webhook: " + _go_url_error(url, "tls: failed to verify certificate: " + reason))
        except (socket.timeout, TimeoutError):
            raise CallError("failed to call webhook: " + _go_url_error(url, "context deadline exceeded"))
        except (ssl.SSLError, OSError) as e:
            raise CallError("failed to call webhook: " + _go_url_error(url, f"remote error: tls: {getattr(e, 'reason', None) or e}"))
        with tls:
            tls.settimeout(max(0.01, deadline - time.monotonic()))
            head = (f"POST {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: kube-apiserver-admission\r\n"
                    f"Content-Type: application/json\r\nAccept: application/json, */*\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            try:
                tls.sendall(head + body)
                resp = http.client.HTTPResponse(tls)
                resp.begin()
                tls.settimeout(max(0.01, deadline - time.monotonic()))
                data = resp.read()
            except (socket.timeout, TimeoutError):
                raise CallError("failed to call webhook: " + _go_url_error(url, "context deadline exceeded"))
            except (http.client.HTTPException, OSError):
                raise CallError("failed to call webhook: " + _go_url_error(url, "EOF"))
    finally:
        sock.close()
    if not 200 <= resp.status < 300:
        msg = None
        try:
            st = json.loads(data)
            if isinstance(st, dict) and st.get("kind") == "Status":
                msg = st.get("message")
        except ValueError:
            pass
        if msg is None:
            text = data.decode(errors="replace").strip() or "unknown"
            msg = _GENERIC.get(resp.status) or f"an error on the server ({json.dumps(text)}) has prevented the request from succeeding"
        raise CallError("failed to call webhook: " + msg)
    try:
        review = json.loads(data)
    except ValueError:
        text = data.decode(errors="replace").lstrip()
        first = text[:1] or "EOF"
        raise CallError("failed to call webhook: " + (f"invalid character '{first}' looking for beginning of value"
                                                      if text else "unexpected end of JSON input"))
    if not isinstance(review, dict) or not review.get("kind"):
        raise CallError(f"failed to call webhook: Object 'Kind' is missing in '{data.decode(errors='replace')}'")
    return review


# --------------------------------------------------------------------------------------------
# The dispatcher


def _options(op: str, q: dict, delete_body: dict | None) -> dict:
    """The CreateOptions / UpdateOptions / DeleteOptions the request carried, as admission sees them."""
    if op == "DELETE":
        o = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
        for k in ("gracePeriodSeconds", "preconditions", "orphanDependents", "propagationPolicy"):
            if (delete_body or {}).get(k) is not None:
                o[k] = delete_body[k]
        dry = (delete_body or {}).get("dryRun") or ([q["dryRun"]] if q.get("dryRun") else None)
        if dry:
            o["dryRun"] = dry
        return o
    o = {"kind": "CreateOptions" if op == "CREATE" else "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
    if q.get("dryRun"):
        o["dryRun"] = [q["dryRun"]]
    for k in ("fieldManager", "fieldValidation"):
        if q.get(k):
            o[k] = q[k]
    return o


def convert(obj: dict | None, api_version: str) -> dict | None:
    """Conversion strategy None: only apiVersion changes."""
    if obj is None:
        return None
    out = dict(obj)
    out["apiVersion"] = api_version
    return out


def _exempt(res) -> bool:
    """IsExemptAdmissionConfigurationResource: webhook configurations never go through webhooks."""
    return res.group == "admissionregistration.k8s.io" and res.kind in CONFIG_KINDS


def _dry(q: dict, delete_body: dict | None) -> bool:
    return q.get("dryRun") == "All" or "All" in ((delete_body or {}).get("dryRun") or [])


def _configurations(api, plural: str) -> list:
    return sorted(api.state(plural).values(), key=lambda c: c["metadata"]["name"])


def admit(api, res, op: str, ns: str, name: str, sub: str | None, obj: dict | None, old: dict | None,
          user: dict, q: dict, delete_body: dict | None = None) -> list[str]:
    """Run the validating webhooks a request matches (configurations by name, webhooks in order);
    answers the warnings to send, raises WebhookRejection with the Status that ends the request."""
    if _exempt(res):
        return []
    dry = _dry(q, delete_body)
    invocations = []
    for cfg in _configurations(api, "validatingwebhookconfigurations"):
        for hook in cfg.get("webhooks") or []:
            inv = _should_call(api, hook, res, op, ns, sub, obj, old)
            if inv:
                invocations.append((cfg, hook, inv))
    warnings, errors = [], []
    for cfg, hook, inv in invocations:
        try:
            w, _ = _call(api, cfg, hook, inv, res, op, ns, name, sub, obj, old, user, q, delete_body, dry)
            warnings += w
        except WebhookRejection as e:
            warnings += getattr(e, "warnings", [])
            errors.append(e)
    if errors:
        errors[0].warnings = warnings
        raise errors[0]
    return warnings


def mutate(api, res, op: str, ns: str, name: str, sub: str | None, obj: dict | None, old: dict | None,
           user: dict, q: dict, delete_body: dict | None = None, apply_patch=None, reprocess=None):
    """MutatingAdmissionWebhook (mutating/dispatcher.go): the matching webhooks called one after
    the other (configurations by name, webhooks in order), each matched against and sent the
    object as the previous ones left it; an allowed answer's JSONPatch is applied with
    `apply_patch(obj, ops)` to the object in the webhook's version, then `reprocess(obj)` (the
    defaulting and pruning decoding the patched object does). Answers (object, warnings); raises
    WebhookRejection with the Status that ends the request (a denial, a failure under
    failurePolicy Fail, a patch that does not decode or apply: 500 InternalError)."""
    if _exempt(res):
        return obj, []
    dry = _dry(q, delete_body)
    warnings: list[str] = []
    for cfg in _configurations(api, "mutatingwebhookconfigurations"):
        for hook in cfg.get("webhooks") or []:
            inv = _should_call(api, hook, res, op, ns, sub, obj, old)
            if not inv:
                continue
            try:
                w, ops = _call(api, cfg, hook, inv, res, op, ns, name, sub, obj, old, user, q, delete_body, dry,
                               mutating=True)
            except WebhookRejection as e:
                e.warnings = warnings + getattr(e, "warnings", [])
                raise
            warnings += w
            if ops is None:
                continue
            if obj is None:
                raise _rejection(_internal(f'admission webhook "{hook["name"]}" attempted to modify the object, '
                                           "which is not supported for this operation"), warnings)
            try:  # jsonpatch's Apply or the decoding failing: apierrors.NewInternalError(err)
                obj = convert(apply_patch(convert(obj, inv.api_version), ops), res.api_version)
                if reprocess:
                    obj = reprocess(obj)
            except Exception as e:
                raise _rejection(_internal(_patch_error(e)), warnings)
    return obj, warnings


def _rejection(status: dict, warnings: list) -> WebhookRejection:
    e = WebhookRejection(status)
    e.warnings = list(warnings)
    return e


def _patch_error(e: Exception) -> str:
    msg = getattr(e, "message", None) or str(e)
    if isinstance(e, KeyError):
        return f"doc is missing path: {msg}"
    if isinstance(e, IndexError):
        return f"Unable to access invalid index: {msg}"
    return msg


def _should_call(api, hook, res, op, ns, sub, obj, old):
    """ShouldCallHook: namespace selector, object selector, then the rules for the request's
    resource, then (matchPolicy Equivalent) for its equivalents (the CRD's other served versions)."""
    is_namespace = res.plural == "namespaces" and not res.group
    sel = hook.get("namespaceSelector") or {}
    if sel and (ns or is_namespace):  # a cluster-scoped object other than a Namespace always matches
        # a Namespace is matched by its own labels, anything else by its namespace's
        ns_obj = (obj or old) if is_namespace else api.get("namespaces", "", ns)
        if not selector_matches(sel, ((ns_obj or {}).get("metadata") or {}).get("labels")):
            return None
    osel = hook.get("objectSelector") or {}
    if osel and not any(o is not None and selector_matches(osel, (o.get("metadata") or {}).get("labels"))
                        for o in (obj, old)):
        return None
    for rule in hook.get("rules") or []:
        if rule_matches(rule, op, res.group, res.version, res.plural, sub, ns):
            return res
    if hook.get("matchPolicy", "Equivalent") == "Equivalent":
        equivalents = [r for r in api.equivalents(res) if r is not res]
        for rule in hook.get("rules") or []:
            for eq in equivalents:
                if rule_matches(rule, op, eq.group, eq.version, eq.plural, sub, ns):
                    return eq
    return None


def _call(api, cfg, hook, inv, res, op, ns, name, sub, obj, old, user, q, delete_body, dry,
          mutating: bool = False) -> tuple[list[str], list | None]:
    """One webhook: (its warnings, its JSONPatch operations or None)."""
    hname = hook["name"]
    if dry and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
        raise WebhookRejection(_bad_request(f'admission webhook "{hname}" does not support dry run'))
    uid = str(uuid.uuid4())
    request = {"uid": uid,
               "kind": {"group": inv.group, "version": inv.version, "kind": inv.kind},
               "resource": {"group": inv.group, "version": inv.version, "resource": inv.plural}}
    if sub:
        request["subResource"] = sub
    request["requestKind"] = {"group": res.group, "version": res.version, "kind": res.kind}
    request["requestResource"] = {"group": res.group, "version": res.version, "resource": res.plural}
    if sub:
        request["requestSubResource"] = sub
    if name:
        request["name"] = name
    if ns:
        request["namespace"] = ns
    request["operation"] = op
    request["userInfo"] = {k: v for k, v in user.items() if v}
    request["object"] = convert(obj, inv.api_version)
    request["oldObject"] = convert(old, inv.api_version)
    request["dryRun"] = dry
    request["options"] = _options(op, q, delete_body)
    review = {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}
    cc = hook.get("clientConfig") or {}
    timeout = hook.get("timeoutSeconds", 10)
    record = {"webhook": hname, "configuration": cfg["metadata"]["name"], "url": None, "review": review,
              "response": None, "error": None, "allowed": None,
              "type": "mutating" if mutating else "validating", "patch": None}
    api.admission_calls.append(record)
    try:
        if "v1" not in (hook.get("admissionReviewVersions") or []):
            raise CallError("could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)")
        if "service" in cc:
            svc = cc["service"]
            server_name = f'{svc["name"]}.{svc["namespace"]}.svc'
            port = svc.get("port", 443)
            url = f"https://{server_name}:{port}{svc.get('path') or ''}?timeout={timeout}s"
            addr = api.webhook_service_address((svc["namespace"], svc["name"]))
            if addr is None:
                raise CallError("failed to call webhook: " + _go_url_error(url, f'service "{svc["name"]}" not found'))
            host, _, p = addr.rpartition(":")
            target = (host, int(p))
        else:
            u = urllib.parse.urlsplit(cc["url"])
            server_name = u.hostname
            url = cc["url"] + f"?timeout={timeout}s"
            target = (u.hostname, u.port or 443)
        record["url"] = url
        answer = post_review(url, target, server_name, cc.get("caBundle"), json.dumps(review).encode(), timeout)
        record["response"] = answer
        resp = answer.get("response")
        if resp is None:
            raise CallError("received invalid webhook response: webhook response was absent")
        if resp.get("uid") != uid:
            raise CallError(f'received invalid webhook response: expected response.uid="{uid}", got "{resp.get("uid", "")}"')
        got = answer.get("apiVersion", "")
        if (got, answer.get("kind")) != ("admission.k8s.io/v1", "AdmissionReview"):
            g, _, v = got.rpartition("/")
            raise CallError(f"received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
                            f"Kind=AdmissionReview, got {g + '/' if g else ''}{v}, Kind={answer.get('kind', '')}")
        if not mutating:
            if resp.get("patch"):
                raise CallError("received invalid webhook response: validating webhook may not return response.patch")
            if resp.get("patchType") is not None:
                raise CallError("received invalid webhook response: validating webhook may not return response.patchType")
        elif resp.get("patch") and resp.get("patchType") is None:
            raise CallError("received invalid webhook response: webhook returned response.patch but not response.patchType")
        elif not resp.get("patch") and resp.get("patchType") is not None:
            raise CallError("received invalid webhook response: webhook returned response.patchType but not response.patch")
        elif resp.get("patchType") not in (None, "JSONPatch"):
            raise CallError(f'received invalid webhook response: webhook returned invalid response.patchType of '
                            f'{json.dumps(resp["patchType"])}')
        raw = None
        if mutating and resp.get("patch"):
            try:  # []byte in the Go struct: base64 in JSON
                raw = base64.b64decode(resp["patch"], validate=True)
            except (ValueError, TypeError):
                raise CallError("failed to call webhook: illegal base64 data in response.patch")
    except CallError as e:
        record["error"] = f'failed calling webhook "{hname}": {e}'
        if hook.get("failurePolicy", "Fail") == "Ignore":
            return [], None
        raise WebhookRejection(_internal(record["error"]))
    warnings = [w for w in resp.get("warnings") or [] if w]
    record["allowed"] = bool(resp.get("allowed"))
    if not resp.get("allowed"):
        rej = WebhookRejection(to_status(hname, resp.get("status")))
        rej.warnings = warnings
        raise rej
    if raw is None:
        return warnings, None
    try:  # jsonpatch.DecodePatch: apierrors.NewInternalError(err)
        ops = json.loads(raw)
        if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
            raise ValueError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    except ValueError as e:
        raise _rejection(_internal(str(e)), warnings)
    record["patch"] = ops
    return warnings, (ops or None)


def to_status(hook_name: str, result: dict | None) -> dict:
    """webhookerrors.ToStatusErr: the webhook's Status, a code of at least 400, Failure, and the
    message `admission webhook "NAME" denied the request: MESSAGE` (or its reason, or "without
    explanation")."""
    result = dict(result or {})
    denied = f'admission webhook "{hook_name}" denied the request'
    code = result.get("code") or 0
    if code < 400:
        code = 400
    if result.get("message"):
        message = f"{denied}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied}: {result['reason']}"
    else:
        message = f"{denied} without explanation"
    out = {"kind": "Status", "apiVersion": "v1", "metadata": result.get("metadata") or {}, "status": "Failure",
           "message": message}
    if result.get("reason"):
        out["reason"] = result["reason"]
    if result.get("details"):
        out["details"] = result["details"]
    out["code"] = code
    return out


def _internal(message: str) -> dict:
    """apierrors.NewInternalError(err)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"Internal error occurred: {message}", "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}


def _bad_request(message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "BadRequest", "code": 400}


def warning_header(text: str) -> str:
    """net.NewWarningHeader(299, "", text): `299 - "text"` with " and \\ escaped (newlines become
    spaces, as net/http writes header values)."""
    text = text.replace("\r", " ").replace("\n", " ")
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
